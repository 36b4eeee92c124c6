#include "request_checks.h"

#include <strings.h>

#include <cctype>
#include <cstdio>
#include <cstring>

namespace churnwatch {

namespace {

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

EmptyLines skip_empty_lines(std::string_view so_far, LineScan& scan) {
    EmptyLines out;
    if (scan.scanned > 0) return out;
    while (out.drop < so_far.size() && so_far[out.drop] == '\r') {
        if (out.drop + 1 == so_far.size()) {
            out.partial = true;
            break;
        }
        if (so_far[out.drop + 1] != '\n') break;
        if (scan.empty_lines == kMaxEmptyLines) {
            out.refusal = Refusal{400, "bad_request",
                                  "malformed HTTP request: more than " + std::to_string(kMaxEmptyLines) +
                                      " empty lines before the request line"};
            break;
        }
        ++scan.empty_lines;
        out.drop += 2;
    }
    return out;
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

namespace {

// One Transfer-Encoding field value read as a list of transfer codings, each passed to `coding`
// (its name, without parameters); false when the value does not read so.
template <class OnCoding>
bool read_codings(std::string_view v, OnCoding&& coding) {
    std::size_t i = 0;
    auto ows = [&] {
        while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
    };
    auto token = [&] {
        const std::size_t from = i;
        while (i < v.size() && is_tchar(v[i])) ++i;
        return v.substr(from, i - from);
    };
    // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, at v[i] == '"'.
    auto quoted_string = [&] {
        for (++i; i < v.size(); ++i) {
            const auto c = static_cast<unsigned char>(v[i]);
            if (c == '"') {
                ++i;
                return true;
            }
            if (c == '\\') {
                if (++i == v.size()) return false;
                const auto q = static_cast<unsigned char>(v[i]);
                if (q != '\t' && (q < 0x20 || q == 0x7f)) return false;
            } else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
                return false;
            }
        }
        return false;
    };
    for (;;) {
        ows();
        if (i == v.size()) return true;
        if (v[i] == ',') {  // an empty element
            ++i;
            continue;
        }
        const std::string_view name = token();
        if (name.empty()) return false;
        coding(name);
        for (ows(); i < v.size() && v[i] == ';'; ows()) {
            ++i;
            ows();
            if (token().empty()) return false;
            ows();
            if (i == v.size() || v[i] != '=') return false;
            ++i;
            ows();
            if (i < v.size() && v[i] == '"') {
                if (!quoted_string()) return false;
            } else if (token().empty()) {
                return false;
            }
        }
        if (i == v.size()) return true;
        if (v[i] != ',') return false;
        ++i;
    }
}

}  // namespace

std::optional<Refusal> check_transfer_codings(std::span<const std::string_view> values) {
    bool chunked = false;        // chunked came
    bool after_chunked = false;  // and then another coding (chunked again included)
    std::string_view other;      // the first coding besides chunked
    for (const std::string_view value : values) {
        const bool well_formed = read_codings(value, [&](std::string_view name) {
            if (chunked) after_chunked = true;
            if (name.size() == 7 && ::strncasecmp(name.data(), "chunked", 7) == 0)
                chunked = true;
            else if (other.empty())
                other = name;
        });
        if (!well_formed)
            return Refusal{400, "bad_request",
                           "malformed HTTP request: Transfer-Encoding " + quoted(value) +
                               " is not a list of transfer codings"};
    }
    if (!chunked || after_chunked)
        return Refusal{400, "bad_request",
                       "Transfer-Encoding without chunked as its last coding: the body's length is ambiguous"};
    if (!other.empty()) return coding_not_implemented(other);
    return std::nullopt;
}

Refusal coding_not_implemented(std::string_view coding) {
    return {501, "unsupported_transfer_coding",
            "Transfer-Encoding " + quoted(coding) + " is not implemented: only chunked is"};
}

std::optional<Refusal> check_host_count(int version, std::size_t count) {
    if (count > 1) return Refusal{400, "bad_request", "more than one Host header"};
    if (count == 0 && version >= 11) return Refusal{400, "bad_request", "HTTP/1.1 request without a Host header"};
    return std::nullopt;
}

namespace {

bool is_reg_name_char(char c) {  // RFC 3986: unreserved / pct-encoded ('%') / sub-delims
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) return false;
    return std::isalnum(u) != 0 || std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
}

bool is_ip_literal_char(char c) {  // inside [ ]: IPv6 (hex, ':', '.'), IPvFuture's too
    return is_reg_name_char(c) || c == ':';
}

}  // namespace

std::optional<Refusal> check_host_value(std::string_view value) {
    auto invalid = [](std::string why) { return Refusal{400, "bad_request", "invalid Host header: " + why}; };
    std::string_view host = value;
    std::string_view port;
    if (!host.empty() && host.front() == '[') {
        const std::size_t close = host.find(']');
        if (close == std::string_view::npos) return invalid("an unclosed [");
        for (char c : host.substr(1, close - 1))
            if (!is_ip_literal_char(c)) return invalid("a character not allowed in an IP literal");
        std::string_view rest = host.substr(close + 1);
        if (!rest.empty() && rest.front() != ':')
            return invalid("text after the IP literal");
        port = rest.empty() ? rest : rest.substr(1);
    } else {
        if (host.find('@') != std::string_view::npos)
            return invalid("a user@ part is not allowed");
        const std::size_t colon = host.find(':');
        if (colon != std::string_view::npos) {
            port = host.substr(colon + 1);
            host = host.substr(0, colon);
        }
        for (char c : host)
            if (!is_reg_name_char(c)) return invalid("a character not allowed in a host name");
    }
    for (char c : port)
        if (c < '0' || c > '9') return invalid("the port is not decimal digits");
    return std::nullopt;
}

}  // namespace churnwatch
