#include "report_calendar.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>

namespace churnwatch {

namespace {

constexpr int kFirstYear = 2000;  // business times before 2000 are quarantined
constexpr int kLastYear = 2100;

// Letters, digits and "/_-+" in components that are not "." or "..": a name under the
// zoneinfo directory, never a path out of it.
bool plausible_zone_name(const std::string& zone) {
    if (zone.empty() || zone.size() > 128 || zone.front() == '/' || zone.back() == '/') return false;
    std::size_t component = 0;
    for (std::size_t i = 0; i <= zone.size(); ++i) {
        if (i == zone.size() || zone[i] == '/') {
            const std::string part = zone.substr(component, i - component);
            if (part.empty() || part == "." || part == "..") return false;
            component = i + 1;
            continue;
        }
        const char c = zone[i];
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '_' || c == '-' || c == '+' || c == '.';
        if (!ok) return false;
    }
    return true;
}

// A compiled zone file: glibc reads any other TZ value as a POSIX rule string, or silently
// as UTC, which would put every month in the wrong place without a word.
bool is_zone_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    return in.read(magic, sizeof magic) && std::string(magic, 4) == "TZif";
}

std::string utc_text(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    const char* format = tm.tm_hour || tm.tm_min || tm.tm_sec ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d";
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

// Sets TZ for its lifetime and puts the previous value back.
class ScopedTz {
public:
    explicit ScopedTz(const std::string& value) {
        if (const char* old = std::getenv("TZ")) old_ = old;
        ::setenv("TZ", value.c_str(), 1);
        ::tzset();
    }
    ~ScopedTz() {
        if (old_) ::setenv("TZ", old_->c_str(), 1);
        else ::unsetenv("TZ");
        ::tzset();
    }
    ScopedTz(const ScopedTz&) = delete;
    ScopedTz& operator=(const ScopedTz&) = delete;

private:
    std::optional<std::string> old_;
};

}  // namespace

std::optional<ReportCalendar> report_calendar(const std::string& zone, std::string& error) {
    const char* dir_env = std::getenv("TZDIR");
    const std::string dir = dir_env && *dir_env ? dir_env : "/usr/share/zoneinfo";
    const bool utc = zone == "UTC" || zone == "Etc/UTC";
    const std::string path = dir + "/" + zone;
    // right/…: the zones that count leap seconds, which would move every month's start by
    // the ~27 s the stored times (POSIX, as Recharge sends them) do not have.
    if (zone.starts_with("right/")) {
        error = "report-timezone '" + zone + "' counts leap seconds, which stored times do not: use '" +
                zone.substr(6) + "'";
        return std::nullopt;
    }
    if (!utc && (!plausible_zone_name(zone) || !is_zone_file(path))) {
        error = "report-timezone '" + zone + "' is not a time zone in " + dir +
                " (an IANA name such as America/New_York or Europe/Berlin; the tzdata package "
                "provides them)";
        return std::nullopt;
    }
    ReportCalendar out;
    out.zone = zone;
    std::vector<std::string> starts;
    {
        // UTC needs no zone file (a container without tzdata): "UTC0" is the POSIX rule.
        ScopedTz tz(utc ? std::string("UTC0") : ":" + path);
        for (int year = kFirstYear; year <= kLastYear + 1; ++year) {
            for (int month = 1; month <= 12; ++month) {
                if (year == kLastYear + 1 && month > 1) break;
                std::tm local{};
                local.tm_year = year - 1900;
                local.tm_mon = month - 1;
                local.tm_mday = 1;
                local.tm_isdst = -1;  // whatever holds at that midnight
                const std::time_t t = std::mktime(&local);
                if (t == static_cast<std::time_t>(-1)) {
                    error = "report-timezone '" + zone + "': no local midnight for " +
                            std::to_string(year) + "-" + std::to_string(month);
                    return std::nullopt;
                }
                starts.push_back(utc_text(t));
            }
        }
    }
    out.months.reserve(starts.size() - 1);
    for (std::size_t i = 0; i + 1 < starts.size(); ++i) {
        char month[16];
        std::snprintf(month, sizeof month, "%04d-%02d", kFirstYear + static_cast<int>(i / 12),
                      static_cast<int>(i % 12) + 1);
        out.months.push_back({month, starts[i], starts[i + 1]});
    }
    return out;
}

std::string stored_report_timezone(sql::Database& db) {
    sql::Statement q(db, "SELECT value FROM service_state WHERE key = 'report_timezone'");
    return q.step() ? q.column_text(0) : "UTC";
}

bool store_report_calendar(sql::Database& db, const ReportCalendar& calendar) {
    // Compared row by row, not only by name: an updated tzdata may move a zone's months.
    auto same = [&] {
        if (stored_report_timezone(db) != calendar.zone) return false;
        sql::Statement rows(db, "SELECT month, month_start, month_end FROM report_calendar ORDER BY month");
        std::size_t i = 0;
        for (; rows.step(); ++i) {
            if (i == calendar.months.size()) return false;
            const CalendarMonth& m = calendar.months[i];
            if (rows.column_text(0) != m.month || rows.column_text(1) != m.start || rows.column_text(2) != m.end)
                return false;
        }
        return i == calendar.months.size();
    };
    if (same()) return false;
    sql::Transaction txn(db);
    if (same()) return false;  // another process wrote it meanwhile
    db.exec("DELETE FROM report_calendar");
    sql::Statement insert(db, "INSERT INTO report_calendar (month, month_start, month_end) VALUES (?, ?, ?)");
    for (const CalendarMonth& m : calendar.months) {
        insert.reset();
        insert.bind(1, m.month).bind(2, m.start).bind(3, m.end).run();
    }
    sql::Statement zone(db,
                        "INSERT INTO service_state (key, value) VALUES ('report_timezone', ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    zone.bind(1, calendar.zone).run();
    txn.commit();
    return true;
}

}  // namespace churnwatch
