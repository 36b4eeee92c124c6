#include "commands.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <iostream>
#include <utility>

#include "alert_config.h"
#include "alert_dispatcher.h"
#include "alert_outbox.h"
#include "churn_store.h"
#include "http_server.h"
#include "instance_lock.h"
#include "log.h"
#include "metrics.h"
#include "request_handler.h"
#include "settings.h"
#include "signature.h"
#include "writer.h"
#include "writer_metrics.h"

namespace churnwatch {

namespace {

// After an upgrade that changed the rules, the churn tables mix the old rules' rows (every
// customer not heard of since) with the new ones' until a rebuild: say so at start, where
// an operator looks, and as a gauge an alert can watch.
void report_rules_version(int64_t derived, Metrics& metrics, Logger& logger) {
    metrics.describe_gauge("churnwatch_rebuild_recommended",
                           "1 when the churn tables were computed by older rules than this "
                           "binary's: run churnwatch rebuild (service stopped).");
    const bool stale = derived > 0 && derived < kRulesVersion;
    metrics.set("churnwatch_rebuild_recommended", {}, stale ? 1 : 0);
    if (!stale) return;
    LogLine(logger, LogLevel::Warn, "rebuild_recommended")
        .num("rules_version", derived)
        .num("current", kRulesVersion)
        .str("why", "the churn tables were computed by an older version's rules; customers not "
                    "heard of since keep those rows until `churnwatch rebuild` (service stopped)");
}

// Ends the process if the stop after the drain has not finished within its grace. Every
// acknowledged delivery is on disk by then; the rest was never acknowledged. A line says so,
// rather than the process hanging until a SIGKILL that says nothing.
class StopWatchdog {
public:
    StopWatchdog(Logger& logger, std::chrono::seconds grace)
        : thread_([this, &logger, grace] {
              std::unique_lock lock(mu_);
              if (cv_.wait_for(lock, grace, [this] { return disarmed_; })) return;
              LogLine(logger, LogLevel::Error, "shutdown")
                  .str("phase", "forced")
                  .str("reason", "the database did not finish its last writes within " +
                                     std::to_string(grace.count()) +
                                     " s of the drain (disk not answering?): exiting without them; "
                                     "every acknowledged delivery is on disk");
              std::_Exit(1);
          }) {}
    ~StopWatchdog() { disarm(); }
    void disarm() {
        {
            std::lock_guard lock(mu_);
            disarmed_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool disarmed_ = false;
    std::thread thread_;  // last: started once the rest is ready
};

}  // namespace

int serve_command(const Config& config) {
    // The same validation as `config check`: what it accepts, serve starts with.
    Settings s;
    std::string error;
    if (!read_settings(config, s, error)) {
        std::cerr << "churnwatch serve: " << error << "\n";
        return 2;
    }
    Logger logger(2, s.level);
    if (s.secrets.empty()) {
        LogLine(logger, LogLevel::Warn, "config")
            .str("warning", "no secret configured (--secret or CHURNWATCH_SECRETS): every "
                            "delivery will be rejected with 401");
    }
    for (const auto& w : s.alerts.warnings) LogLine(logger, LogLevel::Warn, "config").str("warning", w);
    // A mistyped variable (CHURNWATCH_LOGLEVEL) has no effect: say so, once each.
    for (const auto& v : unknown_environment_variables()) {
        LogLine line(logger, LogLevel::Warn, "config");
        line.str("warning", v.warning).str("variable", v.name);
        if (!v.suggestion.empty()) line.str("suggestion", v.suggestion);
    }
    KeyRing keys(s.secrets, s.window);
    Metrics metrics;
    metrics.describe_gauge("churnwatch_build_info", "Build information (always 1).");
    metrics.set("churnwatch_build_info", {{"version", CHURNWATCH_VERSION}, {"commit", CHURNWATCH_COMMIT}}, 1);
    register_process_metrics(metrics);
    register_storage_metrics(metrics, s.db);
    WriterMetrics writer_metrics(metrics, &logger);
    writer_metrics.watch_disk([db = s.db] { return disk_space_of(db); });

    // Before the database is opened: a second server must not touch it at all.
    auto instance = InstanceLock::acquire(s.db, error);
    if (!instance) {
        LogLine(logger, LogLevel::Error, "fatal").str("error", error);
        std::cerr << "churnwatch serve: " << error << "\n";
        return 1;
    }
    try {
        // Before the database is created or migrated: a --listen address already in use ends
        // the start here (exit 1, naming it), with nothing written beside the lock file. After
        // the lock: a second serve on this database is told so, whatever its address.
        // Listening from here on: connections wait in the kernel's queue until run() accepts.
        ListeningSocket listener = ListeningSocket::open(s.server);
        ChurnStore churn(s.rules, &metrics);
        // Alert hooks: outbox rows commit with the churn that causes them (the listener runs
        // inside the writer's transaction); the dispatcher sends them on its own threads.
        AlertOutbox alert_outbox(alert_routes(s.alerts.targets));
        alert_outbox.set_hold(s.alerts.hold);
        if (!s.alerts.targets.empty()) churn.set_listener(&alert_outbox);
        AlertDispatcher alerts(s.db, s.alerts, &metrics, logger);
        AlertCommitNotifier alert_notifier(alert_outbox, alerts, &writer_metrics);
        Writer writer(s.db, s.writer, &churn, &alert_notifier);
        alerts.start();  // after the writer: its constructor created and migrated the database
        report_rules_version(churn.derived_with(), metrics, logger);  // the writer prepared it
        RequestHandler handler(keys, writer, metrics, logger, s.ingest);
        {
            // Once, on a connection of its own (reads: a failure here is the writer's own).
            sql::Database db(s.db);
            recall_last_deliveries(metrics, db);
            try {
                // What a plain `rebuild` judges with (it is run without serve's settings).
                record_auto_churn_days(db, s.rules.auto_churn_after_max_retries_days);
            } catch (const std::exception& e) {
                LogLine(logger, LogLevel::Warn, "auto_churn_days_not_recorded").str("error", e.what());
            }
            try {
                if (store_report_calendar(db, s.calendar))
                    LogLine(logger, LogLevel::Info, "report_calendar")
                        .str("report_timezone", s.calendar.zone)
                        .str("note", "the analyst views now count this zone's calendar months");
            } catch (const std::exception& e) {
                // Only the analysts' month boundaries wait for the next start: never deliveries.
                LogLine(logger, LogLevel::Warn, "report_calendar_failed")
                    .str("report_timezone", s.calendar.zone)
                    .str("error", e.what());
            }
        }
        handler.watch_free_space([db = s.db]() -> std::optional<std::uint64_t> {
            if (auto space = disk_space_of(db)) return space->available_bytes;
            return std::nullopt;
        });
        HttpServer server(s.server, handler, logger);
        metrics.describe_gauge("churnwatch_http_connections",
                               "Client connections open now (at most --max-connections).");
        metrics.gauge_fn("churnwatch_http_connections",
                         [&server] { return static_cast<double>(server.open_connections()); });
        // A counter whose value is read at scrape time: describe_counter fixes the type.
        metrics.describe_counter("churnwatch_http_idle_connections_closed_total",
                                 "Idle keep-alive connections closed to accept new ones at --max-connections.");
        metrics.gauge_fn("churnwatch_http_idle_connections_closed_total",
                         [&server] { return static_cast<double>(server.idle_connections_closed()); });
        // A batch's answers run together on the I/O thread; their log lines go out as one write.
        writer.set_completion_executor([&server, &logger](std::function<void()> f) {
            server.post([f = std::move(f), &logger] {
                Logger::Batch lines(logger);
                f();
            });
        });
        std::string bound = server.bind(std::move(listener));
        std::printf("listening on %s\n", bound.c_str());
        std::fflush(stdout);
        LogLine(logger, LogLevel::Info, "started")
            .str("version", CHURNWATCH_VERSION)
            .str("commit", CHURNWATCH_COMMIT)
            .str("listen", bound)
            .str("db", s.db)
            .num("secrets", static_cast<int64_t>(keys.size()))
            .num("threads", s.server.threads)
            .num("alert_targets", static_cast<int64_t>(s.alerts.targets.size()));
        server.run();
        // A disk that does not answer (frozen, a dead network filesystem) would hold the last
        // commit, and the exit with it, for ever: what follows gets stop-grace (Settings).
        StopWatchdog watchdog(logger, s.stop_grace);
        // Before the writer: the dispatcher needs nothing from it, and with the dispatcher's
        // connections closed the writer's final checkpoint can truncate the WAL. Alerts the
        // last batch adds stay pending in the outbox and go out after the next start.
        alerts.stop();
        writer.stop();
        watchdog.disarm();
        // What the next start finds to do: deliveries stored but not yet projected (a last
        // projection that failed or ran out of time), and whether the last commit failed.
        LogLine(logger, writer.last_commit_ok() ? LogLevel::Info : LogLevel::Warn, "stopped")
            .num("projection_lag", writer.projection_lag())
            .boolean("last_commit_ok", writer.last_commit_ok());
    } catch (const std::exception& e) {
        LogLine(logger, LogLevel::Error, "fatal").str("error", e.what());
        std::cerr << "churnwatch serve: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace churnwatch
