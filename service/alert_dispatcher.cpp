#include "alert_dispatcher.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <thread>

#include "alert_chat.h"
#include "command_runner.h"
#include "http_client.h"
#include "schema.h"
#include "sqlite.h"
#include "standard_webhooks.h"
#include "utf8_text.h"

namespace churnwatch {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(200);
// How much later than now a time written by this clock may lie before it counts as written by
// a clock ahead: more than the moments between a stamp and the check, less than any step
// back worth knowing of.
constexpr Micros kClockSlack = 60 * kMicrosPerSecond;
constexpr int kBatch = 16;                  // due rows fetched per poll
// Pruning: between two of a pass's statements the write lock is left to others this long;
// every finished row is looked at again this often (see the header).
constexpr auto kPruneBatchPause = std::chrono::milliseconds(20);
constexpr auto kFullPruneInterval = std::chrono::hours(24);
constexpr std::size_t kErrorBodyChars = 200;  // of a failed response, kept in last_error

constexpr const char* kSent = "churnwatch_alerts_sent_total";
constexpr const char* kRetried = "churnwatch_alerts_retried_total";
constexpr const char* kDead = "churnwatch_alerts_dead_lettered_total";
constexpr const char* kDisabled = "churnwatch_alert_targets_disabled_total";
constexpr const char* kPruned = "churnwatch_alerts_pruned_total";

Micros system_now_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// A short, single-line excerpt of a response body (or a command's stderr) for last_error and
// the log, cut at a UTF-8 character, not inside one.
std::string excerpt(const std::string& body) {
    const std::string_view kept = utf8::head_bytes(body, kErrorBodyChars);
    return utf8::single_line(kept) + (kept.size() < body.size() ? "…" : "");
}

}  // namespace

struct AlertDispatcher::Worker {
    AlertTarget target;
    std::string label;
    std::optional<StandardWebhookSigner> signer;
    std::mt19937_64 rng{std::random_device{}()};
    std::thread thread;
};

