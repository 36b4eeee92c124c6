// The option readers shared by serve, config check and the other commands (settings.h): the
// month parser of report's --from/--to, and report's options as a whole.
#include "settings.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "test_support.h"

using namespace churnwatch;
using churnwatch::test::ScopedEnv;

namespace {

std::optional<ReportOptions> report_options(const std::vector<std::string>& args, std::string& error) {
    auto config = Config::load(args, error);
    if (!config) return std::nullopt;
    ReportOptions out;
    if (!read_report_options(*config, out, error)) return std::nullopt;
    return out;
}

TEST(ValidMonth, AcceptsEveryMonthOfTheYear) {
    for (const char* m : {"2026-01", "2026-02", "2026-09", "2026-10", "2026-11", "2026-12",
                          "1999-06", "9999-12"}) {
        EXPECT_TRUE(valid_month(m)) << m;
    }
}

TEST(ValidMonth, RefusesMonthsOutOfRange) {
    for (const char* m : {"2026-13", "2026-00", "2026-99", "2026-20"}) EXPECT_FALSE(valid_month(m)) << m;
}

TEST(ValidMonth, RefusesOtherShapes) {
    for (const char* m : {"", "2026/01", "2026-1", "26-01", "2026-001", "2026-01-01", "20x6-01",
                          "2026-0a", " 2026-01", "2026-01 ", "+026-01", "2026--1", "2026-+1"}) {
        EXPECT_FALSE(valid_month(m)) << "'" << m << "'";
    }
}

TEST(ReportOptions, DefaultsAndGoodValues) {
    std::string error;
    auto none = report_options({}, error);
    ASSERT_TRUE(none) << error;
    EXPECT_EQ(none->from, "");
    EXPECT_EQ(none->to, "");
    EXPECT_EQ(none->format, "table");
    auto some = report_options({"--from", "2026-01", "--to", "2026-12", "--format", "json"}, error);
    ASSERT_TRUE(some) << error;
    EXPECT_EQ(some->from, "2026-01");
    EXPECT_EQ(some->to, "2026-12");
    EXPECT_EQ(some->format, "json");
    EXPECT_TRUE(report_options({"--from", "2026-03", "--to", "2026-03"}, error)) << error;
}

TEST(ReportOptions, EachDateOptionNamesItselfAndTheValue) {
    std::string error;
    EXPECT_FALSE(report_options({"--from", "2026-13"}, error));
    EXPECT_EQ(error, "--from takes a month, YYYY-MM with MM from 01 to 12 (got '2026-13')");
    EXPECT_FALSE(report_options({"--to", "2026-00"}, error));
    EXPECT_EQ(error, "--to takes a month, YYYY-MM with MM from 01 to 12 (got '2026-00')");
    EXPECT_FALSE(report_options({"--from", "2026-01", "--to", "2026/06"}, error));
    EXPECT_EQ(error, "--to takes a month, YYYY-MM with MM from 01 to 12 (got '2026/06')");
}

TEST(ReportOptions, FromAfterToIsRefused) {
    std::string error;
    EXPECT_FALSE(report_options({"--from", "2026-06", "--to", "2026-01"}, error));
    EXPECT_EQ(error, "--from 2026-06 is after --to 2026-01");
}

TEST(ReportOptions, UnknownFormatIsRefused) {
    std::string error;
    EXPECT_FALSE(report_options({"--format", "xml"}, error));
    EXPECT_EQ(error, "--format must be table, csv or json (got 'xml')");
}

// An empty secret would count as configured (so no "no secret" warning) and answer every
// delivery 401: refused like any other bad value.
TEST(ServeSettings, AnEmptySecretIsRefused) {
    std::string error;
    auto config = Config::load({"--secret", ""}, error);
    ASSERT_TRUE(config) << error;
    Settings s;
    EXPECT_FALSE(read_settings(*config, s, error));
    EXPECT_NE(error.find("--secret is empty"), std::string::npos) << error;
    auto good = Config::load({"--secret", "shjk_0123456789"}, error);
    ASSERT_TRUE(good) << error;
    EXPECT_TRUE(read_settings(*good, s, error)) << error;
}

// stop-grace: how long serve's shutdown watchdog lets the last writes take after the drain
// (serve_command.cpp). 15 s unless set by flag, environment or file; a grace of 0 would cut
// every stop, and one of hours would hang like no watchdog at all.
TEST(ServeSettings, StopGraceDefaultsTo15SecondsAndIsBounded) {
    ScopedEnv no_grace("CHURNWATCH_STOP_GRACE", std::nullopt);
    ScopedEnv no_config("CHURNWATCH_CONFIG", std::nullopt);
    std::string error;
    Settings s;
    auto settings_of = [&](const std::vector<std::string>& args) {
        auto config = Config::load(args, error);
        return config && read_settings(*config, s, error);
    };
    ASSERT_TRUE(settings_of({})) << error;
    EXPECT_EQ(s.stop_grace, std::chrono::seconds(15));
    ASSERT_TRUE(settings_of({"--stop-grace", "2"})) << error;
    EXPECT_EQ(s.stop_grace, std::chrono::seconds(2));
    ASSERT_TRUE(settings_of({"--stop-grace=3600"})) << error;
    EXPECT_EQ(s.stop_grace, std::chrono::seconds(3600));
    {
        ScopedEnv env("CHURNWATCH_STOP_GRACE", "7");
        ASSERT_TRUE(settings_of({})) << error;
        EXPECT_EQ(s.stop_grace, std::chrono::seconds(7));
    }
    for (const char* bad : {"0", "-1", "3601", "1.5", "soon"}) {
        EXPECT_FALSE(settings_of({"--stop-grace", bad})) << bad;
        EXPECT_EQ(error, std::string("--stop-grace must be a whole number from 1 to 3600 (got '") + bad + "')");
    }
}

}  // namespace
