// A rich churn scenario (several customers, all three churn rules, reactivation, a stale
// update) used by the permutation test and the end-to-end scenario test.
#pragma once

#include <string>
#include <vector>

#include "delivery.h"
#include "payloads.h"

namespace churnwatch::test {

// The deliveries, in business-time order.
std::vector<TestDelivery> rich_scenario();

// The churn_events rows it must produce, as
// "customer_id|churned_at|reason|category|subscription_id|charge_id|reactivated_at" lines
// ordered by customer_id, churned_at.
std::string rich_scenario_expected_events();

// A decoded Delivery for a test delivery, as ingest would hand it to the writer (a test
// failure is recorded if the body does not decode).
churnwatch::Delivery make_delivery(const TestDelivery& td);

// SQL that dumps the churn tables independently of arrival order (no local row ids).
std::string churn_tables_dump(const std::string& db);

}  // namespace churnwatch::test
