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

// How far the bytes of a request line still arriving have been looked at (check_line_start),
// kept by the session between reads; a new request starts from {}.
struct LineScan {
    enum Part : unsigned char { method, target, version };
    std::size_t scanned = 0;     // bytes of the line looked at
    std::size_t part_start = 0;  // where the part being read began
    Part part = method;
    std::size_t empty_lines = 0;  // dropped before the line (skip_empty_lines)
};

// Empty lines (CRLF) before a request line: RFC 9112 2.2 asks a server to ignore at least one
// (some clients send a CRLF after a POST body, which then begins the next request on a
// keep-alive connection). At most this many are ignored before each request; another is
// refused (400), so that empty lines cannot keep a connection waiting one after another.
constexpr std::size_t kMaxEmptyLines = 4;

// What skip_empty_lines found at the start of the bytes where a request line is expected.
struct EmptyLines {
    std::size_t drop = 0;            // bytes of whole empty lines, to drop before the line
    bool partial = false;            // after them a lone CR, perhaps half an empty line: wait
    std::optional<Refusal> refusal;  // one more than kMaxEmptyLines (400)
};

// The empty lines `so_far` begins with, where a request line is expected and none of it has
// been looked at (scan.scanned == 0; otherwise nothing is dropped). They are counted in
// scan.empty_lines across calls, until the request's line begins; the caller drops `drop`
// bytes and calls again with what follows when more has come. CRLF only: Beast takes no bare
// LF for a line's end anywhere, so a bare LF stays a byte that cannot begin a request line
// (check_line_start). A CR followed by anything but LF is left to check_line_start too.
EmptyLines skip_empty_lines(std::string_view so_far, LineScan& scan);

// The bytes of a request line whose LF has not come yet (`so_far`, from its first byte): a 400
// once they cannot begin `method SP request-target SP HTTP/d.d CRLF` as Beast reads one — a
// byte that is no token character before the first space (a TLS ClientHello on the plain
// port, binary junk), an empty method or target, a control byte, a version that does not
// read "HTTP/d.d" — and nullopt while they still can, however few they are (a request line
// may come a byte at a time). Such bytes otherwise waited for an LF until the request
// timeout. Looks only at the bytes after scan.scanned.
std::optional<Refusal> check_line_start(std::string_view so_far, LineScan& scan);

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

// The transfer codings a request's Transfer-Encoding field values name (`values`, in the
// order the fields came), checked once the header is in and before any of the body is read.
// Each value is a list of transfer-coding = token *( OWS ";" OWS token BWS "=" BWS ( token /
// quoted-string ) ) (RFC 9112 7, RFC 9110 5.6), whose empty elements count for nothing (RFC
// 9110 5.6.1). Beast's parser reads no parameters: at one (`gzip;level=1, chunked`) it stops
// reading the list, finds no chunked, and frames no body; it is read here instead.
// - 400 when a value does not read so, or when chunked is not the last coding of them all, or
//   not the only chunked: the body's length is then unknown (RFC 9112 6.3), and a proxy in
//   front could frame it otherwise (request smuggling);
// - 501 naming the first other coding (RFC 9112 6.1: one churnwatch does not implement;
//   Beast would hand on the still coded bytes as the body);
// - nullopt for chunked alone (with or without parameters, as Beast reads it).
std::optional<Refusal> check_transfer_codings(std::span<const std::string_view> values);
// The 501 for a coding other than chunked.
Refusal coding_not_implemented(std::string_view coding);

// The Host fields of a request (`count` of them; `version` 10 or 11), once its header is in:
// RFC 9112 3.2 asks a 400 for an HTTP/1.1 request without one, and for any request with more
// than one (which a proxy in front and churnwatch could each read differently). Beast takes
// both. nullopt otherwise (HTTP/1.0 may leave it out).
std::optional<Refusal> check_host_count(int version, std::size_t count);
// A Host field's value: RFC 9110 7.2 (uri-host [":" port]: a bracketed IP literal or a
// reg-name of unreserved, percent-encoded and sub-delim characters, then decimal digits)
// and RFC 9112 3.2's 400 for an invalid one. Empty is valid (an authority without a host).
// No user@ (not part of Host) and nothing a proxy might read as a path or a second host.
std::optional<Refusal> check_host_value(std::string_view value);

}  // namespace churnwatch
