-- 0014: the customer's platform id as a charge carries it.
--
-- customers.external_customer_id came only from customer payloads, so a customer seen only
-- through charges (2021-11 charges nest customer.external_customer_id) had none, and an
-- analyst could not join them to the store's customers. charge_versions keeps it now, and
-- the customers row takes it when the customer record has none. Existing versions have
-- NULL until `churnwatch rebuild` decodes their deliveries again.
ALTER TABLE charge_versions ADD COLUMN external_customer_id TEXT;
