-- 0021: what each target was told of each churn episode, apart from the alerts themselves.
--
-- lib/alert_outbox.cpp decides a retraction (customer.churn_retracted), an update
-- (customer.churn_updated), a return (customer.reactivated) and a second announcement of a
-- churn withdrawn within alert-hold by the target's latest customer.churned alert for the
-- episode: sent (or an attempt begun) — it was told of the churn; retracted before any
-- attempt — withdrawn, it was told nothing; pending and unattempted — it can still be
-- withdrawn. Up to 0020 that was read from alerts_outbox, so retention (0020) had to keep
-- those rows, full payload and all, for as long as the episode lives in churn_events: in
-- practice for ever, one per target per churn. This table holds just what is read, one row
-- per target and episode (one primary key seek), so every finished alert can be deleted
-- after alert-retention-days.
--
-- The triggers below keep it equal to what that read of alerts_outbox would return had
-- nothing been deleted: each customer.churned row inserted becomes its target's and
-- episode's row here (alerts_outbox ids only grow: AUTOINCREMENT), and a change to that row's
-- status, last attempt or creation time is copied (every writer — dispatcher, withdrawal,
-- `alerts retry`, quarantine replay, the clock catch-up — goes through them). Deleting an
-- alert leaves this table alone. churnwatch deletes the rows of an episode when it erases the
-- episode (lib/churn_store.cpp: a late delivery, a replay, or a `rebuild` that no longer finds
-- it; its id is never given out again), and nothing else.
--
-- alerts_outbox_episode (0011) is no longer read for this; it still serves the rewrite of
-- unclaimed churn alerts and the retraction of unsent ones.
--
-- A later migration that rebuilds alerts_outbox (create, copy, drop, rename) must create
-- these triggers again: dropping a table drops its triggers.
CREATE TABLE alert_told (
    episode_id  INTEGER NOT NULL,  -- churn_events.id
    target      TEXT    NOT NULL,  -- alerts_outbox.target
    customer_id INTEGER NOT NULL,  -- churn_events.customer_id (databases from before 0010
                                   -- may have given an erased episode's id to another customer)
    alert_id    INTEGER NOT NULL,  -- the latest customer.churned alerts_outbox.id for them
                                   -- (it may have been deleted since it finished)
    status      TEXT    NOT NULL,  -- its status: sent = told; retracted and not attempted =
                                   -- withdrawn, told nothing; pending = on its way
    attempted   INTEGER NOT NULL,  -- 1 when an attempt began (alerts_outbox.last_attempt_us set)
    created_us  INTEGER NOT NULL,  -- its alerts_outbox.created_us (alert-hold counts from it)
    PRIMARY KEY (episode_id, target, customer_id)
) WITHOUT ROWID;

-- From the rows there are: each target's latest churn alert of each episode still in
-- churn_events (0020's retention kept every one of those that says something).
INSERT INTO alert_told (episode_id, target, customer_id, alert_id, status, attempted, created_us)
SELECT o.episode_id, o.target, o.customer_id, o.id, o.status, o.last_attempt_us IS NOT NULL, o.created_us
FROM alerts_outbox AS o
WHERE o.event_type = 'customer.churned'
  AND EXISTS (SELECT 1 FROM churn_events AS e WHERE e.id = o.episode_id AND e.customer_id = o.customer_id)
  AND NOT EXISTS (SELECT 1 FROM alerts_outbox AS p WHERE p.episode_id = o.episode_id AND p.id > o.id
                  AND p.customer_id = o.customer_id AND p.target = o.target
                  AND p.event_type = 'customer.churned');

CREATE TRIGGER alert_told_on_insert AFTER INSERT ON alerts_outbox
WHEN NEW.event_type = 'customer.churned'
BEGIN
    -- Not INSERT OR REPLACE: an outer statement's OR clause would override that one's.
    DELETE FROM alert_told
    WHERE episode_id = NEW.episode_id AND target = NEW.target AND customer_id = NEW.customer_id;
    INSERT INTO alert_told (episode_id, target, customer_id, alert_id, status, attempted, created_us)
    VALUES (NEW.episode_id, NEW.target, NEW.customer_id, NEW.id, NEW.status, NEW.last_attempt_us IS NOT NULL,
            NEW.created_us);
END;

CREATE TRIGGER alert_told_on_update AFTER UPDATE OF status, last_attempt_us, created_us ON alerts_outbox
WHEN NEW.event_type = 'customer.churned'
BEGIN
    UPDATE alert_told SET status = NEW.status, attempted = NEW.last_attempt_us IS NOT NULL,
                          created_us = NEW.created_us
    WHERE episode_id = NEW.episode_id AND target = NEW.target AND customer_id = NEW.customer_id
      AND alert_id = NEW.id;
END;
