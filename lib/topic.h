// Webhook topics ("subscription/cancelled"): parsing, knowledge of Recharge's topic list,
// and inference from a payload when neither the path nor a header names one.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace churnwatch {

enum class TopicSource { Path, Header, Inferred };
std::string_view to_string(TopicSource s);  // "path" "header" "inferred"

struct Topic {
    std::string resource;  // "subscription"
    std::string action;    // "cancelled"
    std::string full() const { return resource + "/" + action; }
    bool operator==(const Topic&) const = default;
};

// "resource/action" with each part 1..64 chars of [a-z0-9_]; case-insensitive input is
// lowered. Anything else → nullopt.
std::optional<Topic> parse_topic(std::string_view text);

// True for topics Recharge documents (subscription/*, charge/*, customer/*, order/*,
// address/*, checkout/*, onetime/*, …). "charge/success" (legacy) is known.
bool is_known_topic(const Topic& t);
// The same topic's "resource/action" in static storage, or nullopt when not known.
std::optional<std::string_view> known_topic_name(const Topic& t);
// Every known topic's name.
std::span<const std::string_view> known_topic_names();

// The topic a body names in its top-level "type" ({"type":"subscription/cancelled",
// "subscription":{…}}, as Recharge's published test vector does), when it is a known topic
// and the body carries that topic's object; else nullopt. Unlike a path or a header, it is
// covered by the signature.
std::optional<Topic> topic_named_by_body(const rapidjson::Value& root);

// Infers a topic from a parsed body: the resource from the top-level key
// (subscription, charge, customer, order, address, …; when several keys are present, as
// with included_objects, the first of subscription, charge, order, customer, address),
// the action from fields:
//   subscription: status cancelled/CANCELLED → "cancelled"; otherwise "updated"
//   charge: error_type CLOSED_MAX_RETRIES_REACHED → "max_retries_reached";
//           status success → "paid"; status error → "failed"; otherwise "updated"
//   customer: status INACTIVE → "deactivated"; otherwise "updated"
//   anything else: "updated"
// Before all that: a top-level "type" naming a known topic ("customer/deactivated") is that
// topic when the body has that resource's object.
// nullopt when the root is not an object or has no known resource key.
std::optional<Topic> infer_topic(const rapidjson::Value& root);

}  // namespace churnwatch
