// Fuzz target (b): an authentic body's path into the domain model — bounded JSON parsing,
// topic inference, and decoding for several topics (both API versions are decided by shape),
// then the decoded objects through the churn rules engine.
//
// Input: the raw body. Checked properties: parsing and decoding never crash and always give
// a reason on failure; a decoded payload for a subscription/charge/customer topic carries
// that object; the rules engine gives the same outcome for the same facts in reverse order.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.h"
#include "json.h"
#include "payload.h"
#include "rules.h"
#include "topic.h"

using namespace churnwatch;

namespace {

const Topic kTopics[] = {
    {"subscription", "created"},      {"subscription", "cancelled"},
    {"subscription", "activated"},    {"subscription", "updated"},
    {"charge", "paid"},               {"charge", "max_retries_reached"},
    {"charge", "failed"},             {"customer", "deactivated"},
    {"customer", "activated"},        {"order", "created"},
};

template <typename Fact>
void reverse_facts(std::vector<Fact>& v) { std::reverse(v.begin(), v.end()); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    rapidjson::Document doc;
    std::string error;
    if (!parse_json(body, JsonLimits{64}, doc, error)) {
        FUZZ_CHECK(!error.empty());
        FUZZ_CHECK(doc.IsNull());
        return 0;
    }
    FUZZ_CHECK(error.empty());

    CustomerHistory history;
    int64_t delivery = 0;
    auto consider = [&](const Topic& topic) {
        FUZZ_CHECK(is_known_topic(topic));
        auto decoded = decode_payload(doc, topic);
        if (auto* err = std::get_if<DecodeError>(&decoded)) {
            FUZZ_CHECK(!err->reason.empty());
            return;
        }
        const DecodedPayload& p = std::get<DecodedPayload>(decoded);
        if (topic.resource == "subscription") FUZZ_CHECK(p.subscription.has_value());
        if (topic.resource == "charge") FUZZ_CHECK(p.charge.has_value());
        if (topic.resource == "customer") FUZZ_CHECK(p.customer.has_value());
        if (topic.action == "max_retries_reached") FUZZ_CHECK(p.charge->max_retries_reached);
        // Facts for one customer: the first customer id seen decides.
        ++delivery;
        std::string key = "k" + std::to_string(delivery);
        auto mine = [&](int64_t customer_id) {
            if (history.customer_id == 0) history.customer_id = customer_id;
            return history.customer_id == customer_id;
        };
        // As ChurnStore records them: the topic's own object gets the topic's action, objects
        // that rode along (included_objects) get "included".
        auto action = [&](std::string_view resource) {
            return topic.resource == resource ? topic.action : std::string("included");
        };
        if (p.subscription && mine(p.subscription->customer_id))
            history.subscriptions.push_back({*p.subscription, action("subscription"), delivery, key});
        if (p.charge && mine(p.charge->customer_id))
            history.charges.push_back({*p.charge, action("charge"), delivery, key});
        if (p.customer && mine(p.customer->id))
            history.customer.push_back({*p.customer, action("customer"), delivery, key});
    };

    if (auto inferred = infer_topic(doc)) {
        FUZZ_CHECK(!inferred->resource.empty() && !inferred->action.empty());
        if (is_known_topic(*inferred)) consider(*inferred);
    }
    for (const Topic& t : kTopics) consider(t);

    RulesPolicy policy;
    policy.auto_churn_after_max_retries_days = 30;
    const Micros now = 1767225600LL * kMicrosPerSecond;
    CustomerOutcome forward = evaluate_customer(history, policy, now);
    reverse_facts(history.subscriptions);
    reverse_facts(history.charges);
    reverse_facts(history.customer);
    CustomerOutcome backward = evaluate_customer(history, policy, now);
    FUZZ_CHECK(forward == backward);
    return 0;
}
