#include "alert_outbox.h"

#include <algorithm>
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
          // alert_told (0021): the target's latest customer.churned row for the episode as it
          // is, or was when it finished (alert-retention-days may have deleted it since).
          announced(db,
                    "SELECT alert_id, status, attempted, created_us FROM alert_told"
                    " WHERE episode_id = ?2 AND target = ?1 AND customer_id = ?3"),
          withdraw(db,
                   "UPDATE alerts_outbox SET status = 'retracted', last_error = ?2"
                   " WHERE id = ?1 AND status = 'pending' AND last_attempt_us IS NULL"),
          insert(db,
                 "INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id,"
                 " webhook_id, payload, created_us, status, next_attempt_us, retry_from_us,"
                 " last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?10, ?10, ?9)"),
          rewrite(db,
                  "UPDATE alerts_outbox SET payload = ?3 WHERE episode_id = ?1 AND customer_id = ?2"
                  " AND event_type = 'customer.churned' AND last_attempt_us IS NULL"
                  " AND status IN ('pending', 'disabled') AND payload IS NOT ?3"),
          rewrite_return(db,
                         "UPDATE alerts_outbox SET payload = ?3 WHERE episode_id = ?1 AND customer_id = ?2"
                         " AND event_type = 'customer.reactivated' AND last_attempt_us IS NULL"
                         " AND status IN ('pending', 'disabled') AND payload IS NOT ?3"),
          // alert_told_return (0022): the target's latest customer.reactivated row for the
          // episode as it is, or was when it finished.
          returned(db,
                   "SELECT status, attempted FROM alert_told_return"
                   " WHERE episode_id = ?2 AND target = ?1 AND customer_id = ?3") {}
    sql::Statement email, disabled, announced, withdraw, insert, rewrite, rewrite_return, returned;
};

AlertOutbox::AlertOutbox(std::vector<AlertRoute> routes, Clock clock, IdSource ids)
    : routes_(std::move(routes)), clock_(std::move(clock)), ids_(std::move(ids)) {
    if (!clock_) clock_ = system_now;
    if (!ids_) ids_ = random_webhook_id;
}

AlertOutbox::~AlertOutbox() = default;

void AlertOutbox::prepare(sql::Database& db) {
    // By serial, not address: a connection opened where a closed one was must not find that
    // one's statements (they would write outside this connection's transaction). Serials
    // start at 1, so the first connection always prepares.
    if (db_serial_ != db.serial()) {
        st_ = std::make_unique<Statements>(db);
        db_ = &db;
        db_serial_ = db.serial();
    }
}

void AlertOutbox::on_churned(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                             const ChurnEpisode& e) {
    std::vector<char> to;
    for (const auto& r : routes_) to.push_back(r.churned);
    add(db, kCustomerChurned, event_id, c, e, to);
}

std::optional<AlertOutbox::ChurnRow> AlertOutbox::churn_row(const std::string& target,
                                                              int64_t episode_id,
                                                              int64_t customer_id) {
    auto& q = st_->announced;
    q.reset();
    q.bind(1, target).bind(2, episode_id).bind(3, customer_id);
    std::optional<ChurnRow> row;
    if (q.step()) row = ChurnRow{q.column_int(0), q.column_text(1), q.column_int(2) != 0, q.column_int(3)};
    q.reset();
    return row;
}

std::optional<std::string> AlertOutbox::email_of(int64_t customer_id) {
    auto& q = st_->email;
    q.reset();
    q.bind(1, customer_id);
    std::optional<std::string> email;
    if (q.step()) email = q.column_opt_text(0);
    q.reset();
    return email;
}

bool AlertOutbox::returned_told(const std::string& target, int64_t episode_id, int64_t customer_id) {
    auto& q = st_->returned;
    q.reset();
    q.bind(1, target).bind(2, episode_id).bind(3, customer_id);
    bool told = false;
    if (q.step()) {
        const std::string status = q.column_text(0);
        told = status == "sent" || (status == "pending" && q.column_int(1) != 0);
    }
    q.reset();
    return told;
}

bool AlertOutbox::withdraw(int64_t row_id, const std::string& reason) {
    auto& u = st_->withdraw;
    u.reset();
    u.bind(1, row_id).bind(2, reason).run();
    return db_->changes() > 0;
}

