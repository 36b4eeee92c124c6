#include "utf8_text.h"

#include <algorithm>

namespace churnwatch::utf8 {

std::size_t char_count(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return !continuation_byte(c); }));
}

std::string_view head_bytes(std::string_view s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) return s;
    std::size_t n = max_bytes;
    // A lead byte has at most 3 continuation bytes: input that is not UTF-8 is cut at the
    // limit less 3 at worst, never emptied.
    for (int k = 0; k < 3 && n > 0 && continuation_byte(s[n]); ++k) --n;
    return s.substr(0, n);
}

std::string_view tail_bytes(std::string_view s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) return s;
    std::size_t from = s.size() - max_bytes;
    for (int k = 0; k < 3 && from < s.size() && continuation_byte(s[from]); ++k) ++from;
    return s.substr(from);
}

std::string_view head_chars(std::string_view s, std::size_t max_chars) {
    std::size_t at = 0;
    for (std::size_t kept = 0; at < s.size() && kept < max_chars; ++kept) {
        ++at;
        while (at < s.size() && continuation_byte(s[at])) ++at;
    }
    return s.substr(0, at);
}

std::string single_line(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return out;
}

}  // namespace churnwatch::utf8
