-- 0009: when a customer first became an active subscriber.
--
-- The views counted every customer known since before a month as active at its start unless
-- a churn episode covered that moment, so customers who never had an active subscription
-- (one-time purchases only, a charge or a customer record without subscriptions) swelled
-- active_at_start and every cohort. customers.first_active_at is when the rules first found
-- the customer active (a subscription, or an activation); NULL when they never did, and the
-- views count a customer from then on.
--
-- Rows of an upgraded database take first_seen_at, which is what the views used before: a
-- customer's next delivery recomputes it, `churnwatch rebuild` recomputes them all.

ALTER TABLE customers ADD COLUMN first_active_at TEXT;
UPDATE customers SET first_active_at = first_seen_at;

DROP VIEW churn_monthly;
-- Monthly logo churn.
--   active_at_start   customers active at the first instant of the month: became active
--                     before it (first_active_at) and no churn episode covers that instant
--   new_customers     customers who first became active in the month
--   churned           churn episodes starting in the month
--   reactivated       churn episodes closed (customer came back) in the month
--   churn_rate        = churned / active_at_start                    (the standard convention)
--   churn_rate_with_new = churned / (active_at_start + new_customers)  (Stripe's convention)
-- Rates are NULL when the denominator is 0.
CREATE VIEW churn_monthly AS
SELECT month, active_at_start, new_customers, churned, reactivated,
       round(churned * 1.0 / nullif(active_at_start, 0), 4) AS churn_rate,
       round(churned * 1.0 / nullif(active_at_start + new_customers, 0), 4) AS churn_rate_with_new
FROM (
    SELECT m.month,
           (SELECT count(*) FROM customers c
             WHERE c.first_active_at < m.month_start
               AND NOT EXISTS (SELECT 1 FROM churn_events e
                                WHERE e.customer_id = c.id AND e.churned_at < m.month_start
                                  AND (e.reactivated_at IS NULL OR e.reactivated_at >= m.month_start))
           ) AS active_at_start,
           (SELECT count(*) FROM customers c
             WHERE c.first_active_at >= m.month_start AND c.first_active_at < m.month_end) AS new_customers,
           (SELECT count(*) FROM churn_events e
             WHERE e.churned_at >= m.month_start AND e.churned_at < m.month_end) AS churned,
           (SELECT count(*) FROM churn_events e
             WHERE e.reactivated_at >= m.month_start AND e.reactivated_at < m.month_end) AS reactivated
    FROM report_months m
);

DROP VIEW customer_cohorts;
-- Each subscriber's cohort: the month of their first subscription (created_at), or of when
-- they first became active when no creation time is known. Customers never active are in
-- no cohort.
CREATE VIEW customer_cohorts AS
SELECT c.id AS customer_id,
       coalesce((SELECT min(s.created_at) FROM subscriptions s WHERE s.customer_id = c.id),
                c.first_active_at) AS started_at
FROM customers c
WHERE c.first_active_at IS NOT NULL;