// With alert-hold, a churn that ends while its alert still waits out the hold was brief (a
// product swap done as cancel-then-subscribe, a cancellation taken back): a win-back flow
// should hear nothing of it, neither the churn nor the return. The episode itself stays in
// churn_events, reactivated, for the analysts.
void AlertOutbox::on_reactivated(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                                 const ChurnEpisode& e) {
    prepare(db);
    const Micros now = clock_();
    std::vector<char> to;
    for (const auto& r : routes_) {
        bool tell = r.reactivated;
        auto churn = churn_row(r.target, event_id, c.customer_id);
        if (churn && churn->status == "retracted" && !churn->attempted) {
            tell = false;  // withdrawn before: the target never heard of this churn
        } else if (hold_ > 0 && churn && churn->status == "pending" && !churn->attempted &&
                   now < churn->created + hold_ &&
                   withdraw(churn->id, "the customer was back within alert-hold (" +
                                           std::to_string(hold_ / kMicrosPerSecond) +
                                           " s): neither the churn nor the return is announced")) {
            tell = false;
        }
        to.push_back(tell);
    }
    add(db, kCustomerReactivated, event_id, c, e, to);
}

std::optional<std::string> claim_alert(sql::Database& db, int64_t alert_id, Micros now) {
    sql::Statement u(db,
                     "UPDATE alerts_outbox SET last_attempt_us = ?2"
                     " WHERE id = ?1 AND status = 'pending' RETURNING payload");
    u.bind(1, alert_id).bind(2, now);
    std::optional<std::string> payload;
    if (u.step()) payload = u.column_text(0);
    u.reset();
    return payload;
}

RescheduledAlerts reschedule_future_alerts(sql::Database& db, Micros now, Micros horizon,
                                           Micros slack, const std::string* target) {
    // ?1 now, ?2 due beyond this, ?3 stamped beyond this, ?4 the target. Pending rows only
    // (an index holds them): those sent or given up on are history.
    const std::string ahead =
        std::string(" WHERE status = 'pending'") + (target ? " AND target = ?4" : "") +
        " AND (next_attempt_us > ?2 OR created_us > ?3 OR last_attempt_us > ?3)";
    auto bind = [&](sql::Statement& q) {
        q.bind(1, now).bind(2, now + horizon).bind(3, now + slack);
        if (target) q.bind(4, *target);
    };
    RescheduledAlerts out;
    // A read first: the answer is almost always none, and then no write lock is taken.
    sql::Statement look(db, "SELECT count(*), max(max(next_attempt_us, created_us,"
                            " coalesce(last_attempt_us, 0))) - ?1 FROM alerts_outbox" + ahead);
    bind(look);
    if (!look.step() || look.column_int(0) == 0) return out;
    out.furthest = look.column_int(1);
    look.reset();
    sql::Statement fix(db, "UPDATE alerts_outbox SET next_attempt_us = min(next_attempt_us, ?1),"
                           " created_us = min(created_us, ?1), retry_from_us = min(retry_from_us, ?1),"
                           " last_attempt_us = min(last_attempt_us, ?1)" + ahead);
    bind(fix);
    fix.run();
    out.count = db.changes();
    return out;
}

