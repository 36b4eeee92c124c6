-- 0018: months in the store's time zone (report-timezone), through a calendar table.
--
-- The views counted UTC calendar months, while a merchant (and Recharge's own analytics)
-- reads months in the store's zone: a customer who left on the evening of March 31 in Los
-- Angeles was counted in April. report_calendar holds, for every month from 2000-01 to
-- 2100-12, the UTC instants at which it starts and ends in the configured zone:
--   month        'YYYY-MM', the month as the store names it
--   month_start  its first instant (local midnight of the 1st) as UTC text, comparable with
--                every stored time: 'YYYY-MM-DD' when that is midnight UTC (as in UTC
--                itself), else 'YYYY-MM-DD HH:MM:SS'
--   month_end    the next month's month_start
-- This migration fills it for UTC (so nothing changes until a zone is set); `serve` and
-- `rebuild` rewrite it when report-timezone differs from service_state.report_timezone.
-- Analysts can bucket any stored time by it:
--   SELECT k.month, count(*) FROM churn_events e JOIN report_calendar k
--     ON e.churned_at >= k.month_start AND e.churned_at < k.month_end GROUP BY 1;
--
-- report_months, churn_by_reason and cohort_retention now take their months from it;
-- churn_monthly reads report_months and needs no change.

CREATE TABLE report_calendar (
    month       TEXT PRIMARY KEY,
    month_start TEXT NOT NULL UNIQUE,
    month_end   TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO report_calendar (month, month_start, month_end)
WITH RECURSIVE m(month_start) AS (
    SELECT '2000-01-01'
    UNION ALL
    SELECT date(month_start, '+1 month') FROM m WHERE month_start < '2100-12-01'
)
SELECT strftime('%Y-%m', month_start), month_start, date(month_start, '+1 month') FROM m;

DROP VIEW cohort_retention;
DROP VIEW churn_by_reason;
DROP VIEW report_months;

-- One row per month of data: from the month the first customer became active to the month
-- of the latest business time in the data (at least the first month).
CREATE VIEW report_months AS
WITH span(first_at, last_at) AS (
    SELECT f.t, max(coalesce(l.t, f.t), f.t)
    FROM (SELECT min(first_active_at) AS t FROM customers) f,
         (SELECT max(t) AS t FROM (
              SELECT last_event_at AS t FROM customers
              UNION ALL SELECT churned_at FROM churn_events
              UNION ALL SELECT reactivated_at FROM churn_events)) l
),
-- Materialized, so that a view joining it to churn_events reads the few months first and
-- each month's episodes by the churned_at index (rather than, per episode, every calendar
-- month before it: 2-3 times slower).
months AS MATERIALIZED (
    SELECT k.month, k.month_start, k.month_end
    FROM report_calendar k, span
    WHERE k.month_end > span.first_at AND k.month_start <= span.last_at
)
SELECT month, month_start, month_end FROM months;

-- Churn episodes per month split by reason and category.
--   share = churned / all churn episodes of that month
CREATE VIEW churn_by_reason AS
WITH episodes AS (
    SELECT (SELECT k.month FROM report_calendar k WHERE k.month_start <= e.churned_at
             ORDER BY k.month_start DESC LIMIT 1) AS month,
           e.reason, e.category
    FROM churn_events e
)
SELECT month, reason, category, count(*) AS churned,
       round(count(*) * 1.0 / sum(count(*)) OVER (PARTITION BY month), 4) AS share
FROM episodes
GROUP BY 1, 2, 3;

-- Cohort retention (as in 0012; the cohort is the calendar month of started_at).
--   cohort          month of first subscription
--   months_since    k = 0, 1, 2, … (month k after the cohort month)
--   cohort_size     customers in the cohort
--   retained        of those, active at the end of month cohort + k (became active before
--                   it and no churn episode covers it)
--   retained_share  = retained / cohort_size
CREATE VIEW cohort_retention AS
WITH cohorts AS MATERIALIZED (
    SELECT cc.customer_id, cc.started_at, cc.first_active_at, k.month AS cohort, k.month_start AS cohort_start
    FROM customer_cohorts cc
    JOIN report_calendar k
      ON k.month = (SELECT k2.month FROM report_calendar k2 WHERE k2.month_start <= cc.started_at
                     ORDER BY k2.month_start DESC LIMIT 1)
)
SELECT cohort, months_since, cohort_size, retained,
       round(retained * 1.0 / cohort_size, 4) AS retained_share
FROM (
    SELECT cc.cohort,
           (CAST(substr(m.month, 1, 4) AS INTEGER) - CAST(substr(cc.cohort, 1, 4) AS INTEGER)) * 12
             + CAST(substr(m.month, 6, 2) AS INTEGER) - CAST(substr(cc.cohort, 6, 2) AS INTEGER)
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
