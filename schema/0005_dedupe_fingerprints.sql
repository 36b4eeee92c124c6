-- 0005: duplicates are recognised by fingerprint, without a random-access index on disk.
--
-- The UNIQUE index on deliveries.dedupe_key took one randomly placed index page per stored
-- delivery: at a group commit of 64 deliveries that was ~64 extra pages written and
-- fsynced, more than the bodies themselves. The writer now keeps the fingerprints of recent
-- deliveries in memory (a compact hash table) and confirms a match against the stored row;
-- delivery_fingerprints persists them, appended in id order, so a restart reloads them
-- cheaply. The deliveries table is rebuilt once without the UNIQUE constraint.
CREATE TABLE deliveries_rebuilt (
    id               INTEGER PRIMARY KEY,
    received_at      TEXT    NOT NULL,
    topic            TEXT,
    topic_source     TEXT CHECK (topic_source IN ('path', 'header', 'inferred')),
    signature_scheme TEXT    NOT NULL CHECK (signature_scheme IN ('legacy', 'timestamped')),
    key_index        INTEGER NOT NULL,
    dedupe_key       TEXT    NOT NULL,  -- 'id:<header>' or 'sha256:<hex of topic\nbody>'
    body             BLOB    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('accepted', 'quarantined')),
    reason           TEXT,
    api_version      TEXT
);
INSERT INTO deliveries_rebuilt SELECT id, received_at, topic, topic_source, signature_scheme,
    key_index, dedupe_key, body, status, reason, api_version FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_rebuilt RENAME TO deliveries;
CREATE INDEX deliveries_quarantined ON deliveries (id) WHERE status = 'quarantined';
-- deliveries_topic (topic, received_at) is not recreated: each group commit dirtied the
-- last page of every topic's range in it (~10 pages per commit, as much as the bodies).
-- Time ranges follow the id (ids increase with arrival); by topic, scan.

-- One row per stored delivery: the first 8 bytes of SHA-256(dedupe_key) as a signed
-- integer, and when it arrived (µs since the epoch). Rows older than the dedupe window are
-- pruned. Rows of deliveries stored before this migration are filled in at the next start.
CREATE TABLE delivery_fingerprints (
    delivery_id    INTEGER PRIMARY KEY,
    fingerprint    INTEGER NOT NULL,
    received_at_us INTEGER NOT NULL
);
