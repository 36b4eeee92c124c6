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
