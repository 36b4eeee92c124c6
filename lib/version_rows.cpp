#include "version_rows.h"

#include <charconv>
#include <stdexcept>
#include <string_view>

#include "time_util.h"

namespace churnwatch {

namespace {

SubscriptionStatus subscription_status(std::string_view s) {
    if (s == "active") return SubscriptionStatus::Active;
    if (s == "cancelled") return SubscriptionStatus::Cancelled;
    if (s == "expired") return SubscriptionStatus::Expired;
    if (s == "onetime") return SubscriptionStatus::Onetime;
    return SubscriptionStatus::Unknown;
}

constexpr std::pair<ChargeStatus, std::string_view> kChargeStatusNames[] = {
    {ChargeStatus::Success, "success"},
    {ChargeStatus::Error, "error"},
    {ChargeStatus::Queued, "queued"},
    {ChargeStatus::Skipped, "skipped"},
    {ChargeStatus::Refunded, "refunded"},
    {ChargeStatus::PartiallyRefunded, "partially_refunded"},
    {ChargeStatus::PendingManualPayment, "pending_manual_payment"},
    {ChargeStatus::Pending, "pending"},
};

ChargeStatus charge_status(std::string_view s) {
    for (const auto& [st, name] : kChargeStatusNames)
        if (name == s) return st;
    return ChargeStatus::Unknown;
}

std::string_view status_name(CustomerStatus s) {
    switch (s) {
        case CustomerStatus::Active: return "active";
        case CustomerStatus::Inactive: return "inactive";
        case CustomerStatus::Unknown: break;
    }
    return "unknown";
}

CustomerStatus customer_status(std::string_view s) {
    if (s == "active") return CustomerStatus::Active;
    if (s == "inactive") return CustomerStatus::Inactive;
    return CustomerStatus::Unknown;
}

// join_ids' text back to ids, without a stringstream per charge fact (each constructed a
// stream and its locale: visible in the projection's profile). Throws on anything else.
std::vector<int64_t> split_ids(std::string_view s) {
    std::vector<int64_t> out;
    while (!s.empty()) {
        std::size_t comma = s.find(',');
        std::string_view part = s.substr(0, comma);
        if (!part.empty()) {
            int64_t id = 0;
            auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), id);
            if (ec != std::errc() || end != part.data() + part.size())
                throw std::invalid_argument("not a list of ids: " + std::string(s));
            out.push_back(id);
        }
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

std::optional<bool> opt_bool(const sql::Value& v) {
    if (auto i = v.as_opt_int()) return *i != 0;
    return std::nullopt;
}

}  // namespace

std::string_view status_name(SubscriptionStatus s) {
    switch (s) {
        case SubscriptionStatus::Active: return "active";
        case SubscriptionStatus::Cancelled: return "cancelled";
        case SubscriptionStatus::Expired: return "expired";
        case SubscriptionStatus::Onetime: return "onetime";
        case SubscriptionStatus::Unknown: break;
    }
    return "unknown";
}

std::string_view status_name(ChargeStatus s) {
    for (const auto& [st, name] : kChargeStatusNames)
        if (st == s) return name;
    return "unknown";
}

std::string join_ids(const std::vector<int64_t>& ids) {
    std::string out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(ids[i]);
    }
    return out;
}

void subscription_version_row(RowWriter& w, int64_t delivery_id, std::string_view order_key,
                              std::string_view action, const Subscription& s) {
    w.add(s.id).add(s.customer_id).add(s.updated_at).add(order_key);
    w.add(delivery_id).add(action).add(status_name(s.status));
    w.add(s.status_raw).add(s.email).add(s.cancelled_at);
    w.add(s.cancellation_reason).add(s.expire_after_charges);
    w.add(s.max_retries_reached).add(s.next_charge_scheduled_at).add(s.price);
    w.add(s.quantity).add(s.product_title).add(s.created_at);
}

