-- 0003: views for analysts. Plain SQL over customers and churn_events; `churnwatch report`
-- prints the same numbers. Conventions:
--  * a month is [first day 00:00, first day of next month 00:00) in UTC;
--  * a customer is active at instant T when first_seen_at < T and no churn episode covers T
--    (churned_at < T and (reactivated_at IS NULL or reactivated_at >= T));
--  * months run from the first customer's first month to the month of the latest business
--    time in the data (not the wall clock), so the views are reproducible.

-- One row per month of data.
CREATE VIEW report_months AS
WITH RECURSIVE m(month_start) AS (
    SELECT date(min(first_seen_at), 'start of month') FROM customers
    UNION ALL
    SELECT date(month_start, '+1 month') FROM m
    WHERE month_start < (SELECT date(max(t), 'start of month') FROM (
              SELECT last_event_at AS t FROM customers
              UNION ALL SELECT churned_at FROM churn_events
              UNION ALL SELECT reactivated_at FROM churn_events))
)
SELECT strftime('%Y-%m', month_start) AS month,
       month_start,
       date(month_start, '+1 month') AS month_end
FROM m
WHERE month_start IS NOT NULL;

-- Monthly logo churn.
--   active_at_start   customers active at the first instant of the month
--   new_customers     customers whose first_seen_at falls in the month
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
             WHERE c.first_seen_at < m.month_start
               AND NOT EXISTS (SELECT 1 FROM churn_events e
                                WHERE e.customer_id = c.id AND e.churned_at < m.month_start
                                  AND (e.reactivated_at IS NULL OR e.reactivated_at >= m.month_start))
           ) AS active_at_start,
           (SELECT count(*) FROM customers c
             WHERE c.first_seen_at >= m.month_start AND c.first_seen_at < m.month_end) AS new_customers,
           (SELECT count(*) FROM churn_events e
             WHERE e.churned_at >= m.month_start AND e.churned_at < m.month_end) AS churned,
           (SELECT count(*) FROM churn_events e
             WHERE e.reactivated_at >= m.month_start AND e.reactivated_at < m.month_end) AS reactivated
    FROM report_months m
);

-- Churn episodes per month split by reason and category.
--   share = churned / all churn episodes of that month
CREATE VIEW churn_by_reason AS
SELECT strftime('%Y-%m', churned_at) AS month, reason, category, count(*) AS churned,
       round(count(*) * 1.0 / sum(count(*)) OVER (PARTITION BY strftime('%Y-%m', churned_at)), 4) AS share
FROM churn_events
GROUP BY 1, 2, 3;

-- Each customer's cohort: the month of their first subscription (created_at), or of their
-- first_seen_at when no subscription is known.
CREATE VIEW customer_cohorts AS
SELECT c.id AS customer_id,
       coalesce((SELECT min(s.created_at) FROM subscriptions s WHERE s.customer_id = c.id),
                c.first_seen_at) AS started_at
FROM customers c
WHERE c.first_seen_at IS NOT NULL;

-- Cohort retention.
--   cohort          month of first subscription
--   months_since    k = 0, 1, 2, … (month k after the cohort month)
--   cohort_size     customers in the cohort
--   retained        of those, active at the end of month cohort + k
--   retained_share  = retained / cohort_size
CREATE VIEW cohort_retention AS
SELECT cohort, months_since, cohort_size, retained,
       round(retained * 1.0 / cohort_size, 4) AS retained_share
FROM (
    SELECT strftime('%Y-%m', cc.started_at) AS cohort,
           (CAST(strftime('%Y', m.month_start) AS INTEGER) - CAST(strftime('%Y', cc.started_at) AS INTEGER)) * 12
             + CAST(strftime('%m', m.month_start) AS INTEGER) - CAST(strftime('%m', cc.started_at) AS INTEGER)
             AS months_since,
           count(*) AS cohort_size,
           sum(NOT EXISTS (SELECT 1 FROM churn_events e
                            WHERE e.customer_id = cc.customer_id AND e.churned_at < m.month_end
                              AND (e.reactivated_at IS NULL OR e.reactivated_at >= m.month_end)))
             AS retained
    FROM customer_cohorts cc
    JOIN report_months m ON m.month_start >= date(cc.started_at, 'start of month')
    GROUP BY 1, 2
);

-- Customers whose own active-subscription count differs from what Recharge last reported:
-- a sign of missed webhooks (e.g. a topic not registered).
CREATE VIEW customer_count_mismatches AS
SELECT id AS customer_id, email, status, active_subscriptions, reported_active_subscriptions
FROM customers
WHERE reported_active_subscriptions IS NOT NULL
  AND reported_active_subscriptions <> active_subscriptions;
