#include "http_types.h"

#include <strings.h>

#include "log.h"

namespace churnwatch {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return std::string_view(v);
    return std::nullopt;
}

std::size_t HttpRequest::header_count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& h : headers)
        if (iequals(h.first, name)) ++n;
    return n;
}

void append_response_head(std::string& out, unsigned version, std::string_view reason,
                          const HttpResponse& res, std::size_t content_length, bool keep_alive) {
    auto line = [&out](std::string_view name, std::string_view value) {
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    };
    out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out += std::to_string(res.status);
    out += ' ';
    out += reason;
    out += "\r\n";
    line("Server", "churnwatch");
    line("Content-Type", res.content_type);
    for (const auto& [name, value] : res.headers) line(name, value);
    line("Content-Length", std::to_string(content_length));
    if (version == 10 && keep_alive) line("Connection", "keep-alive");
    if (version != 10 && !keep_alive) line("Connection", "close");
    out += "\r\n";
}

HttpResponse json_response(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

HttpResponse error_response(int status, std::string_view reason) {
    std::string body = "{\"error\":";
    append_json_string(body, reason);
    body += "}";
    return json_response(status, std::move(body));
}

}  // namespace churnwatch
