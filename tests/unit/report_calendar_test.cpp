// The store's calendar (report-timezone): each month's bounds as UTC text from the zoneinfo
// files, stored into report_calendar, and the analyst views counting its months.
#include "report_calendar.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "schema.h"
#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

const CalendarMonth& month_of(const ReportCalendar& c, const std::string& month) {
    for (const auto& m : c.months)
        if (m.month == month) return m;
    throw std::runtime_error("no month " + month);
}

ReportCalendar calendar_of(const std::string& zone) {
    std::string error;
    auto c = report_calendar(zone, error);
    if (!c) throw std::runtime_error(error);
    return *c;
}

}  // namespace

TEST(ReportCalendar, UtcMonthsStartAtMidnightWrittenAsDates) {
    const auto c = calendar_of("UTC");
    ASSERT_EQ(c.months.size(), 101u * 12);
    EXPECT_EQ(c.months.front().month, "2000-01");
    EXPECT_EQ(c.months.front().start, "2000-01-01");
    EXPECT_EQ(c.months.back().month, "2100-12");
    EXPECT_EQ(c.months.back().end, "2101-01-01");
    EXPECT_EQ(month_of(c, "2024-02").end, "2024-03-01");
    for (std::size_t i = 0; i + 1 < c.months.size(); ++i) ASSERT_EQ(c.months[i].end, c.months[i + 1].start);
}

// Local midnight of the 1st, in standard or daylight time as it is that day.
TEST(ReportCalendar, AZonesMonthsStartAtItsLocalMidnight) {
    const auto la = calendar_of("America/Los_Angeles");
    EXPECT_EQ(month_of(la, "2026-03").start, "2026-03-01 08:00:00");  // PST
    EXPECT_EQ(month_of(la, "2026-03").end, "2026-04-01 07:00:00");    // PDT from March 8
    EXPECT_EQ(month_of(la, "2026-11").start, "2026-11-01 07:00:00");  // PDT until that day's 2:00
    EXPECT_EQ(month_of(la, "2026-12").start, "2026-12-01 08:00:00");
    // East of Greenwich a month starts the day before, in UTC; half hours stay.
    EXPECT_EQ(month_of(calendar_of("Asia/Kolkata"), "2026-01").start, "2025-12-31 18:30:00");
    EXPECT_EQ(month_of(calendar_of("Europe/Berlin"), "2026-07").start, "2026-06-30 22:00:00");
    for (std::size_t i = 0; i + 1 < la.months.size(); ++i) ASSERT_EQ(la.months[i].end, la.months[i + 1].start);
}

TEST(ReportCalendar, WhatIsNotAZoneIsRefusedNamingIt) {
    for (const std::string zone : {"Mars/Olympus_Mons", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "",
                                   "America/", "America//New_York", "PST8PDT,M3.2.0,M11.1.0"}) {
        std::string error;
        EXPECT_FALSE(report_calendar(zone, error)) << zone;
        EXPECT_EQ(error, "report-timezone '" + zone +
                             "' is not a time zone in /usr/share/zoneinfo (an IANA name such as "
                             "America/New_York or Europe/Berlin; the tzdata package provides them)");
    }
}

// A ".." component is refused even where the path it makes leads back to a real zone file
// (Europe/../Europe/Berlin, ../zoneinfo/UTC): the name must stay under the zoneinfo
// directory, and a path that climbs out of it to come back is no zone name.
TEST(ReportCalendar, ADotDotComponentIsRefusedEvenWhenItLeadsBackToAZone) {
    for (const std::string zone : {"Europe/../Europe/Berlin", "../zoneinfo/UTC"}) {
        std::string error;
        EXPECT_FALSE(report_calendar(zone, error)) << zone;
        EXPECT_NE(error.find("is not a time zone in"), std::string::npos) << error;
    }
}

TEST(ReportCalendar, ZonesCountingLeapSecondsAreRefused) {
    std::string error;
    EXPECT_FALSE(report_calendar("right/America/New_York", error));
    EXPECT_EQ(error, "report-timezone 'right/America/New_York' counts leap seconds, which stored times do "
                     "not: use 'America/New_York'");
}

