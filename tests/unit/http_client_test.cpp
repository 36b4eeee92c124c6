// The outgoing HTTP client: URL parsing and redaction, and real exchanges with the test
// receiver (status, headers, body limit, timeout, refused connection, cancellation).
#include "http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "http_receiver.h"
#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;
using namespace std::chrono_literals;

namespace {

HttpUrl parse_ok(const std::string& url) {
    std::string error;
    auto u = parse_http_url(url, error);
    EXPECT_TRUE(u) << url << ": " << error;
    return u.value_or(HttpUrl{});
}

TEST(HttpUrl, ParsesSchemesHostsPortsAndTargets) {
    auto a = parse_ok("http://example.com");
    EXPECT_EQ(a.scheme, "http");
    EXPECT_EQ(a.host, "example.com");
    EXPECT_EQ(a.port, 80);
    EXPECT_EQ(a.target, "/");
    EXPECT_FALSE(a.tls());
    EXPECT_EQ(a.host_header(), "example.com");

    auto b = parse_ok("HTTPS://Hooks.Example.COM:8443/a/b?x=1&y=2#frag");
    EXPECT_EQ(b.scheme, "https");
    EXPECT_EQ(b.host, "hooks.example.com");
    EXPECT_EQ(b.port, 8443);
    EXPECT_EQ(b.target, "/a/b?x=1&y=2");
    EXPECT_TRUE(b.tls());
    EXPECT_EQ(b.host_header(), "hooks.example.com:8443");

    EXPECT_EQ(parse_ok("https://example.com/").port, 443);
    EXPECT_EQ(parse_ok("http://example.com?q=1").target, "/?q=1");
    EXPECT_EQ(parse_ok("http://127.0.0.1:9/hook").host, "127.0.0.1");

    EXPECT_EQ(parse_ok("https://[::ffff:127.0.0.1]/x").host, "::ffff:127.0.0.1");
    auto v6 = parse_ok("http://[::1]:8080/hook");
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.port, 8080);
    EXPECT_EQ(v6.host_header(), "[::1]:8080");
    EXPECT_EQ(parse_ok("https://[2001:db8::7]/").host_header(), "[2001:db8::7]");
}

TEST(HttpUrl, RejectsWhatItCannotOrShouldNotUse) {
    for (const char* bad : {"", "example.com/hook", "ftp://example.com/", "http://", "http:///path",
                            "http://exa mple.com/", "http://example.com:0/", "http://example.com:65536/",
                            "http://example.com:/", "http://example.com:80a/", "http://user:pw@example.com/",
                            "http://[::1/", "http://[::1]x/", "http://[]/", "http://::1/",
                            "http://[:::]/", "http://[1:2:3:4:5:6:7:8:9]/", "http://[::1.2.3]/",
                            "http://[fffff::1]/",
                            "http://example.com/\n", "http://ex$ample.com/"}) {
        std::string error;
        EXPECT_FALSE(parse_http_url(bad, error)) << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
}

TEST(HttpUrl, RedactionDropsUserInfoQueryAndFragment) {
    EXPECT_EQ(redact_url("https://hooks.example.com/churn?token=s3cret#x"), "https://hooks.example.com/churn");
    EXPECT_EQ(redact_url("http://127.0.0.1:8080/hook"), "http://127.0.0.1:8080/hook");
    EXPECT_EQ(redact_url("http://user:pw@example.com/"), "<invalid url>");
}

TEST(HttpClient, PostsAndReturnsStatusHeadersAndBody) {
    HttpReceiver rx;
    rx.set_default({.status = 202, .headers = {{"X-Reply", "yes"}}, .body = "accepted!"});
    auto r = http_post(rx.url("/in?x=1"), {{"Content-Type", "application/json"}, {"webhook-id", "msg_1"}},
                       "{\"a\":1}", 5s);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 202);
    EXPECT_EQ(r.body, "accepted!");
    EXPECT_EQ(r.header("x-reply"), "yes");
    EXPECT_EQ(r.header("X-REPLY"), "yes");
    EXPECT_FALSE(r.header("absent"));
    ASSERT_EQ(rx.count(), 1u);
    auto req = rx.requests()[0];
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.target, "/in?x=1");
    EXPECT_EQ(req.body, "{\"a\":1}");
    EXPECT_EQ(req.header("content-type"), "application/json");
    EXPECT_EQ(req.header("webhook-id"), "msg_1");
    EXPECT_EQ(req.header("host"), "127.0.0.1:" + std::to_string(rx.port()));
    EXPECT_EQ(req.header("content-length"), "7");
    EXPECT_EQ(req.header("user-agent").rfind("churnwatch/", 0), 0u);
}

