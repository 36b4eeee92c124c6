#include "time_util.h"

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace churnwatch {
namespace {

constexpr Micros kSecond = kMicrosPerSecond;
constexpr Micros kMinute = 60 * kSecond;
constexpr Micros kHour = 60 * kMinute;

// 2026-10-14T09:12:44Z, computed independently: `date -u -d 2026-10-14T09:12:44Z +%s`.
constexpr Micros kRef = 1791969164LL * kSecond;

TEST(ParseTime, EpochIsZero) {
    EXPECT_EQ(parse_time("1970-01-01"), 0);
    EXPECT_EQ(parse_time("1970-01-01T00:00:00"), 0);
    EXPECT_EQ(parse_time("1970-01-01T00:00:00Z"), 0);
}

TEST(ParseTime, NaiveIsUtc) {
    EXPECT_EQ(parse_time("2026-10-14T09:12:44"), kRef);
}

TEST(ParseTime, SpaceSeparator) {
    EXPECT_EQ(parse_time("2026-10-14 09:12:44"), kRef);
}

TEST(ParseTime, ZuluSuffix) {
    EXPECT_EQ(parse_time("2026-10-14T09:12:44Z"), kRef);
    EXPECT_EQ(parse_time("2026-10-14t09:12:44z"), kRef);  // RFC 3339 allows lower case
}

TEST(ParseTime, ZeroOffset) {
    EXPECT_EQ(parse_time("2026-10-14T09:12:44+00:00"), kRef);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44-00:00"), kRef);
}

TEST(ParseTime, PositiveOffsetIsSubtracted) {
    // 14:42:44 in +05:30 is 09:12:44 UTC.
    EXPECT_EQ(parse_time("2026-10-14T14:42:44+05:30"), kRef);
    EXPECT_EQ(parse_time("2026-10-14T14:42:44+0530"), kRef);
}

TEST(ParseTime, NegativeOffsetIsAdded) {
    // 05:12:44 in -04:00 is 09:12:44 UTC.
    EXPECT_EQ(parse_time("2026-10-14T05:12:44-04:00"), kRef);
}

TEST(ParseTime, OffsetCrossesMidnightAndYear) {
    EXPECT_EQ(parse_time("2026-12-31T23:30:00-01:00"), parse_time("2027-01-01T00:30:00Z"));
    EXPECT_EQ(parse_time("2027-01-01T00:30:00+01:00"), parse_time("2026-12-31T23:30:00"));
}

TEST(ParseTime, DateOnlyIsMidnightUtc) {
    EXPECT_EQ(parse_time("2026-10-14"), kRef - 9 * kHour - 12 * kMinute - 44 * kSecond);
    EXPECT_EQ(parse_time("2026-08-01"), parse_time("2026-08-01T00:00:00"));
}

TEST(ParseTime, FractionsOfEveryLength) {
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.5Z"), kRef + 500000);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.51Z"), kRef + 510000);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.512Z"), kRef + 512000);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.5123Z"), kRef + 512300);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.51230Z"), kRef + 512300);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.512301Z"), kRef + 512301);
    // Beyond microseconds: truncated, not rounded.
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.5123019Z"), kRef + 512301);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.51230199Z"), kRef + 512301);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.512301999Z"), kRef + 512301);
}

TEST(ParseTime, FractionWithOffsetAsRecharge2021_11Sends) {
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.512301+00:00"), kRef + 512301);
    EXPECT_EQ(parse_time("2026-10-14T11:12:44.000001+02:00"), kRef + 1);
}

TEST(ParseTime, FractionWithoutZone) {
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.25"), kRef + 250000);
    EXPECT_EQ(parse_time("2026-10-14 09:12:44.25"), kRef + 250000);
}

TEST(ParseTime, RejectsBadFractions) {
    EXPECT_EQ(parse_time("2026-10-14T09:12:44."), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.Z"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44.1234567890Z"), std::nullopt);  // 10 digits
    EXPECT_EQ(parse_time("2026-10-14T09:12:44,5Z"), std::nullopt);
}