// UTC needs no zone files (a container without tzdata); the others are read where TZDIR says.
TEST(ReportCalendar, UtcNeedsNoZoneFilesAndTzdirIsWhereTheOthersAre) {
    TempDir empty;
    ScopedEnv tzdir("TZDIR", empty.path());
    std::string error;
    EXPECT_TRUE(report_calendar("UTC", error)) << error;
    EXPECT_FALSE(report_calendar("America/New_York", error));
    EXPECT_NE(error.find("is not a time zone in " + empty.path() + " "), std::string::npos) << error;
}

TEST(ReportCalendar, TheProcessTimeZoneIsPutBack) {
    {
        ScopedEnv tz("TZ", "Europe/Berlin");
        calendar_of("America/Los_Angeles");
        ASSERT_NE(std::getenv("TZ"), nullptr);
        EXPECT_STREQ(std::getenv("TZ"), "Europe/Berlin");
    }
    ScopedEnv none("TZ", std::nullopt);
    calendar_of("Asia/Tokyo");
    EXPECT_EQ(std::getenv("TZ"), nullptr);
}

// Migration 0018 fills the table for UTC: the same rows this computes, so a database that
// never set a zone is left alone.
TEST(ReportCalendar, TheMigrationsUtcRowsAreThisCalendarsAndStoringAZoneRewritesThem) {
    TempDir dir;
    sql::Database db(dir.file("c.db"));
    configure_connection(db);
    apply_migrations(db);
    EXPECT_EQ(stored_report_timezone(db), "UTC");
    EXPECT_FALSE(store_report_calendar(db, calendar_of("UTC")));

    EXPECT_TRUE(store_report_calendar(db, calendar_of("America/Los_Angeles")));
    EXPECT_EQ(stored_report_timezone(db), "America/Los_Angeles");
    EXPECT_EQ(first_text(db, "SELECT month_start FROM report_calendar WHERE month = '2026-03'"),
              "2026-03-01 08:00:00");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM report_calendar"), "1212");
    EXPECT_FALSE(store_report_calendar(db, calendar_of("America/Los_Angeles")));
    // Rows that differ (an updated tzdata) are rewritten even under the same name.
    db.exec("UPDATE report_calendar SET month_end = '2026-04-01' WHERE month = '2026-03'");
    EXPECT_TRUE(store_report_calendar(db, calendar_of("America/Los_Angeles")));
    EXPECT_EQ(first_text(db, "SELECT month_end FROM report_calendar WHERE month = '2026-03'"), "2026-04-01 07:00:00");

    EXPECT_TRUE(store_report_calendar(db, calendar_of("UTC")));
    EXPECT_EQ(first_text(db, "SELECT month_start FROM report_calendar WHERE month = '2026-03'"), "2026-03-01");
}

// A customer who became active on January 10 and left on the evening of March 31 in Los
// Angeles (April 1, 03:00 UTC) churned in March there, in April in UTC.
TEST(ReportCalendar, TheViewsCountTheStoredZonesMonths) {
    TempDir dir;
    sql::Database db(dir.file("c.db"));
    configure_connection(db);
    apply_migrations(db);
    db.exec("INSERT INTO customers (id, status, first_seen_at, first_active_at, last_event_at, active_subscriptions)"
            " VALUES (1, 'churned', '2026-01-10 12:00:00', '2026-01-10 12:00:00', '2026-04-01 03:00:00', 0),"
            "        (2, 'active', '2026-02-01 05:00:00', '2026-02-01 05:00:00', '2026-02-01 05:00:00', 1)");
    db.exec("INSERT INTO churn_events (customer_id, churned_at, reason, category)"
            " VALUES (1, '2026-04-01 03:00:00', 'cancelled', 'voluntary')");
    db.exec("INSERT INTO subscriptions (id, customer_id, status, charges_counted, ended_by_expiry,"
            " max_retries_reached, created_at, updated_at)"
            " VALUES (10, 2, 'active', 0, 0, 0, '2026-02-01 05:00:00', '2026-02-01 05:00:00')");
    auto months = [&](const char* sql) { return first_text(db, sql); };
    const char* by_reason = "SELECT group_concat(month || ':' || churned) FROM churn_by_reason";
    const char* monthly = "SELECT group_concat(month || ':' || churned || '/' || new_customers || '/' ||"
                          " active_at_start, ' ') FROM churn_monthly";
    const char* cohorts = "SELECT group_concat(DISTINCT cohort) FROM cohort_retention";
    EXPECT_EQ(months(by_reason), "2026-04:1");
    EXPECT_EQ(months(monthly), "2026-01:0/1/0 2026-02:0/1/1 2026-03:0/0/2 2026-04:1/0/2");
    EXPECT_EQ(months(cohorts), "2026-01,2026-02");

    ASSERT_TRUE(store_report_calendar(db, calendar_of("America/Los_Angeles")));
    EXPECT_EQ(months(by_reason), "2026-03:1");
    // Customer 2 arrived on January 31 at 21:00 there; the data ends on March 31 at 20:00.
    EXPECT_EQ(months(monthly), "2026-01:0/2/0 2026-02:0/0/2 2026-03:1/0/2");
    EXPECT_EQ(months(cohorts), "2026-01");
}