namespace {

// One due outbox row.
struct Row {
    int64_t id = 0;
    std::string event_type;
    std::string webhook_id;
    std::string payload;
    int64_t attempts = 0;
    Micros retry_from = 0;
    bool attempted = false;  // an attempt began before (last_attempt_us is set)
};

// What one attempt produced, before the policy looks at it.
struct Attempt {
    bool abandoned = false;  // shutting down: no result, the row stays as it was
    AttemptOutcome outcome;
    std::optional<int64_t> last_status;  // HTTP status or the command's exit status
    std::string detail;                  // appended to a failure reason (response, stderr)
    std::string stderr_note;             // a successful command's stderr, logged as such
};

// One POST of an alert and what its answer means for the outbox.
Attempt post_alert(const std::string& url, const HttpHeaderList& headers, const std::string& body,
                   std::chrono::milliseconds timeout, const std::function<bool()>& cancelled) {
    Attempt a;
    HttpClientOptions options;
    options.timeout = timeout;
    options.cancelled = cancelled;
    HttpClientResponse res = http_request("POST", url, headers, body, options);
    if (!res.ok && cancelled()) {
        a.abandoned = true;  // it goes out after the next start, with the same webhook-id
        return a;
    }
    a.outcome.responded = res.ok;
    a.outcome.status = res.status;
    a.outcome.retry_after = res.header("Retry-After");
    a.outcome.error = res.error;
    if (res.ok) a.last_status = res.status;
    if (res.ok && (res.status < 200 || res.status >= 300) && !res.body.empty()) a.detail = excerpt(res.body);
    return a;
}

Attempt send_http(const AlertTarget& target, const StandardWebhookSigner& signer, const Row& row,
                  Micros now, std::chrono::milliseconds timeout, const std::function<bool()>& cancelled) {
    int64_t ts = now / kMicrosPerSecond;  // the signing time, not the creation time
    HttpHeaderList headers{
        {"Content-Type", "application/json"},
        {std::string(kWebhookIdHeader), row.webhook_id},
        {std::string(kWebhookTimestampHeader), std::to_string(ts)},
        {std::string(kWebhookSignatureHeader), signer.sign(row.webhook_id, ts, row.payload)},
    };
    return post_alert(target.url, headers, row.payload, timeout, cancelled);
}

// A chat webhook: the event as one line of text, unsigned (chat services do not verify
// Standard Webhooks signatures; the URL's path is the credential).
Attempt send_chat(const AlertTarget& target, const Row& row, std::chrono::milliseconds timeout,
                  const std::function<bool()>& cancelled) {
    auto body = chat_message_json(row.payload);
    if (!body) {  // cannot happen for what the outbox wrote; not worth retrying if it did
        Attempt a;
        a.outcome.responded = true;
        a.outcome.status = 400;
        a.outcome.error = "the stored alert is not an event chat can show";
        return a;
    }
    return post_alert(target.url, {{"Content-Type", "application/json"}}, *body, timeout, cancelled);
}

Attempt run_command(const AlertTarget& target, const Row& row, std::chrono::milliseconds timeout,
                    const std::function<bool()>& cancelled) {
    Attempt a;
    ProgramRun run = run_program(target.command, row.payload,
                                 {{"CHURNWATCH_ALERT_ID", row.webhook_id},
                                  {"CHURNWATCH_ALERT_TYPE", row.event_type}},
                                 timeout, cancelled);
    if (run.cancelled) {
        a.abandoned = true;
        return a;
    }
    // Exit 0 is a delivery; anything else is retried (within the budget) like a network error.
    a.outcome.responded = run.success();
    a.outcome.status = run.success() ? 200 : 0;
    a.outcome.error = run.error;
    if (run.exited) a.last_status = run.exit_code;
    // What a program that succeeded wrote on stderr is a note, not the reason for a failure.
    if (!run.stderr_tail.empty()) {
        if (run.success()) a.stderr_note = excerpt(run.stderr_tail);
        else a.detail = "stderr: " + excerpt(run.stderr_tail);
    }
    return a;
}

// Prepared statements of one worker's connection.
struct WorkerStatements {
    explicit WorkerStatements(sql::Database& db)
        // Nothing while the target rests: one of its alerts failed an attempt and waits for
        // its next (a pending row attempted before, due later). The rest is in the rows, so
        // it holds across a restart or a reopened connection, and an alert due now never
        // goes out before an older one that waits out its backoff step.
        : due(db,
              "SELECT id, event_type, webhook_id, payload, attempts, retry_from_us,"
              " last_attempt_us IS NOT NULL FROM alerts_outbox WHERE target = ?1 AND status = 'pending'"
              " AND next_attempt_us <= ?2 AND NOT EXISTS (SELECT 1 FROM alerts_outbox AS r"
              " WHERE r.target = ?1 AND r.status = 'pending' AND r.next_attempt_us > ?2"
              " AND r.last_attempt_us IS NOT NULL) ORDER BY id LIMIT ?3"),
          // Not over an `alerts retry` made during the attempt that rewrote the row (?4: the
          // webhook-id that went out, which such a retry replaces): its new bytes go next.
          sent(db,
               "UPDATE alerts_outbox SET status = 'sent', attempts = attempts + 1,"
               " last_attempt_us = ?2, last_status = ?3, last_error = NULL, sent_us = ?2"
               " WHERE id = ?1 AND status = 'pending' AND webhook_id = ?4"),
          // A failure is not recorded over an `alerts retry` of the row made during the
          // attempt (?6: its retry_from as read, which the retry resets): the operator's fresh
          // budget stands, and the row goes again at once.
          retry(db,
                "UPDATE alerts_outbox SET attempts = attempts + 1, next_attempt_us = ?4,"
                " last_attempt_us = ?2, last_status = ?3, last_error = ?5"
                " WHERE id = ?1 AND status = 'pending' AND retry_from_us = ?6"),
          finish(db,
               "UPDATE alerts_outbox SET status = ?4, attempts = attempts + 1,"
               " last_attempt_us = ?2, last_status = ?3, last_error = ?5"
               " WHERE id = ?1 AND status = 'pending' AND retry_from_us = ?6"),
          disable_target(db,
                         "INSERT INTO alert_targets_disabled (target, disabled_us, reason)"
                         " VALUES (?1, ?2, ?3) ON CONFLICT (target) DO UPDATE SET"
                         " disabled_us = excluded.disabled_us, reason = excluded.reason"),
          disable_rest(db,
                       "UPDATE alerts_outbox SET status = 'disabled', last_error = ?2"
                       " WHERE target = ?1 AND status = 'pending'"),
          retries(db, "SELECT CAST(value AS INTEGER) FROM service_state WHERE key = ?1"),
          end_rest(db, "UPDATE alerts_outbox SET next_attempt_us = ?2 WHERE id = ?1 AND status = 'pending'") {}
    sql::Statement due, sent, retry, finish, disable_target, disable_rest, retries, end_rest;
};

// How many times `churnwatch alerts retry` reset alerts of this target (alert_retries_key).
int64_t retries_of(WorkerStatements& st, const std::string& key) {
    st.retries.reset();
    st.retries.bind(1, key);
    const int64_t n = st.retries.step() ? st.retries.column_int(0) : 0;
    st.retries.reset();
    return n;
}

// Writes an attempt's outcome to its row.
void record(const std::string& target, WorkerStatements& st, sql::Database& db, const Row& row,
            const AlertDecision& d, std::optional<int64_t> last_status, Micros now) {
    switch (d.action) {
        case AlertAction::Sent:
            st.sent.reset();
            st.sent.bind(1, row.id).bind(2, now).bind(3, last_status).bind(4, row.webhook_id).run();
            return;
        case AlertAction::Retry:
            st.retry.reset();
            st.retry.bind(1, row.id).bind(2, now).bind(3, last_status);
            st.retry.bind(4, d.next_attempt).bind(5, d.reason).bind(6, row.retry_from).run();
            return;
        case AlertAction::Dead:
            st.finish.reset();
            st.finish.bind(1, row.id).bind(2, now).bind(3, last_status);
            st.finish.bind(4, "dead").bind(5, d.reason).bind(6, row.retry_from).run();
            return;
        case AlertAction::DisableTarget: {
            // Together: the target's 410 state (which the outbox consults for new alerts),
            // this row, and the target's other pending rows.
            sql::Transaction txn(db);
            st.disable_target.reset();
            st.disable_target.bind(1, target).bind(2, now);
            st.disable_target.bind(3, "HTTP 410 Gone for alert " + std::to_string(row.id)).run();
            st.finish.reset();
            st.finish.bind(1, row.id).bind(2, now).bind(3, last_status);
            st.finish.bind(4, "disabled").bind(5, d.reason).bind(6, row.retry_from).run();
            st.disable_rest.reset();
            st.disable_rest.bind(1, target);
            st.disable_rest.bind(2, "target disabled (it answered 410 Gone); not sent").run();
            txn.commit();
            return;
        }
    }
}

// The per-target counter and one log line per attempt outcome (never the secret or the
// signature).
void report(Metrics* metrics, Logger& logger, const std::string& label, const Row& row,
            const AlertDecision& d, std::optional<int64_t> last_status, Micros now,
            std::chrono::steady_clock::duration took, const std::string& stderr_note) {
    const char* counter = d.action == AlertAction::Sent    ? kSent
                          : d.action == AlertAction::Retry ? kRetried
                          : d.action == AlertAction::Dead  ? kDead
                                                           : kDisabled;
    if (metrics) metrics->inc(counter, {{"target", label}});
    LogLevel level = d.action == AlertAction::Sent    ? LogLevel::Info
                     : d.action == AlertAction::Retry ? LogLevel::Warn
                                                      : LogLevel::Error;
    LogLine line(logger, level, "alert_attempt");
    line.str("target", label).num("alert_id", row.id).str("webhook_id", row.webhook_id);
    line.str("type", row.event_type).num("attempt", row.attempts + 1);
    line.str("outcome", to_string(d.action));
    if (last_status) line.num("status", *last_status);
    if (!d.reason.empty()) line.str("error", d.reason);
    if (!stderr_note.empty()) line.str("stderr", stderr_note);
    if (d.action == AlertAction::Retry) line.num("retry_in_ms", (d.next_attempt - now) / 1000);
    line.num("duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
}

}  // namespace

AlertDispatcher::AlertDispatcher(std::string db_path, AlertSettings settings, Metrics* metrics,
                                 Logger& logger)
    : db_path_(std::move(db_path)), settings_(std::move(settings)), metrics_(metrics),
      logger_(logger) {
    if (metrics_) {
        metrics_->describe_counter(kSent, "Alerts delivered (2xx, or command exit 0), by target.");
        metrics_->describe_counter(kRetried, "Alert attempts that failed and will be retried, by target.");
        metrics_->describe_counter(kDead, "Alerts given up on (permanent failure or budget spent), by target.");
        metrics_->describe_counter(kDisabled, "Targets disabled because they answered 410 Gone.");
        metrics_->describe_counter(kPruned, "Finished alerts deleted after alert-retention-days, by status.");
        for (const char* status : {"sent", "dead", "disabled", "retracted"}) metrics_->inc(kPruned, {{"status", status}}, 0);
    }
    for (const auto& t : settings_.targets) {
        auto w = std::make_unique<Worker>();
        w->target = t;
        w->label = t.label();
        if (!t.is_command() && !t.chat) w->signer = StandardWebhookSigner::from_secret(t.secret);
        if (metrics_) {
            // Every target's series exists from the start, so rates work from the first event.
            for (const char* m : {kSent, kRetried, kDead, kDisabled}) metrics_->inc(m, {{"target", w->label}}, 0);
        }
        workers_.push_back(std::move(w));
    }
}

AlertDispatcher::~AlertDispatcher() { stop(); }

Micros AlertDispatcher::now_us() const { return clock_ ? clock_() : system_now_us(); }

void AlertDispatcher::start() {
    // Also without targets: an earlier configuration's alerts age all the same.
    if (settings_.retention > 0 && !pruner_.joinable()) {
        pruner_ = std::thread([this] {
            pthread_setname_np(pthread_self(), "cw-alert-prune");
            prune();
        });
    }
    if (workers_.empty()) return;
    catch_up_with_clock(nullptr);
    log_targets();
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        Worker* w = workers_[i].get();
        w->thread = std::thread([this, w, i] {
            std::string name = "cw-alert-" + std::to_string(i);
            pthread_setname_np(pthread_self(), name.c_str());
            run(*w);
        });
    }
}

