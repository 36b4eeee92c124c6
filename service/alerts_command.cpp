// `churnwatch alerts list [--status S]` and `churnwatch alerts retry ID…|--all-dead`: look at
// the alert outbox and send dead-lettered (or disabled) alerts again. Works beside a running
// server: its dispatcher polls the outbox and picks retried rows up within a second, also
// when it was resting the target after a failure (the rest is a pending alert attempted
// before and due later: the retry makes those of the target due now too, so the target's
// alerts go out in order at once), or attempting one of its alerts that then fails (the retry
// counts itself in service_state, alert_retries_key, which the dispatcher compares).
//
// Retrying resets a row to pending, due now, with attempts 0 and a fresh retry budget; its
// payload and webhook-id stay (receivers deduplicate on the id). Retrying an alert of a
// target disabled by 410 Gone re-enables that target: asking for a resend means the
// operator believes the receiver is back. Its other disabled alerts stay disabled (listed,
// retry them by id) — a 410 often means "moved", and those alerts may be unwanted.
#include <algorithm>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "alert_config.h"
#include "alert_outbox.h"
#include "alert_retry.h"
#include "commands.h"
#include "crypto.h"
#include "http_client.h"
#include "schema.h"
#include "settings.h"
#include "sqlite.h"
#include "time_util.h"
#include "utf8_text.h"