// At a month's first instant in the store's zone (New York: March 1 05:00 UTC, April 1 04:00
// UTC), as the README says: an episode covers the instants after its churned_at up to and
// including its reactivated_at. A churn then is that month's, by a customer active at its
// start (and at the end of the month before); a return then is that month's too, by a
// customer not active at its start; a customer first active then is new in it. One
// microsecond before, a churn is the month before's.
TEST(ReportCalendar, AMonthsFirstInstantBelongsToThatMonth) {
    TempDir dir;
    sql::Database db(dir.file("c.db"));
    configure_connection(db);
    apply_migrations(db);
    ASSERT_TRUE(store_report_calendar(db, calendar_of("America/New_York")));
    db.exec("INSERT INTO customers (id, status, first_seen_at, first_active_at, last_event_at, active_subscriptions)"
            " VALUES (1, 'churned', '2026-01-10 12:00:00', '2026-01-10 12:00:00', '2026-03-01 05:00:00', 0),"
            "        (2, 'active', '2026-01-10 12:00:00', '2026-01-10 12:00:00', '2026-03-01 05:00:00', 1),"
            "        (3, 'churned', '2026-03-01 05:00:00', '2026-03-01 05:00:00', '2026-04-01 04:00:00', 0),"
            "        (4, 'churned', '2026-01-10 12:00:00', '2026-01-10 12:00:00', '2026-03-01 04:59:59.999999', 0)");
    db.exec("INSERT INTO churn_events (customer_id, churned_at, reason, category, reactivated_at)"
            " VALUES (1, '2026-03-01 05:00:00', 'cancelled', 'voluntary', NULL),"
            "        (2, '2026-02-10 12:00:00', 'cancelled', 'voluntary', '2026-03-01 05:00:00'),"
            "        (3, '2026-04-01 04:00:00', 'expired', 'natural', NULL),"
            "        (4, '2026-03-01 04:59:59.999999', 'cancelled', 'voluntary', NULL)");
    // month: active_at_start/new_customers/churned/reactivated/churned_customers/churned_customers_with_new
    EXPECT_EQ(first_text(db, "SELECT group_concat(month || ':' || active_at_start || '/' || new_customers || '/' ||"
                             " churned || '/' || reactivated || '/' || churned_customers || '/' ||"
                             " churned_customers_with_new, ' ') FROM churn_monthly"),
              "2026-01:0/3/0/0/0/0 2026-02:3/0/2/0/2/2 2026-03:1/1/1/1/1/1 2026-04:2/0/1/0/1/1");
    EXPECT_EQ(first_text(db, "SELECT group_concat(month || ':' || reason || '=' || churned, ' ')"
                             " FROM (SELECT * FROM churn_by_reason ORDER BY month, reason)"),
              "2026-02:cancelled=2 2026-03:cancelled=1 2026-04:expired=1");
    // cohort+months_since: retained/cohort_size, "active at the end of that month"
    EXPECT_EQ(first_text(db, "SELECT group_concat(cohort || '+' || months_since || ':' || retained || '/' ||"
                             " cohort_size, ' ') FROM (SELECT * FROM cohort_retention ORDER BY cohort, months_since)"),
              "2026-01+0:3/3 2026-01+1:1/3 2026-01+2:1/3 2026-01+3:1/3 2026-03+0:1/1 2026-03+1:0/1");
}
