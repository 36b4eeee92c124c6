-- 0027: customers_at_risk also lists subscribers churnwatch has seen only through charges.
--
-- The view listed active customers only. A customer whose subscription was created before
-- churnwatch was deployed, and has not changed since, is `never_active` until a
-- subscription event names that subscription (a charge alone makes no one active): a
-- failing recurring charge of such a customer, the clearest sign of involuntary churn to
-- come, was not listed, so a win-back flow reading this view missed exactly the customers
-- who had been subscribers longest. Such a customer is now listed when an open failed
-- charge of theirs covers a subscription (a line item that is one: `charges.subscription_ids`
-- not empty), whatever else it shows. The new last column, `status`, is the customer's
-- (active | never_active): `WHERE status = 'active'` gives the view as it was.

DROP VIEW customers_at_risk;

CREATE VIEW customers_at_risk AS
WITH open_failures AS (
    SELECT f.customer_id, f.id AS charge_id, f.updated_at AS failed_at, f.error_type,
           f.attempts, f.max_retries_reached,
           row_number() OVER (PARTITION BY f.customer_id ORDER BY f.updated_at DESC, f.id DESC) AS latest,
           count(*) OVER (PARTITION BY f.customer_id) AS open_failed_charges,
           max(f.subscription_ids <> '') OVER (PARTITION BY f.customer_id) AS covers_subscription
    FROM charges f
    WHERE f.status = 'error'
      AND NOT EXISTS (SELECT 1 FROM charges ok
                      WHERE ok.customer_id = f.customer_id AND ok.status = 'success'
                        AND coalesce(ok.processed_at, ok.updated_at) > f.updated_at)
)
SELECT customer_id, email, external_customer_id, in_dunning, no_valid_payment_method,
       failed_charge_id, failed_at, error_type, attempts, max_retries_reached,
       open_failed_charges,
       rtrim(CASE WHEN in_dunning THEN 'dunning,' ELSE '' END ||
             CASE WHEN no_valid_payment_method THEN 'no_valid_payment_method,' ELSE '' END ||
             CASE WHEN failed_charge_id IS NULL THEN ''
                  WHEN max_retries_reached THEN 'max_retries_reached,'
                  ELSE 'charge_failed,' END, ',') AS signals,
       status
FROM (
    SELECT c.id AS customer_id, c.email, c.external_customer_id,
           coalesce(c.payment_method_in_dunning, 0) AS in_dunning,
           CASE WHEN c.has_valid_payment_method = 0 THEN 1 ELSE 0 END AS no_valid_payment_method,
           o.charge_id AS failed_charge_id, o.failed_at, o.error_type, o.attempts,
           o.max_retries_reached, coalesce(o.open_failed_charges, 0) AS open_failed_charges,
           c.status
    FROM customers c
    LEFT JOIN open_failures o ON o.customer_id = c.id AND o.latest = 1
    WHERE c.status = 'active' OR (c.status = 'never_active' AND o.covers_subscription)
)
WHERE in_dunning OR no_valid_payment_method OR failed_charge_id IS NOT NULL;
