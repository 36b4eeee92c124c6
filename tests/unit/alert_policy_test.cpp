// The alert retry policy: backoff growth and bounds, Retry-After in both forms, the
// status → decision table and the retry budget.
#include "alert_policy.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace churnwatch {
namespace {

constexpr Micros kS = kMicrosPerSecond;

TEST(AlertBackoff, FullJitterStaysWithinTheGrowingBound) {
    AlertPolicy p;  // base 1 s, factor 2, cap 10 min
    // Jitter just under 1 gives the bound itself (minus rounding): 1, 2, 4, 8 … seconds.
    Micros prev = 0;
    for (int attempt = 1; attempt <= 9; ++attempt) {
        Micros bound = kS << (attempt - 1);
        Micros top = backoff_delay(p, attempt, 0.999999);
        EXPECT_LE(top, bound) << attempt;
        EXPECT_GE(top, bound * 999 / 1000) << attempt;
        EXPECT_GT(top, prev) << "the bound must grow";
        prev = top;
        EXPECT_EQ(backoff_delay(p, attempt, 0.0), 0) << "full jitter starts at zero";
        EXPECT_EQ(backoff_delay(p, attempt, 0.5), bound / 2) << attempt;
    }
}

TEST(AlertBackoff, CappedAtMaxDelayEvenForHugeAttemptCounts) {
    AlertPolicy p;
    EXPECT_EQ(backoff_delay(p, 10, 1.0), 512 * kS);
    EXPECT_EQ(backoff_delay(p, 11, 1.0), 600 * kS);
    EXPECT_EQ(backoff_delay(p, 100000, 1.0), 600 * kS);
    EXPECT_EQ(backoff_delay(p, 100000, 0.5), 300 * kS);
}

TEST(AlertBackoff, JitterOutsideTheUnitIntervalIsClampedAndAttemptsStartAtOne) {
    AlertPolicy p;
    EXPECT_EQ(backoff_delay(p, 3, -2.0), 0);
    EXPECT_EQ(backoff_delay(p, 3, 7.0), 4 * kS);
    EXPECT_EQ(backoff_delay(p, 0, 1.0), 1 * kS);
    EXPECT_EQ(backoff_delay(p, -5, 1.0), 1 * kS);
}

TEST(AlertBackoff, BaseDelayIsConfigurable) {
    AlertPolicy p;
    p.base_delay = 50000;  // 50 ms
    EXPECT_EQ(backoff_delay(p, 1, 1.0), 50000);
    EXPECT_EQ(backoff_delay(p, 4, 1.0), 400000);
}

TEST(RetryAfter, DelaySeconds) {
    EXPECT_EQ(parse_retry_after("120", 0), 120 * kS);
    EXPECT_EQ(parse_retry_after("  0 ", 0), 0);
    EXPECT_EQ(parse_retry_after("99999999999999999999999", 0), 10LL * 365 * 86400 * kS);
}

TEST(RetryAfter, HttpDateInAllThreeForms) {
    // 1994-11-06 08:49:37 UTC = 784111777
    Micros now = 784111777LL * kS - 30 * kS;
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 30 * kS);
    EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), 30 * kS);
    EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), 30 * kS);
}

// RFC 850's two-digit year: 70–99 are 19xx, 00–69 20xx. 70 itself is 1970, the epoch's
// first year, not 2070 (a retry a century off).
TEST(RetryAfter, Rfc850YearSeventyIsNineteenSeventy) {
    EXPECT_EQ(parse_retry_after("Thursday, 01-Jan-70 00:00:10 GMT", 0), 10 * kS);
    EXPECT_EQ(parse_retry_after("Tuesday, 01-Jan-69 00:00:10 GMT", 0),
              (3124224000LL + 10) * kS);  // 2069-01-01
}

TEST(RetryAfter, DateInThePastMeansNow) {
    Micros now = 784111777LL * kS + 3600 * kS;
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 0);
}

