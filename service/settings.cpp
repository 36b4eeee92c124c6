#include "settings.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "http_client.h"
#include "topic.h"

namespace churnwatch {

namespace {

bool all_digits(const std::string& s) {
    if (s.empty()) return false;
    for (char ch : s)
        if (!std::isdigit(static_cast<unsigned char>(ch))) return false;
    return true;
}

bool parse_listen(const std::string& text, ServerOptions& o, std::string& error) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size()) {
        error = "--listen must be HOST:PORT (got '" + text + "')";
        return false;
    }
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "localhost") host = "127.0.0.1";
    std::string port_text = text.substr(colon + 1);
    long port = all_digits(port_text) && port_text.size() <= 5 ? std::strtol(port_text.c_str(), nullptr, 10) : -1;
    if (port < 0 || port > 65535) {
        error = "--listen port must be 0..65535 (got '" + port_text + "')";
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

// The options of the other commands, when set: a config file is shared by every command.
bool check_command_options(const Config& c, std::string& error) {
    ReportOptions report;
    std::string status, scheme;
    bool all_dead = false;
    if (!read_report_options(c, report, error) || !read_alert_status(c, status, error) ||
        !read_all_dead(c, all_dead, error) || !read_send_test_scheme(c, scheme, error)) {
        return false;
    }
    if (auto url = c.get("url")) {
        std::string why;
        if (!parse_http_url(*url, why)) {
            error = "--url: " + why;
            return false;
        }
    }
    if (auto topic = c.get("topic"); topic && !parse_topic(*topic)) {
        error = "--topic must look like resource/action (got '" + *topic + "')";
        return false;
    }
    return true;
}

}  // namespace

bool read_settings(const Config& c, Settings& s, std::string& error) {
    s = Settings{};
    if (!parse_listen(c.get_or("listen"), s.server, error)) return false;
    s.db = c.get_or("db");
    if (s.db.empty()) {
        // SQLite would open a private temporary database for "", deleted on exit.
        error = "--db must name a file";
        return false;
    }
    s.secrets = c.get_all("secret");
    for (const auto& secret : s.secrets) {
        if (secret.empty()) {
            // It would count as configured and answer every delivery 401.
            error = "--secret is empty: give the API client secret, or leave the setting out";
            return false;
        }
    }
    auto num = [&](const char* name, long long min, long long max, auto& out) {
        auto v = c.get_int(name, min, max, error);
        if (v) out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
        return v.has_value();
    };
    long long timeout_s = 0, window_s = 0, churn_days = 0, dedupe_days = 0, stop_grace_s = 0;
    if (!num("threads", 1, 64, s.server.threads) ||
        !num("max-body", 1, 64LL << 20, s.server.body_limit) ||
        // At most 64 KiB - 1: Beast keeps each header field in 16-bit lengths and throws on a
        // longer one, which a larger header block would let through.
        !num("max-header", 1024, 65535, s.server.header_limit) ||
        !num("max-connections", 1, 1 << 20, s.server.max_connections) ||
        !num("request-timeout", 1, 3600, timeout_s) ||
        !num("queue-capacity", 1, 10000000, s.writer.queue_capacity) ||
        !num("max-batch", 1, 100000, s.writer.max_batch) ||
        !num("json-depth", 2, static_cast<long long>(kMaxJsonDepth), s.ingest.json.max_depth) ||
        !num("signature-window", 1, 10LL * 365 * 86400, window_s) ||
        !num("auto-churn-days", 0, 3650, churn_days) ||
        !num("dedupe-days", 1, 3650, dedupe_days) ||
        !num("projection-max-lag", 0, 100000000, s.writer.projection_max_lag) ||
        !num("stop-grace", 1, 3600, stop_grace_s)) {
        return false;
    }
    s.server.request_timeout = std::chrono::seconds(timeout_s);
    s.stop_grace = std::chrono::seconds(stop_grace_s);
    s.writer.dedupe.window = dedupe_days * 86400 * kMicrosPerSecond;
    s.window = std::chrono::seconds(window_s);
    if (churn_days > 0) s.rules.auto_churn_after_max_retries_days = churn_days;
    s.ingest.id_header = c.get_or("id-header");
    auto level = parse_level(c.get_or("log-level"));
    if (!level) {
        error = "--log-level must be debug, info, warn or error (got '" + c.get_or("log-level") + "')";
        return false;
    }
    s.level = *level;
    s.writer.projection.json = s.ingest.json;  // read-backs judge bodies as ingest did
    s.server.tls_cert = c.get_or("tls-cert");
    s.server.tls_key = c.get_or("tls-key");
    // The listen host and the TLS files, checked as ListeningSocket::open and HttpServer::bind
    // will use them.
    if (std::string why = check_server_options(s.server); !why.empty()) {
        error = why;
        return false;
    }
    return read_report_timezone(c, s.calendar, error) && read_alert_settings(c, s.alerts, error) &&
           check_command_options(c, error);
}

std::string existing_database(const Config& c) {
    std::string path = c.get_or("db");
    if (path.empty() || ::access(path.c_str(), F_OK) != 0) throw std::runtime_error("no database at " + path);
    return path;
}

bool read_report_timezone(const Config& c, ReportCalendar& out, std::string& error) {
    auto calendar = report_calendar(c.get_or("report-timezone"), error);
    if (!calendar) return false;
    out = std::move(*calendar);
    return true;
}

bool valid_month(const std::string& m) {
    if (m.size() != 7 || m[4] != '-') return false;
    for (std::size_t i : {0, 1, 2, 3, 5, 6})
        if (!std::isdigit(static_cast<unsigned char>(m[i]))) return false;
    const int month = (m[5] - '0') * 10 + (m[6] - '0');
    return month >= 1 && month <= 12;
}

bool read_report_options(const Config& c, ReportOptions& out, std::string& error) {
    out.from = c.get_or("from");
    out.to = c.get_or("to");
    out.format = c.get_or("format");
    for (const auto& [option, value] : {std::pair{"--from", out.from}, std::pair{"--to", out.to}}) {
        if (!value.empty() && !valid_month(value)) {
            error = std::string(option) + " takes a month, YYYY-MM with MM from 01 to 12 (got '" + value + "')";
            return false;
        }
    }
    if (!out.from.empty() && !out.to.empty() && out.from > out.to) {
        error = "--from " + out.from + " is after --to " + out.to;
        return false;
    }
    if (out.format != "table" && out.format != "csv" && out.format != "json") {
        error = "--format must be table, csv or json (got '" + out.format + "')";
        return false;
    }
    return true;
}

bool read_alert_status(const Config& c, std::string& status, std::string& error) {
    status = c.get_or("status");
    if (!status.empty() && status != "pending" && status != "sent" && status != "dead" &&
        status != "disabled" && status != "retracted") {
        error = "--status must be pending, sent, dead, disabled or retracted (got '" + status + "')";
        return false;
    }
    return true;
}

bool read_all_dead(const Config& c, bool& all_dead, std::string& error) {
    std::string v = c.get_or("all-dead");
    if (v.empty() || v == "false" || v == "no" || v == "0") {
        all_dead = false;
    } else if (v == "true" || v == "yes" || v == "1") {
        all_dead = true;
    } else {
        error = "--all-dead is a switch: true or false (got '" + v + "')";
        return false;
    }
    return true;
}

bool read_send_test_scheme(const Config& c, std::string& scheme, std::string& error) {
    scheme = c.get_or("scheme");
    if (scheme != "legacy" && scheme != "timestamped") {
        error = "--scheme must be legacy or timestamped (got '" + scheme + "')";
        return false;
    }
    return true;
}

}  // namespace churnwatch
