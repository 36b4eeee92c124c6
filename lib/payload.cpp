#include "payload.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <string_view>
#include <unordered_set>

namespace churnwatch {
namespace {

using rapidjson::Value;

// ---------------------------------------------------------------------------------------------
// Typed access. Every accessor checks the JSON type before reading: RapidJSON's getters
// assert (or misbehave) on the wrong type, and this code sees arbitrary input.

std::string_view view_of(const Value& v) {
    return {v.GetString(), v.GetStringLength()};
}

// A JSON string as stored text. A `\u0000` escape decodes to a NUL byte, which SQLite keeps
// but its text functions, the sqlite3 shell and most client libraries' C strings end at: an
// analyst would see "a" for "a\u0000b". Each NUL becomes U+FFFD, visibly not the sender's text.
std::string text_of(const Value& v) {
    const std::string_view s = view_of(v);
    if (s.find('\0') == std::string_view::npos) return std::string(s);
    std::string out;
    out.reserve(s.size() + 8);
    for (char c : s) {
        if (c == '\0') {
            out += "\xEF\xBF\xBD";
        } else {
            out += c;
        }
    }
    return out;
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// obj[name] when obj is an object and the member exists and is not null. Recharge sends
// null for "not set", so null and absent mean the same here.
const Value* find(const Value& obj, std::string_view name) {
    if (!obj.IsObject()) return nullptr;
    const auto it = obj.FindMember(rapidjson::StringRef(name.data(), name.size()));
    if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
}

const Value* find_object(const Value& obj, std::string_view name) {
    const Value* v = find(obj, name);
    return v != nullptr && v->IsObject() ? v : nullptr;
}

bool has_key(const Value& obj, std::string_view name) {
    return obj.IsObject() &&
           obj.FindMember(rapidjson::StringRef(name.data(), name.size())) != obj.MemberEnd();
}

// Doubles that hold whole numbers are accepted only below 2^53, where every whole number is
// a double of its own, so no id is silently rounded. 2^53 itself is refused: 2^53 + 1 sent as
// a float parses to it. (A JSON integer is read as an int64: exact up to INT64_MAX.)
constexpr double kFirstAmbiguousDouble = 9007199254740992.0;  // 2^53

std::optional<int64_t> parse_int_text(std::string_view s) {
    int64_t out = 0;
    const char* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, out);
    if (s.empty() || ec != std::errc() || ptr != end) return std::nullopt;
    return out;
}

// A JSON integer, an integral double, or a numeric string ("31001"): ids and counts arrive
// in any of these depending on API version and field.
std::optional<int64_t> as_int(const Value& v) {
    if (v.IsInt64()) return v.GetInt64();
    if (v.IsDouble()) {
        const double d = v.GetDouble();
        if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < kFirstAmbiguousDouble) {
            return static_cast<int64_t>(d);
        }
        return std::nullopt;
    }
    if (v.IsString()) return parse_int_text(view_of(v));
    return std::nullopt;  // includes uint64 values beyond int64
}

std::optional<int64_t> as_count(const Value& v) {
    const auto n = as_int(v);
    if (!n || *n < 0) return std::nullopt;
    return n;
}

std::optional<std::string> as_text(const Value& v) {
    if (!v.IsString()) return std::nullopt;
    return text_of(v);
}

// Platform ids: 2021-01 sends shopify_customer_id as a string or a number.
std::optional<std::string> as_text_or_integer(const Value& v) {
    if (v.IsString()) return text_of(v);
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    if (v.IsUint64()) return std::to_string(v.GetUint64());
    return std::nullopt;
}

// Money: 2021-11 sends "24.00", 2021-01 sends 39.0. Text is kept as sent; a number becomes
// the same two-decimal text so both versions store alike.
std::optional<std::string> as_decimal(const Value& v) {
    if (v.IsString()) return text_of(v);
    if (v.IsInt64()) return std::to_string(v.GetInt64()) + ".00";
    if (v.IsUint64()) return std::to_string(v.GetUint64()) + ".00";
    if (v.IsDouble()) {
        char buf[400];  // the widest finite double prints in ~310 characters with "%.2f"
        const int n = std::snprintf(buf, sizeof buf, "%.2f", v.GetDouble());
        if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) return std::nullopt;
        return std::string(buf, static_cast<std::size_t>(n));
    }
    return std::nullopt;
}