// Any past date means now, one before 1970 too (it used to be no date at all, so the
// backoff step was waited instead).
TEST(RetryAfter, ADateBefore1970AlsoMeansNow) {
    const Micros now = 784111777LL * kS;
    EXPECT_EQ(parse_retry_after("Wed, 31 Dec 1969 23:59:59 GMT", now), 0);
    EXPECT_EQ(parse_retry_after("Mon, 01 Jan 1900 00:00:00 GMT", now), 0);
    EXPECT_EQ(parse_retry_after("Wed Dec 31 23:59:59 1969", now), 0);
}

// A day the month does not have is no date (31 Feb was read as 3 March); 29 Feb only in a
// leap year.
TEST(RetryAfter, ADayTheMonthDoesNotHaveIsRejected) {
    for (const char* bad : {"Sat, 31 Feb 2025 00:00:00 GMT", "Sun, 31 Nov 2025 00:00:00 GMT",
                            "Sat, 29 Feb 2025 00:00:00 GMT", "Mon, 29 Feb 2100 00:00:00 GMT",
                            "Tuesday, 31-Apr-29 00:00:00 GMT", "Thu Jun 31 00:00:00 2025"}) {
        EXPECT_FALSE(parse_retry_after(bad, 0)) << bad;
    }
    EXPECT_EQ(parse_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", 0), 1709164800LL * kS);
    EXPECT_EQ(parse_retry_after("Tue, 29 Feb 2000 00:00:00 GMT", 0), 951782400LL * kS);
    EXPECT_EQ(parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", 0), 1767139200LL * kS);
}

TEST(RetryAfter, GarbageIsRejected) {
    for (const char* bad : {"", "soon", "-5", "1.5", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Foo 1994 08:49:37 GMT",
                            "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", "12abc"}) {
        EXPECT_FALSE(parse_retry_after(bad, 0)) << bad;
    }
}

// The clock is exactly "HH:MM:SS", two digits each, in range; 60 seconds is a leap second
// (timegm carries it into the next minute).
TEST(RetryAfter, ClockIsTwoDigitFieldsInRange) {
    EXPECT_EQ(parse_retry_after("Thu, 01 Jan 1970 00:00:60 GMT", 0), 60 * kS);
    EXPECT_EQ(parse_retry_after("Thu, 01 Jan 1970 23:59:59 GMT", 0), 86399 * kS);
    for (const char* clock : {"24:00:00", "08:60:37", "08:49:61", "08:49:370", "08.49:37", "08:49.37", "-1:49:37",
                              "08:-1:37", "08:49:-1", "08:49:3/"}) {
        std::string date = std::string("Sun, 06 Nov 1994 ") + clock + " GMT";
        EXPECT_FALSE(parse_retry_after(date, 0)) << date;
    }
}

// Every month name is known, December included, in each form (1970 is not a leap year).
TEST(RetryAfter, EveryMonthNameIsKnown) {
    const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    Micros first = 0;  // 1970-mm-01 00:00:00 UTC
    for (int m = 0; m < 12; ++m) {
        std::string date = std::string("Thu, 01 ") + months[m] + " 1970 00:00:00 GMT";
        EXPECT_EQ(parse_retry_after(date, 0), first) << date;
        first += days[m] * 86400 * kS;
    }
    const Micros dec1 = 334LL * 86400 * kS;
    EXPECT_EQ(parse_retry_after("Tuesday, 01-Dec-70 00:00:00 GMT", 0), dec1);
    EXPECT_EQ(parse_retry_after("Tue Dec  1 00:00:00 1970", 0), dec1);
}

// Each form is taken only whole: a wrong separator, token, zone, field width or a trailing
// word makes the value unusable (and the caller falls back to its backoff), never a
// different date.
TEST(RetryAfter, MalformedDatesOfEachFormAreRejected) {
    for (const char* bad : {
             // IMF-fixdate
             "Sun, 06 Nov 1994 08:49:37 GMT extra", "Sunday, 06 Nov 1994 08:49:37 GMT",
             "Sun. 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 00 Nov 1994 08:49:37 GMT",
             "Sun, 00006 Nov 1994 08:49:37 GMT", "Sun, 1/ Nov 1994 08:49:37 GMT",
             // RFC 850
             "Sunday, 06-Nov-94 08:49:37 PST", "Sunday 06-Nov-94 08:49:37 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT",
             "Sunday, 06/Nov-94 08:49:37 GMT", "Sunday, 06-Nov/94 08:49:37 GMT", "Sunday, 06-Nov-9x 08:49:37 GMT",
             "Sunday, 00-Nov-94 08:49:37 GMT",
             // asctime
             "Sun Nov  0 08:49:37 1994", "Sun Nov  6 08:49:3/ 1994"}) {
        EXPECT_FALSE(parse_retry_after(bad, 0)) << bad;
    }
}

AttemptOutcome response(int status, std::optional<std::string> retry_after = std::nullopt) {
    AttemptOutcome o;
    o.responded = true;
    o.status = status;
    o.retry_after = std::move(retry_after);
    return o;
}

TEST(AlertDecisionTable, StatusesMapToActions) {
    AlertPolicy p;
    Micros now = 1000 * kS;
    struct Case {
        int status;
        AlertAction action;
    } cases[] = {
        {200, AlertAction::Sent},  {201, AlertAction::Sent},  {204, AlertAction::Sent},
        {299, AlertAction::Sent},  {410, AlertAction::DisableTarget},
        {400, AlertAction::Dead},  {401, AlertAction::Dead},  {403, AlertAction::Dead},
        {404, AlertAction::Dead},  {413, AlertAction::Dead},  {422, AlertAction::Dead},
        {301, AlertAction::Dead},  {302, AlertAction::Dead},  {308, AlertAction::Dead},
        {408, AlertAction::Retry}, {425, AlertAction::Retry}, {429, AlertAction::Retry},
        {500, AlertAction::Retry}, {502, AlertAction::Retry}, {503, AlertAction::Retry},
        {504, AlertAction::Retry}, {599, AlertAction::Retry},
    };
    for (const auto& c : cases) {
        auto d = decide_alert(p, response(c.status), 1, now, now, 0.5);
        EXPECT_EQ(d.action, c.action) << c.status;
        if (c.action == AlertAction::Sent) EXPECT_TRUE(d.reason.empty());
        else EXPECT_NE(d.reason.find(std::to_string(c.status)), std::string::npos) << d.reason;
    }
}

// The rest of the table's edges: 300 is a 3xx (dead, not sent), a 1xx as the final answer
// is "other" (retried), and the dead reason names redirects for 3xx only.
TEST(AlertDecisionTable, EdgesOfTheStatusClasses) {
    AlertPolicy p;
    Micros now = 1000 * kS;
    auto d300 = decide_alert(p, response(300), 1, now, now, 0.5);
    EXPECT_EQ(d300.action, AlertAction::Dead);
    EXPECT_EQ(d300.reason, "HTTP 300 (redirects are not followed)");
    EXPECT_EQ(decide_alert(p, response(399), 1, now, now, 0.5).reason, "HTTP 399 (redirects are not followed)");
    for (int status : {400, 404, 499}) {
        auto d = decide_alert(p, response(status), 1, now, now, 0.5);
        EXPECT_EQ(d.action, AlertAction::Dead) << status;
        EXPECT_EQ(d.reason, "HTTP " + std::to_string(status)) << "no redirect note on a 4xx";
    }
    for (int status : {100, 101, 199}) {
        auto d = decide_alert(p, response(status), 1, now, now, 1.0);
        EXPECT_EQ(d.action, AlertAction::Retry) << status;
        EXPECT_EQ(d.next_attempt, now + kS) << status;
    }
}

// Without a response the status (and a Retry-After) the outcome may still carry means
// nothing: not sent, not a 410 disabling the target, not a permanent 4xx, no Retry-After.
TEST(AlertDecisionTable, NoResponseIgnoresAnyStatusItCarries) {
    AlertPolicy p;
    Micros now = 1000 * kS;
    for (int status : {200, 204, 410, 404, 301, 429, 503}) {
        AttemptOutcome o;
        o.status = status;
        o.retry_after = "3600";
        o.error = "reading the response body: end of stream";
        auto d = decide_alert(p, o, 1, now, now, 0.0);
        EXPECT_EQ(d.action, AlertAction::Retry) << status;
        EXPECT_EQ(d.next_attempt, now) << status << ": the backoff, not the Retry-After";
        EXPECT_EQ(d.reason, o.error) << status;
    }
}

// Retry-After is a promise on 429 and 503 only: on other 5xx it is ignored, as on a 500.
TEST(AlertDecisionTable, RetryAfterIgnoredOnOther5xx) {
    AlertPolicy p;
    Micros now = 1000 * kS;
    for (int status : {502, 504, 507, 599}) {
        auto d = decide_alert(p, response(status, "30"), 1, now, now, 0.0);
        EXPECT_EQ(d.action, AlertAction::Retry) << status;
        EXPECT_EQ(d.next_attempt, now) << status;
        EXPECT_EQ(d.reason.find("Retry-After"), std::string::npos) << d.reason;
    }
}

TEST(AlertDecisionTable, NoResponseIsRetriedWithBackoff) {
    AlertPolicy p;
    AttemptOutcome o;
    o.error = "connect: Connection refused";
    Micros now = 1000 * kS;
    auto d = decide_alert(p, o, 3, now - 10 * kS, now, 0.5);
    EXPECT_EQ(d.action, AlertAction::Retry);
    EXPECT_EQ(d.next_attempt, now + 2 * kS);  // bound 4 s at attempt 3, half of it
    EXPECT_EQ(d.reason, "connect: Connection refused");
}

TEST(AlertDecisionTable, RetryAfterHonouredOn429And503Only) {
    AlertPolicy p;
    Micros now = 1000 * kS;
    auto d429 = decide_alert(p, response(429, "30"), 1, now, now, 0.0);
    EXPECT_EQ(d429.action, AlertAction::Retry);
    EXPECT_EQ(d429.next_attempt, now + 30 * kS);
    EXPECT_NE(d429.reason.find("Retry-After: 30"), std::string::npos);
    auto d503 = decide_alert(p, response(503, "Thu, 01 Jan 1970 00:17:00 GMT"), 1, now, now, 0.0);
    EXPECT_EQ(d503.next_attempt, now + 20 * kS);  // 00:17:00 is 1020 s
    // On a 500 it is not a promise: ordinary backoff.
    auto d500 = decide_alert(p, response(500, "30"), 1, now, now, 0.0);
    EXPECT_EQ(d500.next_attempt, now);
    // A zero or unparseable Retry-After still waits at least the base delay / the backoff.
    EXPECT_EQ(decide_alert(p, response(429, "0"), 1, now, now, 0.0).next_attempt, now + kS);
    EXPECT_EQ(decide_alert(p, response(503, "later"), 2, now, now, 1.0).next_attempt, now + 2 * kS);
}

TEST(AlertBudget, RetryBeyondTheBudgetIsTheLastAttemptThenDead) {
    AlertPolicy p;
    p.budget = 3600 * kS;
    Micros created = 0;
    // Within the budget: retry.
    auto early = decide_alert(p, response(503), 5, created, 600 * kS, 1.0);
    EXPECT_EQ(early.action, AlertAction::Retry);
    // The next attempt would land after created + 1 h: one last attempt when the hour ends.
    auto late = decide_alert(p, response(503), 12, created, 3500 * kS, 1.0);
    EXPECT_EQ(late.action, AlertAction::Retry);
    EXPECT_EQ(late.next_attempt, 3600 * kS);
    EXPECT_NE(late.reason.find("last attempt"), std::string::npos) << late.reason;
    // That attempt failing (at the end, or after it): dead, with the reason kept.
    for (Micros at : {3600 * kS, 3601 * kS}) {
        auto dead = decide_alert(p, response(503), 13, created, at, 0.0);
        EXPECT_EQ(dead.action, AlertAction::Dead);
        EXPECT_EQ(dead.next_attempt, 0);
        EXPECT_NE(dead.reason.find("budget"), std::string::npos) << dead.reason;
        EXPECT_NE(dead.reason.find("13 attempts"), std::string::npos) << dead.reason;
        EXPECT_NE(dead.reason.find("HTTP 503"), std::string::npos) << dead.reason;
    }
    // A Retry-After past the budget (a receiver asking for a day with an hour left): not dead
    // on the first attempt, but tried once more when the budget ends.
    auto far = decide_alert(p, response(429, "7200"), 1, created, 10 * kS, 0.0);
    EXPECT_EQ(far.action, AlertAction::Retry);
    EXPECT_EQ(far.next_attempt, 3600 * kS);
    EXPECT_NE(far.reason.find("Retry-After: 7200"), std::string::npos) << far.reason;
    // The budget counts from retry_from (a manual retry restarts it), not from creation.
    auto restarted = decide_alert(p, response(503), 1, 100000 * kS, 100010 * kS, 1.0);
    EXPECT_EQ(restarted.action, AlertAction::Retry);
    EXPECT_EQ(decide_alert(p, response(503), 1, 100000 * kS, 103600 * kS, 0.0).action, AlertAction::Dead);
    // One attempt is "1 attempt", not "1 attempts".
    auto once = decide_alert(p, response(503), 1, created, 3600 * kS, 0.0);
    EXPECT_NE(once.reason.find("budget exhausted after 1 attempt: HTTP 503"), std::string::npos) << once.reason;
    // A permanent failure is dead at once, budget left or not.
    EXPECT_EQ(decide_alert(p, response(400), 1, created, 10 * kS, 0.0).action, AlertAction::Dead);
    // Success is never turned into dead by the budget.
    EXPECT_EQ(decide_alert(p, response(200), 50, created, 999999 * kS, 1.0).action, AlertAction::Sent);
}

// The dispatcher takes a pending alert due further ahead than this for one scheduled by a
// clock since moved back: no retry decide_alert makes may lie beyond it (a backoff at its
// cap, the longest Retry-After, anywhere in the budget), and a hold longer than both counts.
TEST(AlertScheduleHorizon, NoRetryIsScheduledBeyondIt) {
    AlertPolicy p;  // 1 s base, 10 min cap, 24 h budget
    const Micros horizon = alert_schedule_horizon(p, 0);
    EXPECT_EQ(horizon, p.budget);
    const Micros now = 1'800'000'000 * kS;
    Micros furthest = 0;
    for (Micros retry_from : {now - p.budget + kS, now - 3600 * kS, now}) {
        for (const auto& o : {response(503), response(500), response(429, "120"), response(503, "86399"),
                              response(429, "999999999999"), response(503, "Fri, 01 Jan 2100 00:00:00 GMT")}) {
            for (int attempts : {1, 5, 40}) {
                auto d = decide_alert(p, o, attempts, retry_from, now, 0.999);
                if (d.action == AlertAction::Retry) furthest = std::max(furthest, d.next_attempt - now);
            }
        }
    }
    EXPECT_GE(furthest, 86399 * kS);  // the long Retry-After was honoured
    EXPECT_LE(furthest, horizon);
    // A cap above the budget, a budget of a year, a hold longer than both.
    p.max_delay = 2 * p.budget;
    EXPECT_EQ(alert_schedule_horizon(p, 0), p.max_delay);
    p.budget = 365 * 86400 * kS;
    EXPECT_EQ(alert_schedule_horizon(p, 3600 * kS), p.budget);
    p.budget = 100LL * 365 * 86400 * kS;  // beyond what any Retry-After is taken for
    EXPECT_EQ(alert_schedule_horizon(p, 0), kMaxRetryAfter);
    EXPECT_EQ(alert_schedule_horizon(AlertPolicy{}, 2 * 86400 * kS), 2 * 86400 * kS);
}

TEST(AlertDecisionTable, ActionNames) {
    EXPECT_EQ(to_string(AlertAction::Sent), "sent");
    EXPECT_EQ(to_string(AlertAction::Retry), "retry");
    EXPECT_EQ(to_string(AlertAction::Dead), "dead");
    EXPECT_EQ(to_string(AlertAction::DisableTarget), "disabled");
}

}  // namespace
}  // namespace churnwatch
