// What to do after an alert delivery attempt: pure functions, no clock and no randomness of
// their own (the caller passes `now` and a jitter value), so every branch is unit-tested.
//
//  2xx                       → sent
//  410 Gone                  → disable the target (the receiver says it is gone for good)
//  429, 503 with Retry-After → retry no earlier than it says (but at least the base delay)
//  408, 425, 429, 5xx, other → retry with exponential backoff and full jitter
//  no response (refused, reset, timeout, TLS failure, command failed) → retry
//  other 4xx, 3xx            → dead letter (retrying cannot fix a rejected request, and
//                              redirects are not followed: configure the final URL)
// A retry whose time would fall after retry_from + budget is made when the budget ends
// instead (the last attempt); a failure at or after that end is a dead letter.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "time_util.h"

namespace churnwatch {

struct AlertPolicy {
    Micros base_delay = 1 * kMicrosPerSecond;  // the first retry's delay bound
    double factor = 2;                          // growth per attempt
    Micros max_delay = 600 * kMicrosPerSecond;  // cap on the delay bound
    Micros budget = 24 * 3600 * kMicrosPerSecond;  // retry for this long, then dead letter
};

// The delay before retry number `attempt` (1 after the first failure) with "full jitter":
// uniform in [0, min(max_delay, base_delay · factor^(attempt-1))], `jitter` being a value in
// [0, 1) from the caller's random source (values outside are clamped).
Micros backoff_delay(const AlertPolicy& p, int attempt, double jitter);

// Retry-After: delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"; the
// obsolete RFC 850 and asctime forms too). Returns the wait from `now` (never negative: a
// date in the past means "now"), or nullopt when the value is neither form. Delay-seconds
// beyond kMaxRetryAfter count as kMaxRetryAfter (they cannot overflow).
inline constexpr Micros kMaxRetryAfter = 10LL * 365 * 86400 * kMicrosPerSecond;
std::optional<Micros> parse_retry_after(std::string_view value, Micros now);

// One attempt's result as the transport saw it.
struct AttemptOutcome {
    bool responded = false;                  // an HTTP response came back (a command: exited 0)
    int status = 0;                          // HTTP status (a command: 200 when it exited 0)
    std::optional<std::string> retry_after;  // the Retry-After header, if any
    std::string error;                       // transport error when !responded
};

enum class AlertAction { Sent, Retry, Dead, DisableTarget };
std::string_view to_string(AlertAction a);  // "sent" "retry" "dead" "disabled"

struct AlertDecision {
    AlertAction action = AlertAction::Retry;
    Micros next_attempt = 0;  // Retry: when to try again
    std::string reason;       // readable, for last_error and logs (empty when sent)
};

// `attempts` counts this attempt too (1 after the first); `retry_from` is when the row's
// retry budget started (its creation, or the last manual retry).
AlertDecision decide_alert(const AlertPolicy& p, const AttemptOutcome& outcome, int attempts,
                           Micros retry_from, Micros now, double jitter);

// How far ahead of the clock a pending alert can be scheduled while the clock only moves
// forward: its first attempt waits out `hold` (alert-hold); a retry waits a backoff of at
// most max_delay, or what a Retry-After asks, which decide_alert honours only within the
// budget (kMaxRetryAfter at most). A row due further ahead was scheduled by a clock ahead of
// the present one (the dispatcher brings such rows back to now: alert_dispatcher.cpp).
Micros alert_schedule_horizon(const AlertPolicy& p, Micros hold);

}  // namespace churnwatch
