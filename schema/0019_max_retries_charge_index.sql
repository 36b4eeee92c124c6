-- 0019: the max-retries charge versions, indexed by business time, for --auto-churn-days.
--
-- Every 10 minutes the auto-churn maintenance looks for the max-retries charges that have just
-- become N days old (since its last pass: service_state 'auto_churn_checked_at'). Without an
-- index that look was a scan of every charge version ever stored, inside a write transaction
-- that ingest waited for: a pause that grew with each month of data. The index holds only the
-- versions flagged max_retries_reached (a small share of them). Building it reads
-- charge_versions once.
CREATE INDEX charge_versions_max_retries ON charge_versions (updated_at_us) WHERE max_retries_reached = 1;