// Also: an episode churned again (a late delivery undid its return) whose churn alert was
// withdrawn because the customer was back within alert-hold. Such a row is 'retracted' and
// was never attempted; any other withdrawal of an unattempted churn alert (the episode was
// erased) deleted the episode, whose id is never reused. The churn is announced now, after
// the hold again: the target was told nothing of the episode, and the facts show the churn.
void AlertOutbox::on_changed(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                             const ChurnEpisode& e, const ChurnEpisode& before) {
    prepare(db);
    const std::optional<std::string> email = email_of(c.customer_id);
    const AlertEvent ev{kCustomerChurned, event_id, &c, &e, email};
    auto& u = st_->rewrite;
    u.reset();
    u.bind(1, event_id).bind(2, c.customer_id).bind(3, alert_payload_json(ev, clock_())).run();
    // The return's alerts: rewritten like the churn's while the customer is still back;
    // withdrawn when a late delivery undid the return (see returned_told below).
    const bool return_undone = before.reactivated_at && !e.reactivated_at;
    if (e.reactivated_at) {
        const AlertEvent back{kCustomerReactivated, event_id, &c, &e, email};
        auto& r = st_->rewrite_return;
        r.reset();
        r.bind(1, event_id).bind(2, c.customer_id).bind(3, alert_payload_json(back, clock_())).run();
    } else if (return_undone) {
        retract_unsent_return_alerts(db, event_id, c.customer_id);
    }
    // What a churn alert says, not its return or the delivery id behind it.
    const bool churn_changed = e.churned_at != before.churned_at || e.reason != before.reason ||
                               e.category != before.category ||
                               e.subscription_id != before.subscription_id || e.charge_id != before.charge_id;
    std::vector<char> churned(routes_.size(), 0), updated(routes_.size(), 0);
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        // Told of the return (sent, or an attempt begun) that a late delivery undid: the
        // customer is churned again, which the update says (reactivated_at null).
        if (return_undone && routes_[i].updated && returned_told(routes_[i].target, event_id, c.customer_id))
            updated[i] = 1;
        auto churn = churn_row(routes_[i].target, event_id, c.customer_id);
        if (!churn) continue;
        // Told of the churn (sent, or an attempt begun: it may be on its way): tell the change.
        if (routes_[i].updated && churn_changed &&
            (churn->status == "sent" || (churn->status == "pending" && churn->attempted)))
            updated[i] = 1;
        churned[i] = routes_[i].churned && !e.reactivated_at && churn->status == "retracted" && !churn->attempted;
    }
    add(db, kCustomerChurnUpdated, event_id, c, e, updated);
    add(db, kCustomerChurned, event_id, c, e, churned);
}

namespace {

// The episode's alerts of `types` (an SQL list of literals) that will not be sent now: neither
// later (queued, never attempted) nor by an `alerts retry` (dead, disabled).
void retract_unsent(sql::Database& db, int64_t episode_id, int64_t customer_id, const char* types,
                    const std::string& reason) {
    sql::Statement u(db, std::string("UPDATE alerts_outbox SET status = 'retracted', last_error = ?3"
                                     " WHERE episode_id = ?1 AND customer_id = ?2 AND event_type IN (") +
                             types + ") AND ((status = 'pending' AND last_attempt_us IS NULL)"
                                     " OR status IN ('dead', 'disabled'))");
    u.bind(1, episode_id).bind(2, customer_id).bind(3, reason).run();
}

}  // namespace

void retract_unsent_churn_alerts(sql::Database& db, int64_t episode_id, int64_t customer_id) {
    sql::Statement u(db,
                     "UPDATE alerts_outbox SET status = 'retracted', last_error = 'a later delivery"
                     " erased the churn it announced before it was delivered: it will not be sent'"
                     " WHERE episode_id = ? AND customer_id = ? AND event_type = 'customer.churned'"
                     " AND (status = 'dead' OR status = 'disabled')");
    u.bind(1, episode_id).bind(2, customer_id).run();
    // The return and the corrections of a churn that did not happen.
    retract_unsent(db, episode_id, customer_id, "'customer.reactivated', 'customer.churn_updated'",
                   "a later delivery erased the churn it is about before it was delivered: it will not be sent");
}

void retract_unsent_return_alerts(sql::Database& db, int64_t episode_id, int64_t customer_id) {
    retract_unsent(db, episode_id, customer_id, "'customer.reactivated'",
                   "a later delivery undid this return before it was delivered: it will not be sent");
}

