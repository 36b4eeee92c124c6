-- 0020: finished alerts are deleted after alert-retention-days.
--
-- Sent, dead, disabled and retracted alerts_outbox rows stayed for ever. The alert dispatcher
-- now deletes them some days after they finished (lib/alert_outbox.cpp, AlertPruner), a
-- thousand at a time. When a row finished is the latest of its times: sent_us for one that
-- was delivered, last_attempt_us for one that died, created_us for one never attempted
-- (recorded while its target was disabled, or withdrawn). This index holds the finished rows
-- only, by that time, so a pass reads the rows that have come of age since the pass before
-- and never the pending or the recent ones. The query writes the expression exactly as here
-- (AlertPruner's statements; schema_test checks that they use this index).
CREATE INDEX alerts_outbox_finished
    ON alerts_outbox (max(created_us, coalesce(last_attempt_us, 0), coalesce(sent_us, 0)))
    WHERE status <> 'pending';
