// Cutting UTF-8 text for people to read: a receiver's error body in last_error, a command's
// stderr in the log, a column of `alerts list`. Each cut falls between characters, never
// inside one, so what is kept stays valid UTF-8 wherever the input was.
//
// "Character" here is a code point (a lead byte and its continuation bytes), which is what a
// terminal shows as one column for the text these hold (no combining marks or wide CJK are
// accounted for).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace churnwatch::utf8 {

inline bool continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Code points in `s` (bytes that are not continuation bytes).
std::size_t char_count(std::string_view s);

// The longest start of `s` of at most `max_bytes` bytes that ends between characters.
std::string_view head_bytes(std::string_view s, std::size_t max_bytes);

// The shortest end of `s` of at most `max_bytes` bytes that starts at a character: a cut
// never leaves the continuation bytes of a character whose start was dropped.
std::string_view tail_bytes(std::string_view s, std::size_t max_bytes);

// The first `max_chars` characters of `s` (all of it when it has no more).
std::string_view head_chars(std::string_view s, std::size_t max_chars);

// `s` on one line: every control character (below 0x20) becomes a space.
std::string single_line(std::string_view s);

}  // namespace churnwatch::utf8
