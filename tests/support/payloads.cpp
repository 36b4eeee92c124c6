#include "payloads.h"

namespace churnwatch::test {

namespace {

std::string quoted_or_null(const std::optional<std::string>& s) {
    return s ? "\"" + *s + "\"" : "null";
}

}  // namespace

std::string subscription_json(const SubscriptionSpec& s) {
    return "{\"subscription\":{\"id\":" + std::to_string(s.id) +
           ",\"address_id\":1,\"customer_id\":" + std::to_string(s.customer_id) +
           ",\"status\":\"" + s.status + "\",\"cancelled_at\":" + quoted_or_null(s.cancelled_at) +
           ",\"cancellation_reason\":" + (s.cancelled_at ? "\"other\"" : "null") +
           ",\"expire_after_specific_number_of_charges\":" +
           (s.expire_after ? std::to_string(*s.expire_after) : "null") +
           ",\"max_retries_reached\":" + (s.max_retries_reached ? "true" : "false") +
           ",\"price\":\"24.00\",\"quantity\":1,\"product_title\":\"Coffee\"" +
           ",\"created_at\":\"" + s.created_at + "\",\"updated_at\":\"" + s.updated_at + "\"}}";
}

std::string charge_json(const ChargeSpec& c) {
    std::string items;
    for (std::size_t i = 0; i < c.subscription_ids.size(); ++i) {
        if (i) items += ",";
        items += "{\"purchase_item_id\":" + std::to_string(c.subscription_ids[i]) +
                 ",\"purchase_item_type\":\"subscription\",\"quantity\":1,\"total_price\":\"24.00\"}";
    }
    return "{\"charge\":{\"id\":" + std::to_string(c.id) + ",\"customer\":{\"id\":" +
           std::to_string(c.customer_id) + ",\"email\":\"someone@example.com\"},\"status\":\"" +
           c.status + "\",\"error_type\":" + quoted_or_null(c.error_type) +
           ",\"charge_attempts\":" + std::to_string(c.attempts) + ",\"line_items\":[" + items +
           "],\"total_price\":\"24.00\",\"created_at\":\"2026-01-01T00:00:00+00:00\",\"updated_at\":\"" +
           c.updated_at + "\"}}";
}

std::string customer_json(const CustomerSpec& c) {
    return "{\"customer\":{\"id\":" + std::to_string(c.id) + ",\"email\":\"" + c.email +
           "\",\"external_customer_id\":{\"ecommerce\":\"555\"},\"subscriptions_active_count\":" +
           (c.active_count ? std::to_string(*c.active_count) : "null") +
           (c.in_dunning ? std::string(",\"has_payment_method_in_dunning\":") + (*c.in_dunning ? "true" : "false") : "") +
           (c.valid_payment_method ? std::string(",\"has_valid_payment_method\":") + (*c.valid_payment_method ? "true" : "false") : "") +
           ",\"created_at\":\"2026-01-01T00:00:00\",\"updated_at\":\"" + c.updated_at + "\"}}";
}

}  // namespace churnwatch::test
