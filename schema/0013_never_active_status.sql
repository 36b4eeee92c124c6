-- 0013: customers.status 'never_active'.
--
-- A customer churnwatch knows only from one-time purchases, a charge, or a customer record
-- without subscriptions (first_active_at NULL) had status 'active', so an analyst's
-- `WHERE status = 'active'` counted people who never subscribed. Their status is now
-- 'never_active'. The CHECK on customers.status gains the value, edited in place as 0007
-- edits CHECK text (every existing row satisfies the wider constraint). Existing rows keep
-- their status until their customer is recomputed (the next delivery, or `churnwatch
-- rebuild`): 0009 gave every upgraded row a first_active_at, so SQL alone cannot tell which
-- customers never were active.
PRAGMA writable_schema=ON;

UPDATE sqlite_schema
SET sql = replace(sql, 'status IN (''active'', ''churned'')',
                  'status = ''active'' OR status = ''churned'' OR status = ''never_active''')
WHERE type = 'table' AND name = 'customers';

CREATE TABLE schema_version_bump (x);
DROP TABLE schema_version_bump;
PRAGMA writable_schema=OFF;
