#include "churn_scenario.h"

#include <chrono>

#include <gtest/gtest.h>

#include "crypto.h"
#include "delivery_decode.h"
#include "test_support.h"

namespace churnwatch::test {

std::vector<TestDelivery> rich_scenario() {
    std::vector<TestDelivery> d;
    auto sub = [&](const std::string& action, SubscriptionSpec s) {
        d.push_back({"subscription/" + action, subscription_json(s)});
    };
    // Customer 1: two subscriptions. Cancelling A leaves B active (no churn); cancelling B
    // churns; B's reactivation closes the episode. A stale "active" version of A (older
    // updated_at than its cancellation) must not reopen it.
    sub("created", {.id = 11, .customer_id = 1, .updated_at = "2026-01-05T10:00:00+00:00",
                    .created_at = "2026-01-05T10:00:00+00:00"});
    sub("created", {.id = 12, .customer_id = 1, .updated_at = "2026-02-01T10:00:00+00:00",
                    .created_at = "2026-02-01T10:00:00+00:00"});
    sub("updated", {.id = 11, .customer_id = 1, .updated_at = "2026-02-15T10:00:00+00:00",
                    .created_at = "2026-01-05T10:00:00+00:00"});
    sub("cancelled", {.id = 11, .customer_id = 1, .status = "cancelled",
                      .updated_at = "2026-03-01T10:00:00+00:00",
                      .created_at = "2026-01-05T10:00:00+00:00",
                      .cancelled_at = "2026-03-01T10:00:00+00:00"});
    sub("cancelled", {.id = 12, .customer_id = 1, .status = "cancelled",
                      .updated_at = "2026-03-05T10:00:00+00:00",
                      .created_at = "2026-02-01T10:00:00+00:00",
                      .cancelled_at = "2026-03-05T10:00:00+00:00"});
    sub("activated", {.id = 12, .customer_id = 1, .updated_at = "2026-04-01T10:00:00+00:00",
                      .created_at = "2026-02-01T10:00:00+00:00"});
    // Customer 2: max retries on the charge covering subscription 21, then the cancellation.
    sub("created", {.id = 21, .customer_id = 2, .updated_at = "2026-01-10T00:00:00+00:00",
                    .created_at = "2026-01-10T00:00:00+00:00"});
    d.push_back({"charge/max_retries_reached",
                 charge_json({.id = 201, .customer_id = 2, .status = "error",
                              .updated_at = "2026-04-10T04:00:00+00:00",
                              .error_type = "CLOSED_MAX_RETRIES_REACHED",
                              .subscription_ids = {21}, .attempts = 7})});
    sub("cancelled", {.id = 21, .customer_id = 2, .status = "cancelled",
                      .updated_at = "2026-04-10T04:05:00+00:00",
                      .created_at = "2026-01-10T00:00:00+00:00",
                      .cancelled_at = "2026-04-10T04:05:00+00:00"});
    // Customer 3: expires after 3 charges.
    sub("created", {.id = 31, .customer_id = 3, .updated_at = "2026-02-01T00:00:00+00:00",
                    .created_at = "2026-02-01T00:00:00+00:00", .expire_after = 3});
    for (int i = 0; i < 3; ++i) {
        d.push_back({"charge/paid", charge_json({.id = 301 + i, .customer_id = 3,
                                                 .updated_at = "2026-0" + std::to_string(2 + i) +
                                                               "-01T00:00:05+00:00",
                                                 .subscription_ids = {31}})});
    }
    sub("updated", {.id = 31, .customer_id = 3, .status = "expired",
                    .updated_at = "2026-05-01T00:00:00+00:00",
                    .created_at = "2026-02-01T00:00:00+00:00",
                    .cancelled_at = "2026-05-01T00:00:00+00:00", .expire_after = 3});
    // Customer 4: max retries with the "Do nothing" setting, then the merchant deactivates.
    sub("created", {.id = 41, .customer_id = 4, .updated_at = "2026-03-01T00:00:00+00:00",
                    .created_at = "2026-03-01T00:00:00+00:00"});
    d.push_back({"charge/max_retries_reached",
                 charge_json({.id = 401, .customer_id = 4, .status = "error",
                              .updated_at = "2026-06-01T04:00:00+00:00",
                              .error_type = "CLOSED_MAX_RETRIES_REACHED",
                              .subscription_ids = {41}, .attempts = 7})});
    d.push_back({"customer/deactivated",
                 customer_json({.id = 4, .updated_at = "2026-06-20T12:00:00", .active_count = 0})});
    // Customer 5: nothing known but the deactivation.
    d.push_back({"customer/deactivated",
                 customer_json({.id = 5, .updated_at = "2026-06-25T12:00:00", .active_count = 0})});
    return d;
}

std::string rich_scenario_expected_events() {
    return "1|2026-03-05 10:00:00|cancelled|voluntary|12|NULL|2026-04-01 10:00:00\n"
           "2|2026-04-10 04:05:00|max_retries|involuntary|21|201|NULL\n"
           "3|2026-05-01 00:00:00|expired|natural|31|NULL|NULL\n"
           "4|2026-06-20 12:00:00|max_retries|involuntary|41|401|NULL\n"
           "5|2026-06-25 12:00:00|deactivated|voluntary|NULL|NULL|NULL\n";
}

churnwatch::Delivery make_delivery(const TestDelivery& td) {
    churnwatch::Delivery d;
    d.received_at = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
    d.topic = churnwatch::parse_topic(td.topic);
    d.topic_source = churnwatch::TopicSource::Path;
    d.body = td.body;
    d.dedupe_key = "sha256:" + churnwatch::crypto::to_hex(churnwatch::crypto::sha256(td.topic + "\n", td.body));
    std::string reason;
    if (!churnwatch::decode_delivery(d, churnwatch::JsonLimits{}, reason)) ADD_FAILURE() << reason << td.body;
    return d;
}

std::string churn_tables_dump(const std::string& db) {
    return "customers\n" +
           query_rows(db, "SELECT id, email, external_customer_id, status, first_seen_at, churned_at,"
                          " last_event_at, active_subscriptions, reported_active_subscriptions"
                          " FROM customers ORDER BY id") +
           "subscriptions\n" +
           query_rows(db, "SELECT id, customer_id, status, cancelled_at, charges_counted,"
                          " ended_by_expiry, max_retries_reached, updated_at"
                          " FROM subscriptions ORDER BY id") +
           "charges\n" +
           query_rows(db, "SELECT id, customer_id, subscription_ids, status, error_type,"
                          " max_retries_reached, updated_at FROM charges ORDER BY id") +
           "churn_events\n" +
           query_rows(db, "SELECT e.customer_id, e.churned_at, e.reason, e.category,"
                          " e.subscription_id, e.charge_id, e.reactivated_at, d.dedupe_key"
                          " FROM churn_events e LEFT JOIN deliveries d ON d.id = e.delivery_id"
                          " ORDER BY e.customer_id, e.churned_at");
}

}  // namespace churnwatch::test
