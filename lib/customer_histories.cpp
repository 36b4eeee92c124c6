#include "customer_histories.h"

#include <algorithm>
#include <tuple>

#include "time_util.h"

namespace churnwatch {

// updated_at_raw is dropped on the way in (it is restated when the history is handed over,
// as the tables restate it): a million copies of it are memory for nothing.
void CustomerHistories::add(SubscriptionFact f) {
    f.sub.updated_at_raw = std::string();
    auto& h = by_customer_[f.sub.customer_id];
    h.customer_id = f.sub.customer_id;
    h.subscriptions.push_back(std::move(f));
}

void CustomerHistories::add(ChargeFact f) {
    f.charge.updated_at_raw = std::string();
    auto& h = by_customer_[f.charge.customer_id];
    h.customer_id = f.charge.customer_id;
    h.charges.push_back(std::move(f));
}

void CustomerHistories::add(CustomerFact f) {
    f.customer.updated_at_raw = std::string();
    auto& h = by_customer_[f.customer.id];
    h.customer_id = f.customer.id;
    h.customer.push_back(std::move(f));
}

std::vector<int64_t> CustomerHistories::ids() const {
    std::vector<int64_t> out;
    out.reserve(by_customer_.size());
    for (const auto& [id, h] : by_customer_) out.push_back(id);
    std::sort(out.begin(), out.end());
    return out;
}

CustomerHistory CustomerHistories::take(int64_t customer_id) {
    auto node = by_customer_.extract(customer_id);
    if (node.empty()) {
        CustomerHistory h;
        h.customer_id = customer_id;
        return h;
    }
    return std::move(node.mapped());
}

void stored_order(CustomerHistory& h) {
    // The version tables' primary keys: (subscription_id | charge_id, updated_at_us,
    // order_key) read through the customer_id index, and (customer_id, updated_at_us,
    // order_key). std::string compares bytes like SQLite's BINARY collation.
    std::sort(h.subscriptions.begin(), h.subscriptions.end(), [](const auto& a, const auto& b) {
        return std::tie(a.sub.id, a.sub.updated_at, a.order_key) <
               std::tie(b.sub.id, b.sub.updated_at, b.order_key);
    });
    std::sort(h.charges.begin(), h.charges.end(), [](const auto& a, const auto& b) {
        return std::tie(a.charge.id, a.charge.updated_at, a.order_key) <
               std::tie(b.charge.id, b.charge.updated_at, b.order_key);
    });
    std::sort(h.customer.begin(), h.customer.end(), [](const auto& a, const auto& b) {
        return std::tie(a.customer.updated_at, a.order_key) <
               std::tie(b.customer.updated_at, b.order_key);
    });
    for (auto& f : h.subscriptions) f.sub.updated_at_raw = format_time(f.sub.updated_at);
    for (auto& f : h.charges) f.charge.updated_at_raw = format_time(f.charge.updated_at);
    for (auto& f : h.customer) f.customer.updated_at_raw = format_time(f.customer.updated_at);
}

}  // namespace churnwatch
