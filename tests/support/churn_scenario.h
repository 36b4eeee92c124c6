// A rich churn scenario (several customers, all three churn rules, reactivation, a stale
// update) used by the permutation test and the end-to-end scenario test.
#pragma once

#include <string>
#include <vector>

#include "payloads.h"

namespace churnwatch::test {

// The deliveries, in business-time order.
std::vector<TestDelivery> rich_scenario();

// The churn_events rows it must produce, as
// "customer_id|churned_at|reason|category|subscription_id|charge_id|reactivated_at" lines
// ordered by customer_id, churned_at.
std::string rich_scenario_expected_events();

// SQL that dumps the churn tables independently of arrival order (no local row ids).
std::string churn_tables_dump(const std::string& db);

}  // namespace churnwatch::test