namespace churnwatch {

namespace {

constexpr int kListLimit = 1000;       // rows printed at most (newest first)
constexpr std::size_t kErrorWidth = 60;

Micros now_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}


// Characters, not bytes: a column of UTF-8 text (a chat label's "…", a receiver's error in
// another language) lines up by what the terminal shows.
std::size_t display_width(const std::string& s) { return utf8::char_count(s); }

// At most `width` characters, cut between characters (never inside one: the output stays
// valid UTF-8), control characters as spaces.
std::string shorten(const std::string& text, std::size_t width) {
    std::string s = utf8::single_line(text);
    if (utf8::char_count(s) <= width) return s;
    return std::string(utf8::head_chars(s, width - 3)) + "...";
}

// The usage, after `churnwatch alerts ACTION: MESSAGE` when there is a message; exit 2.
int usage(const std::string& action = "", const std::string& message = "") {
    if (!message.empty())
        std::fprintf(stderr, "churnwatch alerts%s%s: %s\n", action.empty() ? "" : " ",
                     action.c_str(), message.c_str());
    std::fprintf(stderr,
                 "usage: churnwatch alerts list [--db PATH] [--status pending|sent|dead|disabled|retracted]\n"
                 "       churnwatch alerts retry ID... [--db PATH]\n"
                 "       churnwatch alerts retry --all-dead [--db PATH]\n");
    return 2;
}

// Never creates or migrates a database (a mistyped --db must not leave an empty one behind,
// and migrating belongs to the server); a database from before alerts simply has none.
std::unique_ptr<sql::Database> open_db(const Config& config, sql::OpenMode mode) {
    auto db = std::make_unique<sql::Database>(existing_database(config), mode);
    if (mode == sql::OpenMode::ReadWrite) configure_connection(*db);
    return db;
}

bool has_outbox(sql::Database& db) {
    sql::Statement q(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alerts_outbox'");
    return q.step();
}

int list(const Config& config) {
    std::string status, error;
    if (!read_alert_status(config, status, error)) {
        std::cerr << "churnwatch alerts list: " << error << "\n";
        return 2;
    }
    auto db = open_db(config, sql::OpenMode::ReadOnly);
    if (!has_outbox(*db)) {
        std::printf("no alerts (this database predates alert hooks)\n");
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    int64_t total = 0;
    {
        sql::Statement count(*db, "SELECT count(*) FROM alerts_outbox WHERE ?1 = '' OR status = ?1");
        count.bind(1, status);
        if (count.step()) total = count.column_int(0);
        sql::Statement q(*db,
                         "SELECT id, target, event_type, status, attempts, last_status, last_error,"
                         " created_us, next_attempt_us FROM alerts_outbox"
                         " WHERE ?1 = '' OR status = ?1 ORDER BY id DESC LIMIT ?2");
        q.bind(1, status).bind(2, kListLimit);
        // While a target rests after a failure (an attempted alert of it is due later), none
        // of its alerts goes before that one's next attempt (the dispatcher's due query): an
        // alert due earlier waits for it, and shows when it can go at the earliest.
        sql::Statement rest(*db,
                            "SELECT min(next_attempt_us) FROM alerts_outbox WHERE target = ?1 AND status = 'pending'"
                            " AND last_attempt_us IS NOT NULL AND next_attempt_us > ?2");
        const Micros now = now_us();
        std::map<std::string, Micros> rests;
        auto not_before = [&](const std::string& target, Micros due) {
            auto it = rests.find(target);
            if (it == rests.end()) {
                rest.reset();
                rest.bind(1, target).bind(2, now);
                it = rests.emplace(target, rest.step() ? rest.column_opt_int(0).value_or(0) : 0).first;
            }
            return std::max(due, it->second);
        };
        while (q.step()) {
            std::string st = q.column_text(3);
            rows.push_back({std::to_string(q.column_int(0)), stored_target_label(q.column_text(1)),
                            q.column_text(2), st, std::to_string(q.column_int(4)),
                            q.is_null(5) ? "-" : std::to_string(q.column_int(5)),
                            shorten(q.column_opt_text(6).value_or("-"), kErrorWidth),
                            format_time(q.column_int(7) / kMicrosPerSecond * kMicrosPerSecond),
                            st == "pending" ? format_time(not_before(q.column_text(1), q.column_int(8)) /
                                                          kMicrosPerSecond * kMicrosPerSecond)
                                            : "-"});
        }
    }
    std::vector<std::string> head{"id", "target", "event", "status", "attempts", "last_status",
                                  "last_error", "created_at", "next_attempt_at"};
    if (rows.empty()) {
        std::printf("no alerts%s\n", status.empty() ? "" : (" with status " + status).c_str());
    } else {
        std::vector<std::size_t> width(head.size());
        for (std::size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
        for (const auto& r : rows)
            for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], display_width(r[i]));
        auto print = [&](const std::vector<std::string>& r) {
            for (std::size_t i = 0; i < r.size(); ++i) {
                std::fputs(r[i].c_str(), stdout);
                if (i + 1 < r.size()) std::printf("%*s", static_cast<int>(width[i] - display_width(r[i]) + 2), "");
            }
            std::fputs("\n", stdout);
        };
        print(head);
        for (auto it = rows.rbegin(); it != rows.rend(); ++it) print(*it);  // oldest first
        if (total > static_cast<int64_t>(rows.size()))
            std::printf("(the newest %zu of %lld; narrow with --status)\n", rows.size(), (long long)total);
    }
    sql::Statement disabled(*db, "SELECT target, disabled_us, reason FROM alert_targets_disabled ORDER BY target");
    bool first = true;
    while (disabled.step()) {
        if (first) std::printf("\ndisabled targets (retry one of their alerts to re-enable):\n");
        first = false;
        std::printf("  %s  since %s  %s\n", stored_target_label(disabled.column_text(0)).c_str(),
                    format_time(disabled.column_int(1) / kMicrosPerSecond * kMicrosPerSecond).c_str(),
                    disabled.column_text(2).c_str());
    }
    return 0;
}

int retry(const Config& config, const std::vector<std::string>& ids_text) {
    bool all_dead = false;
    std::string error;
    if (!read_all_dead(config, all_dead, error)) {
        std::cerr << "churnwatch alerts retry: " << error << "\n";
        return 2;
    }
    if (all_dead && !ids_text.empty()) {
        return usage("retry", "unexpected argument '" + ids_text.front() +
                                  "' (--all-dead retries every dead alert: give ids or "
                                  "--all-dead, not both)");
    }
    if (!all_dead && ids_text.empty()) return usage("retry", "give alert ids or --all-dead");
    std::vector<int64_t> ids;
    for (const auto& t : ids_text) {
        char* end = nullptr;
        long long v = std::strtoll(t.c_str(), &end, 10);
        if (t.empty() || *end != '\0' || v <= 0) {
            std::cerr << "churnwatch alerts retry: '" << t << "' is not an alert id\n";
            return 2;
        }
        ids.push_back(v);
    }
    auto db = open_db(config, sql::OpenMode::ReadWrite);
    if (!has_outbox(*db)) {
        std::fprintf(stderr, "churnwatch alerts retry: this database has no alerts\n");
        return 1;
    }
    Micros now = now_us();
    sql::Transaction txn(*db);
    if (all_dead) {
        sql::Statement q(*db, "SELECT id FROM alerts_outbox WHERE status = 'dead' ORDER BY id");
        while (q.step()) ids.push_back(q.column_int(0));
    }
    sql::Statement find(*db,
                        "SELECT target, status, last_error, event_type, episode_id, customer_id, payload,"
                        " last_attempt_us IS NOT NULL FROM alerts_outbox WHERE id = ?");
    sql::Statement reset(*db,
                         "UPDATE alerts_outbox SET status = 'pending', attempts = 0,"
                         " next_attempt_us = ?2, retry_from_us = ?2, last_error = NULL, sent_us = NULL"
                         " WHERE id = ?1");
    sql::Statement rewrite(*db, "UPDATE alerts_outbox SET payload = ?2, webhook_id = coalesce(?3, webhook_id) WHERE id = ?1");
    sql::Statement enable(*db, "DELETE FROM alert_targets_disabled WHERE target = ?");
    // Ends the target's rest after a failure (up to 10 minutes, or a long Retry-After): asking
    // for a resend means the receiver is back. Its alerts that wait out a backoff step are
    // due now, and go in order with the retried ones (alert-hold's held churns stay held).
    sql::Statement end_rest(*db,
                            "UPDATE alerts_outbox SET next_attempt_us = ?2 WHERE target = ?1"
                            " AND status = 'pending' AND last_attempt_us IS NOT NULL AND next_attempt_us > ?2");
    // An attempt under way now is not resting yet: the count tells the dispatcher that the
    // rest its failure would begin is over before it begins (alert_retries_key).
    sql::Statement count_retry(*db,
                               "INSERT INTO service_state (key, value) VALUES (?1, '1') ON CONFLICT (key)"
                               " DO UPDATE SET value = CAST(value AS INTEGER) + 1");
    // Ids up to this one were given out (AUTOINCREMENT): one of them missing was deleted.
    sql::Statement last_id(*db, "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'alerts_outbox'), 0)");
    const int64_t given_out = last_id.step() ? last_id.column_int(0) : 0;
    int missing = 0, retried = 0;
    std::set<std::string> enabled, rested;
    for (int64_t id : ids) {
        find.reset();
        find.bind(1, id);
        if (!find.step()) {
            std::fprintf(stderr, "alert %lld: no such alert%s\n", (long long)id,
                         id <= given_out ? " (deleted: finished alerts are kept for alert-retention-days, "
                                           "30 by default, after they finished)"
                                         : "");
            ++missing;
            continue;
        }
        std::string target = find.column_text(0), status = find.column_text(1);
        // Why it was retracted: a late delivery erased the churn, or the customer was back
        // within alert-hold.
        std::string why = find.column_opt_text(2).value_or("the churn it announced was undone");
        const std::string type = find.column_text(3), payload = find.column_text(6);
        const int64_t episode_id = find.column_int(4), customer_id = find.column_int(5);
        const bool attempted = find.column_int(7) != 0;
        find.reset();
        if (status == "retracted") {
            std::fprintf(stderr, "alert %lld: retracted, not sent: %s\n", (long long)id, why.c_str());
            ++missing;
            continue;
        }
        // What became of the episode since: an alert that would tell the target something the
        // facts no longer show is not sent (after the retraction or correction it may have
        // been sent); one a late delivery changed carries the episode as it is now.
        const AlertRetryBody body = alert_body_for_retry(*db, type, episode_id, customer_id, payload, now);
        if (body.refused) {
            // A pending row the dispatcher has begun on stays as it is: what undoes it
            // (a retraction, a correction) follows it to the target.
            std::fprintf(stderr, "alert %lld: not %s: %s\n", (long long)id,
                         status == "pending" ? "reset (it is still being tried, and what undoes it follows it)"
                                             : "sent again",
                         body.refused->c_str());
            ++missing;
            continue;
        }
        if (body.rewritten) {
            // A new webhook-id once an attempt carried the old bytes (a receiver that took
            // them would drop the new ones as a duplicate); one never attempted keeps its id,
            // which the dispatcher may have read already, and claims the new bytes with it.
            rewrite.reset();
            rewrite.bind(1, id).bind(2, *body.rewritten);
            rewrite.bind(3, attempted ? std::optional<std::string>(random_webhook_id()) : std::nullopt).run();
        }
        reset.reset();
        reset.bind(1, id).bind(2, now).run();
        ++retried;
        std::printf("alert %lld (%s, was %s): pending%s\n", (long long)id, stored_target_label(target).c_str(),
                    status.c_str(),
                    !body.rewritten ? ""
                    : attempted     ? "; a later delivery changed the episode since it was recorded: it now carries "
                                      "the episode as it is, with a new webhook-id"
                                    : "; a later delivery changed the episode since it was recorded: it now carries "
                                      "the episode as it is");
        enable.reset();
        enable.bind(1, target).run();
        if (db->changes() > 0 && enabled.insert(target).second)
            std::printf("target %s re-enabled\n", stored_target_label(target).c_str());
        if (rested.insert(target).second) {
            end_rest.reset();
            end_rest.bind(1, target).bind(2, now).run();
            count_retry.reset();
            count_retry.bind(1, alert_retries_key(target)).run();
        }
    }
    txn.commit();
    std::printf("%d alert%s queued for sending\n", retried, retried == 1 ? "" : "s");
    return missing ? 1 : 0;
}

}  // namespace

int alerts_command(const Config& config) {
    const auto& pos = config.positional();
    if (pos.empty()) return usage();
    if (pos[0] != "list" && pos[0] != "retry") return usage("", "unknown action '" + pos[0] + "'");
    try {
        if (pos[0] == "list") {
            if (pos.size() > 1) return usage("list", "unexpected argument '" + pos[1] + "'");
            return list(config);
        }
        return retry(config, std::vector<std::string>(pos.begin() + 1, pos.end()));
    } catch (const std::exception& e) {
        std::cerr << "churnwatch alerts: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace churnwatch
