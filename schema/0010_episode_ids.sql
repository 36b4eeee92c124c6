-- 0010: churn episode ids are never given out twice.
--
-- churn_events.id is the episode_id an alert carries and what its receiver looks up later.
-- It was SQLite's rowid, so a new episode got max(id) + 1: when a late fact erased the
-- newest episode, the next one got its id. From now on the churn store gives a new episode
-- an id above every id given out before, kept here in service_state('last_episode_id') as
-- the writer keeps deliveries' in 'last_delivery_id'; `churnwatch rebuild` keeps the ids of
-- the episodes it finds again and numbers new ones the same way.
--
-- The mark starts at the highest id this database shows: its episodes' and its alerts'.
INSERT INTO service_state (key, value)
SELECT 'last_episode_id',
       CAST(max(coalesce((SELECT max(id) FROM churn_events), 0),
                coalesce((SELECT max(episode_id) FROM alerts_outbox), 0)) AS TEXT)
WHERE true
ON CONFLICT (key) DO NOTHING;

-- alerts_outbox's stored CREATE TABLE text carries 0004's comments, two of which said that
-- `rebuild` renumbers episodes. Corrected in place, as 0007 edits CHECK text (only comments
-- change: nothing is checked or stored differently), so that `.schema` tells the truth in
-- an upgraded database as in a new one.
PRAGMA writable_schema=ON;

UPDATE sqlite_schema
SET sql = replace(replace(sql,
    '-- churn_events.id at creation (no FK: `rebuild`
                                       -- renumbers episodes, the alert stays as it was sent)',
    '-- churn_events.id at creation (no FK: a late fact
                                       -- may erase the episode, the alert stays as it was sent)'),
    '-- from the episode id: episode ids are reused after `rebuild`, and two databases would
    -- otherwise mint the same ids for the same receiver.',
    '-- from the episode id: two databases (production and a staging copy) would otherwise mint
    -- the same ids for the same receiver.')
WHERE type = 'table' AND name = 'alerts_outbox';

-- A real schema change moves the schema version, so other connections read the new text.
CREATE TABLE schema_version_bump (x);
DROP TABLE schema_version_bump;
PRAGMA writable_schema=OFF;
