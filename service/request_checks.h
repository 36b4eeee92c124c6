// Checks of a request that Beast's parser does not make, or answers otherwise than RFC
// 9110/9112 ask, on plain bytes and strings: socket-free and Beast-free. The session
// (http_server.cpp) applies them as a request arrives; tests/unit/request_checks_test.cpp
// feeds them bytes.
#pragma once

#include <cstddef>
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

// The first transfer coding a Transfer-Encoding field value names that is not chunked ("" when
// there is none), without its parameters. Asked only once Beast has read chunked as the last
// coding of them all (otherwise the body's length is unknown: 400, RFC 9112 6.3): any other
// coding is one churnwatch does not implement (RFC 9112 6.1: 501, the body left unread).
std::string_view unsupported_coding(std::string_view field_value);
// The 501 for such a coding.
Refusal coding_not_implemented(std::string_view coding);

}  // namespace churnwatch