void charge_version_row(RowWriter& w, int64_t delivery_id, std::string_view order_key,
                        std::string_view action, const Charge& c) {
    w.add(c.id).add(c.customer_id).add(c.updated_at).add(order_key);
    w.add(delivery_id).add(action).add(status_name(c.status));
    w.add(c.status_raw).add(c.email).add(c.error).add(c.error_type);
    w.add(c.attempts).add(c.max_retries_reached).add(join_ids(c.subscription_ids));
    w.add(c.total_price).add(c.created_at).add(c.processed_at);
    w.add(c.external_customer_id).add(c.billing_country).add(c.billing_province);
    w.add(c.billing_zip);
}

void customer_version_row(RowWriter& w, int64_t delivery_id, std::string_view order_key,
                          std::string_view action, const Customer& c) {
    w.add(c.id).add(c.updated_at).add(order_key).add(delivery_id);
    w.add(action).add(status_name(c.status)).add(c.email);
    w.add(c.external_customer_id).add(c.active_subscriptions);
    w.add(c.total_subscriptions).add(c.billing_country).add(c.billing_province);
    w.add(c.billing_zip).add(c.has_valid_payment_method);
    w.add(c.payment_method_in_dunning).add(c.created_at);
}

SubscriptionFact subscription_fact(const sql::Value* r) {
    SubscriptionFact f;
    Subscription& s = f.sub;
    s.id = r[0].as_int();
    s.customer_id = r[1].as_int();
    s.updated_at = r[2].as_int();
    s.updated_at_raw = format_time(s.updated_at);
    f.order_key = r[3].as_text();
    f.delivery_id = r[4].as_int();
    f.action = r[5].as_text();
    s.status = subscription_status(r[6].as_text());
    s.status_raw = r[7].as_text();
    s.email = r[8].as_opt_text();
    s.cancelled_at = r[9].as_opt_int();
    s.cancellation_reason = r[10].as_opt_text();
    s.expire_after_charges = r[11].as_opt_int();
    s.max_retries_reached = r[12].as_int() != 0;
    s.next_charge_scheduled_at = r[13].as_opt_text();
    s.price = r[14].as_opt_text();
    s.quantity = r[15].as_int();
    s.product_title = r[16].as_opt_text();
    s.created_at = r[17].as_opt_int();
    return f;
}

ChargeFact charge_fact(const sql::Value* r) {
    ChargeFact f;
    Charge& c = f.charge;
    c.id = r[0].as_int();
    c.customer_id = r[1].as_int();
    c.updated_at = r[2].as_int();
    c.updated_at_raw = format_time(c.updated_at);
    f.order_key = r[3].as_text();
    f.delivery_id = r[4].as_int();
    f.action = r[5].as_text();
    c.status = charge_status(r[6].as_text());
    c.status_raw = r[7].as_text();
    c.email = r[8].as_opt_text();
    c.error = r[9].as_opt_text();
    c.error_type = r[10].as_opt_text();
    c.attempts = r[11].as_opt_int();
    c.max_retries_reached = r[12].as_int() != 0;
    c.subscription_ids = split_ids(r[13].as_text());
    c.total_price = r[14].as_opt_text();
    c.created_at = r[15].as_opt_int();
    c.processed_at = r[16].as_opt_int();
    c.external_customer_id = r[17].as_opt_text();
    c.billing_country = r[18].as_opt_text();
    c.billing_province = r[19].as_opt_text();
    c.billing_zip = r[20].as_opt_text();
    return f;
}

CustomerFact customer_fact(const sql::Value* r) {
    CustomerFact f;
    Customer& c = f.customer;
    c.id = r[0].as_int();
    c.updated_at = r[1].as_int();
    c.updated_at_raw = format_time(c.updated_at);
    f.order_key = r[2].as_text();
    f.delivery_id = r[3].as_int();
    f.action = r[4].as_text();
    c.status = customer_status(r[5].as_text());
    c.email = r[6].as_opt_text();
    c.external_customer_id = r[7].as_opt_text();
    c.active_subscriptions = r[8].as_opt_int();
    c.total_subscriptions = r[9].as_opt_int();
    c.billing_country = r[10].as_opt_text();
    c.billing_province = r[11].as_opt_text();
    c.billing_zip = r[12].as_opt_text();
    c.has_valid_payment_method = opt_bool(r[13]);
    c.payment_method_in_dunning = opt_bool(r[14]);
    c.created_at = r[15].as_opt_int();
    return f;
}

}  // namespace churnwatch
