-- 0022: whether each target was told of each churn episode's return, apart from the alerts.
--
-- When a late delivery undoes a return (the episode is churned again), a target that was
-- sent the episode's customer.reactivated, or is being sent it, and asks for
-- customer.churn_updated is told so; and when a late delivery erases the episode, a target
-- that heard of its return — also one that wants only returns — is sent
-- customer.churn_retracted. lib/alert_outbox.cpp read that from the target's latest
-- customer.reactivated row in alerts_outbox, which retention (0020) deletes
-- alert-retention-days after it was sent: an undo or an erasure after that told nothing.
-- This table keeps what is read, as alert_told (0021) does for churn alerts: one row per
-- target and episode, the latest customer.reactivated alert's id, status and whether an
-- attempt began, kept equal to that row by the triggers below (every writer goes through
-- them) and left alone when the alert is deleted. churnwatch deletes an episode's rows when
-- it erases the episode (lib/churn_store.cpp), and nothing else.
--
-- A later migration that rebuilds alerts_outbox (create, copy, drop, rename) must create
-- these triggers again: dropping a table drops its triggers.
CREATE TABLE alert_told_return (
    episode_id  INTEGER NOT NULL,  -- churn_events.id
    target      TEXT    NOT NULL,  -- alerts_outbox.target
    customer_id INTEGER NOT NULL,  -- churn_events.customer_id
    alert_id    INTEGER NOT NULL,  -- the latest customer.reactivated alerts_outbox.id for them
                                   -- (it may have been deleted since it finished)
    status      TEXT    NOT NULL,  -- its status: sent = told; pending = on its way if attempted
    attempted   INTEGER NOT NULL,  -- 1 when an attempt began (alerts_outbox.last_attempt_us set)
    PRIMARY KEY (episode_id, target, customer_id)
) WITHOUT ROWID;

-- From the rows there are: each target's latest return alert of each episode still in
-- churn_events (those of episodes erased since tell nothing).
INSERT INTO alert_told_return (episode_id, target, customer_id, alert_id, status, attempted)
SELECT o.episode_id, o.target, o.customer_id, o.id, o.status, o.last_attempt_us IS NOT NULL
FROM alerts_outbox AS o
WHERE o.event_type = 'customer.reactivated'
  AND EXISTS (SELECT 1 FROM churn_events AS e WHERE e.id = o.episode_id AND e.customer_id = o.customer_id)
  AND NOT EXISTS (SELECT 1 FROM alerts_outbox AS p WHERE p.episode_id = o.episode_id AND p.id > o.id
                  AND p.customer_id = o.customer_id AND p.target = o.target
                  AND p.event_type = 'customer.reactivated');

CREATE TRIGGER alert_told_return_on_insert AFTER INSERT ON alerts_outbox
WHEN NEW.event_type = 'customer.reactivated'
BEGIN
    -- Not INSERT OR REPLACE: an outer statement's OR clause would override that one's.
    DELETE FROM alert_told_return
    WHERE episode_id = NEW.episode_id AND target = NEW.target AND customer_id = NEW.customer_id;
    INSERT INTO alert_told_return (episode_id, target, customer_id, alert_id, status, attempted)
    VALUES (NEW.episode_id, NEW.target, NEW.customer_id, NEW.id, NEW.status, NEW.last_attempt_us IS NOT NULL);
END;

CREATE TRIGGER alert_told_return_on_update AFTER UPDATE OF status, last_attempt_us ON alerts_outbox
WHEN NEW.event_type = 'customer.reactivated'
BEGIN
    UPDATE alert_told_return SET status = NEW.status, attempted = NEW.last_attempt_us IS NOT NULL
    WHERE episode_id = NEW.episode_id AND target = NEW.target AND customer_id = NEW.customer_id
      AND alert_id = NEW.id;
END;
