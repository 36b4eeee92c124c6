// `churnwatch quarantine list | show ID | replay ID…|all [--db PATH]`: inspect deliveries
// that were stored but could not be used (bad JSON, unknown topic, unknown shape, a rules
// failure) and, once the cause is fixed (a newer churnwatch, a larger --json-depth), replay
// them.
//
// Replay re-runs what ingest does after the signature check — parse (with --json-depth),
// topic (the stored one, or inferred from the body when none was stored), decode — and, when
// that now succeeds, marks the delivery accepted and records it through ChurnStore (record +
// recompute the touched customers), all in one BEGIN IMMEDIATE transaction per delivery.
// That is safe while `serve` runs on the same file: SQLite lets one writer in at a time and
// the busy timeout makes replay wait for the server's group commit to finish (and the
// server wait for replay's short transaction). Nothing is changed for a delivery that still
// fails.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alert_config.h"
#include "alert_outbox.h"
#include "churn_store.h"
#include "delivery_decode.h"
#include "commands.h"
#include "crypto.h"
#include "json.h"
#include "payload.h"
#include "schema.h"
#include "settings.h"
#include "time_util.h"
#include "topic.h"

namespace churnwatch {

namespace {

constexpr int kBusyTimeoutMs = 30000;

int usage(const std::string& msg) {
    if (!msg.empty()) std::fprintf(stderr, "churnwatch quarantine: %s\n", msg.c_str());
    std::fprintf(
        stderr,
        "usage: churnwatch quarantine list [--db PATH]\n"
        "       churnwatch quarantine show ID [--db PATH]\n"
        "       churnwatch quarantine replay ID [ID…] | all [--db PATH] [--json-depth N] [--config FILE]\n");
    return 2;
}

// Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
bool valid_utf8(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        std::size_t extra;
        uint32_t cp;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (s.size() - i <= extra) return false;  // truncated sequence
        for (std::size_t k = 1; k <= extra; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += extra + 1;
    }
    return true;
}

std::optional<int64_t> parse_id(const std::string& s) {
    if (s.empty() || s.size() > 18) return std::nullopt;
    for (char c : s)
        if (c < '0' || c > '9') return std::nullopt;
    return std::stoll(s);
}

std::unique_ptr<sql::Database> open_db(const Config& config) {
    auto db = std::make_unique<sql::Database>(existing_database(config), sql::OpenMode::ReadWrite, kBusyTimeoutMs);
    configure_connection(*db);
    apply_migrations(*db);
    return db;
}

int list(sql::Database& db) {
    sql::Statement q(
        db,
        "SELECT id, received_at, coalesce(topic, '-'), length(body), coalesce(reason, '')"
        " FROM deliveries WHERE status = 'quarantined' ORDER BY id");
    int64_t n = 0;
    while (q.step()) {
        if (n++ == 0)
            std::printf("%-8s %-26s %-32s %8s  %s\n", "ID", "RECEIVED_AT", "TOPIC", "BYTES",
                        "REASON");
        std::printf("%-8lld %-26s %-32s %8lld  %s\n", static_cast<long long>(q.column_int(0)),
                    q.column_text(1).c_str(), q.column_text(2).c_str(),
                    static_cast<long long>(q.column_int(3)), q.column_text(4).c_str());
    }
    std::printf("%lld quarantined deliver%s\n", static_cast<long long>(n), n == 1 ? "y" : "ies");
    return 0;
}

int show(sql::Database& db, int64_t id) {
    sql::Statement q(db, "SELECT * FROM deliveries WHERE id = ?");
    q.bind(1, id);
    if (!q.step()) {
        std::fprintf(stderr, "churnwatch quarantine: no delivery %lld\n",
                     static_cast<long long>(id));
        return 1;
    }
    int body_col = -1;
    for (int i = 0; i < q.column_count(); ++i) {
        std::string name = q.column_name(i);
        if (name == "body") {
            body_col = i;
            continue;
        }
        std::printf("%-17s %s\n", (name + ":").c_str(),
                    q.is_null(i) ? "NULL" : q.column_text(i).c_str());
    }
    if (body_col >= 0) {
        std::string body = q.column_blob(body_col);
        bool text = valid_utf8(body) && body.find('\0') == std::string::npos;
        std::printf("%-17s %zu bytes, %s\n", "body:", body.size(),
                    text ? "UTF-8 text" : "binary (hex)");
        if (text) {
            std::fwrite(body.data(), 1, body.size(), stdout);
        } else {
            std::string hex =
                crypto::to_hex(reinterpret_cast<const unsigned char*>(body.data()), body.size());
            for (std::size_t i = 0; i < hex.size(); i += 64)
                std::printf("%s\n", hex.substr(i, 64).c_str());
        }
        if (!body.empty() && body.back() != '\n' && text) std::printf("\n");
    }
    return 0;
}

struct ReplayOutcome {
    enum Kind { Accepted, StillFailing, Skipped } kind = StillFailing;
    std::string message;  // what happened, the reason it still fails, or why it was skipped
};

ReplayOutcome replay_one(sql::Database& db, ChurnStore& churn, int64_t id,
                         const JsonLimits& limits) {
    sql::Transaction txn(db);  // BEGIN IMMEDIATE: waits (busy timeout) for the server's commit
    sql::Statement q(
        db, "SELECT topic, dedupe_key, body, status, topic_source, received_at FROM deliveries"
                " WHERE id = ?");
    q.bind(1, id);
    if (!q.step()) return {ReplayOutcome::Skipped, "no such delivery"};
    if (q.column_text(3) != "quarantined")
        return {ReplayOutcome::Skipped, "not quarantined (status " + q.column_text(3) + ")"};
    Delivery d;
    d.status = DeliveryStatus::Accepted;
    d.dedupe_key = q.column_text(1);
    d.body = q.column_blob(2);
    d.received_at = parse_time(q.column_view(5)).value_or(0);
    std::optional<std::string> source = q.column_opt_text(4);
    if (auto t = q.column_opt_text(0)) {
        d.topic = parse_topic(*t);
        if (!d.topic)
            return {ReplayOutcome::StillFailing, "stored topic '" + *t + "' is malformed"};
    }

    if (source == "path") d.topic_source = TopicSource::Path;
    if (source == "header") d.topic_source = TopicSource::Header;
    std::string reason;
    if (!decode_delivery(d, limits, reason)) return {ReplayOutcome::StillFailing, reason};
    // "inferred" when the topic came from the body: none stored, or its signed "type".
    if (d.topic_source) source = std::string(to_string(*d.topic_source));

    sql::Statement upd(db,
                       std::string("UPDATE deliveries SET status = 'accepted', ") +
                           kReasonKeepingSignatureNote +
                           ", topic = ?2, topic_source = ?3, api_version = ?4 WHERE id = ?5");
    // The note on an included object left out, if any.
    if (d.reason.empty()) upd.bind_null(1);
    else upd.bind(1, d.reason);
    upd.bind(2, d.topic->full()).bind(3, source);
    if (d.payload->version == ApiVersion::Unknown) {
        upd.bind_null(4);
    } else {
        upd.bind(4, to_string(d.payload->version));
    }
    upd.bind(5, id).run();
    std::set<int64_t> touched;
    try {
        touched = churn.record(id, d);
        for (int64_t c : touched) churn.recompute(c);
    } catch (const std::exception& e) {
        return {ReplayOutcome::StillFailing,
                std::string("rules failed: ") + e.what()};  // rolled back
    }
    std::string what = "accepted as " + d.topic->full();
    if (touched.empty()) what += "; no customer state affected";
    sql::Statement st(db, "SELECT status FROM customers WHERE id = ?");
    for (int64_t c : touched) {
        st.reset();
        st.bind(1, c);
        what += "; customer " + std::to_string(c) + (st.step() ? " now " + st.column_text(0) : "");
    }
    txn.commit();
    return {ReplayOutcome::Accepted, what};
}

// With no alert targets configured, a replay announces nothing. On a database whose server
// sends alerts that is a silent gap: the churn a replay reveals is recorded here, and its
// delivery is never replayed again, so no alert for it comes later. This listener takes the
// outbox's place then, to say what went unannounced.
class Unannounced : public EpisodeListener {
public:
    void on_churned(sql::Database&, int64_t, const CustomerOutcome& c, const ChurnEpisode&) override {
        events_.push_back("customer " + std::to_string(c.customer_id) + " churned");
    }
    void on_reactivated(sql::Database&, int64_t, const CustomerOutcome& c, const ChurnEpisode&) override {
        events_.push_back("customer " + std::to_string(c.customer_id) + " reactivated");
    }
    void on_retracted(sql::Database& db, int64_t id, const CustomerOutcome& c, const ChurnEpisode&) override {
        // Not sent, but a dead churn alert for it must not be sent by a later `alerts retry`.
        retract_unsent_churn_alerts(db, id, c.customer_id);
        events_.push_back("customer " + std::to_string(c.customer_id) + "'s churn (episode " +
                          std::to_string(id) + ") retracted");
    }
    void on_changed(sql::Database& db, int64_t id, const CustomerOutcome& c, const ChurnEpisode& e,
                    const ChurnEpisode& before) override {
        // A return undone: its alerts not sent yet must not be sent by the server later.
        if (before.reactivated_at && !e.reactivated_at) retract_unsent_return_alerts(db, id, c.customer_id);
    }
    std::size_t mark() const { return events_.size(); }
    void roll_back_to(std::size_t mark) { events_.resize(mark); }  // with its transaction
    const std::vector<std::string>& events() const { return events_; }

private:
    std::vector<std::string> events_;
};

// Has, or had: alert-retention-days deletes finished alerts, and alerts_outbox's AUTOINCREMENT
// counter (sqlite_sequence) remembers that there were some.
bool database_has_alerts(sql::Database& db) {
    sql::Statement q(db, "SELECT EXISTS (SELECT 1 FROM alerts_outbox) OR EXISTS (SELECT 1 FROM sqlite_sequence"
                         " WHERE name = 'alerts_outbox' AND seq > 0)");
    return q.step() && q.column_int(0) != 0;
}

void warn_unannounced(const std::vector<std::string>& events) {
    constexpr std::size_t kListed = 10;
    std::string list;
    for (std::size_t i = 0; i < events.size() && i < kListed; ++i) list += (i ? ", " : "") + events[i];
    if (events.size() > kListed) list += " and " + std::to_string(events.size() - kListed) + " more";
    std::fprintf(stderr,
                 "quarantine replay: warning: %zu churn alert%s not announced (%s): alerts_outbox "
                 "shows this database's server sends alerts, but this command has no alert target "
                 "configured, and a replayed delivery is not replayed again, so these alerts will "
                 "never be sent. Run replay with the server's alert settings to announce what it "
                 "reveals: its --config FILE and its environment (CHURNWATCH_ALERT_SECRET); see "
                 "deploy/OPERATIONS.md, Quarantine.\n",
                 events.size(), events.size() == 1 ? "" : "s", list.c_str());
}

// What `quarantine replay` was asked, checked before the database is opened, so a usage
// error is reported as one whatever the state of --db.
struct ReplayRequest {
    bool all = false;
    std::vector<int64_t> ids;  // when not all
    RulesPolicy policy;
    JsonLimits limits;
    AlertSettings alerts;
};

// Returns "" or the usage error.
std::string parse_replay(const Config& config, const std::vector<std::string>& targets,
                         ReplayRequest& request) {
    if (targets.empty()) return "replay needs a delivery id (or 'all')";
    if (targets.size() == 1 && targets[0] == "all") {
        request.all = true;
    } else {
        for (std::size_t i = 0; i < targets.size(); ++i) {
            if (targets[i] == "all")
                return "unexpected argument '" + targets[i == 0 ? 1 : i] +
                       "' ('all' replays every quarantined delivery: give ids or 'all', not both)";
            auto id = parse_id(targets[i]);
            if (!id) return "not a delivery id: '" + targets[i] + "'";
            request.ids.push_back(*id);
        }
    }
    std::string error;
    auto depth = config.get_int("json-depth", 2, static_cast<long long>(kMaxJsonDepth), error);
    auto churn_days = config.get_int("auto-churn-days", 0, 3650, error);
    if (!depth || !churn_days) return error;
    if (*churn_days > 0) request.policy.auto_churn_after_max_retries_days = *churn_days;
    request.limits.max_depth = static_cast<std::size_t>(*depth);
    // A churn that a replay reveals is announced like any other: alert rows go into the
    // outbox in the replay's transaction, and the running server's dispatcher sends them.
    if (!read_alert_settings(config, request.alerts, error)) return error;
    return "";
}

int replay(sql::Database& db, const ReplayRequest& request) {
    std::vector<int64_t> ids = request.ids;
    if (request.all) {
        sql::Statement q(db, "SELECT id FROM deliveries WHERE status = 'quarantined' ORDER BY id");
        while (q.step()) ids.push_back(q.column_int(0));
        if (ids.empty()) {
            std::printf("no quarantined deliveries\n");
            return 0;
        }
    }
    const JsonLimits& limits = request.limits;
    const AlertSettings& alerts = request.alerts;
    ChurnStore churn(request.policy);
    churn.prepare(db);
    AlertOutbox outbox(alert_routes(alerts.targets));
    outbox.set_hold(alerts.hold);
    Unannounced unannounced;
    if (!alerts.targets.empty()) churn.set_listener(&outbox);
    else if (database_has_alerts(db)) churn.set_listener(&unannounced);
    bool tty = ::isatty(2) && ids.size() > 1;
    int64_t accepted = 0, failed = 0;
    // Said however the run ends: what was committed before a failure went unannounced too.
    struct WarnAtExit {
        const Unannounced& u;
        ~WarnAtExit() {
            if (!u.events().empty()) warn_unannounced(u.events());
        }
    } warn_at_exit{unannounced};
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::size_t mark = unannounced.mark();
        ReplayOutcome r;
        try {
            r = replay_one(db, churn, ids[i], limits);
        } catch (...) {
            unannounced.roll_back_to(mark);  // rolled back
            throw;
        }
        if (r.kind != ReplayOutcome::Accepted) unannounced.roll_back_to(mark);
        if (tty) std::fprintf(stderr, "\r\033[K");
        if (r.kind == ReplayOutcome::Accepted) {
            ++accepted;
            std::printf("delivery %lld: %s\n", static_cast<long long>(ids[i]), r.message.c_str());
        } else if (r.kind == ReplayOutcome::Skipped) {
            ++failed;
            std::printf("delivery %lld: %s\n", static_cast<long long>(ids[i]), r.message.c_str());
        } else {
            ++failed;
            std::printf("delivery %lld: still quarantined: %s\n", static_cast<long long>(ids[i]),
                        r.message.c_str());
        }
        if (tty) {
            std::fflush(stdout);
            std::fprintf(stderr, "quarantine replay: %zu / %zu deliveries", i + 1, ids.size());
        }
    }
    if (tty) std::fprintf(stderr, "\n");
    if (ids.size() > 1) {
        std::printf("replayed %zu: %lld accepted, %lld still quarantined\n", ids.size(),
                    static_cast<long long>(accepted), static_cast<long long>(failed));
    }
    return failed == 0 ? 0 : 1;
}

}  // namespace

int quarantine_command(const Config& config) {
    const auto& args = config.positional();
    if (args.empty()) return usage("");
    const std::string& action = args[0];
    try {
        if (action == "list") {
            if (args.size() != 1) return usage("unexpected argument '" + args[1] + "' (list takes none)");
            auto db = open_db(config);
            return list(*db);
        }
        if (action == "show") {
            if (args.size() < 2) return usage("show needs one delivery id");
            if (args.size() > 2)
                return usage("unexpected argument '" + args[2] + "' (show takes one delivery id)");
            auto id = parse_id(args[1]);
            if (!id) return usage("not a delivery id: '" + args[1] + "'");
            auto db = open_db(config);
            return show(*db, *id);
        }
        if (action == "replay") {
            ReplayRequest request;
            std::string error =
                parse_replay(config, std::vector<std::string>(args.begin() + 1, args.end()), request);
            if (!error.empty()) return usage(error);
            auto db = open_db(config);
            return replay(*db, request);
        }
    } catch (const std::exception& e) {
        std::cerr << "churnwatch quarantine " << action << ": " << e.what() << "\n";
        return 1;
    }
    return usage("unknown action '" + action + "'");
}

}  // namespace churnwatch
