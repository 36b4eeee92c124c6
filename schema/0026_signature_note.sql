-- 0026: the signature override's note in a column of its own.
--
-- A delivery accepted on the legacy hash although a timestamped signature beside it did not
-- verify says so at the end of its `reason` (README, "Signatures"). A later rewrite of
-- `reason` (the projection or a rebuild quarantining a row it can no longer decode, or
-- `churnwatch quarantine replay` accepting one) replaced the whole text and lost the note.
-- The note is now also kept here, and those rewrites put it back after their own reason.
-- NULL for every delivery without an override. Rows stored before keep the note only in
-- `reason`.
ALTER TABLE deliveries ADD COLUMN signature_note TEXT;
