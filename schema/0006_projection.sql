-- 0006: churn state is projected from the stored deliveries behind the acknowledgement.
-- service_state('projected_through') is the projection's watermark: every accepted delivery
-- with id <= it has had the churn rules applied; it advances in the same transaction as
-- the rows it covers. Before this migration the rules ran inside the delivery's own
-- transaction, so everything already stored is projected.
INSERT INTO service_state (key, value)
SELECT 'projected_through', CAST(coalesce(max(id), 0) AS TEXT) FROM deliveries WHERE true
ON CONFLICT (key) DO NOTHING;

-- How far behind the churn tables are (0 when they reflect every stored delivery).
CREATE VIEW projection_status AS
SELECT CAST(p.value AS INTEGER) AS projected_through,
       (SELECT count(*) FROM deliveries d
         WHERE d.id > CAST(p.value AS INTEGER) AND d.status = 'accepted') AS deliveries_behind
FROM service_state p WHERE p.key = 'projected_through';
