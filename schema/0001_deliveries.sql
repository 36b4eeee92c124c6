-- 0001: the raw store. One row per unique Recharge delivery, the body byte-for-byte.
-- Every delivery churnwatch answered 2xx (other than duplicates) is here, committed before
-- the answer went out.

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,   -- local, increasing in commit order
    received_at      TEXT    NOT NULL,      -- UTC 'YYYY-MM-DD HH:MM:SS.ffffff', when it arrived
    topic            TEXT,                  -- e.g. 'subscription/cancelled'; NULL if none found
    topic_source     TEXT CHECK (topic_source IN ('path', 'header', 'inferred')),
    signature_scheme TEXT    NOT NULL CHECK (signature_scheme IN ('legacy', 'timestamped')),
    key_index        INTEGER NOT NULL,      -- which configured secret verified it (0-based)
    dedupe_key       TEXT    NOT NULL UNIQUE,  -- 'id:<header>' or 'sha256:<hex of topic\nbody>'
    body             BLOB    NOT NULL,      -- the raw request body, exactly as received
    status           TEXT    NOT NULL CHECK (status IN ('accepted', 'quarantined')),
    reason           TEXT,                  -- why it was quarantined (NULL when accepted)
    api_version      TEXT                   -- '2021-01' | '2021-11' | NULL when not decided
);

CREATE INDEX deliveries_quarantined ON deliveries (id) WHERE status = 'quarantined';
CREATE INDEX deliveries_topic ON deliveries (topic, received_at);

-- Small key/value facts about the service itself (e.g. the last readiness probe).
CREATE TABLE service_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