// The next charge's date: 2021-11 sends "2026-12-01", 2021-01 "2026-12-01T00:00:00" (the
// store's midnight, no zone). Both store as the date, so the column compares and sorts as
// one; text of another shape is kept as sent.
std::optional<std::string> as_charge_date(const Value& v) {
    auto text = as_text(v);
    if (!text || text->size() < 10) return text;
    const std::string_view date(text->data(), 10);
    for (std::size_t i = 0; i < 10; ++i) {
        const bool dash = i == 4 || i == 7;
        if (dash ? date[i] != '-' : !std::isdigit(static_cast<unsigned char>(date[i]))) return text;
    }
    if (text->size() > 10 && (*text)[10] != 'T' && (*text)[10] != ' ') return text;
    return std::string(date);
}

// Flags: real booleans (2021-11), 0/1 (2021-01), and the occasional "true"/"1" string.
std::optional<bool> as_flag(const Value& v) {
    if (v.IsBool()) return v.GetBool();
    if (v.IsInt64()) {
        if (v.GetInt64() == 0 || v.GetInt64() == 1) return v.GetInt64() == 1;
        return std::nullopt;
    }
    if (v.IsString()) {
        const std::string_view s = view_of(v);
        if (iequals(s, "true") || s == "1") return true;
        if (iequals(s, "false") || s == "0") return false;
    }
    return std::nullopt;
}

std::optional<Micros> as_time(const Value& v) {
    if (!v.IsString()) return std::nullopt;
    return parse_time(view_of(v));
}

// The first of names (current name first, deprecated alias after) that is present and
// converts; a wrong-typed field is skipped, never an error, since it is optional.
template <typename Convert>
auto first_of(const Value& obj, std::initializer_list<std::string_view> names, Convert convert)
    -> decltype(convert(obj)) {
    for (std::string_view name : names) {
        if (const Value* v = find(obj, name)) {
            if (auto out = convert(*v)) return out;
        }
    }
    return std::nullopt;
}

template <typename Convert>
auto field(const Value& obj, std::string_view name, Convert convert) {
    return first_of(obj, {name}, convert);
}

// ---------------------------------------------------------------------------------------------
// Required fields. Reasons name the field so a rejected delivery can be diagnosed from logs.

std::optional<DecodeError> require_id(const Value* const* candidates, std::size_t count,
                                      std::string_view label, int64_t& out) {
    bool saw_non_positive = false;
    for (std::size_t i = 0; i < count; ++i) {
        if (candidates[i] == nullptr) continue;
        const auto id = as_int(*candidates[i]);
        if (id && *id > 0) {
            out = *id;
            return std::nullopt;
        }
        if (id) saw_non_positive = true;
    }
    const char* why =
        saw_non_positive ? " is not a positive integer" : " missing or not an integer";
    return DecodeError{std::string(label) + why};
}

std::optional<DecodeError> require_id(const Value& obj, std::string_view name,
                                      std::string_view label, int64_t& out) {
    const Value* candidates[] = {find(obj, name)};
    return require_id(candidates, 1, label, out);
}

