-- 0016: customers_at_risk, the signals that announce involuntary churn before it happens.
--
-- Recharge marks a customer whose payment method is failing (`has_payment_method_in_dunning`,
-- 2021-01 `has_card_error_in_dunning`) or missing (`has_valid_payment_method` false), and a
-- charge that failed stays `error` while Recharge retries it. Each is a chance for a win-back
-- flow to act while the customer is still active. One row per active customer with at least
-- one signal:
--   in_dunning, no_valid_payment_method   0/1, from the latest customer payload
--   failed_charge_id, failed_at, error_type, attempts, max_retries_reached
--                                         the latest open failed charge: status error, and
--                                         no successful charge of the customer after it
--                                         (a retry that succeeds makes the charge itself
--                                         success); max_retries_reached 1 is the store's
--                                         "Do nothing" setting: nothing will retry it
--   open_failed_charges                   how many such charges
--   signals                               the above as words, comma-separated:
--                                         dunning, no_valid_payment_method, charge_failed,
--                                         max_retries_reached

CREATE VIEW customers_at_risk AS
WITH open_failures AS (
    SELECT f.customer_id, f.id AS charge_id, f.updated_at AS failed_at, f.error_type,
           f.attempts, f.max_retries_reached,
           row_number() OVER (PARTITION BY f.customer_id ORDER BY f.updated_at DESC, f.id DESC) AS latest,
           count(*) OVER (PARTITION BY f.customer_id) AS open_failed_charges
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
                  ELSE 'charge_failed,' END, ',') AS signals
FROM (
    SELECT c.id AS customer_id, c.email, c.external_customer_id,
           coalesce(c.payment_method_in_dunning, 0) AS in_dunning,
           CASE WHEN c.has_valid_payment_method = 0 THEN 1 ELSE 0 END AS no_valid_payment_method,
           o.charge_id AS failed_charge_id, o.failed_at, o.error_type, o.attempts,
           o.max_retries_reached, coalesce(o.open_failed_charges, 0) AS open_failed_charges
    FROM customers c
    LEFT JOIN open_failures o ON o.customer_id = c.id AND o.latest = 1
    WHERE c.status = 'active'
)
WHERE in_dunning OR no_valid_payment_method OR failed_charge_id IS NOT NULL;
