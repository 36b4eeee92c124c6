// Plain HTTP request/response values, so request handling needs no socket and no Beast:
// the session converts to and from these; tests and fuzzers build them directly.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace churnwatch {

struct HttpRequest {
    std::string method;  // "POST"
    std::string target;  // "/webhooks/recharge/subscription/cancelled?x=1"
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // The client's "ADDRESS:PORT", for the log lines of refusals: the connection's own
    // string, valid while the handler runs (not copied per request).
    std::string_view peer;

    // First value of a header, names compared case-insensitively.
    std::optional<std::string_view> header(std::string_view name) const;
    std::size_t header_count(std::string_view name) const;
};

struct HttpResponse {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// The status line and header block of `res`, appended to `out` (reused between answers):
// HTTP/1.<minor> <status> <reason>, Server, Content-Type, res.headers, Content-Length
// (`content_length`: the body's size, also for HEAD, which sends no body) and Connection
// as keep-alive requires for that version (1.1: "close" when closing; 1.0: "keep-alive"
// when keeping). Header values are the service's own, never a client's.
void append_response_head(std::string& out, unsigned version, std::string_view reason,
                          const HttpResponse& res, std::size_t content_length, bool keep_alive);

// How a handler answers; may be called from another thread (the writer's).
using Respond = std::function<void(HttpResponse)>;

HttpResponse json_response(int status, std::string body);
// {"error": reason} with the given status.
HttpResponse error_response(int status, std::string_view reason);

}  // namespace churnwatch
