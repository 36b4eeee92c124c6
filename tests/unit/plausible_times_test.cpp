#include "plausible_times.h"

#include <gtest/gtest.h>

#include "delivery_decode.h"
#include "time_util.h"

namespace churnwatch {
namespace {

const Micros kReceived = *parse_time("2026-11-29T17:00:00Z");

DecodedPayload subscription_at(Micros updated_at) {
    DecodedPayload p;
    Subscription s;
    s.updated_at = updated_at;
    s.updated_at_raw = format_time(updated_at);
    p.subscription = s;
    return p;
}

TEST(PlausibleTimes, OrdinaryTimesPass) {
    EXPECT_EQ(implausible_time(subscription_at(kReceived), kReceived), std::nullopt);
    EXPECT_EQ(implausible_time(subscription_at(*parse_time("2000-01-01")), kReceived), std::nullopt);
    // Up to a day ahead of the receiving clock: skew, or a naive time east of UTC.
    EXPECT_EQ(implausible_time(subscription_at(kReceived + kBusinessTimeLead), kReceived),
              std::nullopt);
    // An empty payload (order/… topics) has nothing to judge.
    EXPECT_EQ(implausible_time(DecodedPayload{}, kReceived), std::nullopt);
}

TEST(PlausibleTimes, TheFutureAndTheDistantPastAreNamed) {
    EXPECT_EQ(implausible_time(subscription_at(kReceived + kBusinessTimeLead + 1), kReceived),
              "subscription.updated_at 2026-11-30 17:00:00.000001 is more than a day after the "
              "delivery was received (2026-11-29 17:00:00)");
    EXPECT_EQ(implausible_time(subscription_at(*parse_time("1999-12-31T23:59:59Z")), kReceived),
              "subscription.updated_at 1999-12-31 23:59:59 is before 2000-01-01");
}

TEST(PlausibleTimes, EveryBusinessTimeOfEveryObjectIsChecked) {
    const Micros ok = kReceived - 3600 * kMicrosPerSecond;
    const Micros bad = *parse_time("1970-01-01");
    auto with = [&](auto set) {
        DecodedPayload p;
        p.subscription.emplace().updated_at = ok;
        p.charge.emplace().updated_at = ok;
        p.customer.emplace().updated_at = ok;
        set(p);
        const auto why = implausible_time(p, kReceived);
        return why ? why->substr(0, why->find(' ')) : std::string("none");
    };
    EXPECT_EQ(with([](DecodedPayload&) {}), "none");
    EXPECT_EQ(with([&](DecodedPayload& p) { p.subscription->created_at = bad; }), "subscription.created_at");
    EXPECT_EQ(with([&](DecodedPayload& p) { p.subscription->cancelled_at = bad; }), "subscription.cancelled_at");
    EXPECT_EQ(with([&](DecodedPayload& p) { p.charge->updated_at = bad; }), "charge.updated_at");
    EXPECT_EQ(with([&](DecodedPayload& p) { p.charge->created_at = bad; }), "charge.created_at");
    EXPECT_EQ(with([&](DecodedPayload& p) { p.charge->processed_at = bad; }), "charge.processed_at");
    EXPECT_EQ(with([&](DecodedPayload& p) { p.customer->updated_at = bad; }), "customer.updated_at");
    EXPECT_EQ(with([&](DecodedPayload& p) { p.customer->created_at = bad; }), "customer.created_at");
    // The next charge date is rightly in the future.
    EXPECT_EQ(with([&](DecodedPayload& p) { p.subscription->next_charge_scheduled_at = "2031-01-01"; }),
              "none");
}

// An included object with an implausible time is left out with a note, like one that cannot be
// decoded; the topic's own object decides whether the delivery is quarantined.
TEST(PlausibleTimes, AnImplausibleIncludedObjectIsLeftOutNotTheDelivery) {
    Delivery d;
    d.topic = parse_topic("subscription/cancelled");
    d.received_at = kReceived;
    d.body = R"({"subscription":{"id":1,"customer_id":2,"status":"cancelled",)"
             R"("updated_at":"2026-11-29T16:00:00+00:00"},)"
             R"("customer":{"id":2,"created_at":"1970-01-01T00:00:00","updated_at":"2026-11-29T16:00:00"}})";
    std::string reason;
    ASSERT_TRUE(decode_delivery(d, JsonLimits{}, reason)) << reason;
    EXPECT_TRUE(d.payload->subscription.has_value());
    EXPECT_FALSE(d.payload->customer.has_value());
    EXPECT_EQ(d.reason, "included customer ignored: implausible time: customer.created_at 1970-01-01 00:00:00 "
                        "is before 2000-01-01");
    d.topic = parse_topic("customer/updated");
    d.payload.reset();
    EXPECT_FALSE(decode_delivery(d, JsonLimits{}, reason));
    EXPECT_EQ(reason.substr(0, 57), "implausible time in customer/updated payload: customer.cr");
}

TEST(PlausibleTimes, AnUnknownReceiveTimeChecksOnlyTheLowerBound) {
    EXPECT_EQ(implausible_time(subscription_at(*parse_time("9999-01-01")), 0), std::nullopt);
    EXPECT_NE(implausible_time(subscription_at(*parse_time("1999-01-01")), 0), std::nullopt);
}

TEST(PlausibleTimes, DecodingQuarantinesWithTheReasonAsSent) {
    Delivery d;
    d.topic = parse_topic("subscription/updated");
    d.received_at = kReceived;
    d.body = R"({"subscription":{"id":1,"customer_id":2,"status":"active",)"
             R"("updated_at":"9999-01-01T00:00:00+00:00"}})";
    std::string reason;
    EXPECT_FALSE(decode_delivery(d, JsonLimits{}, reason));
    EXPECT_EQ(reason,
              "implausible time in subscription/updated payload: subscription.updated_at "
              "9999-01-01T00:00:00+00:00 is more than a day after the delivery was received "
              "(2026-11-29 17:00:00)");
    EXPECT_FALSE(d.payload.has_value());
}

}  // namespace
}  // namespace churnwatch
