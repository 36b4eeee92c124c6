-- 0025: the billing address as a charge carries it.
--
-- customers.billing_country / _province / _zip came only from customer payloads, and a
-- 2021-11 customer carries no billing address (2021-01 flattened it into billing_* fields;
-- 2021-11 moved it to the payment method, which no webhook here sends). Charges of both API
-- versions carry billing_address, so a 2021-11 store's customers had no country at all and
-- could not be segmented by region. charge_versions keeps the charge's billing address now,
-- and the customers row takes the latest charge's when the customer record names no billing
-- country (see README, "customers"). Existing versions have NULL until `churnwatch rebuild`
-- decodes their deliveries again.
ALTER TABLE charge_versions ADD COLUMN billing_country TEXT;
ALTER TABLE charge_versions ADD COLUMN billing_province TEXT;
ALTER TABLE charge_versions ADD COLUMN billing_zip TEXT;
