#include "example_payloads.h"

namespace churnwatch {

namespace {

// subscription 999000101: created, paid, cancelled, reactivated.
constexpr std::string_view kSubscriptionCreated = R"json({
  "subscription": {
    "id": 999000101,
    "address_id": 999000301,
    "customer_id": 999000001,
    "analytics_data": {
      "utm_params": []
    },
    "cancellation_reason": null,
    "cancellation_reason_comments": null,
    "cancelled_at": null,
    "charge_interval_frequency": 30,
    "created_at": "2026-01-05T10:00:00+00:00",
    "expire_after_specific_number_of_charges": null,
    "external_product_id": {
      "ecommerce": "8120001"
    },
    "external_variant_id": {
      "ecommerce": "4410001"
    },
    "has_queued_charges": true,
    "is_prepaid": false,
    "is_skippable": true,
    "is_swappable": false,
    "max_retries_reached": false,
    "next_charge_scheduled_at": "2026-02-04",
    "order_day_of_month": null,
    "order_day_of_week": null,
    "order_interval_frequency": 30,
    "order_interval_unit": "day",
    "presentment_currency": "USD",
    "price": "24.00",
    "product_title": "churnwatch send-test coffee 250g",
    "properties": [],
    "quantity": 1,
    "sku": "SEND-TEST-250",
    "sku_override": false,
    "status": "active",
    "updated_at": "2026-01-05T10:00:00+00:00",
    "variant_title": "Whole bean"
  }
}
)json";

constexpr std::string_view kChargePaid = R"json({
  "charge": {
    "id": 999000201,
    "address_id": 999000301,
    "analytics_data": {
      "utm_params": []
    },
    "charge_attempts": 1,
    "created_at": "2026-01-05T10:00:01+00:00",
    "currency": "USD",
    "customer": {
      "id": 999000001,
      "email": "send-test@example.com",
      "external_customer_id": {
        "ecommerce": "5559001"
      },
      "hash": "5e2d7e57"
    },
    "error": null,
    "error_type": null,
    "external_variant_id_not_found": false,
    "line_items": [
      {
        "purchase_item_id": 999000101,
        "purchase_item_type": "subscription",
        "quantity": 1,
        "title": "churnwatch send-test coffee 250g",
        "unit_price": "24.00",
        "total_price": "24.00",
        "external_product_id": {
          "ecommerce": "8120001"
        },
        "external_variant_id": {
          "ecommerce": "4410001"
        }
      }
    ],
    "processed_at": "2026-01-05T10:00:03+00:00",
    "retry_date": null,
    "scheduled_at": "2026-01-05",
    "status": "success",
    "subtotal_price": "24.00",
    "total_price": "24.00",
    "type": "checkout",
    "updated_at": "2026-01-05T10:00:03+00:00"
  }
}
)json";

constexpr std::string_view kSubscriptionCancelled = R"json({
  "subscription": {
    "id": 999000101,
    "address_id": 999000301,
    "customer_id": 999000001,
    "analytics_data": {
      "utm_params": []
    },
    "cancellation_reason": "I already have more than I need",
    "cancellation_reason_comments": "sent by churnwatch send-test",
    "cancelled_at": "2026-03-10T09:12:44+00:00",
    "charge_interval_frequency": 30,
    "created_at": "2026-01-05T10:00:00+00:00",
    "expire_after_specific_number_of_charges": null,
    "external_product_id": {
      "ecommerce": "8120001"
    },
    "external_variant_id": {
      "ecommerce": "4410001"
    },
    "has_queued_charges": false,
    "is_prepaid": false,
    "is_skippable": true,
    "is_swappable": false,
    "max_retries_reached": false,
    "next_charge_scheduled_at": null,
    "order_day_of_month": null,
    "order_day_of_week": null,
    "order_interval_frequency": 30,
    "order_interval_unit": "day",
    "presentment_currency": "USD",
    "price": "24.00",
    "product_title": "churnwatch send-test coffee 250g",
    "properties": [],
    "quantity": 1,
    "sku": "SEND-TEST-250",
    "sku_override": false,
    "status": "cancelled",
    "updated_at": "2026-03-10T09:12:44+00:00",
    "variant_title": "Whole bean"
  }
}
)json";

constexpr std::string_view kSubscriptionActivated = R"json({
  "subscription": {
    "id": 999000101,
    "address_id": 999000301,
    "customer_id": 999000001,
    "analytics_data": {
      "utm_params": []
    },
    "cancellation_reason": null,
    "cancellation_reason_comments": null,
    "cancelled_at": null,
    "charge_interval_frequency": 30,
    "created_at": "2026-01-05T10:00:00+00:00",
    "expire_after_specific_number_of_charges": null,
    "external_product_id": {
      "ecommerce": "8120001"
    },
    "external_variant_id": {
      "ecommerce": "4410001"
    },
    "has_queued_charges": true,
    "is_prepaid": false,
    "is_skippable": true,
    "is_swappable": false,
    "max_retries_reached": false,
    "next_charge_scheduled_at": "2026-05-02",
    "order_day_of_month": null,
    "order_day_of_week": null,
    "order_interval_frequency": 30,
    "order_interval_unit": "day",
    "presentment_currency": "USD",
    "price": "24.00",
    "product_title": "churnwatch send-test coffee 250g",
    "properties": [],
    "quantity": 1,
    "sku": "SEND-TEST-250",
    "sku_override": false,
    "status": "active",
    "updated_at": "2026-04-02T08:00:00+00:00",
    "variant_title": "Whole bean"
  }
}
)json";