// Per target, by what became of its customer.churned for this episode (matched on customer
// too: databases from before migration 0010 may have given an erased episode's id to
// another customer's). Sent, or pending after an attempt began (it may be on its way right
// now): the retraction follows it. Pending and never attempted (held by alert-hold, or
// queued behind other alerts): withdrawn, and nothing else is sent — the dispatcher claims
// a row before its first attempt, so this cannot race with sending it. Never to be sent
// (dead, disabled): retracted first (retract_unsent_churn_alerts), and nothing else is
// sent. No churn row: the target never heard of it.
void AlertOutbox::on_retracted(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                               const ChurnEpisode& e) {
    prepare(db);
    retract_unsent_churn_alerts(db, event_id, c.customer_id);
    std::vector<char> to(routes_.size(), 0);
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        auto churn = churn_row(routes_[i].target, event_id, c.customer_id);
        const bool withdrawn =
            churn && churn->status == "pending" && !churn->attempted &&
            withdraw(churn->id, "a later delivery erased this churn before it was sent: not sent");
        const bool churn_told = churn && !withdrawn && (churn->status == "sent" || churn->status == "pending");
        // Told of its return (sent, or an attempt begun; one not attempted was withdrawn just
        // now): the episode it ended did not happen either. Also to a target that wants only
        // returns, which never heard of the churn itself (and to one whose churn alert was
        // withdrawn just now after its return went out, as a restart that shortened
        // alert-hold can let happen).
        to[i] = routes_[i].retracted &&
                (churn_told || returned_told(routes_[i].target, event_id, c.customer_id));
    }
    add(db, kCustomerChurnRetracted, event_id, c, e, to);
}

namespace {

// When a row finished (see PrunedAlerts): written exactly as alerts_outbox_finished (0020)
// indexes it, so that the planner reads that index.
constexpr const char* kFinished =
    "max(o.created_us, coalesce(o.last_attempt_us, 0), coalesce(o.sent_us, 0))";

// ?1 the cutoff. Any finished row that finished before it: what AlertOutbox reads again of a
// churn alert is in alert_told, which deleting the row leaves as it was.
std::string deletable() {
    return std::string("o.status <> 'pending' AND ") + kFinished + " < ?1";
}

}  // namespace

std::string AlertPruner::find_sql() {
    // ?2 and ?3: the cursor (finished time, id); ?4 the limit.
    return std::string("SELECT o.id, ") + kFinished + " FROM alerts_outbox AS o WHERE " + deletable() +
           " AND " + kFinished + " >= ?2 AND (" + kFinished + " > ?2 OR o.id > ?3) ORDER BY " + kFinished +
           ", o.id LIMIT ?4";
}

AlertPruner::AlertPruner(sql::Database& db)
    : find_(db, find_sql()),
      // ?2: the ids found, as a JSON array.
      remove_(db, "DELETE FROM alerts_outbox AS o WHERE o.id IN (SELECT value FROM json_each(?2)) AND " +
                      deletable() + " RETURNING status") {}

bool AlertPruner::batch(Micros cutoff, AlertPruneCursor& cursor, PrunedAlerts& pruned, int limit) {
    std::string ids = "[";
    int found = 0;
    find_.reset();
    find_.bind(1, cutoff).bind(2, cursor.finished).bind(3, cursor.id).bind(4, limit);
    while (find_.step()) {
        if (found++) ids += ',';
        ids += std::to_string(find_.column_int(0));
        cursor = {find_.column_int(1), find_.column_int(0)};
    }
    find_.reset();  // ends the read before the write
    if (found == 0) return false;
    remove_.reset();
    remove_.bind(1, cutoff).bind(2, ids + "]");
    while (remove_.step()) {
        const std::string status = remove_.column_text(0);
        if (status == "sent") ++pruned.sent;
        else if (status == "dead") ++pruned.dead;
        else if (status == "disabled") ++pruned.disabled;
        else ++pruned.retracted;
    }
    remove_.reset();
    return found == limit;
}

PrunedAlerts prune_finished_alerts(sql::Database& db, Micros cutoff, AlertPruneCursor from) {
    AlertPruner pruner(db);
    PrunedAlerts pruned;
    while (pruner.batch(cutoff, from, pruned)) {
    }
    return pruned;
}

void AlertOutbox::add(sql::Database& db, std::string_view type, int64_t episode_id,
                      const CustomerOutcome& c, const ChurnEpisode& e, const std::vector<char>& to) {
    if (std::find(to.begin(), to.end(), 1) == to.end()) return;
    prepare(db);
    const AlertEvent ev{type, episode_id, &c, &e, email_of(c.customer_id)};

    Micros now = clock_();
    std::string payload = alert_payload_json(ev, now);
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        if (!to[i]) continue;
        const AlertRoute& r = routes_[i];
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
        // alert-hold: a churn waits before its first attempt (and its retry budget starts then).
        q.bind(10, type == kCustomerChurned ? now + hold_ : now);
        q.run();
    }
    inserted_ = true;
}

}  // namespace churnwatch
