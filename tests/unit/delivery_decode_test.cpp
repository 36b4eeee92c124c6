#include "delivery_decode.h"

#include <gtest/gtest.h>

#include "time_util.h"
#include "topic.h"

namespace churnwatch {
namespace {

const Micros kReceived = *parse_time("2026-11-29T17:00:00Z");

// An active subscription's body, naming `type` at the top level when given.
std::string subscription_body(const std::string& type) {
    std::string named = type.empty() ? "" : R"("type":")" + type + R"(",)";
    return "{" + named + R"("subscription":{"id":1,"customer_id":2,"status":"active",)" +
           R"("updated_at":"2026-11-29T16:00:00+00:00"}})";
}

Delivery delivery(const std::string& topic, TopicSource source, std::string body) {
    Delivery d;
    d.topic = parse_topic(topic);
    d.topic_source = source;
    d.received_at = kReceived;
    d.body = std::move(body);
    return d;
}

// A captured subscription/updated sent again to the subscription/deleted path: the path is
// not signed, the body's "type" is, so the body's topic is the delivery's, and the row says
// what the path claimed.
TEST(DeliveryDecode, TheSignedBodysTypeOutranksThePath) {
    Delivery d = delivery("subscription/deleted", TopicSource::Path,
                          subscription_body("subscription/updated"));
    std::string reason;
    ASSERT_TRUE(decode_delivery(d, JsonLimits{}, reason)) << reason;
    EXPECT_EQ(d.topic->full(), "subscription/updated");
    EXPECT_EQ(d.topic_source, TopicSource::Inferred);
    EXPECT_EQ(d.reason, R"(topic subscription/updated from the signed body's "type", where the )"
                        "path said subscription/deleted");
    ASSERT_TRUE(d.payload->subscription.has_value());
}

TEST(DeliveryDecode, TheSignedBodysTypeOutranksTheHeader) {
    Delivery d = delivery("subscription/cancelled", TopicSource::Header,
                          subscription_body("subscription/updated"));
    std::string reason;
    ASSERT_TRUE(decode_delivery(d, JsonLimits{}, reason)) << reason;
    EXPECT_EQ(d.topic->full(), "subscription/updated");
    EXPECT_EQ(d.reason, R"(topic subscription/updated from the signed body's "type", where the )"
                        "header said subscription/cancelled");
}

// The same topic, no "type", or a "type" that names no usable topic (unknown, or without
// its object in the body): the path stands and nothing is noted.
TEST(DeliveryDecode, ThePathStandsWhenTheBodyNamesNoOtherTopic) {
    for (const std::string& type : {std::string("subscription/deleted"), std::string(),
                                    std::string("subscription/exploded"),
                                    std::string("charge/paid"), std::string("not a topic")}) {
        Delivery d = delivery("subscription/deleted", TopicSource::Path, subscription_body(type));
        std::string reason;
        ASSERT_TRUE(decode_delivery(d, JsonLimits{}, reason)) << type << ": " << reason;
        EXPECT_EQ(d.topic->full(), "subscription/deleted") << type;
        EXPECT_EQ(d.topic_source, TopicSource::Path) << type;
        EXPECT_EQ(d.reason, "") << type;
    }
}

// The note goes with a body that will not decode under its own topic, and beside the note on
// an included object left out.
TEST(DeliveryDecode, TheTopicNoteIsKeptWithOtherReasons) {
    Delivery bad = delivery("subscription/deleted", TopicSource::Path,
                            R"({"type":"subscription/updated","subscription":{"id":"x"}})");
    std::string reason;
    EXPECT_FALSE(decode_delivery(bad, JsonLimits{}, reason));
    EXPECT_EQ(reason.rfind("cannot decode subscription/updated payload: ", 0), 0u) << reason;
    EXPECT_NE(reason.find(R"( (topic subscription/updated from the signed body's "type", where )"
                          "the path said subscription/deleted)"),
              std::string::npos)
        << reason;

    Delivery with_customer = delivery(
        "subscription/deleted", TopicSource::Path,
        R"({"type":"subscription/updated","subscription":{"id":1,"customer_id":2,)"
        R"("status":"active","updated_at":"2026-11-29T16:00:00+00:00"},)"
        R"("customer":{"id":2,"updated_at":"1970-01-01T00:00:00"}})");
    ASSERT_TRUE(decode_delivery(with_customer, JsonLimits{}, reason)) << reason;
    EXPECT_EQ(with_customer.reason.rfind(R"(topic subscription/updated from the signed body's)", 0),
              0u)
        << with_customer.reason;
    EXPECT_NE(with_customer.reason.find("; included customer ignored: "), std::string::npos)
        << with_customer.reason;
}

// With no topic given, the body's type or shape decides, as before.
TEST(DeliveryDecode, WithoutATopicTheBodyDecides) {
    Delivery named = delivery("", TopicSource::Path, subscription_body("subscription/cancelled"));
    named.topic.reset();
    named.topic_source.reset();
    std::string reason;
    ASSERT_TRUE(decode_delivery(named, JsonLimits{}, reason)) << reason;
    EXPECT_EQ(named.topic->full(), "subscription/cancelled");
    EXPECT_EQ(named.topic_source, TopicSource::Inferred);
    EXPECT_EQ(named.reason, "");

    Delivery none = delivery("", TopicSource::Path, R"({"nothing":{}})");
    none.topic.reset();
    EXPECT_FALSE(decode_delivery(none, JsonLimits{}, reason));
    EXPECT_EQ(reason.rfind("no topic: ", 0), 0u) << reason;
}

}  // namespace
}  // namespace churnwatch
