// Business times from payloads, as microseconds since the Unix epoch (UTC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace churnwatch {

using Micros = int64_t;
constexpr Micros kMicrosPerSecond = 1000000;

// Parses the timestamp forms Recharge sends:
//   "2026-10-02T11:05:09"                 naive (2021-01): taken as UTC
//   "2026-10-14T09:12:44.512301+00:00"    offset and fraction (2021-11)
//   "2026-10-14T09:12:44Z", "2026-10-14 09:12:44", "2026-08-01" (date only: midnight UTC)
// Returns nullopt for anything else (including out-of-range fields).
std::optional<Micros> parse_time(std::string_view text);

// "YYYY-MM-DD HH:MM:SS" in UTC, with ".ffffff" only when the fraction is non-zero.
// Text of this form sorts in time order and SQLite's date functions read it.
std::string format_time(Micros t);

}  // namespace churnwatch