std::optional<DecodeError> require_updated_at(const Value& obj, std::string_view resource,
                                              Micros& out, std::string& raw) {
    const Value* v = find(obj, "updated_at");
    const auto t = v != nullptr ? as_time(*v) : std::nullopt;
    if (!t) return DecodeError{std::string(resource) + ".updated_at missing or not a timestamp"};
    out = *t;
    raw = std::string(view_of(*v));
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Status words. Both versions use the same words, 2021-01 in upper case.

SubscriptionStatus subscription_status(std::string_view s) {
    if (iequals(s, "active")) return SubscriptionStatus::Active;
    if (iequals(s, "cancelled")) return SubscriptionStatus::Cancelled;
    if (iequals(s, "expired")) return SubscriptionStatus::Expired;
    if (iequals(s, "onetime")) return SubscriptionStatus::Onetime;
    return SubscriptionStatus::Unknown;
}

ChargeStatus charge_status(std::string_view s) {
    struct Entry {
        std::string_view word;
        ChargeStatus status;
    };
    static constexpr Entry kEntries[] = {
        {"success", ChargeStatus::Success},
        {"error", ChargeStatus::Error},
        {"queued", ChargeStatus::Queued},
        {"skipped", ChargeStatus::Skipped},
        {"refunded", ChargeStatus::Refunded},
        {"partially_refunded", ChargeStatus::PartiallyRefunded},
        {"pending_manual_payment", ChargeStatus::PendingManualPayment},
        {"pending", ChargeStatus::Pending},
    };
    for (const Entry& e : kEntries) {
        if (iequals(s, e.word)) return e.status;
    }
    return ChargeStatus::Unknown;
}

CustomerStatus customer_status(std::string_view s) {
    if (iequals(s, "active")) return CustomerStatus::Active;
    if (iequals(s, "inactive")) return CustomerStatus::Inactive;
    return CustomerStatus::Unknown;
}

// ---------------------------------------------------------------------------------------------
// Version detection: each shape signal is one vote; the majority wins, a tie is Unknown.

struct VersionVotes {
    int v2021_01 = 0;
    int v2021_11 = 0;

    void vote(ApiVersion v) { (v == ApiVersion::V2021_01 ? v2021_01 : v2021_11) += 1; }
    void vote_if(bool signal, ApiVersion v) {
        if (signal) vote(v);
    }
    ApiVersion result() const {
        if (v2021_01 > v2021_11) return ApiVersion::V2021_01;
        if (v2021_11 > v2021_01) return ApiVersion::V2021_11;
        return ApiVersion::Unknown;
    }
};

// "CANCELLED" is 2021-01, "cancelled" 2021-11; mixed case or no letters says nothing.
void vote_status_case(const Value& obj, VersionVotes& votes) {
    const Value* status = find(obj, "status");
    if (status == nullptr || !status->IsString()) return;
    bool upper = false;
    bool lower_seen = false;
    for (char c : view_of(*status)) {
        upper |= c >= 'A' && c <= 'Z';
        lower_seen |= c >= 'a' && c <= 'z';
    }
    if (upper != lower_seen) votes.vote(upper ? ApiVersion::V2021_01 : ApiVersion::V2021_11);
}

void vote_subscription(const Value& obj, VersionVotes& votes) {
    vote_status_case(obj, votes);
}

void vote_charge(const Value& obj, VersionVotes& votes) {
    vote_status_case(obj, votes);
    votes.vote_if(has_key(obj, "customer_id"), ApiVersion::V2021_01);
    votes.vote_if(has_key(obj, "number_times_tried"), ApiVersion::V2021_01);
    votes.vote_if(find_object(obj, "customer") != nullptr, ApiVersion::V2021_11);
    votes.vote_if(has_key(obj, "charge_attempts"), ApiVersion::V2021_11);
}

void vote_customer(const Value& obj, VersionVotes& votes) {
    vote_status_case(obj, votes);
    votes.vote_if(has_key(obj, "number_active_subscriptions"), ApiVersion::V2021_01);
    votes.vote_if(has_key(obj, "shopify_customer_id"), ApiVersion::V2021_01);
    votes.vote_if(has_key(obj, "subscriptions_active_count"), ApiVersion::V2021_11);
    votes.vote_if(find_object(obj, "external_customer_id") != nullptr, ApiVersion::V2021_11);
}

// ---------------------------------------------------------------------------------------------
// Objects.

std::optional<DecodeError> decode_subscription(const Value& obj, Subscription& s) {
    if (auto err = require_id(obj, "id", "subscription.id", s.id)) return err;
    if (auto err = require_id(obj, "customer_id", "subscription.customer_id", s.customer_id)) {
        return err;
    }
    if (auto err = require_updated_at(obj, "subscription", s.updated_at, s.updated_at_raw)) {
        return err;
    }
    s.email = field(obj, "email", as_text);
    if (auto status = field(obj, "status", as_text)) {
        s.status = subscription_status(*status);
        s.status_raw = std::move(*status);
    }
    s.cancelled_at = field(obj, "cancelled_at", as_time);
    s.cancellation_reason = field(obj, "cancellation_reason", as_text);
    s.expire_after_charges = field(obj, "expire_after_specific_number_of_charges", as_count);
    s.max_retries_reached = field(obj, "max_retries_reached", as_flag).value_or(false);
    s.next_charge_scheduled_at = field(obj, "next_charge_scheduled_at", as_charge_date);
    s.price = field(obj, "price", as_decimal);
    s.quantity = field(obj, "quantity", as_count).value_or(0);
    s.product_title = first_of(obj, {"product_title", "title"}, as_text);
    s.created_at = field(obj, "created_at", as_time);
    return std::nullopt;
}

// 2021-01 names the subscription directly; 2021-11 names a "purchase item" and its type.
std::optional<int64_t> line_item_subscription_id(const Value& item) {
    if (auto id = field(item, "subscription_id", as_int); id && *id > 0) return id;
    const Value* type = find(item, "purchase_item_type");
    if (type == nullptr || !type->IsString() || !iequals(view_of(*type), "subscription")) {
        return std::nullopt;
    }
    if (auto id = field(item, "purchase_item_id", as_int); id && *id > 0) return id;
    return std::nullopt;
}

std::vector<int64_t> charge_subscription_ids(const Value& charge) {
    std::vector<int64_t> ids;
    const Value* items = find(charge, "line_items");
    if (items == nullptr || !items->IsArray()) return ids;
    std::unordered_set<int64_t> seen;  // a set: a fuzzed body may carry huge item lists
    for (const Value& item : items->GetArray()) {
        const auto id = line_item_subscription_id(item);
        if (id && seen.insert(*id).second) ids.push_back(*id);
    }
    return ids;
}

// shopify_customer_id (2021-01) or external_customer_id.ecommerce (2021-11).
std::optional<std::string> customer_external_id(const Value& obj) {
    if (auto id = field(obj, "shopify_customer_id", as_text_or_integer)) return id;
    const Value* external = find(obj, "external_customer_id");
    if (external == nullptr) return std::nullopt;
    if (external->IsObject()) return field(*external, "ecommerce", as_text_or_integer);
    return as_text_or_integer(*external);
}

// The billing address: a 2021-01 customer flattens it into billing_* fields; 2021-11
// nests it (billing_address: country_code, province, zip), as charges of either version do
// (2021-01's charge address names the country: country). For a Customer or a Charge.
template <class Object>
void decode_billing(const Value& obj, Object& c) {
    c.billing_country = field(obj, "billing_country", as_text);
    c.billing_province = field(obj, "billing_province", as_text);
    c.billing_zip = field(obj, "billing_zip", as_text);
    const Value* address = find_object(obj, "billing_address");
    if (address == nullptr) return;
    if (!c.billing_country) {
        c.billing_country = first_of(*address, {"country_code", "country"}, as_text);
    }
    if (!c.billing_province) c.billing_province = field(*address, "province", as_text);
    if (!c.billing_zip) c.billing_zip = field(*address, "zip", as_text);
}

std::optional<DecodeError> decode_charge(const Value& obj, bool topic_max_retries, Charge& c) {
    if (auto err = require_id(obj, "id", "charge.id", c.id)) return err;
    // 2021-01: top-level customer_id; 2021-11: nested customer object.
    const Value* nested_customer = find_object(obj, "customer");
    const Value* customer_ids[] = {
        find(obj, "customer_id"),
        nested_customer != nullptr ? find(*nested_customer, "id") : nullptr,
    };
    if (auto err = require_id(customer_ids, 2, "charge.customer_id (or charge.customer.id)",
                              c.customer_id)) {
        return err;
    }
    if (auto err = require_updated_at(obj, "charge", c.updated_at, c.updated_at_raw)) return err;

    c.email = field(obj, "email", as_text);
    if (!c.email && nested_customer != nullptr) c.email = field(*nested_customer, "email", as_text);
    // 2021-11: customer.external_customer_id.ecommerce; a 2021-01 charge may carry
    // shopify_customer_id at its top level.
    c.external_customer_id = customer_external_id(obj);
    if (!c.external_customer_id && nested_customer != nullptr)
        c.external_customer_id = customer_external_id(*nested_customer);
    decode_billing(obj, c);
    if (auto status = field(obj, "status", as_text)) {
        c.status = charge_status(*status);
        c.status_raw = std::move(*status);
    }
    c.error = field(obj, "error", as_text);
    c.error_type = field(obj, "error_type", as_text);
    c.attempts = first_of(obj, {"number_times_tried", "charge_attempts"}, as_count);
    c.max_retries_reached =
        topic_max_retries ||
        (c.error_type && iequals(*c.error_type, "CLOSED_MAX_RETRIES_REACHED"));
    c.subscription_ids = charge_subscription_ids(obj);
    c.total_price = field(obj, "total_price", as_decimal);
    c.created_at = field(obj, "created_at", as_time);
    c.processed_at = field(obj, "processed_at", as_time);
    return std::nullopt;
}


std::optional<DecodeError> decode_customer(const Value& obj, Customer& c) {
    if (auto err = require_id(obj, "id", "customer.id", c.id)) return err;
    if (auto err = require_updated_at(obj, "customer", c.updated_at, c.updated_at_raw)) return err;
    c.email = field(obj, "email", as_text);
    c.external_customer_id = customer_external_id(obj);
    if (auto status = field(obj, "status", as_text)) c.status = customer_status(*status);
    c.active_subscriptions =
        first_of(obj, {"number_active_subscriptions", "subscriptions_active_count"}, as_count);
    c.total_subscriptions =
        first_of(obj, {"number_subscriptions", "subscriptions_total_count"}, as_count);
    decode_billing(obj, c);
    c.has_valid_payment_method = field(obj, "has_valid_payment_method", as_flag);
    c.payment_method_in_dunning =
        first_of(obj, {"has_payment_method_in_dunning", "has_card_error_in_dunning"}, as_flag);
    c.created_at = field(obj, "created_at", as_time);
    return std::nullopt;
}

bool is_decoded_resource(std::string_view resource) {
    return resource == "subscription" || resource == "charge" || resource == "customer";
}

// Decodes root[key] into slot when it is an object. Absent or non-object extra keys are
// skipped; the caller has already checked that the topic's own key is an object.
template <typename T, typename DecodeFn>
std::optional<DecodeError> decode_slot(const Value& root, std::string_view key,
                                       std::optional<T>& slot, DecodeFn decode) {
    const Value* obj = find_object(root, key);
    if (obj == nullptr) return std::nullopt;
    T value;
    if (auto err = decode(*obj, value)) return err;
    slot = std::move(value);
    return std::nullopt;
}

}  // namespace

