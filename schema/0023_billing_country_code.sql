-- 0023: customers.billing_country_code, the billing country as an ISO 3166-1 alpha-2 code.
--
-- billing_country holds the text as sent: a name on 2021-01 customers ("United States"), a
-- code on 2021-11 billing addresses ("US"), so grouping by it split one country in two, and
-- a store moving from one API version to the other moved its customers from one group to the
-- other. lib/country_code.cpp maps names (ISO's and Shopify's: "St. Lucia", "South Korea")
-- and codes to the alpha-2 code; NULL when the text names no country churnwatch knows.
--
-- Rows written before this migration get the code here when billing_country is already one
-- (two letters); names are mapped when the customer's row is next written, or by
-- `churnwatch rebuild` (which this version recommends anyway: its rules changed).
ALTER TABLE customers ADD COLUMN billing_country_code TEXT;

UPDATE customers SET billing_country_code = upper(billing_country)
WHERE length(billing_country) = 2 AND upper(billing_country) GLOB '[A-Z][A-Z]';
