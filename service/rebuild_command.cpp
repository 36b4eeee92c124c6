// `churnwatch rebuild`: recompute every churn table from the stored deliveries.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

#include "churn_store.h"
#include "commands.h"
#include "report_calendar.h"
#include "schema.h"
#include "settings.h"

namespace churnwatch {

int rebuild_command(const Config& config) {
    std::string error;
    auto depth = config.get_int("json-depth", 2, static_cast<long long>(kMaxJsonDepth), error);
    auto churn_days = config.get_int("auto-churn-days", 0, 3650, error);
    ReportCalendar calendar;
    if (!depth || !churn_days || !read_report_timezone(config, calendar, error)) {
        std::cerr << "churnwatch rebuild: " << error << "\n";
        return 2;
    }
    bool tty = ::isatty(2);
    try {
        // Never creates a database: a mistyped --db used to make an empty one and report
        // "0 deliveries replayed" with exit 0.
        sql::Database db(existing_database(config));
        configure_connection(db);
        apply_migrations(db);
        // Every version row the rebuild writes names the delivery it is reading, in the same
        // transaction, so the delivery_id foreign keys cannot fail; checking them is a lookup
        // in the deliveries table per row. (A pragma, so it must precede BEGIN.)
        db.exec("PRAGMA foreign_keys=OFF");
        // Alone with the database (the service stopped), the rebuild writes every page once
        // (~0.7 s of 7 for a million deliveries here); otherwise it stays in WAL.
        const bool alone = use_rollback_journal(db);
        // The settings that shape the churn tables, as they were last derived, unless given:
        // a rebuild is run by hand, usually without serve's environment file, and would
        // otherwise turn the months back to UTC and drop every auto-churn episode (which
        // serve's next pass would then add again under new ids).
        std::string kept;
        if (config.source("report-timezone") == "default") {
            if (const std::string zone = stored_report_timezone(db); zone != calendar.zone) {
                auto stored = report_calendar(zone, error);
                if (!stored)
                    throw std::runtime_error("the database's report-timezone: " + error +
                                             " (give --report-timezone)");
                calendar = std::move(*stored);
                kept += "report-timezone " + zone;
            }
        }
        RulesPolicy policy;
        if (config.source("auto-churn-days") == "default") {
            if (const auto days = stored_auto_churn_days(db)) {
                policy.auto_churn_after_max_retries_days = *days;
                kept += (kept.empty() ? "" : ", ") + ("auto-churn-days " + std::to_string(*days));
            }
        } else if (*churn_days > 0) {
            policy.auto_churn_after_max_retries_days = *churn_days;
        }
        if (!kept.empty())
            std::printf("rebuild: %s, as the churn tables were derived (give the option to change it)\n",
                        kept.c_str());
        store_report_calendar(db, calendar);
        ChurnStore churn(policy);
        sql::Transaction txn(db);
        auto stats = churn.rebuild(db, static_cast<std::size_t>(*depth), [tty](int64_t done, int64_t total) {
            if (tty) std::fprintf(stderr, "\rrebuild: %lld / %lld deliveries", (long long)done, (long long)total);
        });
        record_auto_churn_days(db, policy.auto_churn_after_max_retries_days);
        auto commit_began = std::chrono::steady_clock::now();
        txn.commit();
        stats.seconds.emplace_back(
            "commit", std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_began).count());
        if (tty) std::fprintf(stderr, "\n");
        if (alone) {
            try {
                configure_connection(db);
            } catch (const sql::Error& e) {
                // Committed already; the service's next start switches back to WAL.
                std::cerr << "churnwatch rebuild: note: the database stays in rollback-journal mode until the "
                             "service starts: "
                          << e.what() << "\n";
            }
        }
        std::printf("rebuild: %lld deliveries replayed, %lld customers, %lld churn episodes, "
                    "%lld quarantined; months in %s\n",
                    (long long)stats.deliveries, (long long)stats.customers,
                    (long long)stats.episodes, (long long)stats.quarantined, calendar.zone.c_str());
        std::string steps;
        for (const auto& [name, seconds] : stats.seconds) {
            char part[96];
            std::snprintf(part, sizeof part, "%s%s %.2f s", steps.empty() ? "" : ", ", name, seconds);
            steps += part;
        }
        std::printf("rebuild: %s%s\n", steps.c_str(), alone ? "" : " (in WAL: another connection had the database open)");
    } catch (const std::exception& e) {
        std::cerr << "churnwatch rebuild: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace churnwatch