TEST(ParseTime, LeapDays) {
    EXPECT_TRUE(parse_time("2024-02-29").has_value());
    EXPECT_TRUE(parse_time("2000-02-29").has_value());  // divisible by 400
    EXPECT_EQ(parse_time("2026-02-29"), std::nullopt);
    EXPECT_EQ(parse_time("1900-02-29"), std::nullopt);  // divisible by 100 only
    EXPECT_EQ(*parse_time("2024-03-01") - *parse_time("2024-02-28"), 2 * 24 * kHour);
}

TEST(ParseTime, RejectsOutOfRangeFields) {
    EXPECT_EQ(parse_time("2026-02-30"), std::nullopt);
    EXPECT_EQ(parse_time("2026-04-31"), std::nullopt);
    EXPECT_EQ(parse_time("2026-00-10"), std::nullopt);
    EXPECT_EQ(parse_time("2026-13-10"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-00"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-32"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T24:00:00"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T23:60:00"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T23:59:60"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44+24:00"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44+05:60"), std::nullopt);
}

// Each month's own length, not just February's and April's: the last day parses, the day
// after it does not, in a common and in a leap year.
TEST(ParseTime, EveryMonthEndsOnItsOwnLastDay) {
    const int common[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (const int year : {2026, 2024}) {
        for (int month = 1; month <= 12; ++month) {
            const int last = common[month - 1] + (month == 2 && year == 2024 ? 1 : 0);
            char text[16];
            std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, last);
            EXPECT_TRUE(parse_time(text).has_value()) << text;
            std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, last + 1);
            EXPECT_EQ(parse_time(text), std::nullopt) << text;
        }
    }
    EXPECT_EQ(parse_time("2026-00-01"), std::nullopt);
}

// +23:59 and -23:59 are the widest offsets there are, and they count in full.
TEST(ParseTime, WidestOffsetsAreAcceptedAndApplied) {
    EXPECT_EQ(parse_time("2026-10-15T09:11:44+23:59"), kRef);
    EXPECT_EQ(parse_time("2026-10-13T09:13:44-23:59"), kRef);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44+23:00"), kRef - 23 * kHour);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44+00:59"), kRef - 59 * kMinute);
}

TEST(ParseTime, RejectsGarbage) {
    EXPECT_EQ(parse_time(""), std::nullopt);
    EXPECT_EQ(parse_time("null"), std::nullopt);
    EXPECT_EQ(parse_time("yesterday"), std::nullopt);
    EXPECT_EQ(parse_time("1791969164"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T09:12"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T9:12:44"), std::nullopt);
    EXPECT_EQ(parse_time("26-10-14"), std::nullopt);
    EXPECT_EQ(parse_time("2026/10/14"), std::nullopt);
    EXPECT_EQ(parse_time("2026-1-14"), std::nullopt);
    EXPECT_EQ(parse_time(" 2026-10-14"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14 "), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14x"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44ZZ"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44+00:00x"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44+00"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44+0"), std::nullopt);
    EXPECT_EQ(parse_time("2026-10-14T09:12:44 UTC"), std::nullopt);
    EXPECT_EQ(parse_time("-2026-10-14"), std::nullopt);
    EXPECT_EQ(parse_time("+2026-10-14"), std::nullopt);
}

TEST(ParseTime, NeverReadsPastTheView) {
    // The view ends before the characters that would complete it.
    const std::string text = "2026-10-14T09:12:44.512301+00:00";
    for (std::size_t n = 0; n < text.size(); ++n) {
        const auto parsed = parse_time(std::string_view(text.data(), n));
        const bool complete = n == 10 || n == 19 || (n >= 21 && n <= 26);
        EXPECT_EQ(parsed.has_value(), complete) << "prefix length " << n;
    }
    EXPECT_TRUE(parse_time(text).has_value());
}

TEST(ParseTime, EmbeddedNulIsGarbage) {
    EXPECT_EQ(parse_time(std::string_view("2026-10-14\0", 11)), std::nullopt);
}

TEST(ParseTime, PreEpochAndFarFuture) {
    EXPECT_EQ(parse_time("1969-12-31T23:59:59"), -kSecond);
    EXPECT_EQ(parse_time("0000-03-01"), -62162035200LL * kSecond);
    EXPECT_EQ(parse_time("9999-12-31T23:59:59.999999Z"), 253402300799LL * kSecond + 999999);
}