void AlertDispatcher::notify() {
    {
        std::lock_guard lock(mu_);
        ++generation_;
    }
    cv_.notify_all();
}

void AlertDispatcher::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_)
        if (w->thread.joinable()) w->thread.join();
    if (pruner_.joinable()) pruner_.join();
}

bool AlertDispatcher::wait_for_stop(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

// See the header. Each pass deletes, from the rows that finished before now - retention,
// those that come after `looked_before` in (finished time, id) order, or all of them in a full
// pass; every earlier one was looked at by a pass before (and kept, or deleted).
void AlertDispatcher::prune() {
    std::unique_ptr<sql::Database> db;
    std::unique_ptr<AlertPruner> pruner;
    Micros looked_before = std::numeric_limits<Micros>::min();
    auto next_full = std::chrono::steady_clock::now();
    do {
        const auto started = std::chrono::steady_clock::now();
        const bool full = started >= next_full;
        const Micros cutoff = now_us() - settings_.retention;
        AlertPruneCursor cursor;
        if (!full) cursor.finished = looked_before;
        PrunedAlerts pruned;
        bool complete = false;
        try {
            if (!db) {
                db = std::make_unique<sql::Database>(db_path_);
                configure_connection(*db);
                pruner = std::make_unique<AlertPruner>(*db);
            }
            for (;;) {
                PrunedAlerts batch;
                const bool more = pruner->batch(cutoff, cursor, batch);
                if (metrics_) {
                    for (const auto& [status, n] :
                         {std::pair{"sent", batch.sent}, std::pair{"dead", batch.dead},
                          std::pair{"disabled", batch.disabled}, std::pair{"retracted", batch.retracted}})
                        if (n > 0) metrics_->inc(kPruned, {{"status", status}}, static_cast<double>(n));
                }
                pruned += batch;
                if (!more) {
                    complete = true;
                    break;
                }
                if (wait_for_stop(kPruneBatchPause)) break;
            }
        } catch (const std::exception& e) {
            // A busy or broken database: the next pass tries again, on a new connection.
            LogLine(logger_, LogLevel::Error, "alert_dispatcher_error")
                .str("task", "prune")
                .str("error", e.what());
            pruner.reset();
            db.reset();
        }
        if (complete) {
            looked_before = std::max(looked_before, cutoff);
            if (full) next_full = started + kFullPruneInterval;
        }
        if (pruned.total() > 0) {
            LogLine(logger_, LogLevel::Info, "alerts_pruned")
                .num("alerts", pruned.total())
                .num("sent", pruned.sent)
                .num("dead", pruned.dead)
                .num("disabled", pruned.disabled)
                .num("retracted", pruned.retracted)
                .num("retention_days", settings_.retention / (86400 * kMicrosPerSecond))
                .boolean("full", full)
                .num("duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - started)
                                        .count());
        }
    } while (!wait_for_stop(prune_interval_));
}

Micros AlertDispatcher::schedule_horizon() const {
    return alert_schedule_horizon(settings_.policy, settings_.hold) + kClockSlack;
}

// Pending alerts scheduled by a clock ahead of this one are made due now
// (reschedule_future_alerts), with one warning. All targets' (configured or not) at start,
// on a connection of its own; a worker's own, on its connection, every clock_check_interval_.
// Returns how many rows changed.
int64_t AlertDispatcher::catch_up_with_clock(sql::Database* db, const Worker* w) {
    try {
        std::optional<sql::Database> own;
        if (!db) db = &own.emplace(db_path_);
        const std::string* target = w ? &w->target.name : nullptr;
        auto r = reschedule_future_alerts(*db, now_us(), schedule_horizon(), kClockSlack, target);
        if (r.count == 0) return 0;
        LogLine line(logger_, LogLevel::Warn, "alerts_rescheduled");
        if (w) line.str("target", w->label);
        line.num("alerts", r.count).num("ahead_s", r.furthest / kMicrosPerSecond);
        line.str("reason", "the system clock moved back: these pending alerts were scheduled or "
                           "stamped by a clock ahead of the present one, and would have waited "
                           "for it to catch up; they are due now, oldest first");
        return r.count;
    } catch (const std::exception& e) {
        LogLine line(logger_, LogLevel::Warn, "alert_dispatcher_error");
        if (w) line.str("target", w->label);
        line.str("error", e.what());
        return 0;
    }
}

// One line per target (with its 410 state), and a warning for pending rows whose target is
// no longer configured: they would wait forever. Before the workers start, so the lines
// come before anything the workers log.
void AlertDispatcher::log_targets() {
    try {
        sql::Database db(db_path_, sql::OpenMode::ReadOnly);
        sql::Statement disabled(db, "SELECT reason FROM alert_targets_disabled WHERE target = ?");
        for (const auto& w : workers_) {
            std::string events = w->target.churned ? std::string(kCustomerChurned) : "";
            if (w->target.reactivated)
                events += (events.empty() ? "" : ",") + std::string(kCustomerReactivated);
            if (w->target.retracted)
                events += (events.empty() ? "" : ",") + std::string(kCustomerChurnRetracted);
            if (w->target.updated)
                events += (events.empty() ? "" : ",") + std::string(kCustomerChurnUpdated);
            LogLine line(logger_, LogLevel::Info, "alert_target");
            line.str("target", w->label).str("events", events);
            disabled.reset();
            disabled.bind(1, w->target.name);
            if (disabled.step()) {
                line.boolean("disabled", true).str("disabled_reason", disabled.column_text(0));
                line.str("hint", "`churnwatch alerts retry ID` of one of its alerts re-enables it");
            }
        }
        sql::Statement pending(db,
                               "SELECT target, count(*) FROM alerts_outbox WHERE status = 'pending'"
                               " GROUP BY target");
        while (pending.step()) {
            std::string target = pending.column_text(0);
            bool known = false;
            for (const auto& w : workers_) known |= w->target.name == target;
            if (known) continue;
            std::string label = stored_target_label(target);
            LogLine(logger_, LogLevel::Warn, "alert_target_unconfigured")
                .str("target", label)
                .num("pending", pending.column_int(1))
                .str("hint", "these alerts wait until the target is configured again");
        }
    } catch (const std::exception& e) {
        LogLine(logger_, LogLevel::Warn, "alert_dispatcher_error").str("error", e.what());
    }
}

void AlertDispatcher::run(Worker& w) {
    std::unique_ptr<sql::Database> db;
    std::unique_ptr<WorkerStatements> st;
    uint64_t seen = 0;
    Micros error_pause_until = 0;  // after a database error, a second before the next try
    bool more = false;             // the last batch was full: look again without waiting
    const std::string retries_key = alert_retries_key(w.target.name);
    // start() looked at every target's rows: the first look here is one interval later.
    auto next_clock_check = std::chrono::steady_clock::now() + clock_check_interval_;
    auto cancelled = [this] { return stopping_.load(); };
    for (;;) {
        {
            std::unique_lock lock(mu_);
            if (!more) cv_.wait_for(lock, kPollInterval, [&] { return stopping_ || generation_ != seen; });
            if (stopping_) break;
            seen = generation_;
        }
        more = false;
        try {
            if (!db) {
                db = std::make_unique<sql::Database>(db_path_);
                configure_connection(*db);
                st = std::make_unique<WorkerStatements>(*db);
            }
            if (const auto now = std::chrono::steady_clock::now(); now >= next_clock_check) {
                next_clock_check = now + clock_check_interval_;
                // A rest taken by a clock since moved back would last until it caught up:
                // its row is made due now.
                catch_up_with_clock(db.get(), &w);
            }
            if (now_us() < error_pause_until) continue;
            // Read before the due rows: an `alerts retry` after this, while an attempt is under
            // way, ends the rest that attempt's failure begins (below).
            const int64_t retries_seen = retries_of(*st, retries_key);
            std::vector<Row> rows;
            st->due.reset();
            st->due.bind(1, w.target.name).bind(2, now_us()).bind(3, kBatch);
            while (st->due.step()) {
                rows.push_back({st->due.column_int(0), st->due.column_text(1), st->due.column_text(2),
                                st->due.column_text(3), st->due.column_int(4), st->due.column_int(5),
                                st->due.column_int(6) != 0});
            }
            st->due.reset();  // ends the read transaction: never hold a snapshot while sending
            bool interrupted = false;
            for (Row& row : rows) {
                if (stopping_) break;
                // A churn, a return or a correction that was undone before its first attempt
                // (alert-hold, or a late delivery) is withdrawn by the outbox; the claim tells
                // which came first. A late delivery may have rewritten the payload since it
                // was read: the claim gives the bytes that this and every later attempt send.
                if (!row.attempted) {
                    auto claimed = claim_alert(*db, row.id, now_us());
                    if (!claimed) continue;
                    row.payload = std::move(*claimed);
                }
                auto started = std::chrono::steady_clock::now();
                Attempt at = w.target.is_command() ? run_command(w.target, row, settings_.timeout, cancelled)
                             : w.target.chat       ? send_chat(w.target, row, settings_.timeout, cancelled)
                                                   : send_http(w.target, *w.signer, row, now_us(), settings_.timeout, cancelled);
                if (at.abandoned) break;
                std::uniform_real_distribution<double> jitter(0.0, 1.0);
                Micros now = now_us();
                AlertDecision d = decide_alert(settings_.policy, at.outcome,
                                               static_cast<int>(row.attempts + 1), row.retry_from,
                                               now, jitter(w.rng));
                if (!at.detail.empty()) d.reason += ": " + at.detail;
                record(w.target.name, *st, *db, row, d, at.last_status, now);
                report(metrics_, logger_, w.label, row, d, at.last_status, now,
                       std::chrono::steady_clock::now() - started, at.stderr_note);
                // Retry: the target rests until that row's next attempt (the due query sees
                // it), so a down receiver gets one probe per backoff step, and the oldest
                // alert goes first when it is back.
                if (d.action == AlertAction::Retry && retries_of(*st, retries_key) != retries_seen) {
                    // An operator asked for a resend during the attempt: the receiver is back,
                    // by their word. (A retry after this finds the row resting and ends it.)
                    st->end_rest.reset();
                    st->end_rest.bind(1, row.id).bind(2, now).run();
                }
                if (d.action == AlertAction::Retry || d.action == AlertAction::DisableTarget) {
                    interrupted = true;
                    break;
                }
            }
            more = !interrupted && !stopping_ && rows.size() == static_cast<std::size_t>(kBatch);
        } catch (const std::exception& e) {
            // A busy or broken database: reopen and try again shortly, never crash serving.
            LogLine(logger_, LogLevel::Error, "alert_dispatcher_error")
                .str("target", w.label)
                .str("error", e.what());
            st.reset();
            db.reset();
            error_pause_until = now_us() + kMicrosPerSecond;
        }
    }
}

}  // namespace churnwatch
