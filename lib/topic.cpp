#include "topic.h"

#include <algorithm>
#include <iterator>

namespace churnwatch {
namespace {

constexpr std::size_t kMaxPartLength = 64;

// Recharge's documented webhook topics, including legacy names it still delivers.
constexpr std::string_view kKnownTopics[] = {
    "subscription/created", "subscription/activated", "subscription/cancelled",
    "subscription/deleted", "subscription/updated", "subscription/skipped",
    "subscription/unskipped", "subscription/paused", "subscription/swapped",

    "charge/created", "charge/paid", "charge/success", "charge/failed",
    "charge/max_retries_reached", "charge/refunded", "charge/upcoming", "charge/updated",
    "charge/deleted",

    "customer/created", "customer/activated", "customer/deactivated", "customer/updated",
    "customer/payment_method_updated", "customer/deleted",

    "order/created", "order/updated", "order/deleted", "order/processed", "order/cancelled",
    "order/upcoming", "order/success",

    "address/created", "address/updated",

    "checkout/created", "checkout/updated", "checkout/completed", "checkout/processed",

    "onetime/created", "onetime/updated", "onetime/deleted",

    "async_batch/processed",
    "recharge/uninstalled",
    "bundle_selection/created", "bundle_selection/updated", "bundle_selection/deleted",
    "plan/created", "plan/updated", "plan/deleted",
    "store/updated",
};

// Top-level keys that name a resource, in the order infer_topic prefers them when a body
// carries several (included_objects): the churn-relevant objects first.
constexpr std::string_view kResourceKeys[] = {
    "subscription", "charge", "order", "customer", "address",
    "checkout", "onetime", "bundle_selection", "plan", "store",
};

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return lower(x) == lower(y);
           });
}

// One side of "resource/action", lowered; nullopt unless 1..64 chars of [a-z0-9_].
std::optional<std::string> parse_part(std::string_view text) {
    if (text.empty() || text.size() > kMaxPartLength) return std::nullopt;
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        const char l = lower(c);
        const bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_';
        if (!ok) return std::nullopt;
        out.push_back(l);
    }
    return out;
}

// The string value of obj[name], or empty when absent or not a string.
std::string_view string_field(const rapidjson::Value& obj, const char* name) {
    const auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
}

std::string infer_action(std::string_view resource, const rapidjson::Value& obj) {
    if (resource == "subscription") {
        return iequals(string_field(obj, "status"), "cancelled") ? "cancelled" : "updated";
    }
    if (resource == "charge") {
        if (iequals(string_field(obj, "error_type"), "CLOSED_MAX_RETRIES_REACHED")) {
            return "max_retries_reached";
        }
        const std::string_view status = string_field(obj, "status");
        if (iequals(status, "success")) return "paid";
        if (iequals(status, "error")) return "failed";
        return "updated";
    }
    if (resource == "customer") {
        return iequals(string_field(obj, "status"), "INACTIVE") ? "deactivated" : "updated";
    }
    return "updated";
}

}  // namespace

std::string_view to_string(TopicSource s) {
    switch (s) {
        case TopicSource::Path: return "path";
        case TopicSource::Header: return "header";
        case TopicSource::Inferred: return "inferred";
    }
    return "unknown";
}

std::optional<Topic> parse_topic(std::string_view text) {
    const std::size_t slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto resource = parse_part(text.substr(0, slash));
    auto action = parse_part(text.substr(slash + 1));  // a second '/' fails the charset check
    if (!resource || !action) return std::nullopt;
    return Topic{std::move(*resource), std::move(*action)};
}

std::optional<std::string_view> known_topic_name(const Topic& t) {
    // Compared piecewise: building "resource/action" would allocate on every request.
    const std::size_t n = t.resource.size() + 1 + t.action.size();
    for (std::string_view k : kKnownTopics) {
        if (k.size() == n && k.substr(0, t.resource.size()) == t.resource &&
            k[t.resource.size()] == '/' && k.substr(t.resource.size() + 1) == t.action)
            return k;
    }
    return std::nullopt;
}

bool is_known_topic(const Topic& t) { return known_topic_name(t).has_value(); }

std::span<const std::string_view> known_topic_names() { return kKnownTopics; }

std::optional<Topic> topic_named_by_body(const rapidjson::Value& root) {
    if (!root.IsObject()) return std::nullopt;
    auto named = parse_topic(string_field(root, "type"));
    if (!named || !is_known_topic(*named)) return std::nullopt;
    const auto it = root.FindMember(rapidjson::StringRef(named->resource.data(), named->resource.size()));
    if (it == root.MemberEnd() || !it->value.IsObject()) return std::nullopt;
    return named;
}

std::optional<Topic> infer_topic(const rapidjson::Value& root) {
    if (!root.IsObject()) return std::nullopt;
    // A body that names its topic: the shape alone cannot tell, say, a 2021-11 deactivation
    // from an update.
    if (auto named = topic_named_by_body(root)) return named;
    for (std::string_view key : kResourceKeys) {
        const auto it = root.FindMember(rapidjson::StringRef(key.data(), key.size()));
        // A key whose value is not an object (null, a string) names nothing to act on.
        if (it == root.MemberEnd() || !it->value.IsObject()) continue;
        return Topic{std::string(key), infer_action(key, it->value)};
    }
    return std::nullopt;
}

}  // namespace churnwatch