TEST(HttpClient, RetryAfterAndErrorStatusesAreResponsesNotErrors) {
    HttpReceiver rx;
    rx.script({{.status = 503, .headers = {{"Retry-After", "7"}}}, {.status = 410}});
    auto a = http_post(rx.url(), {}, "x", 5s);
    EXPECT_TRUE(a.ok);
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.header("retry-after"), "7");
    auto b = http_post(rx.url(), {}, "x", 5s);
    EXPECT_TRUE(b.ok);
    EXPECT_EQ(b.status, 410);
}

TEST(HttpClient, LongBodiesAreCutAtTheLimit) {
    HttpReceiver rx;
    rx.set_default({.status = 400, .body = std::string(100000, 'z')});
    HttpClientOptions o;
    o.max_body = 1024;
    auto r = http_request("POST", rx.url(), {}, "x", o);
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(r.body_truncated);
    EXPECT_LE(r.body.size(), 1024u);
}

TEST(HttpClient, RefusedConnectionIsAnError) {
    int port;
    {
        HttpReceiver rx;
        port = rx.port();
    }
    auto r = http_post("http://127.0.0.1:" + std::to_string(port) + "/", {}, "x", 5s);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("refused"), std::string::npos) << r.error;
}

TEST(HttpClient, SlowServerTimesOutWithinTheDeadline) {
    HttpReceiver rx;
    rx.set_default({.status = 200, .delay = 10s});
    auto started = std::chrono::steady_clock::now();
    auto r = http_post(rx.url(), {}, "x", 300ms);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
    EXPECT_LT(took, 3s);
}

TEST(HttpClient, CancellationAbandonsTheRequest) {
    HttpReceiver rx;
    rx.set_default({.status = 200, .delay = 10s});
    std::atomic<bool> cancel{false};
    std::thread canceller([&] {
        rx.wait_for(1);
        cancel = true;
    });
    HttpClientOptions o;
    o.timeout = 20s;
    o.cancelled = [&] { return cancel.load(); };
    auto started = std::chrono::steady_clock::now();
    auto r = http_request("POST", rx.url(), {}, "x", o);
    canceller.join();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "cancelled");
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

namespace {

// A name lookup that hangs until released, as getaddrinfo does with an unreachable DNS
// server; counts the lookups that have returned.
struct HungResolver {
    std::shared_ptr<std::promise<void>> release = std::make_shared<std::promise<void>>();
    std::shared_future<void> released = release->get_future().share();
    std::shared_ptr<std::atomic<int>> returned = std::make_shared<std::atomic<int>>(0);

    std::function<std::vector<std::string>(const std::string&, std::string&)> fn() const {
        return [released = released, returned = returned](const std::string&, std::string& error) {
            released.wait();
            ++*returned;
            error = "released";
            return std::vector<std::string>{};
        };
    }
    // Lets every hung lookup return, and waits until they have (none outlives the test).
    void finish(int lookups) {
        release->set_value();
        for (int i = 0; i < 500 && returned->load() < lookups; ++i) std::this_thread::sleep_for(10ms);
        std::this_thread::sleep_for(20ms);  // past the counter's decrement
    }
};

}  // namespace

