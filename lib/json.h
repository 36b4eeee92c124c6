// Bounded JSON parsing: UTF-8 validated, nesting depth limited while parsing (so recursion is
// bounded by the limit; limits above 256 use the iterative parser, nothing on the call stack).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace churnwatch {

struct JsonLimits {
    std::size_t max_depth = 64;  // objects and arrays nested deeper are rejected
};
// The highest `json-depth` a command accepts.
inline constexpr std::size_t kMaxJsonDepth = 10000;

// Parses body into doc. On failure returns false and sets error to a readable reason,
// e.g. "invalid JSON at offset 12: Missing a comma or '}' after an object member",
// "JSON nesting deeper than 64", "invalid UTF-8 at offset 3", "empty body".
bool parse_json(std::string_view body, const JsonLimits& limits, rapidjson::Document& doc,
                std::string& error);

}  // namespace churnwatch
