// Whether a delivery's business times can be real. A version dated in the future would outrank
// every later real update of its object for good (versions are ordered by updated_at), and the
// monthly views would run month by month to that date; one dated 1900 would open the reports'
// first month a century early. Such a delivery is kept, quarantined with the reason, instead.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "model.h"

namespace churnwatch {

// Every business time must be no earlier than this (2000-01-01 00:00:00 UTC; Recharge began
// in 2014, and subscriptions imported from older platforms keep dates after 2000)…
constexpr Micros kEarliestBusinessTime = 946684800LL * kMicrosPerSecond;
// …and no later than this long after the delivery was received (clock skew, and a naive
// 2021-01 time of a store east of UTC read as UTC, are hours).
constexpr Micros kBusinessTimeLead = 24LL * 3600 * kMicrosPerSecond;

// Checks updated_at, created_at, cancelled_at and processed_at of each decoded object (not
// next_charge_scheduled_at, which is rightly in the future). Returns the first implausible one
// as a readable reason, e.g. "subscription.updated_at 9999-01-01T00:00:00 is more than a day
// after the delivery was received (2026-11-29 17:00:00)". A received_at of 0 (unknown) skips
// the upper bound.
std::optional<std::string> implausible_time(const DecodedPayload& p, Micros received_at);
// The same for one object: "subscription", "charge" or "customer" (nullopt when absent).
std::optional<std::string> implausible_time_of(const DecodedPayload& p, std::string_view resource,
                                               Micros received_at);

}  // namespace churnwatch
