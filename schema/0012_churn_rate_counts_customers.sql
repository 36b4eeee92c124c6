-- 0012: churn rates count customers, not episodes; cohorts count subscriptions only; the
-- views compute each month's counts once.
--
-- churn_rate was churned episodes / active_at_start: the numerator counted customers who were
-- not in the denominator (new in the month and gone again) and a customer who churned, came
-- back and churned again twice, so a month could show a rate above 1. The rates' numerators
-- are now customers, shown in two new columns:
--   churned_customers           customers active at the start of the month who churned in it
--                               (at least one episode starting in the month)
--   churned_customers_with_new  the same among customers active at the start or new in it
-- `churned` (episodes starting in the month) and the other columns are unchanged.
--
-- customer_cohorts took the earliest created_at of any subscription row, one-time items
-- included, so a one-off buyer who subscribed a year later joined the one-off's cohort, and
-- cohort_retention counted a customer as retained in months before they first became active.
-- Cohorts now start at the first subscription that is not a one-time item (else when the
-- customer first became active), and `retained` requires having become active by the end of
-- the month.
--
-- The months now run from the month the first customer became active (first_active_at), not
-- the first business time of any customer: a customer record created years before anyone
-- subscribed added as many empty leading months, each of them computed.
--
-- Conventions (replacing 0003's header):
--  * a month is [first day 00:00, first day of next month 00:00) in UTC;
--  * a customer is active at instant T when first_active_at < T and no churn episode covers
--    T (churned_at < T and (reactivated_at IS NULL or reactivated_at >= T));
--  * months run from the first active customer's first month to the month of the latest
--    business time in the data (not the wall clock), so the views are reproducible.
-- Each month's counts are computed once (a MATERIALIZED common table expression): before,
-- SQLite evaluated the active_at_start subquery once per column that used it.

DROP VIEW cohort_retention;
DROP VIEW customer_cohorts;
DROP VIEW churn_monthly;
DROP VIEW report_months;

-- One row per month of data.
CREATE VIEW report_months AS
WITH RECURSIVE m(month_start) AS (
    SELECT date(min(first_active_at), 'start of month') FROM customers
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
--   active_at_start             customers active at the first instant of the month
--   new_customers               customers who first became active in the month
--   churned                     churn episodes starting in the month
--   reactivated                 churn episodes closed (customer came back) in the month
--   churned_customers           of the customers active at the start, those who churned in
--                               the month (once or more)
--   churned_customers_with_new  of the customers active at the start or new in the month,
--                               those who churned in it
--   churn_rate           = churned_customers / active_at_start            (the standard convention)
--   churn_rate_with_new  = churned_customers_with_new / (active_at_start + new_customers)
--                                                                          (Stripe's convention)
-- Rates are NULL when the denominator is 0, and never above 1.
-- active_at_start is "became active before the month" less "an episode covers its first
-- instant" (a customer has one open episode at a time): two scans per month instead of a
-- churn_events probe per customer and month.
CREATE VIEW churn_monthly AS
WITH counts AS MATERIALIZED (
    SELECT m.month,
           (SELECT count(*) FROM customers c WHERE c.first_active_at < m.month_start)
             - (SELECT count(DISTINCT e.customer_id)
                  FROM churn_events e JOIN customers c ON c.id = e.customer_id
                 WHERE e.churned_at < m.month_start
                   AND (e.reactivated_at IS NULL OR e.reactivated_at >= m.month_start)
                   AND c.first_active_at < m.month_start) AS active_at_start,
           (SELECT count(*) FROM customers c
             WHERE c.first_active_at >= m.month_start AND c.first_active_at < m.month_end) AS new_customers,
           (SELECT count(*) FROM churn_events e
             WHERE e.churned_at >= m.month_start AND e.churned_at < m.month_end) AS churned,
           (SELECT count(*) FROM churn_events e
             WHERE e.reactivated_at >= m.month_start AND e.reactivated_at < m.month_end) AS reactivated
    FROM report_months m
),
-- Customers who churned in the month and were active at its start or became active in it
-- (no episode covered its first instant), each once, and whether they were there at the start.
lost AS MATERIALIZED (
    SELECT m.month, e.customer_id, max(c.first_active_at < m.month_start) AS at_start
    FROM report_months m
    JOIN churn_events e ON e.churned_at >= m.month_start AND e.churned_at < m.month_end
    JOIN customers c ON c.id = e.customer_id
    WHERE c.first_active_at < m.month_end
      AND NOT EXISTS (SELECT 1 FROM churn_events p
                       WHERE p.customer_id = c.id AND p.churned_at < m.month_start
                         AND (p.reactivated_at IS NULL OR p.reactivated_at >= m.month_start))
    GROUP BY m.month, e.customer_id
),
lost_by_month AS (
    SELECT month, sum(at_start) AS churned_customers, count(*) AS churned_customers_with_new
    FROM lost GROUP BY month
)
SELECT month, active_at_start, new_customers, churned, reactivated,
       coalesce(l.churned_customers, 0) AS churned_customers,
       coalesce(l.churned_customers_with_new, 0) AS churned_customers_with_new,
       round(coalesce(l.churned_customers, 0) * 1.0 / nullif(active_at_start, 0), 4) AS churn_rate,
       round(coalesce(l.churned_customers_with_new, 0) * 1.0
             / nullif(active_at_start + new_customers, 0), 4) AS churn_rate_with_new
FROM counts LEFT JOIN lost_by_month l USING (month)
ORDER BY month;

-- Each subscriber's cohort: the month of their first subscription (created_at; one-time
-- items are not subscriptions), or of when they first became active when no creation time is
-- known. Customers never active are in no cohort.
CREATE VIEW customer_cohorts AS
SELECT c.id AS customer_id,
       coalesce((SELECT min(s.created_at) FROM subscriptions s
                  WHERE s.customer_id = c.id AND s.status <> 'onetime'),
                c.first_active_at) AS started_at,
       c.first_active_at
FROM customers c
WHERE c.first_active_at IS NOT NULL;

-- Cohort retention.
--   cohort          month of first subscription
--   months_since    k = 0, 1, 2, … (month k after the cohort month)
--   cohort_size     customers in the cohort
--   retained        of those, active at the end of month cohort + k (became active before
--                   it and no churn episode covers it)
--   retained_share  = retained / cohort_size
CREATE VIEW cohort_retention AS
WITH cohorts AS MATERIALIZED (
    SELECT customer_id, started_at, first_active_at,
           date(started_at, 'start of month') AS cohort_start
    FROM customer_cohorts
)
SELECT cohort, months_since, cohort_size, retained,
       round(retained * 1.0 / cohort_size, 4) AS retained_share
FROM (
    SELECT strftime('%Y-%m', cc.cohort_start) AS cohort,
           (CAST(strftime('%Y', m.month_start) AS INTEGER) - CAST(strftime('%Y', cc.cohort_start) AS INTEGER)) * 12
             + CAST(strftime('%m', m.month_start) AS INTEGER) - CAST(strftime('%m', cc.cohort_start) AS INTEGER)
             AS months_since,
           count(*) AS cohort_size,
           sum(cc.first_active_at < m.month_end
               AND NOT EXISTS (SELECT 1 FROM churn_events e
                                WHERE e.customer_id = cc.customer_id AND e.churned_at < m.month_end
                                  AND (e.reactivated_at IS NULL OR e.reactivated_at >= m.month_end)))
             AS retained
    FROM cohorts cc
    JOIN report_months m ON m.month_start >= cc.cohort_start
    GROUP BY 1, 2
);
