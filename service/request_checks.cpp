#include "request_checks.h"

#include <strings.h>

#include <cstdio>
#include <cstring>

namespace churnwatch {

namespace {

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// tchar (RFC 9110 5.6.2), as Beast's parser reads a method.
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
    return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// A byte of a request-target as Beast's parser reads one: anything visible, obs-text
// included (no control byte, space or DEL).
bool is_target_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
}

// "method SP request-target", as Beast would read them.
bool method_and_target(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && is_tchar(s[i])) ++i;
    if (i == 0 || i == s.size() || s[i] != ' ') return false;
    const std::size_t target = ++i;
    while (i < s.size() && is_target_char(s[i])) ++i;
    return i > target && i == s.size();
}

// What a client sent, cut short for an answer and a log line.
std::string quoted(std::string_view s) {
    constexpr std::size_t kMax = 40;
    std::string out(1, '\'');
    out.append(s.substr(0, kMax));
    out.append(s.size() > kMax ? "...'" : "'");
    return out;
}

}  // namespace

Refusal line_too_long(std::string_view start, std::size_t limit) {
    const std::string bytes = std::to_string(limit) + " bytes (--max-header)";
    if (start.find(' ') == std::string_view::npos)
        return {501, "method_too_long", "method not implemented: longer than " + bytes};
    return {414, "target_too_long", "request-target too long: the request line is over " + bytes};
}

std::optional<Refusal> check_line_start(std::string_view so_far, LineScan& scan) {
    static constexpr const char* kPart[] = {"method", "request-target", "HTTP version"};
    for (; scan.scanned < so_far.size(); ++scan.scanned) {
        const char c = so_far[scan.scanned];
        const std::size_t at = scan.scanned - scan.part_start;  // within the part
        bool fits = false;
        switch (scan.part) {
            case LineScan::method:
            case LineScan::target:
                fits = scan.part == LineScan::method ? is_tchar(c) : is_target_char(c);
                if (!fits && c == ' ' && at > 0) {  // the part's end
                    fits = true;
                    scan.part = scan.part == LineScan::method ? LineScan::target : LineScan::version;
                    scan.part_start = scan.scanned + 1;
                }
                break;
            case LineScan::version:
                fits = at < 5 ? c == "HTTP/"[at] : at == 5 || at == 7 ? is_digit(c) : at == 6 ? c == '.' : at == 8 && c == '\r';
                break;
        }
        if (fits) continue;
        char what[96];
        std::snprintf(what, sizeof what, "byte 0x%02X at offset %zu, in the %s", static_cast<unsigned char>(c),
                      scan.scanned, kPart[scan.part]);
        return Refusal{400, "bad_request", std::string("malformed HTTP request: not a request line (") + what + ")"};
    }
    return std::nullopt;
}

std::optional<Refusal> check_version(std::span<char> line) {
    constexpr std::string_view kShape = " HTTP/1.1\r\n";  // the line's end: SP HTTP-version CRLF
    if (line.size() < kShape.size()) return std::nullopt;
    char* v = line.data() + line.size() - kShape.size();
    if (std::memcmp(v, " HTTP/", 6) != 0 || !is_digit(v[6]) || v[7] != '.' || !is_digit(v[8]) || v[9] != '\r' ||
        v[10] != '\n')
        return std::nullopt;
    if (v[6] == '1') {
        if (v[8] > '1') v[8] = '1';
        return std::nullopt;
    }
    if (!method_and_target(std::string_view(line.data(), line.size() - kShape.size()))) return std::nullopt;
    return Refusal{505, "http_version_not_supported",
                   "HTTP/" + std::string{v[6], '.', v[8]} + " is not supported: churnwatch speaks HTTP/1.1"};
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
