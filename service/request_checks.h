// Checks of a request that Beast's parser does not make, or answers otherwise than RFC
// 9110/9112 ask, on plain bytes and strings: socket-free and Beast-free. The session
// (http_server.cpp) applies them as a request arrives; tests/unit/request_checks_test.cpp
// feeds them bytes.
#pragma once

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

// The first transfer coding a Transfer-Encoding field value names that is not chunked ("" when
// there is none), without its parameters. Asked only once Beast has read chunked as the last
// coding of them all (otherwise the body's length is unknown: 400, RFC 9112 6.3): any other
// coding is one churnwatch does not implement (RFC 9112 6.1: 501, the body left unread).
std::string_view unsupported_coding(std::string_view field_value);
// The 501 for such a coding.
Refusal coding_not_implemented(std::string_view coding);

}  // namespace churnwatch
