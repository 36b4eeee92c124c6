-- 0004: alert hooks. An outbox of notifications to send when a customer churns or comes back.
-- lib/alert_outbox.cpp writes its rows in the same transaction as the churn_events change
-- that causes them (no churn is recorded without its alerts, and no alert without its churn);
-- service/alert_dispatcher.cpp sends them on its own connections, one worker per target.
-- Times here are integer microseconds since 1970 UTC (*_us), like the *_us columns of 0002:
-- the dispatcher compares them with its clock on every poll. `churnwatch alerts list` prints
-- them as UTC text.

CREATE TABLE alerts_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after deletes
    target          TEXT    NOT NULL,  -- the target's key: its URL, or 'command:<path>'
    event_type      TEXT    NOT NULL
                    CHECK (event_type IN ('customer.churned', 'customer.reactivated')),
    episode_id      INTEGER NOT NULL,  -- churn_events.id at creation (no FK: a late fact
                                       -- may erase the episode, the alert stays as it was sent)
    customer_id     INTEGER NOT NULL,
    -- The webhook-id header: 'msg_' + 32 random hex digits, fixed at creation, so every
    -- retry carries the same id and receivers can deduplicate. Random rather than derived
    -- from the episode id: two databases (production and a staging copy) would otherwise mint
    -- the same ids for the same receiver.
    webhook_id      TEXT    NOT NULL UNIQUE,
    payload         TEXT    NOT NULL,  -- the exact JSON body: every attempt sends these bytes
    created_us      INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'dead', 'disabled')),
                    -- pending: to send (again); sent: a 2xx (or exit 0) came back;
                    -- dead: a permanent failure or the retry budget ran out;
                    -- disabled: the target answered 410 Gone (see alert_targets_disabled)
    attempts        INTEGER NOT NULL DEFAULT 0,  -- attempts made (reset by `alerts retry`)
    next_attempt_us INTEGER NOT NULL,  -- pending: not before this
    retry_from_us   INTEGER NOT NULL,  -- the retry budget counts from here: created_us, or
                                       -- when `churnwatch alerts retry` last reset the row
    last_attempt_us INTEGER,
    last_status     INTEGER,           -- HTTP status (command: exit status) of the last
                                       -- attempt; NULL when there was no response
    last_error      TEXT,              -- why the last attempt failed (NULL after success)
    sent_us         INTEGER            -- when it was delivered
);
-- The dispatcher's poll: one target's due pending rows.
CREATE INDEX alerts_outbox_due ON alerts_outbox (target, next_attempt_us) WHERE status = 'pending';
CREATE INDEX alerts_outbox_status ON alerts_outbox (status, id);

-- Targets that answered 410 Gone. Kept across restarts: new alerts for such a target are
-- recorded with status 'disabled' and never sent until `churnwatch alerts retry` is run for
-- one of them, which deletes the target's row here.
CREATE TABLE alert_targets_disabled (
    target      TEXT PRIMARY KEY,      -- alerts_outbox.target
    disabled_us INTEGER NOT NULL,
    reason      TEXT    NOT NULL       -- e.g. 'HTTP 410 Gone for alert 12'
);
