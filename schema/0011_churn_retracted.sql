-- 0011: the customer.churn_retracted alert.
--
-- A late delivery can erase a churn episode that was already announced (Recharge does not
-- promise order). Targets that were sent customer.churned for it are now sent
-- customer.churn_retracted, so a win-back flow can stand down; a churn alert for it that
-- will never be sent (dead, or recorded while its target was disabled) gets the new status
-- 'retracted', so that no `alerts retry` sends it later. alerts_outbox's CHECKs on
-- event_type and status gain the values, in place as 0007 edits CHECK text (documented
-- procedure: edit the stored CREATE TABLE with writable_schema, then change the schema
-- version); every existing row satisfies the wider constraints.
PRAGMA writable_schema=ON;

UPDATE sqlite_schema
SET sql = replace(sql, 'event_type IN (''customer.churned'', ''customer.reactivated'')',
                  'event_type = ''customer.churned'' OR event_type = ''customer.reactivated'' OR '
                  || 'event_type = ''customer.churn_retracted''')
WHERE type = 'table' AND name = 'alerts_outbox';

UPDATE sqlite_schema
SET sql = replace(sql, 'status = ''pending'' OR status = ''sent'' OR status = ''dead'' OR status = ''disabled''',
                  'status = ''pending'' OR status = ''sent'' OR status = ''dead'' OR status = ''disabled'' OR '
                  || 'status = ''retracted''')
WHERE type = 'table' AND name = 'alerts_outbox';

CREATE TABLE schema_version_bump (x);
DROP TABLE schema_version_bump;
PRAGMA writable_schema=OFF;

-- Was this episode announced to this target? (asked once per target for each retraction)
CREATE INDEX alerts_outbox_episode ON alerts_outbox (episode_id);
