// The version tables' rows (schema/0002_churn_state.sql) and the facts they hold: one
// mapping, used when live processing stores a version and reads a customer's history back,
// and when a rebuild holds the rows in memory. So a rebuild that evaluates the facts of its
// in-memory rows sees exactly what reading them back from the tables would give.
// Rows are in the tables' column order (subscription_id | charge_id | customer_id first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model.h"
#include "packed_rows.h"
#include "rules.h"
#include "sqlite.h"

namespace churnwatch {

constexpr std::size_t kSubscriptionVersionColumns = 18;
constexpr std::size_t kChargeVersionColumns = 21;
constexpr std::size_t kCustomerVersionColumns = 16;
// A buffer of this many values holds any version row.
constexpr std::size_t kMaxVersionColumns = 21;
static_assert(kSubscriptionVersionColumns <= kMaxVersionColumns &&
                  kChargeVersionColumns <= kMaxVersionColumns &&
                  kCustomerVersionColumns <= kMaxVersionColumns,
              "kMaxVersionColumns is the widest version row");

void subscription_version_row(RowWriter& w, int64_t delivery_id, std::string_view order_key,
                              std::string_view action, const Subscription& s);
void charge_version_row(RowWriter& w, int64_t delivery_id, std::string_view order_key,
                        std::string_view action, const Charge& c);
void customer_version_row(RowWriter& w, int64_t delivery_id, std::string_view order_key,
                          std::string_view action, const Customer& c);

// From a row of kSubscriptionVersionColumns (…) values. updated_at_raw is restated from
// updated_at: the tables keep only the microseconds.
SubscriptionFact subscription_fact(const sql::Value* row);
ChargeFact charge_fact(const sql::Value* row);
CustomerFact customer_fact(const sql::Value* row);

// How the analyst tables spell statuses and id lists.
std::string_view status_name(SubscriptionStatus s);
std::string_view status_name(ChargeStatus s);
std::string join_ids(const std::vector<int64_t>& ids);

}  // namespace churnwatch
