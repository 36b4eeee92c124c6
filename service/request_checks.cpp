#include "request_checks.h"

#include <strings.h>

namespace churnwatch {

namespace {

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// What a client sent, cut short for an answer and a log line.
std::string quoted(std::string_view s) {
    constexpr std::size_t kMax = 40;
    return "'" + std::string(s.substr(0, kMax)) + (s.size() > kMax ? "...'" : "'");
}

}  // namespace

Refusal line_too_long(std::string_view start, std::size_t limit) {
    const std::string bytes = std::to_string(limit) + " bytes (--max-header)";
    if (start.find(' ') == std::string_view::npos)
        return {501, "method_too_long", "method not implemented: longer than " + bytes};
    return {414, "target_too_long", "request-target too long: the request line is over " + bytes};
}

std::string_view unsupported_coding(std::string_view value) {
    // transfer-coding = token *( OWS ";" OWS transfer-parameter ), in a list whose empty
    // elements count for nothing (RFC 9110 5.6.1).
    while (!value.empty()) {
        const auto comma = value.find(',');
        std::string_view element = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        const std::string_view coding = trim_ows(element.substr(0, element.find(';')));
        if (element.find_first_not_of(" \t") == std::string_view::npos) continue;
        if (coding.size() != 7 || ::strncasecmp(coding.data(), "chunked", 7) != 0)
            return coding.empty() ? trim_ows(element) : coding;
    }
    return {};
}

Refusal coding_not_implemented(std::string_view coding) {
    return {501, "unsupported_transfer_coding",
            "Transfer-Encoding " + quoted(coding) + " is not implemented: only chunked is"};
}

}  // namespace churnwatch
