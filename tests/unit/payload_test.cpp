#include "payload.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "json.h"
#include "time_util.h"

#ifndef CHURNWATCH_TEST_DATA
#error "CHURNWATCH_TEST_DATA must name the tests/data directory"
#endif

namespace churnwatch {
namespace {

std::string read_example(const std::string& name) {
    const std::string path = std::string(CHURNWATCH_TEST_DATA) + "/recharge/" + name;
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

rapidjson::Document parse_or_fail(std::string_view body) {
    rapidjson::Document doc;
    std::string error;
    EXPECT_TRUE(parse_json(body, {}, doc, error)) << error << "\n" << body;
    return doc;
}

Topic topic(const char* text) {
    const auto t = parse_topic(text);
    EXPECT_TRUE(t.has_value()) << text;
    return t.value_or(Topic{});
}

// Decodes and expects success; a failure is reported with its reason.
DecodedPayload decode_ok(std::string_view body, const char* topic_text) {
    const rapidjson::Document doc = parse_or_fail(body);
    auto result = decode_payload(doc, topic(topic_text));
    if (const auto* err = std::get_if<DecodeError>(&result)) {
        ADD_FAILURE() << "decode failed: " << err->reason << "\n" << body;
        return {};
    }
    return std::get<DecodedPayload>(std::move(result));
}

// Decodes and expects a DecodeError; returns its reason.
std::string decode_error(std::string_view body, const char* topic_text) {
    const rapidjson::Document doc = parse_or_fail(body);
    const auto result = decode_payload(doc, topic(topic_text));
    if (const auto* err = std::get_if<DecodeError>(&result)) return err->reason;
    ADD_FAILURE() << "decode unexpectedly succeeded\n" << body;
    return {};
}

Micros at(const char* text) {
    const auto t = parse_time(text);
    EXPECT_TRUE(t.has_value()) << text;
    return t.value_or(0);
}

// Minimal valid objects, to which a test appends the fields it is about.
std::string sub(const std::string& extra = "") {
    return R"({"subscription":{"id":1,"customer_id":2,"updated_at":"2026-01-01T00:00:00")" +
           (extra.empty() ? "" : "," + extra) + "}}";
}
std::string charge(const std::string& extra = "") {
    return R"({"charge":{"id":1,"customer_id":2,"updated_at":"2026-01-01T00:00:00")" +
           (extra.empty() ? "" : "," + extra) + "}}";
}
std::string cust(const std::string& extra = "") {
    return R"({"customer":{"id":1,"updated_at":"2026-01-01T00:00:00")" +
           (extra.empty() ? "" : "," + extra) + "}}";
}

// ---------------------------------------------------------------------------------------------
// The example payloads.

TEST(Examples, SubscriptionCancelled2021_01) {
    const auto p = decode_ok(read_example("subscription_cancelled.2021-01.json"),
                             "subscription/cancelled");
    EXPECT_EQ(p.version, ApiVersion::V2021_01);
    ASSERT_TRUE(p.subscription.has_value());
    EXPECT_FALSE(p.charge.has_value());
    EXPECT_FALSE(p.customer.has_value());
    const Subscription& s = *p.subscription;
    EXPECT_EQ(s.id, 401001);
    EXPECT_EQ(s.customer_id, 31001);
    EXPECT_EQ(s.email, "ada@example.com");
    EXPECT_EQ(s.status, SubscriptionStatus::Cancelled);
    EXPECT_EQ(s.status_raw, "CANCELLED");
    EXPECT_EQ(s.cancelled_at, at("2026-10-02T11:05:09"));
    EXPECT_EQ(s.cancellation_reason, "Too expensive");
    EXPECT_EQ(s.expire_after_charges, std::nullopt);
    EXPECT_FALSE(s.max_retries_reached);
    EXPECT_EQ(s.next_charge_scheduled_at, std::nullopt);
    EXPECT_EQ(s.price, "39.00");  // sent as the number 39.0
    EXPECT_EQ(s.quantity, 1);
    EXPECT_EQ(s.product_title, "Tea of the month");
    EXPECT_EQ(s.created_at, at("2025-12-01T10:00:00"));
    EXPECT_EQ(s.updated_at, at("2026-10-02T11:05:09"));
    EXPECT_EQ(s.updated_at_raw, "2026-10-02T11:05:09");
}

TEST(Examples, SubscriptionCancelled2021_11) {
    const auto p = decode_ok(read_example("subscription_cancelled.2021-11.json"),
                             "subscription/cancelled");
    EXPECT_EQ(p.version, ApiVersion::V2021_11);
    ASSERT_TRUE(p.subscription.has_value());
    const Subscription& s = *p.subscription;
    EXPECT_EQ(s.id, 501001);
    EXPECT_EQ(s.customer_id, 71001);
    EXPECT_EQ(s.email, std::nullopt);
    EXPECT_EQ(s.status, SubscriptionStatus::Cancelled);
    EXPECT_EQ(s.status_raw, "cancelled");
    EXPECT_EQ(s.cancelled_at, at("2026-10-14T09:12:44Z") + 512301);
    EXPECT_EQ(s.cancellation_reason, "I already have more than I need");
    EXPECT_EQ(s.expire_after_charges, std::nullopt);
    EXPECT_FALSE(s.max_retries_reached);
    EXPECT_EQ(s.next_charge_scheduled_at, std::nullopt);
    EXPECT_EQ(s.price, "24.00");
    EXPECT_EQ(s.quantity, 1);
    EXPECT_EQ(s.product_title, "Single-origin coffee 250g");
    EXPECT_EQ(s.created_at, at("2026-03-02T17:20:05Z"));
    EXPECT_EQ(s.updated_at, at("2026-10-14T09:12:44Z"));
    EXPECT_EQ(s.updated_at_raw, "2026-10-14T09:12:44+00:00");
}

TEST(Examples, SubscriptionActivated2021_11) {
    const auto p = decode_ok(read_example("subscription_activated.2021-11.json"),
                             "subscription/activated");
    EXPECT_EQ(p.version, ApiVersion::V2021_11);
    ASSERT_TRUE(p.subscription.has_value());
    const Subscription& s = *p.subscription;
    EXPECT_EQ(s.id, 501001);
    EXPECT_EQ(s.customer_id, 71001);
    EXPECT_EQ(s.status, SubscriptionStatus::Active);
    EXPECT_EQ(s.status_raw, "active");
    EXPECT_EQ(s.cancelled_at, std::nullopt);
    EXPECT_EQ(s.cancellation_reason, std::nullopt);
    EXPECT_EQ(s.next_charge_scheduled_at, "2026-12-01");
    EXPECT_EQ(s.price, "24.00");
    EXPECT_EQ(s.updated_at, at("2026-11-20T08:00:00Z"));
}

TEST(Examples, SubscriptionExpired2021_11) {
    const auto p = decode_ok(read_example("subscription_expired.2021-11.json"),
                             "subscription/updated");
    EXPECT_EQ(p.version, ApiVersion::V2021_11);
    ASSERT_TRUE(p.subscription.has_value());
    const Subscription& s = *p.subscription;
    EXPECT_EQ(s.id, 501002);
    EXPECT_EQ(s.customer_id, 71002);
    EXPECT_EQ(s.status, SubscriptionStatus::Expired);
    EXPECT_EQ(s.status_raw, "expired");
    EXPECT_EQ(s.expire_after_charges, 3);
    EXPECT_EQ(s.cancelled_at, at("2026-09-30T04:00:12Z"));
    EXPECT_EQ(s.cancellation_reason, std::nullopt);
    EXPECT_EQ(s.updated_at, at("2026-09-30T04:00:12Z"));
}

TEST(Examples, ChargeMaxRetries2021_01) {
    const auto p = decode_ok(read_example("charge_max_retries_reached.2021-01.json"),
                             "charge/max_retries_reached");
    EXPECT_EQ(p.version, ApiVersion::V2021_01);
    ASSERT_TRUE(p.charge.has_value());
    EXPECT_FALSE(p.subscription.has_value());
    EXPECT_FALSE(p.customer.has_value());
    const Charge& c = *p.charge;
    EXPECT_EQ(c.id, 80001);
    EXPECT_EQ(c.customer_id, 31003);
    EXPECT_EQ(c.email, "alan@example.com");
    EXPECT_EQ(c.status, ChargeStatus::Error);
    EXPECT_EQ(c.status_raw, "ERROR");
    EXPECT_EQ(c.error, "Card declined");
    EXPECT_EQ(c.error_type, "CLOSED_MAX_RETRIES_REACHED");
    EXPECT_EQ(c.attempts, 7);
    EXPECT_TRUE(c.max_retries_reached);
    EXPECT_EQ(c.subscription_ids, std::vector<int64_t>{401003});
    EXPECT_EQ(c.total_price, "39.00");
    EXPECT_EQ(c.created_at, at("2026-07-01T04:00:00"));
    EXPECT_EQ(c.processed_at, std::nullopt);
    EXPECT_EQ(c.updated_at, at("2026-08-06T04:00:05"));
    EXPECT_EQ(c.updated_at_raw, "2026-08-06T04:00:05");
}

TEST(Examples, ChargeMaxRetries2021_11) {
    const auto p = decode_ok(read_example("charge_max_retries_reached.2021-11.json"),
                             "charge/max_retries_reached");
    EXPECT_EQ(p.version, ApiVersion::V2021_11);
    ASSERT_TRUE(p.charge.has_value());
    EXPECT_FALSE(p.customer.has_value());  // the nested charge.customer is not a Customer
    const Charge& c = *p.charge;
    EXPECT_EQ(c.id, 90001);
    EXPECT_EQ(c.customer_id, 71003);
    EXPECT_EQ(c.email, "linus@example.com");
    EXPECT_EQ(c.external_customer_id, "5550003");  // nested: customer.external_customer_id.ecommerce
    EXPECT_EQ(c.status, ChargeStatus::Error);
    EXPECT_EQ(c.status_raw, "error");
    EXPECT_EQ(c.error, "Your card has insufficient funds.");
    EXPECT_EQ(c.error_type, "CLOSED_MAX_RETRIES_REACHED");
    EXPECT_EQ(c.attempts, 7);
    EXPECT_TRUE(c.max_retries_reached);
    EXPECT_EQ(c.subscription_ids, std::vector<int64_t>{501003});
    EXPECT_EQ(c.total_price, "29.00");
    EXPECT_EQ(c.created_at, at("2026-08-01T04:00:00Z"));
    EXPECT_EQ(c.processed_at, std::nullopt);
    EXPECT_EQ(c.updated_at, at("2026-09-06T04:00:09Z"));
    EXPECT_EQ(c.updated_at_raw, "2026-09-06T04:00:09+00:00");
}

TEST(Examples, CustomerDeactivated2021_01) {
    const auto p = decode_ok(read_example("customer_deactivated.2021-01.json"),
                             "customer/deactivated");
    EXPECT_EQ(p.version, ApiVersion::V2021_01);
    ASSERT_TRUE(p.customer.has_value());
    const Customer& c = *p.customer;
    EXPECT_EQ(c.id, 31001);
    EXPECT_EQ(c.email, "ada@example.com");
    EXPECT_EQ(c.external_customer_id, "7700001");
    EXPECT_EQ(c.status, CustomerStatus::Inactive);
    EXPECT_EQ(c.active_subscriptions, 0);
    EXPECT_EQ(c.total_subscriptions, 1);
    EXPECT_EQ(c.billing_country, "United States");
    EXPECT_EQ(c.billing_province, "California");
    EXPECT_EQ(c.billing_zip, "90404");
    EXPECT_EQ(c.has_valid_payment_method, true);
    EXPECT_EQ(c.payment_method_in_dunning, false);
    EXPECT_EQ(c.created_at, at("2025-12-01T09:59:40"));
    EXPECT_EQ(c.updated_at, at("2026-10-02T11:05:11"));
    EXPECT_EQ(c.updated_at_raw, "2026-10-02T11:05:11");
}

TEST(Examples, CustomerDeactivated2021_11) {
    const auto p = decode_ok(read_example("customer_deactivated.2021-11.json"),
                             "customer/deactivated");
    EXPECT_EQ(p.version, ApiVersion::V2021_11);
    ASSERT_TRUE(p.customer.has_value());
    const Customer& c = *p.customer;
    EXPECT_EQ(c.id, 71001);
    EXPECT_EQ(c.email, "grace@example.com");
    EXPECT_EQ(c.external_customer_id, "5550001");
    EXPECT_EQ(c.status, CustomerStatus::Unknown);  // 2021-11 has no customer status
    EXPECT_EQ(c.active_subscriptions, 0);
    EXPECT_EQ(c.total_subscriptions, 1);
    EXPECT_EQ(c.billing_country, std::nullopt);
    EXPECT_EQ(c.billing_province, std::nullopt);
    EXPECT_EQ(c.billing_zip, std::nullopt);
    EXPECT_EQ(c.has_valid_payment_method, true);
    EXPECT_EQ(c.payment_method_in_dunning, false);
    EXPECT_EQ(c.created_at, at("2026-03-02T17:19:58"));
    EXPECT_EQ(c.updated_at, at("2026-10-14T09:12:46"));
}

TEST(Examples, InferredTopicDecodesEachExample) {
    const char* files[] = {
        "charge_max_retries_reached.2021-01.json", "charge_max_retries_reached.2021-11.json",
        "customer_deactivated.2021-01.json",       "customer_deactivated.2021-11.json",
        "subscription_activated.2021-11.json",     "subscription_cancelled.2021-01.json",
        "subscription_cancelled.2021-11.json",     "subscription_expired.2021-11.json",
    };
    for (const char* file : files) {
        const rapidjson::Document doc = parse_or_fail(read_example(file));
        const auto t = infer_topic(doc);
        ASSERT_TRUE(t.has_value()) << file;
        const auto result = decode_payload(doc, *t);
        EXPECT_TRUE(std::holds_alternative<DecodedPayload>(result)) << file;
    }
}

// ---------------------------------------------------------------------------------------------
// Version detection.

TEST(Version, SubscriptionStatusCase) {
    EXPECT_EQ(decode_ok(sub(R"("status":"ACTIVE")"), "subscription/updated").version,
              ApiVersion::V2021_01);
    EXPECT_EQ(decode_ok(sub(R"("status":"active")"), "subscription/updated").version,
              ApiVersion::V2021_11);
    EXPECT_EQ(decode_ok(sub(R"("status":"Active")"), "subscription/updated").version,
              ApiVersion::Unknown);
    EXPECT_EQ(decode_ok(sub(), "subscription/updated").version, ApiVersion::Unknown);
}

TEST(Version, ChargeShape) {
    // Top-level customer_id alone says 2021-01.
    EXPECT_EQ(decode_ok(charge(), "charge/updated").version, ApiVersion::V2021_01);
    const std::string nested =
        R"({"charge":{"id":1,"customer":{"id":2},"updated_at":"2026-01-01T00:00:00"}})";
    EXPECT_EQ(decode_ok(nested, "charge/updated").version, ApiVersion::V2021_11);
    const std::string bare =
        R"({"charge":{"id":1,"customer":{"id":2},"customer_id":2,"updated_at":"2026-01-01"}})";
    EXPECT_EQ(decode_ok(bare, "charge/updated").version, ApiVersion::Unknown);  // a tie
}

// Each charge signal is one vote. A charge carrying both customer forms (customer_id, a
// 2021-01 vote, and a nested customer, a 2021-11 vote) is a tie that any one more signal
// decides: the status's case, number_times_tried (2021-01), charge_attempts (2021-11).
TEST(Version, EachChargeSignalBreaksATie) {
    auto version = [](const std::string& extra) {
        return decode_ok(R"({"charge":{"id":1,"customer_id":2,"customer":{"id":2},)"
                         R"("updated_at":"2026-01-01",)" + extra + "}}",
                         "charge/updated")
            .version;
    };
    EXPECT_EQ(version(R"("status":"ERROR")"), ApiVersion::V2021_01);
    EXPECT_EQ(version(R"("status":"error")"), ApiVersion::V2021_11);
    EXPECT_EQ(version(R"("number_times_tried":1)"), ApiVersion::V2021_01);
    EXPECT_EQ(version(R"("charge_attempts":1)"), ApiVersion::V2021_11);
    EXPECT_EQ(version(R"("charge_attempts":null)"), ApiVersion::V2021_11);  // the key is the sign
}

TEST(Version, CustomerShape) {
    EXPECT_EQ(decode_ok(cust(R"("number_active_subscriptions":1)"), "customer/updated").version,
              ApiVersion::V2021_01);
    EXPECT_EQ(decode_ok(cust(R"("shopify_customer_id":"9")"), "customer/updated").version,
              ApiVersion::V2021_01);
    EXPECT_EQ(decode_ok(cust(R"("subscriptions_active_count":1)"), "customer/updated").version,
              ApiVersion::V2021_11);
    EXPECT_EQ(decode_ok(cust(R"("external_customer_id":{"ecommerce":"9"})"), "customer/updated")
                  .version,
              ApiVersion::V2021_11);
    EXPECT_EQ(decode_ok(cust(R"("status":"ACTIVE")"), "customer/updated").version,
              ApiVersion::V2021_01);
    EXPECT_EQ(decode_ok(cust(), "customer/updated").version, ApiVersion::Unknown);
}

TEST(Version, IncludedObjectsVoteTogether) {
    const std::string body = R"({"charge":{"id":1,"customer":{"id":2},"status":"success",)"
                             R"("updated_at":"2026-01-01"},"customer":{"id":2,)"
                             R"("updated_at":"2026-01-01","subscriptions_active_count":1}})";
    EXPECT_EQ(decode_ok(body, "charge/paid").version, ApiVersion::V2021_11);
}

TEST(Version, OtherResourceTopicIsEmpty) {
    const auto p = decode_ok(sub(R"("status":"ACTIVE")"), "order/created");
    EXPECT_EQ(p.version, ApiVersion::Unknown);
    EXPECT_FALSE(p.subscription.has_value());
    EXPECT_FALSE(p.charge.has_value());
    EXPECT_FALSE(p.customer.has_value());
}

// ---------------------------------------------------------------------------------------------
// Numbers as strings, and the tolerated variants of each field.

TEST(NumbersAsStrings, SubscriptionIdsAndCounts) {
    const auto p = decode_ok(
        R"({"subscription":{"id":"401001","customer_id":"31001","quantity":"2",)"
        R"("expire_after_specific_number_of_charges":"6","updated_at":"2026-01-01"}})",
        "subscription/updated");
    ASSERT_TRUE(p.subscription.has_value());
    EXPECT_EQ(p.subscription->id, 401001);
    EXPECT_EQ(p.subscription->customer_id, 31001);
    EXPECT_EQ(p.subscription->quantity, 2);
    EXPECT_EQ(p.subscription->expire_after_charges, 6);
}

TEST(NumbersAsStrings, ChargeAndCustomer) {
    const auto c = decode_ok(
        R"({"charge":{"id":"80001","customer_id":"31003","number_times_tried":"3",)"
        R"("updated_at":"2026-01-01","line_items":[{"subscription_id":"401003"}]}})",
        "charge/failed");
    ASSERT_TRUE(c.charge.has_value());
    EXPECT_EQ(c.charge->id, 80001);
    EXPECT_EQ(c.charge->customer_id, 31003);
    EXPECT_EQ(c.charge->attempts, 3);
    EXPECT_EQ(c.charge->subscription_ids, std::vector<int64_t>{401003});

    const auto u =
        decode_ok(cust(R"("number_active_subscriptions":"2","number_subscriptions":"5")"),
                  "customer/updated");
    ASSERT_TRUE(u.customer.has_value());
    EXPECT_EQ(u.customer->active_subscriptions, 2);
    EXPECT_EQ(u.customer->total_subscriptions, 5);
}

TEST(NumbersAsStrings, LargestIdsAndIntegralDoubles) {
    const auto p = decode_ok(R"({"subscription":{"id":9223372036854775807,)"
                             R"("customer_id":"9223372036854775807","updated_at":"2026-01-01"}})",
                             "subscription/updated");
    ASSERT_TRUE(p.subscription.has_value());
    EXPECT_EQ(p.subscription->id, INT64_MAX);
    EXPECT_EQ(p.subscription->customer_id, INT64_MAX);
    const auto d = decode_ok(R"({"subscription":{"id":401001.0,"customer_id":3.1e4,)"
                             R"("updated_at":"2026-01-01"}})",
                             "subscription/updated");
    ASSERT_TRUE(d.subscription.has_value());
    EXPECT_EQ(d.subscription->id, 401001);
    EXPECT_EQ(d.subscription->customer_id, 31000);
}

TEST(NumbersAsStrings, BadNumbersInOptionalFieldsAreIgnored) {
    const auto p = decode_ok(
        sub(R"("quantity":"two","expire_after_specific_number_of_charges":-1)"),
        "subscription/updated");
    ASSERT_TRUE(p.subscription.has_value());
    EXPECT_EQ(p.subscription->quantity, 0);
    EXPECT_EQ(p.subscription->expire_after_charges, std::nullopt);
    const auto q = decode_ok(
        sub(R"("quantity":1.5,"expire_after_specific_number_of_charges":"3x")"),
        "subscription/updated");
    EXPECT_EQ(q.subscription->quantity, 0);
    EXPECT_EQ(q.subscription->expire_after_charges, std::nullopt);
}

// Counts are never negative: a negative quantity or attempt count is a bad value, ignored
// like any other (quantity 0, attempts not said), not stored as sent.
TEST(NumbersAsStrings, NegativeCountsAreIgnored) {
    for (const char* q : {"-1", "\"-2\"", "-3.0"}) {
        const auto p = decode_ok(sub(std::string(R"("quantity":)") + q), "subscription/updated");
        EXPECT_EQ(p.subscription->quantity, 0) << q;
    }
    for (const char* extra : {R"("number_times_tried":-1)", R"("charge_attempts":-2)",
                              R"("charge_attempts":"-3")"}) {
        EXPECT_EQ(decode_ok(charge(extra), "charge/failed").charge->attempts, std::nullopt)
            << extra;
    }
}

TEST(Fields, SubscriptionStatuses) {
    const std::pair<const char*, SubscriptionStatus> cases[] = {
        {"ACTIVE", SubscriptionStatus::Active},       {"active", SubscriptionStatus::Active},
        {"CANCELLED", SubscriptionStatus::Cancelled}, {"cancelled", SubscriptionStatus::Cancelled},
        {"EXPIRED", SubscriptionStatus::Expired},     {"expired", SubscriptionStatus::Expired},
        {"ONETIME", SubscriptionStatus::Onetime},     {"onetime", SubscriptionStatus::Onetime},
        {"paused", SubscriptionStatus::Unknown},      {"", SubscriptionStatus::Unknown},
        {"canceled", SubscriptionStatus::Unknown},
    };
    for (const auto& [word, status] : cases) {
        const auto p = decode_ok(sub(std::string(R"("status":")") + word + "\""),
                                 "subscription/updated");
        ASSERT_TRUE(p.subscription.has_value());
        EXPECT_EQ(p.subscription->status, status) << word;
        EXPECT_EQ(p.subscription->status_raw, word);
    }
    const auto p = decode_ok(sub(R"("status":7)"), "subscription/updated");
    EXPECT_EQ(p.subscription->status, SubscriptionStatus::Unknown);
    EXPECT_EQ(p.subscription->status_raw, "");
}

TEST(Fields, MaxRetriesReachedFlagForms) {
    const std::pair<const char*, bool> cases[] = {
        {"true", true},     {"false", false},   {"1", true},       {"0", false},
        {"\"true\"", true}, {"\"false\"", false}, {"\"1\"", true}, {"\"TRUE\"", true},
        {"2", false},       {"\"yes\"", false}, {"null", false},   {"{}", false},
    };
    for (const auto& [json, expected] : cases) {
        const auto p = decode_ok(sub(std::string(R"("max_retries_reached":)") + json),
                                 "subscription/updated");
        ASSERT_TRUE(p.subscription.has_value());
        EXPECT_EQ(p.subscription->max_retries_reached, expected) << json;
    }
}

TEST(Fields, PriceKeptAsTextOrFormattedFromNumber) {
    const std::pair<const char*, std::optional<std::string>> cases[] = {
        {R"("24.00")", "24.00"}, {R"("24.0")", "24.0"}, {"39.0", "39.00"}, {"39", "39.00"},
        {"39.5", "39.50"},       {"0.1", "0.10"},       {"0", "0.00"},     {"true", std::nullopt},
        {"[]", std::nullopt},    {"null", std::nullopt},
    };
    for (const auto& [json, expected] : cases) {
        const auto p = decode_ok(sub(std::string(R"("price":)") + json), "subscription/updated");
        ASSERT_TRUE(p.subscription.has_value());
        EXPECT_EQ(p.subscription->price, expected) << json;
    }
    const auto big = decode_ok(sub(R"("price":1e300)"), "subscription/updated");
    ASSERT_TRUE(big.subscription->price.has_value());
    EXPECT_EQ(big.subscription->price->size(), 304u);
}

TEST(Fields, ProductTitleFallsBackToTitle) {
    auto title = [](const std::string& extra) {
        return decode_ok(sub(extra), "subscription/updated").subscription->product_title;
    };
    EXPECT_EQ(title(R"("title":"Old name")"), "Old name");
    EXPECT_EQ(title(R"("product_title":"New","title":"Old")"), "New");
    EXPECT_EQ(title(R"("product_title":null,"title":"Old")"), "Old");
    EXPECT_EQ(title(R"("product_title":5,"title":"Old")"), "Old");
    EXPECT_EQ(title(""), std::nullopt);
}

// The analyst audit: 2021-01's "2026-12-01T00:00:00" beside 2021-11's "2026-12-01" in one
// column sorted and compared wrongly ('T' after the end of a date). Both are the date now.
TEST(Fields, NextChargeIsTheDateInBothVersions) {
    auto next = [](const std::string& extra) {
        return decode_ok(sub(extra), "subscription/updated").subscription->next_charge_scheduled_at;
    };
    EXPECT_EQ(next(R"("next_charge_scheduled_at":"2026-12-01")"), "2026-12-01");
    EXPECT_EQ(next(R"("next_charge_scheduled_at":"2026-12-01T00:00:00")"), "2026-12-01");
    EXPECT_EQ(next(R"("next_charge_scheduled_at":"2026-12-01 00:00:00")"), "2026-12-01");
    // Other shapes are kept as sent rather than lost.
    EXPECT_EQ(next(R"("next_charge_scheduled_at":"2026-12-01x")"), "2026-12-01x");
    EXPECT_EQ(next(R"("next_charge_scheduled_at":"12/01/2026")"), "12/01/2026");
    EXPECT_EQ(next(R"("next_charge_scheduled_at":"2026-1-01")"), "2026-1-01");
    EXPECT_EQ(next(R"("next_charge_scheduled_at":"")"), "");
    EXPECT_EQ(next(R"("next_charge_scheduled_at":20261201)"), std::nullopt);
}

// Only a real date is cut to its first ten characters: dashes in the right places around
// letters are another shape, kept as sent.
TEST(Fields, NextChargeOfDateShapeButNotDigitsIsKept) {
    auto next = [](const std::string& extra) {
        return decode_ok(sub(extra), "subscription/updated").subscription->next_charge_scheduled_at;
    };
    EXPECT_EQ(next(R"("next_charge_scheduled_at":"YYYY-MM-DDT00:00:00")"), "YYYY-MM-DDT00:00:00");
    EXPECT_EQ(next(R"("next_charge_scheduled_at":"2026-12-0xT00:00:00")"), "2026-12-0xT00:00:00");
}

TEST(Fields, BadOptionalTimestampsAreIgnored) {
    const auto p = decode_ok(sub(R"("cancelled_at":"2026-02-30T00:00:00","created_at":12345)"),
                             "subscription/cancelled");
    ASSERT_TRUE(p.subscription.has_value());
    EXPECT_EQ(p.subscription->cancelled_at, std::nullopt);
    EXPECT_EQ(p.subscription->created_at, std::nullopt);
}

TEST(Fields, DuplicateKeysFirstWins) {
    const auto p = decode_ok(R"({"subscription":{"id":1,"id":2,"customer_id":2,)"
                             R"("updated_at":"2026-01-01"}})",
                             "subscription/updated");
    EXPECT_EQ(p.subscription->id, 1);
}

// SQLite's text functions and the sqlite3 shell would end "a\0b" at the NUL: stored as "a", so
// each NUL is replaced where the analyst can see it.
TEST(Fields, EscapedNulInTextBecomesReplacementCharacter) {
    const auto p = decode_ok(sub(R"("cancellation_reason":"a\u0000b\u0000")"),
                             "subscription/cancelled");
    ASSERT_TRUE(p.subscription->cancellation_reason.has_value());
    EXPECT_EQ(*p.subscription->cancellation_reason, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
    const auto plain = decode_ok(sub(R"("cancellation_reason":"a\u0001b")"), "subscription/cancelled");
    EXPECT_EQ(*plain.subscription->cancellation_reason, "a\x01" "b");
}

// Free-text fields are JSON strings: a number where text belongs is a wrong-typed field,
// ignored, not turned into text.
TEST(Fields, TextFieldsRefuseNumbers) {
    const auto s = decode_ok(sub(R"("cancellation_reason":5,"email":7,"product_title":9)"),
                             "subscription/cancelled")
                       .subscription;
    EXPECT_EQ(s->cancellation_reason, std::nullopt);
    EXPECT_EQ(s->email, std::nullopt);
    EXPECT_EQ(s->product_title, std::nullopt);
    const auto c = decode_ok(charge(R"("error_type":7,"error":8,"email":9)"), "charge/failed").charge;
    EXPECT_EQ(c->error_type, std::nullopt);
    EXPECT_EQ(c->error, std::nullopt);
    EXPECT_EQ(c->email, std::nullopt);
    EXPECT_EQ(decode_ok(cust(R"("email":1)"), "customer/updated").customer->email, std::nullopt);
}

TEST(Fields, ChargeStatuses) {
    const std::pair<const char*, ChargeStatus> cases[] = {
        {"SUCCESS", ChargeStatus::Success},
        {"success", ChargeStatus::Success},
        {"ERROR", ChargeStatus::Error},
        {"error", ChargeStatus::Error},
        {"QUEUED", ChargeStatus::Queued},
        {"queued", ChargeStatus::Queued},
        {"SKIPPED", ChargeStatus::Skipped},
        {"skipped", ChargeStatus::Skipped},
        {"REFUNDED", ChargeStatus::Refunded},
        {"refunded", ChargeStatus::Refunded},
        {"PARTIALLY_REFUNDED", ChargeStatus::PartiallyRefunded},
        {"partially_refunded", ChargeStatus::PartiallyRefunded},
        {"PENDING_MANUAL_PAYMENT", ChargeStatus::PendingManualPayment},
        {"pending_manual_payment", ChargeStatus::PendingManualPayment},
        {"PENDING", ChargeStatus::Pending},
        {"pending", ChargeStatus::Pending},
        {"authorized", ChargeStatus::Unknown},
        {"", ChargeStatus::Unknown},
    };
    for (const auto& [word, status] : cases) {
        const auto p = decode_ok(charge(std::string(R"("status":")") + word + "\""),
                                 "charge/updated");
        ASSERT_TRUE(p.charge.has_value());
        EXPECT_EQ(p.charge->status, status) << word;
        EXPECT_EQ(p.charge->status_raw, word);
    }
}

TEST(Fields, ChargeMaxRetriesFromErrorTypeOrTopic) {
    auto flag = [](const std::string& extra, const char* t) {
        return decode_ok(charge(extra), t).charge->max_retries_reached;
    };
    EXPECT_TRUE(flag(R"("error_type":"CLOSED_MAX_RETRIES_REACHED")", "charge/failed"));
    EXPECT_TRUE(flag(R"("error_type":"closed_max_retries_reached")", "charge/updated"));
    EXPECT_TRUE(flag("", "charge/max_retries_reached"));
    EXPECT_TRUE(flag(R"("error_type":"CARD_DECLINED")", "charge/max_retries_reached"));
    EXPECT_FALSE(flag(R"("error_type":"CARD_DECLINED")", "charge/failed"));
    EXPECT_FALSE(flag(R"("error_type":"CLOSED_MAX_RETRIES")", "charge/failed"));
    EXPECT_FALSE(flag("", "charge/failed"));
    EXPECT_FALSE(flag(R"("error_type":7)", "charge/failed"));
}

TEST(Fields, ChargeCustomerSources) {
    // 2021-11: nested customer object.
    const auto n = decode_ok(R"({"charge":{"id":1,"customer":{"id":"71003","email":"n@x.io"},)"
                             R"("updated_at":"2026-01-01"}})",
                             "charge/updated");
    EXPECT_EQ(n.charge->customer_id, 71003);
    EXPECT_EQ(n.charge->email, "n@x.io");
    // Top-level wins when both are usable.
    const auto both = decode_ok(R"({"charge":{"id":1,"customer_id":5,"email":"top@x.io",)"
                                R"("customer":{"id":6,"email":"n@x.io"},)"
                                R"("updated_at":"2026-01-01"}})",
                                "charge/updated");
    EXPECT_EQ(both.charge->customer_id, 5);
    EXPECT_EQ(both.charge->email, "top@x.io");
    // An unusable top-level value falls back to the nested one.
    const auto fallback = decode_ok(R"({"charge":{"id":1,"customer_id":null,"email":null,)"
                                    R"("customer":{"id":6,"email":"n@x.io"},)"
                                    R"("updated_at":"2026-01-01"}})",
                                    "charge/updated");
    EXPECT_EQ(fallback.charge->customer_id, 6);
    EXPECT_EQ(fallback.charge->email, "n@x.io");
}

// A 2021-01 charge may carry shopify_customer_id at its top level: that is its platform id,
// and a nested customer without one (a tie-shaped charge) does not erase it.
TEST(Fields, ChargeTopLevelShopifyCustomerId) {
    EXPECT_EQ(decode_ok(charge(R"("shopify_customer_id":"7700003")"), "charge/failed")
                  .charge->external_customer_id,
              "7700003");
    EXPECT_EQ(decode_ok(charge(R"("shopify_customer_id":7700003)"), "charge/failed")
                  .charge->external_customer_id,
              "7700003");
    EXPECT_EQ(decode_ok(charge(R"("shopify_customer_id":"7700003","customer":{"id":2})"),
                        "charge/failed")
                  .charge->external_customer_id,
              "7700003");
    EXPECT_EQ(decode_ok(charge(), "charge/failed").charge->external_customer_id, std::nullopt);
}

TEST(Fields, ChargeAttemptsEitherName) {
    EXPECT_EQ(decode_ok(charge(R"("number_times_tried":3)"), "charge/failed").charge->attempts, 3);
    EXPECT_EQ(decode_ok(charge(R"("charge_attempts":4)"), "charge/failed").charge->attempts, 4);
    EXPECT_EQ(decode_ok(charge(R"("charge_attempts":"x")"), "charge/failed").charge->attempts,
              std::nullopt);
    EXPECT_EQ(decode_ok(charge(), "charge/failed").charge->attempts, std::nullopt);
}

TEST(Fields, ChargeSubscriptionIds2021_01) {
    const auto p = decode_ok(
        charge(R"("line_items":[{"subscription_id":7},{"subscription_id":null},)"
               R"({"subscription_id":3},{"subscription_id":7},{"subscription_id":0},)"
               R"({"subscription_id":"9"},{"title":"gift"}])"),
        "charge/paid");
    EXPECT_EQ(p.charge->subscription_ids, (std::vector<int64_t>{7, 3, 9}));
}

TEST(Fields, ChargeSubscriptionIds2021_11) {
    const auto p = decode_ok(
        charge(R"("line_items":[)"
               R"({"purchase_item_id":11,"purchase_item_type":"subscription"},)"
               R"({"purchase_item_id":12,"purchase_item_type":"onetime"},)"
               R"({"purchase_item_id":13},)"
               R"({"purchase_item_id":11,"purchase_item_type":"subscription"},)"
               R"({"purchase_item_id":"14","purchase_item_type":"subscription"},)"
               R"({"purchase_item_id":-1,"purchase_item_type":"subscription"}])"),
        "charge/paid");
    EXPECT_EQ(p.charge->subscription_ids, (std::vector<int64_t>{11, 14}));
}

// purchase_item_type compares like the other words Recharge sends, whatever the case.
TEST(Fields, ChargePurchaseItemTypeAnyCase) {
    const auto p = decode_ok(
        charge(R"("line_items":[{"purchase_item_id":21,"purchase_item_type":"SUBSCRIPTION"},)"
               R"({"purchase_item_id":22,"purchase_item_type":"Subscription"},)"
               R"({"purchase_item_id":23,"purchase_item_type":"ONETIME"}])"),
        "charge/paid");
    EXPECT_EQ(p.charge->subscription_ids, (std::vector<int64_t>{21, 22}));
}

TEST(Fields, ChargeLineItemsOfTheWrongShape) {
    EXPECT_TRUE(decode_ok(charge(R"("line_items":{"subscription_id":7})"), "charge/paid")
                    .charge->subscription_ids.empty());
    EXPECT_TRUE(decode_ok(charge(R"("line_items":"7")"), "charge/paid")
                    .charge->subscription_ids.empty());
    EXPECT_EQ(decode_ok(charge(R"("line_items":[7,null,[],"x",{"subscription_id":8}])"),
                        "charge/paid")
                  .charge->subscription_ids,
              std::vector<int64_t>{8});
}

TEST(Fields, ChargeTotalPriceAndTimes) {
    const auto p = decode_ok(charge(R"("total_price":19.9,"processed_at":"2026-01-02T03:04:05",)"
                                    R"("created_at":"2026-01-01T00:00:00+01:00")"),
                             "charge/paid");
    EXPECT_EQ(p.charge->total_price, "19.90");
    EXPECT_EQ(p.charge->processed_at, at("2026-01-02T03:04:05"));
    EXPECT_EQ(p.charge->created_at, at("2025-12-31T23:00:00"));
}

TEST(Fields, CustomerExternalId) {
    auto ext = [](const std::string& extra) {
        return decode_ok(cust(extra), "customer/updated").customer->external_customer_id;
    };
    EXPECT_EQ(ext(R"("shopify_customer_id":"7700001")"), "7700001");
    EXPECT_EQ(ext(R"("shopify_customer_id":7700001)"), "7700001");
    EXPECT_EQ(ext(R"("external_customer_id":{"ecommerce":"5550001"})"), "5550001");
    EXPECT_EQ(ext(R"("external_customer_id":{"ecommerce":5550001})"), "5550001");
    EXPECT_EQ(ext(R"("external_customer_id":{"ecommerce":null})"), std::nullopt);
    EXPECT_EQ(ext(R"("external_customer_id":{})"), std::nullopt);
    EXPECT_EQ(ext(R"("shopify_customer_id":null,"external_customer_id":{"ecommerce":"5"})"), "5");
    EXPECT_EQ(ext(R"("shopify_customer_id":[1])"), std::nullopt);
}

// Platform ids are opaque text: one beyond int64 kept whole, a flat external_customer_id
// taken as it is, and shopify_customer_id (2021-01) first when a body carries both names.
TEST(Fields, CustomerExternalIdOtherForms) {
    auto ext = [](const std::string& extra) {
        return decode_ok(cust(extra), "customer/updated").customer->external_customer_id;
    };
    EXPECT_EQ(ext(R"("shopify_customer_id":18446744073709551615)"), "18446744073709551615");
    EXPECT_EQ(ext(R"("external_customer_id":{"ecommerce":18446744073709551615})"),
              "18446744073709551615");
    EXPECT_EQ(ext(R"("external_customer_id":"5550001")"), "5550001");
    EXPECT_EQ(ext(R"("external_customer_id":5550001)"), "5550001");
    EXPECT_EQ(ext(R"("external_customer_id":true)"), std::nullopt);
    EXPECT_EQ(ext(R"("shopify_customer_id":"7","external_customer_id":{"ecommerce":"5"})"), "7");
}

TEST(Fields, CustomerStatus) {
    auto status = [](const std::string& extra) {
        return decode_ok(cust(extra), "customer/updated").customer->status;
    };
    EXPECT_EQ(status(R"("status":"ACTIVE")"), CustomerStatus::Active);
    EXPECT_EQ(status(R"("status":"INACTIVE")"), CustomerStatus::Inactive);
    EXPECT_EQ(status(R"("status":"gone")"), CustomerStatus::Unknown);
    EXPECT_EQ(status(""), CustomerStatus::Unknown);
}

TEST(Fields, CustomerCounts2021_11Names) {
    const auto c =
        decode_ok(cust(R"("subscriptions_active_count":2,"subscriptions_total_count":3)"),
                  "customer/updated")
            .customer;
    EXPECT_EQ(c->active_subscriptions, 2);
    EXPECT_EQ(c->total_subscriptions, 3);
    const auto bad = decode_ok(cust(R"("subscriptions_active_count":-2,"number_subscriptions":{})"),
                               "customer/updated")
                         .customer;
    EXPECT_EQ(bad->active_subscriptions, std::nullopt);
    EXPECT_EQ(bad->total_subscriptions, std::nullopt);
}

TEST(Fields, CustomerBillingNested2021_11) {
    const std::string address = R"("billing_address":{"country_code":"US",)"
                                R"("country":"United States","province":"California",)"
                                R"("zip":"90404"})";
    const auto c = decode_ok(cust(address), "customer/updated").customer;
    EXPECT_EQ(c->billing_country, "US");
    EXPECT_EQ(c->billing_province, "California");
    EXPECT_EQ(c->billing_zip, "90404");
    const auto name_only = decode_ok(cust(R"("billing_address":{"country":"Canada"})"),
                                     "customer/updated")
                               .customer;
    EXPECT_EQ(name_only->billing_country, "Canada");
    EXPECT_EQ(name_only->billing_zip, std::nullopt);
    const auto wrong = decode_ok(cust(R"("billing_address":"1 Main St")"), "customer/updated")
                           .customer;
    EXPECT_EQ(wrong->billing_country, std::nullopt);
}

// A charge's billing address, both API versions: 2021-11 names the country by code, 2021-01
// by name. A 2021-11 customer carries none, so this is where its country is.
TEST(Fields, ChargeBillingAddress) {
    const auto c = decode_ok(charge(R"("billing_address":{"address1":"3030 Nebraska Avenue",)"
                                    R"("country_code":"US","province":"California","zip":"90404"})"),
                             "charge/paid")
                       .charge;
    EXPECT_EQ(c->billing_country, "US");
    EXPECT_EQ(c->billing_province, "California");
    EXPECT_EQ(c->billing_zip, "90404");
    const auto named = decode_ok(charge(R"("billing_address":{"country":"Canada","zip":"K1A 0B1"})"),
                                 "charge/paid")
                           .charge;
    EXPECT_EQ(named->billing_country, "Canada");
    EXPECT_EQ(named->billing_province, std::nullopt);
    EXPECT_EQ(named->billing_zip, "K1A 0B1");
    for (const char* none : {"", R"("billing_address":null)", R"("billing_address":"1 Main St")"}) {
        const auto c2 = decode_ok(charge(none), "charge/paid").charge;
        EXPECT_EQ(c2->billing_country, std::nullopt) << none;
        EXPECT_EQ(c2->billing_zip, std::nullopt) << none;
    }
}

// When a body carries both names of one fact, the first-listed name wins: the 2021-01 name
// for attempts, counts and dunning, and a customer's flat billing_* fields over a nested
// billing_address (which only fills what the flat fields leave unsaid).
TEST(Fields, BothNamesOfOneFactFirstNameWins) {
    EXPECT_EQ(decode_ok(charge(R"("number_times_tried":3,"charge_attempts":4)"), "charge/failed")
                  .charge->attempts,
              3);
    const auto c = decode_ok(cust(R"("number_active_subscriptions":1,)"
                                  R"("subscriptions_active_count":2,)"
                                  R"("number_subscriptions":3,"subscriptions_total_count":4,)"
                                  R"("has_payment_method_in_dunning":true,)"
                                  R"("has_card_error_in_dunning":false)"),
                             "customer/updated")
                       .customer;
    EXPECT_EQ(c->active_subscriptions, 1);
    EXPECT_EQ(c->total_subscriptions, 3);
    EXPECT_EQ(c->payment_method_in_dunning, true);
    const auto b = decode_ok(cust(R"("billing_country":"United States",)"
                                  R"("billing_province":"California","billing_zip":"90404",)"
                                  R"("billing_address":{"country_code":"CA",)"
                                  R"("province":"Ontario","zip":"K1A 0B1"})"),
                             "customer/updated")
                       .customer;
    EXPECT_EQ(b->billing_country, "United States");
    EXPECT_EQ(b->billing_province, "California");
    EXPECT_EQ(b->billing_zip, "90404");
    const auto partial = decode_ok(cust(R"("billing_country":"United States",)"
                                        R"("billing_address":{"country_code":"CA",)"
                                        R"("province":"Ontario","zip":"K1A 0B1"})"),
                                   "customer/updated")
                             .customer;
    EXPECT_EQ(partial->billing_country, "United States");
    EXPECT_EQ(partial->billing_province, "Ontario");
    EXPECT_EQ(partial->billing_zip, "K1A 0B1");
}

TEST(Fields, CustomerPaymentFlags) {
    auto c = decode_ok(
                 cust(R"("has_valid_payment_method":false,"has_payment_method_in_dunning":true)"),
                 "customer/payment_method_updated")
                 .customer;
    EXPECT_EQ(c->has_valid_payment_method, false);
    EXPECT_EQ(c->payment_method_in_dunning, true);
    c = decode_ok(cust(R"("has_valid_payment_method":1,"has_card_error_in_dunning":1)"),
                  "customer/updated")
            .customer;
    EXPECT_EQ(c->has_valid_payment_method, true);
    EXPECT_EQ(c->payment_method_in_dunning, true);
    c = decode_ok(cust(R"("has_valid_payment_method":"maybe")"), "customer/updated").customer;
    EXPECT_EQ(c->has_valid_payment_method, std::nullopt);
    EXPECT_EQ(c->payment_method_in_dunning, std::nullopt);
}

// A customer's flags are optional: a form that is not a flag is "not said" (nullopt), never
// false; 2021-01's 0/1 and the string forms of false decode to false, not to "not said".
TEST(Fields, CustomerFlagFormsOtherThanTrue) {
    auto flags = [](const std::string& extra) {
        return *decode_ok(cust(extra), "customer/updated").customer;
    };
    for (const char* json : {"2", "-1", "\"2\""}) {
        const Customer c = flags(std::string(R"("has_valid_payment_method":)") + json +
                                 R"(,"has_payment_method_in_dunning":)" + json);
        EXPECT_EQ(c.has_valid_payment_method, std::nullopt) << json;
        EXPECT_EQ(c.payment_method_in_dunning, std::nullopt) << json;
    }
    for (const char* json : {"0", "false", "\"0\"", "\"false\"", "\"FALSE\"", "\"False\""}) {
        const Customer c = flags(std::string(R"("has_valid_payment_method":)") + json +
                                 R"(,"has_card_error_in_dunning":)" + json);
        EXPECT_EQ(c.has_valid_payment_method, false) << json;
        EXPECT_EQ(c.payment_method_in_dunning, false) << json;
    }
}

// ---------------------------------------------------------------------------------------------
// Required fields and errors.

TEST(Errors, RootNotAnObject) {
    EXPECT_EQ(decode_error("[]", "subscription/cancelled"), "payload root is not an object");
    EXPECT_EQ(decode_error("null", "order/created"), "payload root is not an object");
}

TEST(Errors, WrongTopLevelKeyForTopic) {
    EXPECT_EQ(decode_error(charge(), "subscription/cancelled"),
              "topic subscription/cancelled but payload has no \"subscription\" object");
    EXPECT_EQ(decode_error(sub(), "charge/failed"),
              "topic charge/failed but payload has no \"charge\" object");
    EXPECT_EQ(decode_error(R"({"customer":null})", "customer/deactivated"),
              "topic customer/deactivated but payload has no \"customer\" object");
    EXPECT_EQ(decode_error(R"({"customer":[{"id":1}]})", "customer/deactivated"),
              "topic customer/deactivated but payload has no \"customer\" object");
}

TEST(Errors, SubscriptionRequiredFields) {
    EXPECT_EQ(decode_error(R"({"subscription":{"customer_id":2,"updated_at":"2026-01-01"}})",
                           "subscription/updated"),
              "subscription.id missing or not an integer");
    EXPECT_EQ(decode_error(R"({"subscription":{"id":1,"updated_at":"2026-01-01"}})",
                           "subscription/updated"),
              "subscription.customer_id missing or not an integer");
    EXPECT_EQ(decode_error(R"({"subscription":{"id":1,"customer_id":2}})", "subscription/updated"),
              "subscription.updated_at missing or not a timestamp");
    EXPECT_EQ(decode_error(R"({"subscription":{"id":1,"customer_id":2,"updated_at":"soon"}})",
                           "subscription/updated"),
              "subscription.updated_at missing or not a timestamp");
}

TEST(Errors, NonPositiveAndMalformedIds) {
    auto body = [](const char* id) {
        return std::string(R"({"subscription":{"id":)") + id +
               R"(,"customer_id":2,"updated_at":"2026-01-01"}})";
    };
    EXPECT_EQ(decode_error(body("0"), "subscription/updated"),
              "subscription.id is not a positive integer");
    EXPECT_EQ(decode_error(body("-5"), "subscription/updated"),
              "subscription.id is not a positive integer");
    EXPECT_EQ(decode_error(body("\"-5\""), "subscription/updated"),
              "subscription.id is not a positive integer");
    const char* malformed[] = {"null",  "true",   "1.5",     "\"\"",   "\"12abc\"", "\" 12\"",
                               "\"+12\"", "\"1e3\"", "[1]",     "{}",     "1e300",
                               "18446744073709551615", "\"99999999999999999999\""};
    for (const char* id : malformed) {
        EXPECT_EQ(decode_error(body(id), "subscription/updated"),
                  "subscription.id missing or not an integer")
            << id;
    }
}

// An id sent as a float just above 2^53 (9007199254740993.0) parses to the double 2^53: taken,
// it would be stored as 9007199254740992, another object's id. Doubles are exact only below
// 2^53, so from there on a float id is refused like any id that is not an integer; just
// below it is taken, and the same number sent as a JSON integer stays exact.
TEST(Errors, AFloatIdFromTwoToTheFiftyThirdOnIsRefusedNotRounded) {
    auto body = [](const char* id) {
        return std::string(R"({"subscription":{"id":)") + id +
               R"(,"customer_id":2,"updated_at":"2026-01-01"}})";
    };
    for (const char* id : {"9007199254740993.0", "9007199254740992.0"}) {
        EXPECT_EQ(decode_error(body(id), "subscription/updated"),
                  "subscription.id missing or not an integer")
            << id;
    }
    // (2^53 - 2: RapidJSON's default parse, not full precision (see json.cpp), rounds 2^53 - 1
    // sent as a float.)
    const auto below = decode_ok(body("9007199254740990.0"), "subscription/updated");
    ASSERT_TRUE(below.subscription.has_value());
    EXPECT_EQ(below.subscription->id, 9007199254740990);
    const auto integer = decode_ok(body("9007199254740993"), "subscription/updated");
    ASSERT_TRUE(integer.subscription.has_value());
    EXPECT_EQ(integer.subscription->id, 9007199254740993);
}

// The same bound on the negative side: a float id of -2^53 or below is refused as not an
// integer, never read (or cast out of range) as a negative number.
TEST(Errors, AFloatIdFromMinusTwoToTheFiftyThirdDownIsRefusedNotRead) {
    auto body = [](const char* id) {
        return std::string(R"({"subscription":{"id":)") + id +
               R"(,"customer_id":2,"updated_at":"2026-01-01"}})";
    };
    for (const char* id : {"-9007199254740992.0", "-1e300"}) {
        EXPECT_EQ(decode_error(body(id), "subscription/updated"),
                  "subscription.id missing or not an integer")
            << id;
    }
    EXPECT_EQ(decode_error(body("-9007199254740990.0"), "subscription/updated"),
              "subscription.id is not a positive integer");
}

TEST(Errors, ChargeRequiredFields) {
    EXPECT_EQ(decode_error(R"({"charge":{"customer_id":2,"updated_at":"2026-01-01"}})",
                           "charge/failed"),
              "charge.id missing or not an integer");
    EXPECT_EQ(decode_error(R"({"charge":{"id":1,"updated_at":"2026-01-01"}})", "charge/failed"),
              "charge.customer_id (or charge.customer.id) missing or not an integer");
    EXPECT_EQ(decode_error(R"({"charge":{"id":1,"customer":{"email":"x@y"},)"
                           R"("updated_at":"2026-01-01"}})",
                           "charge/failed"),
              "charge.customer_id (or charge.customer.id) missing or not an integer");
    EXPECT_EQ(decode_error(R"({"charge":{"id":1,"customer":{"id":0},"updated_at":"2026-01-01"}})",
                           "charge/failed"),
              "charge.customer_id (or charge.customer.id) is not a positive integer");
    EXPECT_EQ(decode_error(R"({"charge":{"id":1,"customer_id":2}})", "charge/failed"),
              "charge.updated_at missing or not a timestamp");
}

TEST(Errors, CustomerRequiredFields) {
    EXPECT_EQ(decode_error(R"({"customer":{"updated_at":"2026-01-01"}})", "customer/updated"),
              "customer.id missing or not an integer");
    EXPECT_EQ(decode_error(R"({"customer":{"id":1,"updated_at":null}})", "customer/updated"),
              "customer.updated_at missing or not a timestamp");
}

// ---------------------------------------------------------------------------------------------
// included_objects.

TEST(IncludedObjects, ChargeWithCustomer) {
    const std::string body = R"({"charge":{"id":90001,"customer":{"id":71003},"status":"error",)"
                             R"("error_type":"CARD_DECLINED",)"
                             R"("updated_at":"2026-09-06T04:00:09+00:00"},)"
                             R"("customer":{"id":71003,"email":"linus@example.com",)"
                             R"("has_payment_method_in_dunning":true,)"
                             R"("subscriptions_active_count":1,)"
                             R"("updated_at":"2026-09-06T04:00:10"}})";
    const auto p = decode_ok(body, "charge/failed");
    EXPECT_EQ(p.version, ApiVersion::V2021_11);
    ASSERT_TRUE(p.charge.has_value());
    ASSERT_TRUE(p.customer.has_value());
    EXPECT_FALSE(p.subscription.has_value());
    EXPECT_EQ(p.charge->id, 90001);
    EXPECT_EQ(p.charge->status, ChargeStatus::Error);
    EXPECT_FALSE(p.charge->max_retries_reached);
    EXPECT_EQ(p.customer->id, 71003);
    EXPECT_EQ(p.customer->payment_method_in_dunning, true);
    EXPECT_EQ(p.customer->active_subscriptions, 1);
}

TEST(IncludedObjects, AllThreeWhateverTheTopic) {
    const std::string body = R"({"customer":{"id":3,"updated_at":"2026-01-01"},)"
                             R"("subscription":{"id":1,"customer_id":3,"updated_at":"2026-01-01"},)"
                             R"("charge":{"id":2,"customer_id":3,"updated_at":"2026-01-01"}})";
    for (const char* t : {"subscription/cancelled", "charge/paid", "customer/updated"}) {
        const auto p = decode_ok(body, t);
        EXPECT_TRUE(p.subscription.has_value()) << t;
        EXPECT_TRUE(p.charge.has_value()) << t;
        EXPECT_TRUE(p.customer.has_value()) << t;
    }
}

TEST(IncludedObjects, MaxRetriesTopicMarksTheCharge) {
    const std::string body =
        R"({"charge":{"id":2,"customer_id":3,"updated_at":"2026-01-01"},)"
        R"("subscription":{"id":1,"customer_id":3,"updated_at":"2026-01-01"}})";
    const auto p = decode_ok(body, "charge/max_retries_reached");
    EXPECT_TRUE(p.charge->max_retries_reached);
    EXPECT_FALSE(p.subscription->max_retries_reached);
    EXPECT_FALSE(decode_ok(body, "subscription/updated").charge->max_retries_reached);
}

// Only charge/max_retries_reached marks the charge: the same action word on another
// resource's topic (not a Recharge topic, but a URL can name it) marks nothing.
TEST(IncludedObjects, MaxRetriesActionOnlyOnChargeTopics) {
    const std::string body =
        R"({"charge":{"id":2,"customer_id":3,"updated_at":"2026-01-01"},)"
        R"("subscription":{"id":1,"customer_id":3,"updated_at":"2026-01-01"},)"
        R"("customer":{"id":3,"updated_at":"2026-01-01"}})";
    for (const char* t : {"subscription/max_retries_reached", "customer/max_retries_reached"}) {
        const auto p = decode_ok(body, t);
        ASSERT_TRUE(p.charge.has_value()) << t;
        EXPECT_FALSE(p.charge->max_retries_reached) << t;
    }
}

TEST(IncludedObjects, NonObjectExtraKeysAreSkipped) {
    const std::string body = R"({"charge":{"id":2,"customer_id":3,"updated_at":"2026-01-01"},)"
                             R"("customer":null,"subscription":"n/a","order":{"id":9}})";
    const auto p = decode_ok(body, "charge/paid");
    EXPECT_TRUE(p.charge.has_value());
    EXPECT_FALSE(p.customer.has_value());
    EXPECT_FALSE(p.subscription.has_value());
}

// An extra top-level key that is not an object (null, a string, an array) is no included
// object: skipped without a word in `ignored`, which reports objects that could not be
// decoded.
TEST(IncludedObjects, NonObjectExtraKeysAreNotReportedAsIgnored) {
    const std::string body = R"({"charge":{"id":2,"customer_id":3,"updated_at":"2026-01-01"},)"
                             R"("customer":null,"subscription":"n/a"})";
    const auto p = decode_ok(body, "charge/paid");
    EXPECT_TRUE(p.charge.has_value());
    EXPECT_EQ(p.ignored, "");
    const auto q = decode_ok(R"({"subscription":{"id":1,"customer_id":3,"updated_at":"2026-01-01"},)"
                             R"("customer":[{"id":3}],"charge":7})",
                             "subscription/updated");
    EXPECT_TRUE(q.subscription.has_value());
    EXPECT_EQ(q.ignored, "");
}

// An included object that cannot be decoded (a short customer record without updated_at) is
// left out, saying why; the topic's own object, and so the churn it tells, is kept. Before,
// the whole delivery was quarantined: a cancellation lost for a side record.
TEST(IncludedObjects, ABrokenIncludedObjectIsLeftOutSayingWhy) {
    const std::string body = R"({"charge":{"id":2,"customer_id":3,"updated_at":"2026-01-01"},)"
                             R"("customer":{"id":3},"subscription":{"id":1}})";
    const auto p = decode_ok(body, "charge/paid");
    EXPECT_TRUE(p.charge.has_value());
    EXPECT_FALSE(p.customer.has_value());
    EXPECT_FALSE(p.subscription.has_value());
    EXPECT_EQ(p.ignored,
              "included subscription ignored: subscription.customer_id missing or not an integer; "
              "included customer ignored: customer.updated_at missing or not a timestamp");
    EXPECT_EQ(decode_ok(R"({"charge":{"id":2,"customer_id":3,"updated_at":"2026-01-01"}})", "charge/paid").ignored, "");
}

TEST(IncludedObjects, TopicObjectErrorReportedFirst) {
    const std::string body = R"({"subscription":{"id":1},"customer":{"id":3}})";
    EXPECT_EQ(decode_error(body, "customer/updated"),
              "customer.updated_at missing or not a timestamp");
    EXPECT_EQ(decode_error(body, "subscription/updated"),
              "subscription.customer_id missing or not an integer");
}

// ---------------------------------------------------------------------------------------------
// Robustness: every field of every example replaced by every JSON type, and random damage.

const char* const kReplacementValues[] = {
    "null", "true", "false", "0", "-1", "1.5", "1e300", "18446744073709551615",
    "\"\"", "\"x\"", "\"-3\"", "[]", "[1,{}]", "{}", "{\"id\":0}",
};

struct ExampleCase {
    const char* file;
    const char* topic;
    const char* key;
    std::vector<std::string> required;  // members whose corruption must fail the decode
};

std::vector<ExampleCase> example_cases() {
    return {
        {"subscription_cancelled.2021-01.json", "subscription/cancelled", "subscription",
         {"id", "customer_id", "updated_at"}},
        {"subscription_cancelled.2021-11.json", "subscription/cancelled", "subscription",
         {"id", "customer_id", "updated_at"}},
        {"subscription_activated.2021-11.json", "subscription/activated", "subscription",
         {"id", "customer_id", "updated_at"}},
        {"subscription_expired.2021-11.json", "subscription/updated", "subscription",
         {"id", "customer_id", "updated_at"}},
        {"charge_max_retries_reached.2021-01.json", "charge/max_retries_reached", "charge",
         {"id", "customer_id", "updated_at"}},
        {"charge_max_retries_reached.2021-11.json", "charge/max_retries_reached", "charge",
         {"id", "customer", "updated_at"}},
        {"customer_deactivated.2021-01.json", "customer/deactivated", "customer",
         {"id", "updated_at"}},
        {"customer_deactivated.2021-11.json", "customer/deactivated", "customer",
         {"id", "updated_at"}},
    };
}

TEST(Robustness, EveryFieldReplacedByEveryType) {
    for (const ExampleCase& ex : example_cases()) {
        const std::string body = read_example(ex.file);
        rapidjson::Document original = parse_or_fail(body);
        std::vector<std::string> names;
        const rapidjson::Value& object = original[ex.key];
        for (rapidjson::SizeType i = 0; i < object.MemberCount(); ++i) {
            names.emplace_back((object.MemberBegin() + i)->name.GetString());
        }
        for (const std::string& name : names) {
            const bool required =
                std::find(ex.required.begin(), ex.required.end(), name) != ex.required.end();
            for (const char* replacement : kReplacementValues) {
                rapidjson::Document doc = parse_or_fail(body);
                rapidjson::Document value = parse_or_fail(replacement);
                doc[ex.key][name].CopyFrom(value, doc.GetAllocator());
                const auto result = decode_payload(doc, topic(ex.topic));
                // A required member replaced by any of these values is unusable.
                EXPECT_EQ(std::holds_alternative<DecodeError>(result), required)
                    << ex.file << " " << name << "=" << replacement;
            }
            // And removed entirely.
            rapidjson::Document doc = parse_or_fail(body);
            doc[ex.key].RemoveMember(name.c_str());
            const auto result = decode_payload(doc, topic(ex.topic));
            EXPECT_EQ(std::holds_alternative<DecodeError>(result), required)
                << ex.file << " without " << name;
        }
    }
}

TEST(Robustness, TopLevelKeyReplacedByEveryType) {
    for (const ExampleCase& ex : example_cases()) {
        for (const char* replacement : kReplacementValues) {
            const std::string body = std::string("{\"") + ex.key + "\":" + replacement + "}";
            const rapidjson::Document doc = parse_or_fail(body);
            const auto result = decode_payload(doc, topic(ex.topic));
            EXPECT_TRUE(std::holds_alternative<DecodeError>(result)) << body;
        }
    }
}

TEST(Robustness, RandomByteDamageNeverCrashes) {
    std::mt19937 rng(20261014);  // fixed seed: reproducible
    const char interesting[] = {'"', '{', '}', '[', ']', ',', ':', '0', '-', '\\', '\0', 'e',
                                '.', ' ', 'n', '\xff', '\xc3'};
    int decoded = 0;
    for (const ExampleCase& ex : example_cases()) {
        const std::string original = read_example(ex.file);
        for (int round = 0; round < 400; ++round) {
            std::string body = original;
            const int edits = 1 + static_cast<int>(rng() % 4);
            for (int e = 0; e < edits; ++e) {
                const std::size_t pos = rng() % body.size();
                switch (rng() % 3) {
                    case 0: body[pos] = interesting[rng() % sizeof interesting]; break;
                    case 1: body.erase(pos, 1 + rng() % 8); break;
                    default: body.insert(pos, 1, interesting[rng() % sizeof interesting]); break;
                }
                if (body.empty()) body = "{";
            }
            rapidjson::Document doc;
            std::string error;
            if (!parse_json(body, {}, doc, error)) {
                EXPECT_FALSE(error.empty());
                continue;
            }
            const Topic topics[] = {topic(ex.topic), infer_topic(doc).value_or(Topic{"x", "y"}),
                                    Topic{"charge", "max_retries_reached"}};
            for (const Topic& t : topics) {
                const auto result = decode_payload(doc, t);
                if (const auto* err = std::get_if<DecodeError>(&result)) {
                    EXPECT_FALSE(err->reason.empty());
                } else {
                    ++decoded;
                }
            }
        }
    }
    EXPECT_GT(decoded, 0);  // the damage left some bodies decodable: the test exercised both paths
}

}  // namespace
}  // namespace churnwatch