constexpr std::string_view kChargeMaxRetriesReached = R"json({
  "charge": {
    "id": 999000202,
    "address_id": 999000301,
    "analytics_data": {
      "utm_params": []
    },
    "charge_attempts": 7,
    "created_at": "2026-05-02T04:00:00+00:00",
    "currency": "USD",
    "customer": {
      "id": 999000001,
      "email": "send-test@example.com",
      "external_customer_id": {
        "ecommerce": "5559001"
      },
      "hash": "5e2d7e57"
    },
    "error": "Your card has insufficient funds.",
    "error_type": "CLOSED_MAX_RETRIES_REACHED",
    "external_variant_id_not_found": false,
    "line_items": [
      {
        "purchase_item_id": 999000101,
        "purchase_item_type": "subscription",
        "quantity": 1,
        "title": "churnwatch send-test coffee 250g",
        "unit_price": "24.00",
        "total_price": "24.00",
        "external_product_id": {
          "ecommerce": "8120001"
        },
        "external_variant_id": {
          "ecommerce": "4410001"
        }
      }
    ],
    "processed_at": null,
    "retry_date": null,
    "scheduled_at": "2026-05-02",
    "status": "error",
    "subtotal_price": "24.00",
    "total_price": "24.00",
    "type": "recurring",
    "updated_at": "2026-05-20T04:00:09+00:00"
  }
}
)json";

constexpr std::string_view kCustomerDeactivated = R"json({
  "customer": {
    "id": 999000001,
    "analytics_data": {
      "utm_params": []
    },
    "created_at": "2026-01-05T09:59:58",
    "email": "send-test@example.com",
    "external_customer_id": {
      "ecommerce": "5559001"
    },
    "first_charge_processed_at": "2026-01-05T10:00:03",
    "first_name": "Send",
    "has_payment_method_in_dunning": true,
    "has_valid_payment_method": false,
    "hash": "5e2d7e57",
    "last_name": "Test",
    "subscriptions_active_count": 0,
    "subscriptions_total_count": 2,
    "updated_at": "2026-05-21T09:00:00"
  }
}
)json";

constexpr std::string_view kCustomerActivated = R"json({
  "customer": {
    "id": 999000001,
    "analytics_data": {
      "utm_params": []
    },
    "created_at": "2026-01-05T09:59:58",
    "email": "send-test@example.com",
    "external_customer_id": {
      "ecommerce": "5559001"
    },
    "first_charge_processed_at": "2026-01-05T10:00:03",
    "first_name": "Send",
    "has_payment_method_in_dunning": false,
    "has_valid_payment_method": true,
    "hash": "5e2d7e57",
    "last_name": "Test",
    "subscriptions_active_count": 1,
    "subscriptions_total_count": 2,
    "updated_at": "2026-06-01T12:30:00"
  }
}
)json";

// subscription 999000102: ended by its charge limit (no expiry topic exists; Recharge sends
// the expired status on a subscription/* payload).
constexpr std::string_view kSubscriptionExpired = R"json({
  "subscription": {
    "id": 999000102,
    "address_id": 999000301,
    "customer_id": 999000001,
    "analytics_data": {
      "utm_params": []
    },
    "cancellation_reason": null,
    "cancellation_reason_comments": null,
    "cancelled_at": "2026-04-05T04:00:12+00:00",
    "charge_interval_frequency": 30,
    "created_at": "2026-01-05T10:00:00+00:00",
    "expire_after_specific_number_of_charges": 3,
    "external_product_id": {
      "ecommerce": "8120002"
    },
    "external_variant_id": {
      "ecommerce": "4410002"
    },
    "has_queued_charges": false,
    "is_prepaid": false,
    "is_skippable": true,
    "is_swappable": false,
    "max_retries_reached": false,
    "next_charge_scheduled_at": null,
    "order_day_of_month": null,
    "order_day_of_week": null,
    "order_interval_frequency": 30,
    "order_interval_unit": "day",
    "presentment_currency": "USD",
    "price": "12.00",
    "product_title": "churnwatch send-test filters x100",
    "properties": [],
    "quantity": 1,
    "sku": "SEND-TEST-FLT",
    "sku_override": false,
    "status": "expired",
    "updated_at": "2026-04-05T04:00:12+00:00",
    "variant_title": "Standard"
  }
}
)json";

}  // namespace

const std::vector<ExamplePayload>& example_payloads() {
    static const std::vector<ExamplePayload> all = {
        {"subscription/created", "subscription/created", "a new active subscription",
         kSubscriptionCreated},
        {"subscription/cancelled", "subscription/cancelled",
         "the customer cancels it (voluntary churn)", kSubscriptionCancelled},
        {"subscription/activated", "subscription/activated",
         "the cancelled subscription is reactivated", kSubscriptionActivated},
        {"subscription/updated", "subscription/updated",
         "a second subscription reached its charge limit: status expired (natural churn)",
         kSubscriptionExpired},
        {"subscription/expired", "subscription/updated",
         "alias of subscription/updated (Recharge has no expiry topic)", kSubscriptionExpired},
        {"charge/paid", "charge/paid", "a successful charge", kChargePaid},
        {"charge/max_retries_reached", "charge/max_retries_reached",
         "a charge failed for good (involuntary churn)", kChargeMaxRetriesReached},
        {"customer/deactivated", "customer/deactivated", "the customer account is deactivated",
         kCustomerDeactivated},
        {"customer/activated", "customer/activated", "the customer account is activated again",
         kCustomerActivated},
    };
    return all;
}

const ExamplePayload* find_example_payload(std::string_view name) {
    for (const auto& p : example_payloads())
        if (p.name == name) return &p;
    return nullptr;
}

}  // namespace churnwatch
