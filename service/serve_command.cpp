#include "commands.h"

#include <cstdio>
#include <iostream>

#include "alert_config.h"
#include "alert_dispatcher.h"
#include "alert_outbox.h"
#include "churn_store.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "request_handler.h"
#include "signature.h"
#include "writer.h"
#include "writer_metrics.h"

namespace churnwatch {

namespace {

bool parse_listen(const std::string& text, ServerOptions& o, std::string& error) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size()) {
        error = "--listen must be HOST:PORT (got '" + text + "')";
        return false;
    }
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "localhost") host = "127.0.0.1";
    char* end = nullptr;
    long port = std::strtol(text.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) {
        error = "--listen port must be 0..65535 (got '" + text.substr(colon + 1) + "')";
        return false;
    }
    o.host = host.empty() ? "0.0.0.0" : host;
    o.port = static_cast<unsigned short>(port);
    return true;
}

std::optional<LogLevel> parse_level(const std::string& s) {
    if (s == "debug") return LogLevel::Debug;
    if (s == "info") return LogLevel::Info;
    if (s == "warn") return LogLevel::Warn;
    if (s == "error") return LogLevel::Error;
    return std::nullopt;
}

struct ServeSettings {
    ServerOptions server;
    WriterOptions writer;
    IngestOptions ingest;
    RulesPolicy rules;
    AlertSettings alerts;
    std::vector<std::string> secrets;
    std::chrono::seconds window{172800};
    std::string db;
    LogLevel level = LogLevel::Info;
};

bool read_settings(const Config& c, ServeSettings& s, std::string& error) {
    if (!parse_listen(c.get_or("listen"), s.server, error)) return false;
    s.db = c.get_or("db");
    s.secrets = c.get_all("secret");
    auto num = [&](const char* name, long long min, long long max, auto& out) {
        auto v = c.get_int(name, min, max, error);
        if (v) out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
        return v.has_value();
    };
    long long timeout_s = 0, window_s = 0, churn_days = 0, dedupe_days = 0;
    if (!num("threads", 1, 64, s.server.threads) ||
        !num("max-body", 1, 64LL << 20, s.server.body_limit) ||
        !num("max-header", 1024, 1 << 20, s.server.header_limit) ||
        !num("max-connections", 1, 1 << 20, s.server.max_connections) ||
        !num("request-timeout", 1, 3600, timeout_s) ||
        !num("queue-capacity", 1, 10000000, s.writer.queue_capacity) ||
        !num("max-batch", 1, 100000, s.writer.max_batch) ||
        !num("json-depth", 2, 10000, s.ingest.json.max_depth) ||
        !num("signature-window", 1, 10LL * 365 * 86400, window_s) ||
        !num("auto-churn-days", 0, 3650, churn_days) ||
        !num("dedupe-days", 1, 3650, dedupe_days) ||
        !num("projection-max-lag", 0, 100000000, s.writer.projection_max_lag)) {
        return false;
    }
    s.server.request_timeout = std::chrono::seconds(timeout_s);
    s.writer.dedupe.window = dedupe_days * 86400 * kMicrosPerSecond;
    s.window = std::chrono::seconds(window_s);
    if (churn_days > 0) s.rules.auto_churn_after_max_retries_days = churn_days;
    s.ingest.id_header = c.get_or("id-header");
    s.server.tls_cert = c.get_or("tls-cert");
    s.server.tls_key = c.get_or("tls-key");
    if (s.server.tls_cert.empty() != s.server.tls_key.empty()) {
        error = "--tls-cert and --tls-key go together";
        return false;
    }
    auto level = parse_level(c.get_or("log-level"));
    if (!level) {
        error = "--log-level must be debug, info, warn or error";
        return false;
    }
    s.level = *level;
    s.writer.projection.json = s.ingest.json;  // read-backs judge bodies as ingest did
    return read_alert_settings(c, s.alerts, error);
}

}  // namespace

int serve_command(const Config& config) {
    ServeSettings s;
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
    KeyRing keys(s.secrets, s.window);
    Metrics metrics;
    metrics.describe_gauge("churnwatch_build_info", "Build information (always 1).");
    metrics.set("churnwatch_build_info", {{"version", CHURNWATCH_VERSION}}, 1);
    register_process_metrics(metrics);
    WriterMetrics writer_metrics(metrics);

    try {
        ChurnStore churn(s.rules, &metrics);
        // Alert hooks: outbox rows commit with the churn that causes them (the listener runs
        // inside the writer's transaction); the dispatcher sends them on its own threads.
        AlertOutbox alert_outbox(alert_routes(s.alerts.targets));
        if (!s.alerts.targets.empty()) churn.set_listener(&alert_outbox);
        AlertDispatcher alerts(s.db, s.alerts, &metrics, logger);
        AlertCommitNotifier alert_notifier(alert_outbox, alerts, &writer_metrics);
        Writer writer(s.db, s.writer, &churn, &alert_notifier);
        alerts.start();  // after the writer: its constructor created and migrated the database
        RequestHandler handler(keys, writer, metrics, logger, s.ingest);
        HttpServer server(s.server, handler, logger);
        // A batch's answers run together on the I/O thread; their log lines go out as one write.
        writer.set_completion_executor([&server, &logger](std::function<void()> f) {
            server.post([f = std::move(f), &logger] {
                Logger::Batch lines(logger);
                f();
            });
        });
        std::string bound = server.bind();
        std::printf("listening on %s\n", bound.c_str());
        std::fflush(stdout);
        LogLine(logger, LogLevel::Info, "started")
            .str("listen", bound)
            .str("db", s.db)
            .num("secrets", static_cast<int64_t>(keys.size()))
            .num("threads", s.server.threads)
            .num("alert_targets", static_cast<int64_t>(s.alerts.targets.size()));
        server.run();
        // Before the writer: the dispatcher needs nothing from it, and with the dispatcher's
        // connections closed the writer's final checkpoint can truncate the WAL. Alerts the
        // last batch adds stay pending in the outbox and go out after the next start.
        alerts.stop();
        writer.stop();
        LogLine(logger, LogLevel::Info, "stopped");
    } catch (const std::exception& e) {
        LogLine(logger, LogLevel::Error, "fatal").str("error", e.what());
        std::cerr << "churnwatch serve: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace churnwatch