// The old client waited for Asio's resolver thread, so a hung lookup held the caller (an
// alert worker, a shutdown) past its deadline. Now the lookup is left behind.
TEST(HttpClient, HungNameLookupEndsAtTheDeadline) {
    HungResolver dns;
    HttpClientOptions o;
    o.timeout = 300ms;
    o.resolve = dns.fn();
    auto started = std::chrono::steady_clock::now();
    auto r = http_request("POST", "http://alerts.example.invalid/hook", {}, "x", o);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "timed out");
    EXPECT_LT(took, 3s);  // the lookup itself is still hung
    EXPECT_EQ(dns.returned->load(), 0);

    o.timeout = 20s;
    std::atomic<bool> cancel{true};
    o.cancelled = [&] { return cancel.load(); };
    EXPECT_EQ(http_request("POST", "http://alerts.example.invalid/hook", {}, "x", o).error, "cancelled");
    dns.finish(2);
}

TEST(HttpClient, HungNameLookupsAreBounded) {
    HungResolver dns;
    HttpClientOptions o;
    o.timeout = 50ms;
    o.resolve = dns.fn();
    for (int i = 0; i < 16; ++i)
        EXPECT_EQ(http_request("GET", "http://hung.example.invalid/", {}, "", o).error, "timed out") << i;
    auto r = http_request("GET", "http://hung.example.invalid/", {}, "", o);
    EXPECT_NE(r.error.find("16 earlier name lookups are still unanswered"), std::string::npos) << r.error;
    dns.finish(16);
    // Answered (with no address), the lookups free their places.
    auto after = http_request("GET", "http://hung.example.invalid/", {}, "", o);
    EXPECT_EQ(after.error, "cannot resolve hung.example.invalid: released");
}

TEST(HttpClient, NameLookupAnswersAreUsed) {
    HttpReceiver rx;
    rx.set_default({.status = 204});
    HttpClientOptions o;
    o.resolve = [](const std::string& host, std::string&) {
        return host == "receiver.test" ? std::vector<std::string>{"127.0.0.1"} : std::vector<std::string>{};
    };
    auto r = http_request("POST", "http://receiver.test:" + std::to_string(rx.port()) + "/x", {}, "x", o);
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 204);
    // The system resolver (getaddrinfo, /etc/hosts) on its own thread.
    if (!localhost_resolves()) GTEST_SKIP() << "this machine does not resolve localhost (no /etc/hosts?)";
    auto local = http_post("http://localhost:" + std::to_string(rx.port()) + "/x", {}, "x", 5s);
    EXPECT_TRUE(local.ok) << local.error;
}

// A plain HTTP server answers a TLS ClientHello the way nginx does: 400 and close. The
// handshake must fail on that answer with a TLS error. (This used the test receiver, which
// waits for a blank line that a ClientHello never has: the attempt only ever ended at its
// timeout, and when the deadline fired outside the handshake the error said "timed out".)
TEST(HttpClient, HttpsToAPlainServerFailsCleanly) {
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 1), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    std::thread plain([listener] {
        int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) return;
        char hello[4096];
        if (::recv(fd, hello, sizeof hello, 0) > 0) {
            static const char kAnswer[] =
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            (void)::send(fd, kAnswer, sizeof kAnswer - 1, MSG_NOSIGNAL);
        }
        ::close(fd);
    });
    HttpClientOptions o;
    o.timeout = 20s;  // only a bound: the answer ends it at once
    auto r = http_request("POST", "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/", {}, "x", o);
    plain.join();
    ::close(listener);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("TLS"), std::string::npos) << r.error;
}

TEST(HttpClient, BadUrlAndMethodAreErrors) {
    EXPECT_NE(http_post("gopher://x/", {}, "", 1s).error.find("scheme"), std::string::npos);
    HttpClientOptions o;
    EXPECT_NE(http_request("FLY", "http://127.0.0.1:1/", {}, "", o).error.find("method"), std::string::npos);
}

}  // namespace
