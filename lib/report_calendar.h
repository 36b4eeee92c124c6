// The months the analyst views count in: each month's first and last instant in the store's
// time zone (report-timezone), as UTC text, kept in the report_calendar table (schema 0018).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sqlite.h"

namespace churnwatch {

struct CalendarMonth {
    std::string month;  // "YYYY-MM"
    std::string start;  // local midnight of the 1st, as UTC "YYYY-MM-DD[ HH:MM:SS]"
    std::string end;    // the next month's start
};

struct ReportCalendar {
    std::string zone = "UTC";
    std::vector<CalendarMonth> months;  // 2000-01 … 2100-12
};

// The calendar of an IANA time zone ("America/Los_Angeles", "Europe/Berlin", "UTC") from the
// system's zoneinfo files (TZDIR, else /usr/share/zoneinfo: Debian's tzdata). nullopt, with
// error saying why, for a name that is not a zone there. A month whose local midnight does
// not exist (a daylight-saving change at midnight) starts at the first local time that does.
// Uses the process's TZ setting while it runs and restores it: call it before any thread
// starts (settings are read first thing).
std::optional<ReportCalendar> report_calendar(const std::string& zone, std::string& error);

// Writes `calendar` into report_calendar, in one transaction, when the database's
// (service_state.report_timezone; UTC when missing, as 0018 left it) is another zone's.
// Returns whether it did.
bool store_report_calendar(sql::Database& db, const ReportCalendar& calendar);

// The zone the database's calendar is in ("UTC" before any was set, or before 0018).
std::string stored_report_timezone(sql::Database& db);

}  // namespace churnwatch
