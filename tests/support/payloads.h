// Builders for realistic Recharge webhook bodies (2021-11 shape unless said otherwise),
// so tests can write churn scenarios as short lists of deliveries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace churnwatch::test {

struct SubscriptionSpec {
    int64_t id = 0;
    int64_t customer_id = 0;
    std::string status = "active";      // active | cancelled | expired (2021-01: upper case)
    std::string updated_at;             // "2026-03-01T10:00:00+00:00"
    std::string created_at = "2026-01-01T00:00:00+00:00";
    std::optional<std::string> cancelled_at;
    std::optional<int> expire_after;    // expire_after_specific_number_of_charges
    bool max_retries_reached = false;
};
std::string subscription_json(const SubscriptionSpec& s);

struct ChargeSpec {
    int64_t id = 0;
    int64_t customer_id = 0;
    std::string status = "success";     // success | error | …
    std::string updated_at;
    std::optional<std::string> error_type;  // e.g. CLOSED_MAX_RETRIES_REACHED
    std::vector<int64_t> subscription_ids;
    int attempts = 1;
};
std::string charge_json(const ChargeSpec& c);

struct CustomerSpec {
    int64_t id = 0;
    std::string updated_at;
    std::optional<int> active_count;    // subscriptions_active_count
    std::string email = "someone@example.com";
    std::optional<bool> in_dunning;              // has_payment_method_in_dunning
    std::optional<bool> valid_payment_method;    // has_valid_payment_method
};
std::string customer_json(const CustomerSpec& c);

// A delivery as a test sends it: the route's topic and the body.
struct TestDelivery {
    std::string topic;  // "subscription/cancelled"
    std::string body;
};

}  // namespace churnwatch::test
