-- 0017: the customer.churn_updated alert.
--
-- A late delivery can change an announced churn episode without erasing it (its reason, its
-- time, the subscription or charge that explains it): targets that ask for
-- customer.churn_updated and were sent the episode's customer.churned are told the episode
-- as it is now. alerts_outbox's CHECK on event_type gains the value, in place as 0007 and
-- 0011 edit CHECK text; every existing row satisfies the wider constraint.
PRAGMA writable_schema=ON;

UPDATE sqlite_schema
SET sql = replace(sql, 'event_type = ''customer.churn_retracted''',
                  'event_type = ''customer.churn_retracted'' OR event_type = ''customer.churn_updated''')
WHERE type = 'table' AND name = 'alerts_outbox';

CREATE TABLE schema_version_bump (x);
DROP TABLE schema_version_bump;
PRAGMA writable_schema=OFF;
