-- 0015: customer_count_mismatches leaves out counts that are merely out of date.
--
-- Recharge's count of a customer's active subscriptions comes with customer payloads; when a
-- subscription is cancelled later and no customer payload follows, the last reported count
-- is simply old, yet the view listed the customer as "a sign of missed webhooks". It now
-- lists a customer only when the report is no older than the latest subscription change
-- churnwatch saw for them (or it saw none), and shows when the report was made.
--   reported_at   business time of the customer payload that carried the count

DROP VIEW customer_count_mismatches;

CREATE VIEW customer_count_mismatches AS
SELECT customer_id, email, status, active_subscriptions, reported_active_subscriptions,
       strftime('%Y-%m-%d %H:%M:%S', reported_us / 1000000, 'unixepoch') AS reported_at
FROM (
    SELECT c.id AS customer_id, c.email, c.status, c.active_subscriptions,
           c.reported_active_subscriptions,
           (SELECT max(v.updated_at_us) FROM customer_versions v WHERE v.customer_id = c.id)
             AS reported_us,
           (SELECT max(s.updated_at_us) FROM subscription_versions s WHERE s.customer_id = c.id)
             AS changed_us
    FROM customers c
    WHERE c.reported_active_subscriptions IS NOT NULL
      AND c.reported_active_subscriptions <> c.active_subscriptions
)
WHERE changed_us IS NULL OR reported_us >= changed_us;
