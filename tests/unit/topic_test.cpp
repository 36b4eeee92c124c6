#include "topic.h"

#include <string>

#include <gtest/gtest.h>

namespace churnwatch {
namespace {

std::optional<Topic> infer(const char* json) {
    rapidjson::Document doc;
    doc.Parse(json);
    EXPECT_FALSE(doc.HasParseError()) << json;
    return infer_topic(doc);
}

std::string inferred(const char* json) {
    const auto t = infer(json);
    return t ? t->full() : "<none>";
}

TEST(TopicSourceNames, AreStable) {
    EXPECT_EQ(to_string(TopicSource::Path), "path");
    EXPECT_EQ(to_string(TopicSource::Header), "header");
    EXPECT_EQ(to_string(TopicSource::Inferred), "inferred");
}

TEST(TopicFull, JoinsWithSlash) {
    EXPECT_EQ((Topic{"charge", "paid"}).full(), "charge/paid");
}

TEST(ParseTopic, Simple) {
    const auto t = parse_topic("subscription/cancelled");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->resource, "subscription");
    EXPECT_EQ(t->action, "cancelled");
}

TEST(ParseTopic, UnderscoresAndDigits) {
    EXPECT_EQ(parse_topic("charge/max_retries_reached"),
              (Topic{"charge", "max_retries_reached"}));
    EXPECT_EQ(parse_topic("v2_thing/step_3"), (Topic{"v2_thing", "step_3"}));
}

TEST(ParseTopic, LowersCase) {
    EXPECT_EQ(parse_topic("Subscription/CANCELLED"), (Topic{"subscription", "cancelled"}));
    EXPECT_EQ(parse_topic("CHARGE/Max_Retries_Reached"), (Topic{"charge", "max_retries_reached"}));
}

// The ends of each range count: A and Z are lowered, a, z, 0 and 9 are allowed.
TEST(ParseTopic, TheEndsOfEachCharacterRangeAreAllowed) {
    EXPECT_EQ(parse_topic("A/Z"), (Topic{"a", "z"}));
    EXPECT_EQ(parse_topic("az09/za90"), (Topic{"az09", "za90"}));
    EXPECT_EQ(parse_topic("0/9"), (Topic{"0", "9"}));
}

TEST(ParseTopic, PartLengthLimits) {
    const std::string p64(64, 'a');
    const std::string p65(65, 'a');
    EXPECT_TRUE(parse_topic(p64 + "/" + p64).has_value());
    EXPECT_FALSE(parse_topic(p65 + "/x").has_value());
    EXPECT_FALSE(parse_topic("x/" + p65).has_value());
    EXPECT_TRUE(parse_topic("a/b").has_value());
}

TEST(ParseTopic, RejectsMalformed) {
    const char* bad[] = {
        "",
        "/",
        "subscription",
        "subscription/",
        "/cancelled",
        "subscription//cancelled",
        "subscription/cancelled/extra",
        "subscription/cancelled ",
        " subscription/cancelled",
        "subscription\\cancelled",
        "subscription.cancelled",
        "subscription/can-celled",
        "subscription/cancelled\n",
        "subscription/cancellé",
        "sub scription/cancelled",
        "subscription/%63ancelled",
    };
    for (const char* text : bad) EXPECT_FALSE(parse_topic(text).has_value()) << text;
    EXPECT_FALSE(parse_topic(std::string_view("charge/paid\0x", 13)).has_value());
}

TEST(ParseTopic, ViewIsBounded) {
    const std::string buffer = "charge/paidEXTRA";
    EXPECT_EQ(parse_topic(std::string_view(buffer.data(), 11)), (Topic{"charge", "paid"}));
}

TEST(IsKnownTopic, ChurnTopics) {
    const char* known[] = {
        "subscription/created", "subscription/activated", "subscription/cancelled",
        "subscription/deleted", "subscription/updated", "subscription/skipped",
        "subscription/unskipped", "subscription/paused", "subscription/swapped",
        "charge/created", "charge/paid", "charge/success", "charge/failed",
        "charge/max_retries_reached", "charge/refunded", "charge/upcoming", "charge/updated",
        "charge/deleted",
        "customer/created", "customer/activated", "customer/deactivated", "customer/updated",
        "customer/payment_method_updated", "customer/deleted",
    };
    for (const char* text : known) {
        const auto t = parse_topic(text);
        ASSERT_TRUE(t.has_value()) << text;
        EXPECT_TRUE(is_known_topic(*t)) << text;
    }
}

TEST(IsKnownTopic, OtherResources) {
    const char* known[] = {
        "order/created", "order/updated", "order/deleted", "order/processed", "order/cancelled",
        "order/upcoming", "order/success",
        "address/created", "address/updated",
        "checkout/created", "checkout/updated", "checkout/completed", "checkout/processed",
        "onetime/created", "onetime/updated", "onetime/deleted",
        "async_batch/processed", "recharge/uninstalled",
        "bundle_selection/created", "bundle_selection/updated", "bundle_selection/deleted",
        "plan/created", "plan/updated", "plan/deleted",
        "store/updated",
    };
    for (const char* text : known) {
        const auto t = parse_topic(text);
        ASSERT_TRUE(t.has_value()) << text;
        EXPECT_TRUE(is_known_topic(*t)) << text;
    }
}

TEST(IsKnownTopic, Unknown) {
    EXPECT_FALSE(is_known_topic({"subscription", "expired"}));  // no expiry topic exists
    EXPECT_FALSE(is_known_topic({"charge", "cancelled"}));
    EXPECT_FALSE(is_known_topic({"address", "deleted"}));
    EXPECT_FALSE(is_known_topic({"widget", "updated"}));
    EXPECT_FALSE(is_known_topic({"", ""}));
    EXPECT_FALSE(is_known_topic({"subscription/cancelled", ""}));
}

TEST(IsKnownTopic, AfterLoweringParsedInput) {
    EXPECT_TRUE(is_known_topic(*parse_topic("Customer/Deactivated")));
}

TEST(InferTopic, SubscriptionCancelled) {
    EXPECT_EQ(inferred(R"({"subscription":{"id":1,"status":"cancelled"}})"),
              "subscription/cancelled");
    EXPECT_EQ(inferred(R"({"subscription":{"id":1,"status":"CANCELLED"}})"),
              "subscription/cancelled");
}

TEST(InferTopic, SubscriptionOtherwiseUpdated) {
    EXPECT_EQ(inferred(R"({"subscription":{"status":"active"}})"), "subscription/updated");
    EXPECT_EQ(inferred(R"({"subscription":{"status":"EXPIRED"}})"), "subscription/updated");
    EXPECT_EQ(inferred(R"({"subscription":{}})"), "subscription/updated");
    EXPECT_EQ(inferred(R"({"subscription":{"status":5}})"), "subscription/updated");
}

// A status is compared whole: a prefix, a longer word or a trailing NUL is not "cancelled".
TEST(InferTopic, AStatusThatOnlyStartsLikeCancelledIsUpdated) {
    EXPECT_EQ(inferred(R"({"subscription":{"status":"cancel"}})"), "subscription/updated");
    EXPECT_EQ(inferred(R"({"subscription":{"status":"cancelled_soon"}})"), "subscription/updated");
    EXPECT_EQ(inferred(R"({"subscription":{"status":"cancelled\u0000"}})"), "subscription/updated");
    EXPECT_EQ(inferred(R"({"customer":{"status":"INACTIVE_"}})"), "customer/updated");
}

TEST(InferTopic, ChargeMaxRetriesWinsOverStatus) {
    EXPECT_EQ(inferred(R"({"charge":{"status":"error",)"
                       R"("error_type":"CLOSED_MAX_RETRIES_REACHED"}})"),
              "charge/max_retries_reached");
    EXPECT_EQ(inferred(R"({"charge":{"status":"ERROR",)"
                       R"("error_type":"closed_max_retries_reached"}})"),
              "charge/max_retries_reached");
}

TEST(InferTopic, ChargeStatuses) {
    EXPECT_EQ(inferred(R"({"charge":{"status":"success"}})"), "charge/paid");
    EXPECT_EQ(inferred(R"({"charge":{"status":"SUCCESS"}})"), "charge/paid");
    EXPECT_EQ(inferred(R"({"charge":{"status":"error","error_type":"CARD_DECLINED"}})"),
              "charge/failed");
    EXPECT_EQ(inferred(R"({"charge":{"status":"ERROR"}})"), "charge/failed");
    EXPECT_EQ(inferred(R"({"charge":{"status":"queued"}})"), "charge/updated");
    EXPECT_EQ(inferred(R"({"charge":{"error_type":null}})"), "charge/updated");
}

TEST(InferTopic, Customer) {
    EXPECT_EQ(inferred(R"({"customer":{"status":"INACTIVE"}})"), "customer/deactivated");
    EXPECT_EQ(inferred(R"({"customer":{"status":"inactive"}})"), "customer/deactivated");
    EXPECT_EQ(inferred(R"({"customer":{"status":"ACTIVE"}})"), "customer/updated");
    EXPECT_EQ(inferred(R"({"customer":{"subscriptions_active_count":0}})"), "customer/updated");
}

TEST(InferTopic, OtherResourcesAreUpdated) {
    EXPECT_EQ(inferred(R"({"order":{"status":"cancelled"}})"), "order/updated");
    EXPECT_EQ(inferred(R"({"address":{"id":1}})"), "address/updated");
    EXPECT_EQ(inferred(R"({"checkout":{}})"), "checkout/updated");
    EXPECT_EQ(inferred(R"({"onetime":{}})"), "onetime/updated");
}

TEST(InferTopic, TheRemainingResourceKeysAreRecognised) {
    EXPECT_EQ(inferred(R"({"bundle_selection":{"id":1}})"), "bundle_selection/updated");
    EXPECT_EQ(inferred(R"({"plan":{"id":1}})"), "plan/updated");
    EXPECT_EQ(inferred(R"({"store":{"id":1}})"), "store/updated");
}

TEST(InferTopic, PriorityWithIncludedObjects) {
    EXPECT_EQ(inferred(R"({"customer":{"status":"INACTIVE"},"charge":{"status":"success"}})"),
              "charge/paid");
    EXPECT_EQ(inferred(R"({"charge":{},"subscription":{"status":"cancelled"}})"),
              "subscription/cancelled");
    EXPECT_EQ(inferred(R"({"customer":{},"order":{}})"), "order/updated");
    EXPECT_EQ(inferred(R"({"address":{},"customer":{}})"), "customer/updated");
    EXPECT_EQ(inferred(R"({"address":{},"checkout":{}})"), "address/updated");
}

// Past the churn-relevant objects, the order of the resource table still decides, not the
// order of the keys in the body.
TEST(InferTopic, PriorityAmongTheOtherResourcesFollowsTheTable) {
    EXPECT_EQ(inferred(R"({"onetime":{},"checkout":{}})"), "checkout/updated");
    EXPECT_EQ(inferred(R"({"store":{},"plan":{},"bundle_selection":{},"onetime":{}})"), "onetime/updated");
    EXPECT_EQ(inferred(R"({"store":{},"plan":{},"bundle_selection":{}})"), "bundle_selection/updated");
    EXPECT_EQ(inferred(R"({"store":{},"plan":{}})"), "plan/updated");
}

// topic_named_by_body is public (delivery decoding calls it on its own): a root that is not an
// object names no topic, rather than failing on a lookup.
TEST(TopicNamedByBody, ARootThatIsNotAnObjectNamesNothing) {
    for (const char* json : {R"([{"type":"charge/paid","charge":{}}])", R"("charge/paid")", "null", "7"}) {
        rapidjson::Document doc;
        doc.Parse(json);
        ASSERT_FALSE(doc.HasParseError()) << json;
        EXPECT_FALSE(topic_named_by_body(doc).has_value()) << json;
    }
}

// A body that names its topic in a top-level "type" (Recharge's published test vector does)
// is that topic — the shape alone cannot tell a 2021-11 deactivation from an update — when
// it is a known topic and the body carries the object it is about; else the shape decides.
TEST(InferTopic, ATopLevelTypeNamingAKnownTopicOfTheBodysObjectDecides) {
    EXPECT_EQ(inferred(R"({"type":"customer/deactivated","customer":{"id":1}})"), "customer/deactivated");
    EXPECT_EQ(inferred(R"({"type":"Charge/Max_Retries_Reached","charge":{"status":"error"}})"),
              "charge/max_retries_reached");
    EXPECT_EQ(inferred(R"({"id":734031438,"type":"order/created","shop_id":438291,"order":{"id":1}})"),
              "order/created");
    EXPECT_EQ(inferred(R"({"type":"subscription/cancelled","charge":{"status":"success"}})"), "charge/paid");
    EXPECT_EQ(inferred(R"({"type":"subscription/exploded","subscription":{}})"), "subscription/updated");
    EXPECT_EQ(inferred(R"({"type":"subscription/cancelled","subscription":null,"charge":{}})"), "charge/updated");
    EXPECT_EQ(inferred(R"({"type":7,"customer":{"status":"INACTIVE"}})"), "customer/deactivated");
}

TEST(InferTopic, KeyThatIsNotAnObjectIsSkipped) {
    EXPECT_EQ(inferred(R"({"subscription":null,"charge":{"status":"error"}})"), "charge/failed");
    EXPECT_EQ(inferred(R"({"subscription":"cancelled"})"), "<none>");
}

TEST(InferTopic, NothingToInferFrom) {
    EXPECT_EQ(inferred(R"({})"), "<none>");
    EXPECT_EQ(inferred(R"({"id":1,"type":"x"})"), "<none>");
    EXPECT_EQ(inferred(R"({"Subscription":{}})"), "<none>");  // keys are case-sensitive
    EXPECT_EQ(inferred(R"([{"subscription":{}}])"), "<none>");
    EXPECT_EQ(inferred(R"("subscription")"), "<none>");
    EXPECT_EQ(inferred("null"), "<none>");
}

TEST(InferTopic, InferredTopicsAreKnown) {
    const char* bodies[] = {
        R"({"subscription":{"status":"cancelled"}})",
        R"({"subscription":{}})",
        R"({"charge":{"error_type":"CLOSED_MAX_RETRIES_REACHED"}})",
        R"({"charge":{"status":"success"}})",
        R"({"charge":{"status":"error"}})",
        R"({"charge":{}})",
        R"({"customer":{"status":"INACTIVE"}})",
        R"({"customer":{}})",
        R"({"order":{}})",
        R"({"address":{}})",
    };
    for (const char* body : bodies) {
        const auto t = infer(body);
        ASSERT_TRUE(t.has_value()) << body;
        EXPECT_TRUE(is_known_topic(*t)) << t->full();
    }
}

TEST(Topic, KnownTopicNameIsTheStaticSpelling) {
    EXPECT_EQ(known_topic_name({"subscription", "cancelled"}), "subscription/cancelled");
    EXPECT_EQ(known_topic_name({"charge", "success"}), "charge/success");  // legacy name
    // Compared piece by piece: the split must fall exactly at the slash.
    EXPECT_FALSE(known_topic_name({"subscription/cancel", "led"}));
    // Of the right total length, split one character early: the slash itself must be checked.
    EXPECT_FALSE(known_topic_name({"subscriptio", "/cancelled"}));
    EXPECT_FALSE(known_topic_name({"charg", "/paid"}));
    EXPECT_FALSE(known_topic_name({"subscription", "cancelle"}));
    EXPECT_FALSE(known_topic_name({"subscription", "cancelledx"}));
    EXPECT_FALSE(known_topic_name({"", ""}));
}

}  // namespace
}  // namespace churnwatch
