#include "alert_policy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <vector>

namespace churnwatch {

Micros backoff_delay(const AlertPolicy& p, int attempt, double jitter) {
    attempt = std::max(attempt, 1);
    jitter = std::clamp(jitter, 0.0, 1.0);
    // In doubles: factor^attempt overflows integers long before it is capped.
    double bound = static_cast<double>(p.base_delay) * std::pow(p.factor, attempt - 1);
    bound = std::min(bound, static_cast<double>(p.max_delay));
    return static_cast<Micros>(bound * jitter);
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
    });
}

int month_index(std::string_view m) {
    static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; ++i)
        if (m == kMonths[i]) return i;
    return -1;
}

int number(std::string_view s) {
    if (!all_digits(s) || s.size() > 4) return -1;
    int v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return v;
}

// "HH:MM:SS"
bool parse_clock(std::string_view s, std::tm& tm) {
    if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
    tm.tm_hour = number(s.substr(0, 2));
    tm.tm_min = number(s.substr(3, 2));
    tm.tm_sec = number(s.substr(6, 2));
    return tm.tm_hour >= 0 && tm.tm_hour < 24 && tm.tm_min >= 0 && tm.tm_min < 60 &&
           tm.tm_sec >= 0 && tm.tm_sec <= 60;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
    std::vector<std::string_view> out;
    while (!s.empty()) {
        auto b = s.find_first_not_of(' ');
        if (b == std::string_view::npos) break;
        s.remove_prefix(b);
        auto e = s.find(' ');
        out.push_back(s.substr(0, e));
        if (e == std::string_view::npos) break;
        s.remove_prefix(e);
    }
    return out;
}

// The three HTTP-date forms of RFC 9110 §5.6.7; seconds since 1970 or nullopt.
std::optional<int64_t> parse_http_date(std::string_view s) {
    std::tm tm{};
    auto parts = split_spaces(s);
    if (parts.size() == 6 && parts[0].size() == 4 && parts[0].back() == ',' && parts[5] == "GMT") {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        tm.tm_mday = number(parts[1]);
        tm.tm_mon = month_index(parts[2]);
        tm.tm_year = number(parts[3]) - 1900;
        if (parts[3].size() != 4 || !parse_clock(parts[4], tm)) return std::nullopt;
    } else if (parts.size() == 4 && parts[0].back() == ',' && parts[3] == "GMT") {
        // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit year: 70-99 → 19xx)
        std::string_view d = parts[1];
        if (d.size() != 9 || d[2] != '-' || d[6] != '-') return std::nullopt;
        tm.tm_mday = number(d.substr(0, 2));
        tm.tm_mon = month_index(d.substr(3, 3));
        int yy = number(d.substr(7, 2));
        if (yy < 0) return std::nullopt;
        tm.tm_year = yy < 70 ? yy + 100 : yy;
        if (!parse_clock(parts[2], tm)) return std::nullopt;
    } else if (parts.size() == 5) {
        // asctime: "Sun Nov  6 08:49:37 1994"
        tm.tm_mon = month_index(parts[1]);
        tm.tm_mday = number(parts[2]);
        tm.tm_year = number(parts[4]) - 1900;
        if (parts[4].size() != 4 || !parse_clock(parts[3], tm)) return std::nullopt;
    } else {
        return std::nullopt;
    }
    // A day the month has (31 Feb is no date, not 3 March); any year: one before 1970 is in
    // the past, which means "now" as any past date does.
    if (tm.tm_mon < 0 || tm.tm_year < -1900 || tm.tm_mday < 1) return std::nullopt;
    const int year = tm.tm_year + 1900;
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (tm.tm_mday > kDays[tm.tm_mon] + (tm.tm_mon == 1 && leap ? 1 : 0)) return std::nullopt;
    return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::optional<Micros> parse_retry_after(std::string_view value, Micros now) {
    value = trim(value);
    if (all_digits(value)) {
        // Bounded: anything beyond ten years is as good as ten years (and cannot overflow).
        constexpr int64_t kMaxSeconds = kMaxRetryAfter / kMicrosPerSecond;
        int64_t seconds = 0;
        for (char c : value) {
            seconds = seconds * 10 + (c - '0');
            if (seconds > kMaxSeconds) {
                seconds = kMaxSeconds;
                break;
            }
        }
        return seconds * kMicrosPerSecond;
    }
    auto at = parse_http_date(value);
    if (!at) return std::nullopt;
    Micros when = *at * kMicrosPerSecond;
    return std::max<Micros>(0, when - now);
}

std::string_view to_string(AlertAction a) {
    switch (a) {
        case AlertAction::Sent: return "sent";
        case AlertAction::Retry: return "retry";
        case AlertAction::Dead: return "dead";
        case AlertAction::DisableTarget: return "disabled";
    }
    return "retry";
}

AlertDecision decide_alert(const AlertPolicy& p, const AttemptOutcome& outcome, int attempts,
                           Micros retry_from, Micros now, double jitter) {
    AlertDecision d;
    int s = outcome.status;
    if (outcome.responded && s >= 200 && s < 300) {
        d.action = AlertAction::Sent;
        return d;
    }
    if (outcome.responded && s == 410) {
        d.action = AlertAction::DisableTarget;
        d.reason = "HTTP 410 Gone: target disabled";
        return d;
    }
    bool retryable = !outcome.responded || s == 408 || s == 425 || s == 429 || s >= 500 || s < 200;
    if (!retryable) {
        d.action = AlertAction::Dead;
        d.reason = "HTTP " + std::to_string(s) + (s < 400 ? " (redirects are not followed)" : "");
        return d;
    }
    d.reason = outcome.responded ? "HTTP " + std::to_string(s) : outcome.error;
    Micros delay = backoff_delay(p, attempts, jitter);
    if (outcome.responded && (s == 429 || s == 503) && outcome.retry_after) {
        if (auto wait = parse_retry_after(*outcome.retry_after, now)) {
            delay = std::max(*wait, p.base_delay);
            d.reason += " (Retry-After: " + *outcome.retry_after + ")";
        }
    }
    d.next_attempt = now + delay;
    const Micros deadline = retry_from + p.budget;
    if (now >= deadline) {
        d.action = AlertAction::Dead;
        d.reason = "retry budget exhausted after " + std::to_string(attempts) +
                   (attempts == 1 ? " attempt: " : " attempts: ") + d.reason;
        d.next_attempt = 0;
        return d;
    }
    if (d.next_attempt > deadline) {
        // The budget ends before the backoff or the Retry-After does: one last attempt when
        // it ends, rather than giving up with budget left (a day's Retry-After would
        // otherwise kill the alert on its first attempt).
        d.next_attempt = deadline;
        d.reason += "; last attempt at the end of the retry budget";
    }
    d.action = AlertAction::Retry;
    return d;
}

Micros alert_schedule_horizon(const AlertPolicy& p, Micros hold) {
    return std::max({hold, p.max_delay, std::min(p.budget, kMaxRetryAfter)});
}

}  // namespace churnwatch
