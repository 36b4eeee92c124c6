// Validation of the configuration, in one place. `serve` and `config check` both call
// read_settings(): what `config check` accepts, `serve` starts with, and what `serve` refuses
// (exit 2, before it creates anything), `config check` refuses with the same message. The
// other commands read their own options with the functions below, which read_settings() also
// applies to those options when they are set, so a shared configuration is checked whole.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "alert_config.h"
#include "config.h"
#include "http_server.h"
#include "ingest.h"
#include "log.h"
#include "report_calendar.h"
#include "rules.h"
#include "writer.h"

namespace churnwatch {

// Everything `serve` runs with.
struct Settings {
    ServerOptions server;
    WriterOptions writer;
    IngestOptions ingest;
    RulesPolicy rules;
    AlertSettings alerts;
    std::vector<std::string> secrets;
    // 50 h: Recharge retries a delivery for 48 h, perhaps (unconfirmed) with its first
    // attempt's timestamp; a refused last retry can cost the webhook registration.
    std::chrono::seconds window{180000};
    std::string db;
    LogLevel level = LogLevel::Info;
    ReportCalendar calendar;  // report-timezone's months, stored into the database at start
    // stop-grace: after the drain, how long the last writes (the writer's last projection, at
    // most 5 s, and checkpoint, up to 4.5 s behind another process's lock) may take before
    // serve gives up on them and exits 1. The default, with the 10 s drain, stays within the
    // systemd unit's TimeoutStopSec=30.
    std::chrono::seconds stop_grace{15};
};

// Reads and validates every option: serve's (numbers in range, listen address, log level,
// TLS files loadable, alert targets) and, when set, the other commands' (below). Returns false
// with error naming the option on the first problem.
bool read_settings(const Config& c, Settings& s, std::string& error);

// --db for the commands that work on an existing database (rebuild, report, alerts,
// quarantine): they never create one, so a mistyped path neither leaves an empty database
// behind nor reports on nothing. Throws std::runtime_error("no database at PATH"); the
// commands exit 1 on it. (An empty file is an empty database: SQLite's own convention.)
std::string existing_database(const Config& c);

// `report`: --from/--to (YYYY-MM; "" when not given; --from after --to is refused) and
// --format (table, csv or json).
struct ReportOptions {
    std::string from;
    std::string to;
    std::string format;
};
bool read_report_options(const Config& c, ReportOptions& out, std::string& error);
// --report-timezone: the zone's calendar (report_calendar.h), or false with error.
bool read_report_timezone(const Config& c, ReportCalendar& out, std::string& error);

// "YYYY-MM": four digits, '-', and a month from 01 to 12 (2026-13, 2026-00, 2026/01 and
// 2026-1 are not months).
bool valid_month(const std::string& text);

// `alerts list`: --status, "" or pending, sent, dead or disabled.
bool read_alert_status(const Config& c, std::string& status, std::string& error);
// `alerts retry`: --all-dead, a switch (true/false, yes/no, 1/0).
bool read_all_dead(const Config& c, bool& all_dead, std::string& error);
// `send-test`: --scheme, legacy or timestamped.
bool read_send_test_scheme(const Config& c, std::string& scheme, std::string& error);

}  // namespace churnwatch