void note_ignored(DecodedPayload& p, std::string_view resource, const std::string& why) {
    if (!p.ignored.empty()) p.ignored += "; ";
    p.ignored += "included " + std::string(resource) + " ignored: " + why;
}

std::variant<DecodedPayload, DecodeError> decode_payload(const rapidjson::Value& root,
                                                         const Topic& topic) {
    if (!root.IsObject()) return DecodeError{"payload root is not an object"};
    if (!is_decoded_resource(topic.resource)) return DecodedPayload{};
    if (find_object(root, topic.resource) == nullptr) {
        return DecodeError{"topic " + topic.full() + " but payload has no \"" + topic.resource +
                           "\" object"};
    }

    const bool topic_max_retries = topic.resource == "charge" &&
                                   topic.action == "max_retries_reached";
    auto charge_fn = [&](const Value& obj, Charge& c) {
        return decode_charge(obj, topic_max_retries, c);
    };
    DecodedPayload out;
    auto decode_key = [&](std::string_view key) -> std::optional<DecodeError> {
        if (key == "subscription") {
            return decode_slot(root, key, out.subscription, decode_subscription);
        }
        if (key == "charge") return decode_slot(root, key, out.charge, charge_fn);
        return decode_slot(root, key, out.customer, decode_customer);
    };
    // The topic's own object must decode; an included one that does not (a short customer
    // record without updated_at, say) is left out, saying why, rather than costing the
    // delivery its own facts.
    if (auto err = decode_key(topic.resource)) return *err;
    for (std::string_view key : {"subscription", "charge", "customer"}) {
        if (key == topic.resource) continue;
        if (auto err = decode_key(key)) note_ignored(out, key, err->reason);
    }

    VersionVotes votes;
    if (const Value* obj = find_object(root, "subscription")) vote_subscription(*obj, votes);
    if (const Value* obj = find_object(root, "charge")) vote_charge(*obj, votes);
    if (const Value* obj = find_object(root, "customer")) vote_customer(*obj, votes);
    out.version = votes.result();
    return out;
}

}  // namespace churnwatch
