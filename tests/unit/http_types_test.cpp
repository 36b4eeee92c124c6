// The socket-free HTTP values: header lookup and the response head the session writes.
#include <gtest/gtest.h>

#include "http_types.h"

using namespace churnwatch;

namespace {

std::string head(unsigned version, const HttpResponse& res, std::size_t length, bool keep) {
    std::string out = "left from the last answer";
    out.clear();  // the session reuses its buffer: append only
    append_response_head(out, version, "OK", res, length, keep);
    return out;
}

TEST(ResponseHead, Http11KeepAliveNeedsNoConnectionHeader) {
    HttpResponse res = json_response(200, "{\"status\":\"ok\"}");
    EXPECT_EQ(head(11, res, res.body.size(), true),
              "HTTP/1.1 200 OK\r\n"
              "Server: churnwatch\r\n"
              "Content-Type: application/json\r\n"
              "Content-Length: 15\r\n"
              "\r\n");
}

TEST(ResponseHead, Http11ClosingSaysClose) {
    HttpResponse res = error_response(503, "storage unavailable, retry later");
    res.headers.emplace_back("Retry-After", "5");
    std::string out;
    append_response_head(out, 11, "Service Unavailable", res, 42, false);
    EXPECT_EQ(out,
              "HTTP/1.1 503 Service Unavailable\r\n"
              "Server: churnwatch\r\n"
              "Content-Type: application/json\r\n"
              "Retry-After: 5\r\n"
              "Content-Length: 42\r\n"
              "Connection: close\r\n"
              "\r\n");
}

TEST(ResponseHead, Http10SaysKeepAliveOnlyWhenKeeping) {
    HttpResponse res = json_response(200, "{}");
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    EXPECT_EQ(head(10, res, 2, true),
              "HTTP/1.0 200 OK\r\n"
              "Server: churnwatch\r\n"
              "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Content-Length: 2\r\n"
              "Connection: keep-alive\r\n"
              "\r\n");
    EXPECT_EQ(head(10, res, 2, false),
              "HTTP/1.0 200 OK\r\n"
              "Server: churnwatch\r\n"
              "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Content-Length: 2\r\n"
              "\r\n");
}

TEST(ResponseHead, AppendsToWhatIsThere) {
    std::string out = "X";
    append_response_head(out, 11, "Not Found", error_response(404, "no such route"), 25, true);
    EXPECT_EQ(out.rfind("XHTTP/1.1 404 Not Found\r\n", 0), 0u) << out;
}

TEST(HttpRequestHeaders, LookupIsCaseInsensitiveAndCounts) {
    HttpRequest req;
    req.headers = {{"Content-Type", "application/json"}, {"X-Recharge-Topic", "a/b"}, {"x-recharge-topic", "c/d"}};
    EXPECT_EQ(req.header("content-type").value_or(""), "application/json");
    EXPECT_EQ(req.header("X-RECHARGE-TOPIC").value_or(""), "a/b");
    EXPECT_EQ(req.header_count("x-recharge-topic"), 2u);
    EXPECT_FALSE(req.header("host").has_value());
}

}  // namespace