TEST(FormatTime, Basic) {
    EXPECT_EQ(format_time(0), "1970-01-01 00:00:00");
    EXPECT_EQ(format_time(kRef), "2026-10-14 09:12:44");
}

TEST(FormatTime, FractionOnlyWhenNonZero) {
    EXPECT_EQ(format_time(kRef + 512301), "2026-10-14 09:12:44.512301");
    EXPECT_EQ(format_time(kRef + 500000), "2026-10-14 09:12:44.500000");
    EXPECT_EQ(format_time(kRef + 1), "2026-10-14 09:12:44.000001");
}

TEST(FormatTime, PreEpoch) {
    EXPECT_EQ(format_time(-1), "1969-12-31 23:59:59.999999");
    EXPECT_EQ(format_time(-kSecond), "1969-12-31 23:59:59");
    EXPECT_EQ(format_time(*parse_time("1900-03-01T12:00:00")), "1900-03-01 12:00:00");
}

TEST(FormatTime, ExtremesDoNotCrash) {
    EXPECT_FALSE(format_time(std::numeric_limits<Micros>::min()).empty());
    EXPECT_FALSE(format_time(std::numeric_limits<Micros>::max()).empty());
}

// Past 9999 the year takes as many digits as it needs and the rest keeps its form.
TEST(FormatTime, YearsPastNineThousandNineHundredNinetyNine) {
    const Micros after_9999 = *parse_time("9999-12-31T23:59:59Z") + kSecond;
    EXPECT_EQ(format_time(after_9999), "10000-01-01 00:00:00");
    EXPECT_EQ(format_time(after_9999 + 1), "10000-01-01 00:00:00.000001");
    // Computed independently (Python's calendar, shifted by whole 400-year cycles).
    EXPECT_EQ(format_time(std::numeric_limits<Micros>::max()), "294247-01-10 04:00:54.775807");
}

// Before year 0 the calendar still holds (400-year eras counted downwards); the year is
// printed with a minus sign.
TEST(FormatTime, CalendarHoldsBeforeYearZero) {
    const Micros march_0000 = *parse_time("0000-03-01");
    const Micros era = 146097 * 24 * kHour;  // days in 400 Gregorian years
    const std::string four_hundred_before = format_time(march_0000 - era);
    EXPECT_EQ(four_hundred_before.substr(0, 1), "-") << four_hundred_before;
    EXPECT_NE(four_hundred_before.find("-03-01 00:00:00"), std::string::npos) << four_hundred_before;
    const std::string year_before = format_time(*parse_time("0000-01-01") - kSecond);
    EXPECT_EQ(year_before.substr(0, 1), "-") << year_before;
    EXPECT_NE(year_before.find("-12-31 23:59:59"), std::string::npos) << year_before;
}

TEST(FormatTime, RoundTripsThroughParse) {
    const char* samples[] = {
        "1970-01-01 00:00:00",        "2000-02-29 12:34:56",       "2024-12-31 23:59:59.999999",
        "2026-10-14 09:12:44.512301", "2100-03-01 00:00:00.000001", "1969-07-20 20:17:40",
        "0001-01-01 00:00:00",        "9999-12-31 23:59:59",
    };
    for (const char* s : samples) {
        const auto t = parse_time(s);
        ASSERT_TRUE(t.has_value()) << s;
        EXPECT_EQ(format_time(*t), s);
    }
}

TEST(FormatTime, EveryDayOfSeveralYearsRoundTrips) {
    // Walks 1999-01-01 .. 2030-12-31 a day at a time: catches month/leap arithmetic slips.
    Micros t = *parse_time("1999-01-01");
    const Micros end = *parse_time("2031-01-01");
    const Micros day = 24 * kHour;
    int count = 0;
    for (; t < end; t += day, ++count) {
        const std::string text = format_time(t + 3 * kHour + 7);
        ASSERT_EQ(parse_time(text), t + 3 * kHour + 7) << text;
    }
    EXPECT_EQ(count, 365 * 32 + 8);
}

TEST(FormatTime, SortsInTimeOrder) {
    EXPECT_LT(format_time(kRef), format_time(kRef + 1));
    EXPECT_LT(format_time(kRef + 999999), format_time(kRef + kSecond));
}

}  // namespace
}  // namespace churnwatch
