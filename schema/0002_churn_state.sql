-- 0002: the churn state model.
--
-- Two layers:
--  * *_versions: every observed state of every object, one row per (object, updated_at,
--    delivery). Facts only; never updated. The rules engine reads a customer's versions and
--    recomputes that customer, so the same deliveries in any order give the same tables.
--  * customers, subscriptions, charges, churn_events: what analysts query. Derived from the
--    versions (`churnwatch rebuild` recreates them from the stored deliveries).
-- Times in analyst tables are UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]' (business times from
-- the payloads, never arrival times); *_us columns are microseconds since 1970 for ordering.

CREATE TABLE subscription_versions (
    subscription_id      INTEGER NOT NULL,
    customer_id          INTEGER NOT NULL,
    updated_at_us        INTEGER NOT NULL,
    order_key            TEXT    NOT NULL,  -- the delivery's dedupe key: breaks updated_at ties
    delivery_id          INTEGER NOT NULL REFERENCES deliveries (id),
    action               TEXT    NOT NULL,  -- topic action, or 'included'
    status               TEXT    NOT NULL,  -- active | cancelled | expired | onetime | unknown
    status_raw           TEXT,
    email                TEXT,
    cancelled_at_us      INTEGER,
    cancellation_reason  TEXT,
    expire_after_charges INTEGER,
    max_retries_reached  INTEGER NOT NULL,
    next_charge_scheduled_at TEXT,
    price                TEXT,
    quantity             INTEGER,
    product_title        TEXT,
    created_at_us        INTEGER,
    PRIMARY KEY (subscription_id, updated_at_us, order_key)
) WITHOUT ROWID;
CREATE INDEX subscription_versions_customer ON subscription_versions (customer_id);

CREATE TABLE charge_versions (
    charge_id           INTEGER NOT NULL,
    customer_id         INTEGER NOT NULL,
    updated_at_us       INTEGER NOT NULL,
    order_key           TEXT    NOT NULL,
    delivery_id         INTEGER NOT NULL REFERENCES deliveries (id),
    action              TEXT    NOT NULL,
    status              TEXT    NOT NULL,  -- success | error | queued | … | unknown
    status_raw          TEXT,
    email               TEXT,
    error               TEXT,
    error_type          TEXT,
    attempts            INTEGER,
    max_retries_reached INTEGER NOT NULL,
    subscription_ids    TEXT    NOT NULL,  -- comma-separated subscription ids it covers
    total_price         TEXT,
    created_at_us       INTEGER,
    processed_at_us     INTEGER,
    PRIMARY KEY (charge_id, updated_at_us, order_key)
) WITHOUT ROWID;
CREATE INDEX charge_versions_customer ON charge_versions (customer_id);

CREATE TABLE customer_versions (
    customer_id          INTEGER NOT NULL,
    updated_at_us        INTEGER NOT NULL,
    order_key            TEXT    NOT NULL,
    delivery_id          INTEGER NOT NULL REFERENCES deliveries (id),
    action               TEXT    NOT NULL,
    status               TEXT    NOT NULL,  -- active | inactive | unknown (2021-11 has none)
    email                TEXT,
    external_customer_id TEXT,
    active_subscriptions INTEGER,
    total_subscriptions  INTEGER,
    billing_country      TEXT,
    billing_province     TEXT,
    billing_zip          TEXT,
    has_valid_payment_method  INTEGER,
    payment_method_in_dunning INTEGER,
    created_at_us        INTEGER,
    PRIMARY KEY (customer_id, updated_at_us, order_key)
) WITHOUT ROWID;

-- One row per Recharge customer churnwatch has heard of.
CREATE TABLE customers (
    id                    INTEGER PRIMARY KEY,  -- Recharge customer id
    email                 TEXT,                 -- latest known
    external_customer_id  TEXT,                 -- Shopify / platform customer id
    status                TEXT NOT NULL CHECK (status IN ('active', 'churned')),
    first_seen_at         TEXT,                 -- earliest business time in any of its payloads
    churned_at            TEXT,                 -- start of the open churn episode; NULL if active
    last_event_at         TEXT,                 -- latest business time in any of its payloads
    active_subscriptions  INTEGER NOT NULL,     -- churnwatch's own count
    reported_active_subscriptions INTEGER,      -- what Recharge last said (customer payloads)
    billing_country       TEXT,
    billing_province      TEXT,
    billing_zip           TEXT,
    has_valid_payment_method  INTEGER,          -- 0/1, latest customer payload
    payment_method_in_dunning INTEGER           -- 0/1, latest customer payload
);

-- Latest known state of each subscription (the version with the greatest updated_at).
CREATE TABLE subscriptions (
    id                    INTEGER PRIMARY KEY,
    customer_id           INTEGER NOT NULL,
    status                TEXT NOT NULL,        -- active | cancelled | expired | onetime | unknown
    cancelled_at          TEXT,
    cancellation_reason   TEXT,                 -- merchant's free text
    expire_after_specific_number_of_charges INTEGER,
    charges_counted       INTEGER NOT NULL,     -- successful charges seen covering it
    ended_by_expiry       INTEGER NOT NULL,     -- 1 when its last end was an expiry
    max_retries_reached   INTEGER NOT NULL,
    next_charge_scheduled_at TEXT,
    price                 TEXT,
    quantity              INTEGER,
    product_title         TEXT,
    created_at            TEXT,
    updated_at            TEXT NOT NULL         -- as Recharge sent it (normalised to UTC)
);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id);

-- Latest known state of each charge.
CREATE TABLE charges (
    id                    INTEGER PRIMARY KEY,
    customer_id           INTEGER NOT NULL,
    subscription_ids      TEXT NOT NULL,        -- comma-separated
    status                TEXT NOT NULL,
    error_type            TEXT,
    error                 TEXT,
    attempts              INTEGER,              -- number_times_tried / charge_attempts
    max_retries_reached   INTEGER NOT NULL,     -- any version said so
    total_price           TEXT,
    created_at            TEXT,
    processed_at          TEXT,
    updated_at            TEXT NOT NULL
);
CREATE INDEX charges_customer ON charges (customer_id);

-- One row per churn episode: from the moment a customer stopped being active until they
-- came back (reactivated_at) or until now (reactivated_at NULL).
CREATE TABLE churn_events (
    id              INTEGER PRIMARY KEY,
    customer_id     INTEGER NOT NULL,
    churned_at      TEXT    NOT NULL,
    reason          TEXT    NOT NULL CHECK (reason IN ('cancelled', 'max_retries', 'expired', 'deactivated')),
    category        TEXT    NOT NULL CHECK (category IN ('voluntary', 'involuntary', 'natural')),
    subscription_id INTEGER,           -- the subscription whose end caused it
    charge_id       INTEGER,           -- the max-retries charge, when that is the reason
    delivery_id     INTEGER,           -- the delivery that carried the deciding fact
    reactivated_at  TEXT,
    UNIQUE (customer_id, churned_at)
);
CREATE INDEX churn_events_churned_at ON churn_events (churned_at);
