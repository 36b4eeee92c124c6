#include "time_util.h"

#include <cstdio>

namespace churnwatch {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

// Howard Hinnant's days_from_civil: days since 1970-01-01 in the proleptic Gregorian
// calendar. Done by hand so the result never depends on timegm, TZ or the locale.
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2 ? 1 : 0;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;                                   // [0, 399]
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  // [0, 365]
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
    return era * 146097 + doe - 719468;
}

struct Civil {
    int64_t year;
    int month;
    int day;
};

// Inverse of days_from_civil.
Civil civil_from_days(int64_t z) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;                                    // [0, 146096]
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             // [0, 365]
    const int64_t mp = (5 * doy + 2) / 153;                                  // [0, 11]
    const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int64_t y, int m) {
    static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// A cursor over the text; every read is bounds-checked so malformed input cannot overrun.
class Cursor {
public:
    explicit Cursor(std::string_view s) : s_(s) {}

    bool done() const { return pos_ == s_.size(); }
    bool peek_is(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
    bool peek_digit() const { return pos_ < s_.size() && is_digit(s_[pos_]); }

    bool take(char c) {
        if (!peek_is(c)) return false;
        ++pos_;
        return true;
    }

    bool take_any(std::string_view choices, char& got) {
        if (pos_ >= s_.size() || choices.find(s_[pos_]) == std::string_view::npos) return false;
        got = s_[pos_++];
        return true;
    }

    // Exactly n digits.
    bool digits(int n, int& out) {
        out = 0;
        for (int i = 0; i < n; ++i) {
            if (!peek_digit()) return false;
            out = out * 10 + (s_[pos_++] - '0');
        }
        return true;
    }

    char next() { return s_[pos_++]; }

private:
    static bool is_digit(char c) { return c >= '0' && c <= '9'; }

    std::string_view s_;
    std::size_t pos_ = 0;
};

// ".f" to ".fffffffff": microseconds, digits past the sixth truncated.
bool parse_fraction(Cursor& c, int64_t& micros) {
    micros = 0;
    int n = 0;
    while (c.peek_digit()) {
        const int digit = c.next() - '0';
        if (++n > 9) return false;
        if (n <= 6) micros = micros * 10 + digit;
    }
    if (n == 0) return false;
    for (int i = n; i < 6; ++i) micros *= 10;
    return true;
}

// "Z", "+HH:MM" or "+HHMM" (sign either way). Returns the offset east of UTC in seconds.
bool parse_offset(Cursor& c, int64_t& offset_seconds) {
    offset_seconds = 0;
    char sign = 0;
    if (c.take_any("Zz", sign)) return true;
    if (!c.take_any("+-", sign)) return false;
    int hh = 0;
    int mm = 0;
    if (!c.digits(2, hh)) return false;
    c.take(':');  // optional: "+0530" and "+05:30" both appear in the wild
    if (!c.digits(2, mm)) return false;
    if (hh > 23 || mm > 59) return false;
    offset_seconds = (hh * 3600 + mm * 60) * (sign == '-' ? -1 : 1);
    return true;
}

}  // namespace

std::optional<Micros> parse_time(std::string_view text) {
    Cursor c(text);
    int year = 0;
    int month = 0;
    int day = 0;
    if (!c.digits(4, year) || !c.take('-') || !c.digits(2, month) || !c.take('-') ||
        !c.digits(2, day)) {
        return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
        return std::nullopt;
    }
    const int64_t days = days_from_civil(year, month, day);
    if (c.done()) return days * kSecondsPerDay * kMicrosPerSecond;  // date only: midnight UTC

    char sep = 0;
    if (!c.take_any("Tt ", sep)) return std::nullopt;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (!c.digits(2, hour) || !c.take(':') || !c.digits(2, minute) || !c.take(':') ||
        !c.digits(2, second)) {
        return std::nullopt;
    }
    // Leap seconds (":60") are not accepted: Recharge does not send them.
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;

    int64_t fraction = 0;
    if (c.take('.') && !parse_fraction(c, fraction)) return std::nullopt;

    int64_t offset = 0;
    if (!c.done() && !parse_offset(c, offset)) return std::nullopt;
    if (!c.done()) return std::nullopt;  // trailing garbage

    const int64_t seconds = days * kSecondsPerDay + hour * 3600 + minute * 60 + second - offset;
    return seconds * kMicrosPerSecond + fraction;
}

std::string format_time(Micros t) {
    // Floor division so pre-1970 instants land on the right day and keep a positive fraction.
    int64_t seconds = t / kMicrosPerSecond;
    int64_t fraction = t % kMicrosPerSecond;
    if (fraction < 0) {
        fraction += kMicrosPerSecond;
        --seconds;
    }
    int64_t days = seconds / kSecondsPerDay;
    int64_t second_of_day = seconds % kSecondsPerDay;
    if (second_of_day < 0) {
        second_of_day += kSecondsPerDay;
        --days;
    }
    const Civil date = civil_from_days(days);
    const int hour = static_cast<int>(second_of_day / 3600);
    const int minute = static_cast<int>(second_of_day / 60 % 60);
    const int second = static_cast<int>(second_of_day % 60);

    if (date.year >= 0 && date.year <= 9999) {
        // The common case by hand: snprintf was a noticeable part of a rebuild, which formats
        // a few million times. Same text as the general case below.
        char b[26];
        auto put = [&](int at, int64_t v, int width) {
            for (int i = at + width - 1; i >= at; --i, v /= 10) b[i] = static_cast<char>('0' + v % 10);
        };
        put(0, date.year, 4);
        b[4] = '-';
        put(5, date.month, 2);
        b[7] = '-';
        put(8, date.day, 2);
        b[10] = ' ';
        put(11, hour, 2);
        b[13] = ':';
        put(14, minute, 2);
        b[16] = ':';
        put(17, second, 2);
        if (fraction == 0) return std::string(b, 19);
        b[19] = '.';
        put(20, fraction, 6);
        return std::string(b, 26);
    }
    char buf[64];
    const int n = std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d %02d:%02d:%02d",
                          static_cast<long long>(date.year), date.month, date.day, hour, minute,
                          second);
    if (fraction != 0 && n > 0 && static_cast<std::size_t>(n) < sizeof buf) {
        std::snprintf(buf + n, sizeof buf - n, ".%06lld", static_cast<long long>(fraction));
    }
    return std::string(buf);
}

}  // namespace churnwatch
