// The domain model: what a Recharge webhook payload means, independent of API version.
// Both 2021-01 and 2021-11 payloads decode into these structs (see payload.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "time_util.h"

namespace churnwatch {

enum class ApiVersion { Unknown, V2021_01, V2021_11 };

enum class SubscriptionStatus { Active, Cancelled, Expired, Onetime, Unknown };

struct Subscription {
    int64_t id = 0;
    int64_t customer_id = 0;
    std::optional<std::string> email;            // 2021-01 carries it on the subscription
    SubscriptionStatus status = SubscriptionStatus::Unknown;
    std::string status_raw;                      // as sent, e.g. "CANCELLED" or "cancelled"
    std::optional<Micros> cancelled_at;
    std::optional<std::string> cancellation_reason;  // free text chosen by the merchant
    std::optional<int64_t> expire_after_charges;     // expire_after_specific_number_of_charges
    bool max_retries_reached = false;
    std::optional<std::string> next_charge_scheduled_at;  // "YYYY-MM-DD" (else as sent)
    std::optional<std::string> price;            // decimal as text ("24.00"), both versions
    int64_t quantity = 0;
    std::optional<std::string> product_title;    // product_title, else title
    std::optional<Micros> created_at;
    Micros updated_at = 0;                       // required: orders versions of the object
    std::string updated_at_raw;                  // as sent
};

enum class ChargeStatus {
    Success, Error, Queued, Skipped, Refunded, PartiallyRefunded, PendingManualPayment, Pending,
    Unknown
};

struct Charge {
    int64_t id = 0;
    int64_t customer_id = 0;                     // 2021-01 top-level customer_id, 2021-11 customer.id
    std::optional<std::string> email;
    std::optional<std::string> external_customer_id;  // the customer's platform id, when the charge carries it
    // The charge's billing_address (2021-11 customers carry none: this is where that API
    // version tells an analyst the customer's country).
    std::optional<std::string> billing_country;  // country_code (2021-11), else country (2021-01)
    std::optional<std::string> billing_province;
    std::optional<std::string> billing_zip;
    ChargeStatus status = ChargeStatus::Unknown;
    std::string status_raw;
    std::optional<std::string> error;
    std::optional<std::string> error_type;       // e.g. CLOSED_MAX_RETRIES_REACHED (kept as sent)
    std::optional<int64_t> attempts;             // number_times_tried / charge_attempts
    bool max_retries_reached = false;            // error_type says so, or the topic was max_retries_reached
    std::vector<int64_t> subscription_ids;       // line items that are subscriptions
    std::optional<std::string> total_price;
    std::optional<Micros> created_at;
    std::optional<Micros> processed_at;
    Micros updated_at = 0;
    std::string updated_at_raw;
};

enum class CustomerStatus { Active, Inactive, Unknown };

struct Customer {
    int64_t id = 0;
    std::optional<std::string> email;
    std::optional<std::string> external_customer_id;  // shopify_customer_id / external_customer_id.ecommerce
    CustomerStatus status = CustomerStatus::Unknown;  // 2021-01 only (2021-11 has no status)
    std::optional<int64_t> active_subscriptions;     // number_active_subscriptions / subscriptions_active_count
    std::optional<int64_t> total_subscriptions;      // number_subscriptions / subscriptions_total_count
    std::optional<std::string> billing_country;
    std::optional<std::string> billing_province;
    std::optional<std::string> billing_zip;
    std::optional<bool> has_valid_payment_method;
    std::optional<bool> payment_method_in_dunning;   // has_payment_method_in_dunning / has_card_error_in_dunning
    std::optional<Micros> created_at;
    Micros updated_at = 0;
    std::string updated_at_raw;
};

// One delivery's payload, decoded. A body may carry several objects (included_objects).
struct DecodedPayload {
    ApiVersion version = ApiVersion::Unknown;
    std::optional<Subscription> subscription;
    std::optional<Charge> charge;
    std::optional<Customer> customer;
    // Included objects (included_objects) that could not be decoded and were left out, with
    // why: "included customer ignored: customer.updated_at missing or not a timestamp".
    std::string ignored;
};

}  // namespace churnwatch
