// Checks of a request that Beast's parser does not make, or answers otherwise than RFC
// 9110/9112 ask, on plain bytes and strings: socket-free and Beast-free. The session
// (http_server.cpp) applies them as a request arrives; tests/unit/request_checks_test.cpp
// feeds them bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace churnwatch {

// A request refused before it is handled: its status, the reason for the metric and the log
// line (a static string), and the readable detail its answer carries.
struct Refusal {
    int status = 400;
    std::string_view reason;
    std::string detail;
};

// A request line over `limit` bytes (the --max-header limit), whose first `limit` bytes are
// `start`: 414, as RFC 9112 3 requires for a request-target longer than the server will parse
// — or 501 when no space has ended the method within them (a method longer than any
// implemented: RFC 9112 3 says 501).
Refusal line_too_long(std::string_view start, std::size_t limit);

// The HTTP version of a whole request line (`line`: through its LF, within the limit), before
// Beast reads it, which takes HTTP/1.0 and HTTP/1.1 only. HTTP/1.2 … HTTP/1.9 is rewritten in
// place to HTTP/1.1, so it is read, kept alive and answered as 1.1 (RFC 9112 2.3, RFC 9110
// 2.5: a higher minor version of HTTP/1 is understood as the highest one the server speaks).
// A request line with another major version (HTTP/2.0, HTTP/3.0, HTTP/0.9) is refused with
// 505 (RFC 9110 15.6.6). nullopt for anything else: 1.0 and 1.1 as they are, and what is no
// request line at all (Beast refuses it: 400).
std::optional<Refusal> check_version(std::span<char> line);

// The first transfer coding a Transfer-Encoding field value names that is not chunked ("" when
// there is none), without its parameters. Asked only once Beast has read chunked as the last
// coding of them all (otherwise the body's length is unknown: 400, RFC 9112 6.3): any other
// coding is one churnwatch does not implement (RFC 9112 6.1: 501, the body left unread).
std::string_view unsupported_coding(std::string_view field_value);
// The 501 for such a coding.
Refusal coding_not_implemented(std::string_view coding);

}  // namespace churnwatch
