#include "alert_outbox.h"

#include <chrono>
#include <stdexcept>

#include <openssl/rand.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "crypto.h"

namespace churnwatch {

namespace {

Micros system_now() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// "2026-03-05T10:00:00Z" / "2026-03-05T10:00:00.250000Z"
std::string rfc3339(Micros t) {
    std::string s = format_time(t);
    if (auto sp = s.find(' '); sp != std::string::npos) s[sp] = 'T';
    return s + "Z";
}

}  // namespace

std::string random_webhook_id() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
        // Without randomness two alerts could share an id and a receiver would drop one:
        // fail the transaction (the delivery is quarantined with this reason, not lost).
        throw std::runtime_error("RAND_bytes failed: cannot mint a webhook id");
    }
    return "msg_" + crypto::to_hex(bytes, sizeof bytes);
}

std::string alert_payload_json(const AlertEvent& e, Micros now) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto opt_int = [&](const char* key, const std::optional<int64_t>& v) {
        w.Key(key);
        v ? w.Int64(*v) : w.Null();
    };
    auto opt_text = [&](const char* key, const std::optional<std::string>& v) {
        w.Key(key);
        v ? w.String(v->data(), static_cast<rapidjson::SizeType>(v->size())) : w.Null();
    };
    auto text = [&](const char* key, std::string_view v) {
        w.Key(key);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    const ChurnEpisode& ep = *e.episode;
    w.StartObject();
    text("type", e.type);
    text("timestamp", rfc3339(now));
    w.Key("data");
    w.StartObject();
    w.Key("episode_id");
    w.Int64(e.episode_id);
    w.Key("customer_id");
    w.Int64(e.customer->customer_id);
    opt_text("email", e.email);
    text("reason", to_string(ep.reason));
    text("category", to_string(ep.category));
    text("churned_at", rfc3339(ep.churned_at));
    opt_text("reactivated_at",
             ep.reactivated_at ? std::optional<std::string>(rfc3339(*ep.reactivated_at))
                               : std::nullopt);
    opt_int("subscription_id", ep.subscription_id);
    opt_int("charge_id", ep.charge_id);
    opt_int("delivery_id", ep.delivery_id ? std::optional<int64_t>(ep.delivery_id) : std::nullopt);
    w.EndObject();
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

struct AlertOutbox::Statements {
    explicit Statements(sql::Database& db)
        : email(db, "SELECT email FROM customers WHERE id = ?"),
          disabled(db, "SELECT 1 FROM alert_targets_disabled WHERE target = ?"),
          announced(db,
                    "SELECT 1 FROM alerts_outbox WHERE target = ? AND episode_id = ?"
                    " AND event_type = 'customer.churned' LIMIT 1"),
          insert(db,
                 "INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id,"
                 " webhook_id, payload, created_us, status, next_attempt_us, retry_from_us,"
                 " last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7, ?7, ?9)") {}
    sql::Statement email, disabled, announced, insert;
};

AlertOutbox::AlertOutbox(std::vector<AlertRoute> routes, Clock clock, IdSource ids)
    : routes_(std::move(routes)), clock_(std::move(clock)), ids_(std::move(ids)) {
    if (!clock_) clock_ = system_now;
    if (!ids_) ids_ = random_webhook_id;
}

AlertOutbox::~AlertOutbox() = default;

void AlertOutbox::on_churned(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                             const ChurnEpisode& e) {
    add(db, kCustomerChurned, event_id, c, e);
}

void AlertOutbox::on_reactivated(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                                 const ChurnEpisode& e) {
    add(db, kCustomerReactivated, event_id, c, e);
}

void AlertOutbox::on_retracted(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                               const ChurnEpisode& e) {
    add(db, kCustomerChurnRetracted, event_id, c, e);
}

bool AlertOutbox::wants(const AlertRoute& r, std::string_view type) {
    if (type == kCustomerChurned) return r.churned;
    if (type == kCustomerReactivated) return r.reactivated;
    if (!r.retracted) return false;
    // Only where the churn was announced: episode ids are never given out twice.
    st_->announced.reset();
    st_->announced.bind(1, r.target).bind(2, current_episode_);
    bool announced = st_->announced.step();
    st_->announced.reset();
    return announced;
}

void AlertOutbox::add(sql::Database& db, std::string_view type, int64_t episode_id,
                      const CustomerOutcome& c, const ChurnEpisode& e) {
    if (db_ != &db) {
        st_ = std::make_unique<Statements>(db);
        db_ = &db;
    }
    current_episode_ = episode_id;
    bool wanted = false;
    for (const auto& r : routes_) wanted = wanted || wants(r, type);
    if (!wanted) return;
    // The churn store writes the customers row before it syncs episodes, so this is the
    // email as of this very transaction.
    AlertEvent ev{type, episode_id, &c, &e, std::nullopt};
    st_->email.reset();
    st_->email.bind(1, c.customer_id);
    if (st_->email.step()) ev.email = st_->email.column_opt_text(0);
    st_->email.reset();

    Micros now = clock_();
    std::string payload = alert_payload_json(ev, now);
    for (const auto& r : routes_) {
        if (!wants(r, type)) continue;
        st_->disabled.reset();
        st_->disabled.bind(1, r.target);
        bool disabled = st_->disabled.step();
        st_->disabled.reset();
        auto& q = st_->insert;
        q.reset();
        q.bind(1, r.target).bind(2, type).bind(3, episode_id).bind(4, c.customer_id);
        q.bind(5, ids_()).bind(6, payload).bind(7, now);
        q.bind(8, disabled ? "disabled" : "pending");
        if (disabled) q.bind(9, "target disabled (it answered 410 Gone); not sent");
        q.run();
    }
    inserted_ = true;
}

}  // namespace churnwatch
