// A small blocking HTTP/1.1 client for outgoing requests (alert hooks, `send-test`): one
// request per connection, http:// or https:// (OpenSSL: peer verified against the system
// trust store, SNI, host name checked, TLS 1.2 or later), an overall deadline covering
// connect, TLS, write and read, and a bounded response body. Expected failures (refused,
// timeout, TLS, malformed response) come back as values. Beast stays in the .cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace churnwatch {

using HttpHeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpUrl {
    std::string scheme;  // "http" | "https"
    std::string host;    // without brackets for IPv6 literals ("::1")
    uint16_t port = 0;   // explicit or the scheme's default
    std::string target;  // path and query, at least "/"
    bool tls() const { return scheme == "https"; }
    std::string host_header() const;  // "example.com", "example.com:8443", "[::1]:8080"
};

// Parses "http[s]://host[:port][/path][?query]" (scheme case-insensitive, IPv6 literals in
// brackets, fragment dropped). Rejects other schemes, user info ("user:pass@", which would
// end up in logs), empty hosts, bad ports and whitespace or control characters.
std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error);

// A URL fit for logs and metric labels: scheme://host[:port]/path — no user info, query or
// fragment (where tokens tend to live). Unparseable input gives "<invalid url>".
std::string redact_url(std::string_view url);

struct HttpClientResponse {
    bool ok = false;          // a complete response status line and header arrived
    int status = 0;
    HttpHeaderList headers;   // as received
    std::string body;         // at most max_body bytes
    bool body_truncated = false;
    std::string error;        // why !ok (or a note on a partial body)

    // The first header with this name (case-insensitive).
    std::optional<std::string> header(std::string_view name) const;
};

struct HttpClientOptions {
    std::chrono::milliseconds timeout{10000};  // the whole exchange, DNS included
    std::size_t max_body = 64 * 1024;          // longer bodies are cut (body_truncated)
    std::size_t max_header = 16 * 1024;
    // Polled every few tens of milliseconds; returning true abandons the request (shutdown).
    std::function<bool()> cancelled;
    // PEM file of trusted CAs instead of the system store (tests, private CAs).
    std::string ca_file;
    // Name lookup: the host's addresses, or none and a reason. Empty: the system resolver
    // (getaddrinfo). It runs on a thread of its own that nobody waits for past the deadline:
    // a lookup cannot be cancelled, and a hung one must not hold the caller (an alert worker,
    // a shutdown). At most 16 run at once; beyond that a request fails at once.
    std::function<std::vector<std::string>(const std::string& host, std::string& error)> resolve;
};

// Sends one request. The caller's headers are sent as given; Host, Content-Length,
// Connection: close and a User-Agent (unless given) are added.
HttpClientResponse http_request(std::string_view method, const std::string& url,
                                const HttpHeaderList& headers, const std::string& body,
                                const HttpClientOptions& options);

HttpClientResponse http_post(const std::string& url,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::string& body, std::chrono::milliseconds timeout);

}  // namespace churnwatch
