// What RFC 9110/9112 ask of a server's answers to requests it cannot take, against the real
// binary with raw bytes: transfer codings other than chunked (501), request lines over the
// limit (414), HTTP versions (1.2–1.9 read as 1.1, others 505), bytes that cannot begin a
// request (400 at once), empty lines before a request (a few ignored), and a refusal's answer
// surviving the request bytes still unread (lingering close). Each case also checks, in
// TearDown, that the server is still up and accepts a valid delivery.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "payloads.h"
#include "surviving_server_test.h"
#include "test_support.h"

using namespace churnwatch::test;

namespace {

using HttpConformance = SurvivingServerTest;

// A refusal's answer on c: `status`, a body that says `detail`, Connection: close, and the
// server's end of the connection following it. `what` names the case in failures.
void expect_refused(HttpConnection& c, const HttpResult& r, int status, const std::string& detail,
                    const std::string& what = "") {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    EXPECT_TRUE(contains(r.body, detail)) << what << ": " << r.body;
    EXPECT_EQ(r.headers.count("connection") ? r.headers.at("connection") : "", "close") << what;
    EXPECT_TRUE(c.closed_by_peer(5000)) << what;
}

std::string hex(std::size_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%zx", n);
    return buf;
}

// --- Host ---------------------------------------------------------------------------------------

// RFC 9112 3.2: an HTTP/1.1 request without a Host header, and any request with more than one
// (a proxy in front and churnwatch could each read a different one), is answered 400. HTTP/1.0
// may leave it out. Beast took all three.
TEST_F(HttpConformance, AMissingOrRepeatedHostIs400) {
    start();
    const std::string body = example_payload(kCancelled);
    const std::string rest = "X-Recharge-Hmac-Sha256: " + legacy_signature(kSecret, body) +
                             "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    HttpConnection missing(port());
    ASSERT_TRUE(missing.send_raw("POST " + kTarget + " HTTP/1.1\r\n" + rest));
    expect_refused(missing, missing.read_response(5000), 400, "without a Host header", "no Host");
    HttpConnection twice(port());
    ASSERT_TRUE(twice.send_raw("POST " + kTarget + " HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n" + rest));
    expect_refused(twice, twice.read_response(5000), 400, "more than one Host header", "two Hosts");
    HttpConnection twice_10(port());
    ASSERT_TRUE(twice_10.send_raw("GET /healthz HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"));
    auto r = twice_10.read_response(5000);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(contains(r.body, "more than one Host header")) << r.body;
    EXPECT_TRUE(twice_10.closed_by_peer(5000)) << "HTTP/1.0: closed without saying so";
    EXPECT_EQ(count(), 0);
    HttpConnection old(port());
    ASSERT_TRUE(old.send_raw("GET /healthz HTTP/1.0\r\n\r\n"));
    EXPECT_EQ(old.read_response(5000).status, 200) << "HTTP/1.0 without Host";
}

// RFC 9112 3.2: a Host field with an invalid value is answered 400 too (here a user and
// password before the host, which a proxy in front could take for another host), and the
// delivery is not stored.
TEST_F(HttpConformance, AnInvalidHostIs400) {
    start();
    const std::string body = example_payload(kCancelled);
    const std::string rest = "X-Recharge-Hmac-Sha256: " + legacy_signature(kSecret, body) +
                             "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    HttpConnection bad(port());
    ASSERT_TRUE(bad.send_raw("POST " + kTarget + " HTTP/1.1\r\nHost: user:pw@a.example\r\n" + rest));
    expect_refused(bad, bad.read_response(5000), 400, "invalid Host header", "user@host");
    EXPECT_EQ(count(), 0);
    HttpConnection good(port());
    ASSERT_TRUE(good.send_raw("POST " + kTarget + " HTTP/1.1\r\nHost: [::1]:8080\r\n" + rest));
    EXPECT_EQ(good.read_response(5000).status, 200);
    EXPECT_EQ(count(), 1);
}

// --- Transfer-Encoding ------------------------------------------------------------------------

// A transfer coding other than the final chunked is one churnwatch cannot decode (RFC 9112
// 6.1): 501 as soon as the header is in, the body not read, the connection closed. Beast read
// the chunks and handed on the still coded bytes as the delivery's body; a coding with
// parameters (`gzip;level=1`) it did not read at all (400). (A Transfer-Encoding whose last
// coding is not chunked, or that is malformed, stays 400: the body's length is unknown, RFC
// 9112 6.3.)
TEST_F(HttpConformance, TransferCodingsOtherThanChunkedAre501) {
    start();
    const std::string body = example_payload(kCancelled);
    const std::string head = "POST " + kTarget + " HTTP/1.1\r\nHost: x\r\nX-Recharge-Hmac-Sha256: " +
                             legacy_signature(kSecret, body) + "\r\n";
    const std::string chunks = hex(body.size()) + "\r\n" + body + "\r\n0\r\n\r\n";
    for (const std::string te : {"Transfer-Encoding: gzip, chunked", "Transfer-Encoding: identity, chunked",
                                 "Transfer-Encoding: GZip , chunked",
                                 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
                                 // With parameters, which Beast's parser does not read (it
                                 // found no chunked: 400).
                                 "Transfer-Encoding: gzip;level=1, chunked",
                                 "Transfer-Encoding: gzip ; level=\"1\", chunked"}) {
        // The header alone: answered at once, not after a body.
        HttpConnection c(port());
        ASSERT_TRUE(c.send_raw(head + te + "\r\n\r\n"));
        expect_refused(c, c.read_response(5000), 501, "is not implemented: only chunked is", te);
        // With its body: refused all the same, nothing stored.
        HttpConnection whole(port());
        ASSERT_TRUE(whole.send_raw(head + te + "\r\n\r\n" + chunks));
        EXPECT_EQ(whole.read_response(5000).status, 501) << te;
    }
    // Waiting for 100 Continue: the final answer comes instead.
    HttpConnection c(port());
    ASSERT_TRUE(c.send_raw(head + "Transfer-Encoding: gzip, chunked\r\nExpect: 100-continue\r\n\r\n"));
    EXPECT_EQ(c.read_response(5000).status, 501);
    EXPECT_TRUE(contains(log(), "\"reason\":\"unsupported_transfer_coding\"")) << log();
    EXPECT_TRUE(contains(log(), "Transfer-Encoding 'gzip' is not implemented")) << log();
    EXPECT_EQ(count(), 0) << "a delivery with an undecoded body was stored";
    // Malformed, or not ending in chunked: 400 as before, at once, the body unread.
    for (const std::string te : {"gzip;;, chunked", "gzip;level=\"1, chunked", "chunked, gzip;level=1", "gzip;level=1"}) {
        HttpConnection bad(port());
        ASSERT_TRUE(bad.send_raw(head + "Transfer-Encoding: " + te + "\r\n\r\n"));
        auto r = bad.read_response(5000);
        EXPECT_EQ(r.status, 400) << te << ": " << r.body;
        EXPECT_TRUE(bad.closed_by_peer(5000)) << te;
    }
    // chunked alone is read as before.
    HttpConnection ok(port());
    ASSERT_TRUE(ok.send_raw(head + "Transfer-Encoding: chunked\r\n\r\n" + chunks));
    EXPECT_EQ(ok.read_response().status, 200);
    EXPECT_EQ(count(), 1);
}

// --- request line over the limit -----------------------------------------------------------

// A request-target longer than the server will parse gets 414 (RFC 9112 3: MUST), not 431:
// the header block is not what was too long. The limit is the header limit, and the boundary
// the same wherever the request is split, the line's end come or not: a request line (CRLF
// included) of exactly the limit is read, one byte more is 414.
TEST_F(HttpConformance, RequestLineOverTheLimitIs414WhereverItIsSplit) {
    start({.args = {"--max-header", "1024"}});
    auto request = [](std::size_t line_size) {
        const std::string start = "GET /healthz?pad=", end = " HTTP/1.1\r\n";
        return start + std::string(line_size - start.size() - end.size(), 'p') + end + "Host: x\r\n\r\n";
    };
    // Empty lines before the line (ignored, RFC 9112 2.2) do not count: the split points are
    // the same within the line, and some fall among them.
    for (const std::string lead : {"", "\r\n\r\n"})
        for (std::size_t line : {std::size_t{1024}, std::size_t{1025}, std::size_t{3000}}) {
            const std::string req = lead + request(line);
            std::vector<std::size_t> splits = {1, 17, 1000, 1023, 1024, line - 1, line};
            for (auto& at : splits) at += lead.size();
            splits.insert(splits.end(), {0, 1, 2, 3});
            for (std::size_t at : splits) {
                HttpConnection c(port());
                if (at > 0) {
                    ASSERT_TRUE(c.send_raw(req.substr(0, at)));
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // read on its own
                }
                c.send_raw(req.substr(at));
                auto r = c.read_response(5000);
                EXPECT_EQ(r.status, line <= 1024 ? 200 : 414)
                    << lead.size() << " bytes of empty lines, line " << line << ", split at " << at << ": " << r.body;
                if (line > 1024) {
                    EXPECT_TRUE(contains(r.body, "request-target too long: the request line is over 1024 bytes")) << r.body;
                    EXPECT_EQ(r.headers["connection"], "close");
                }
            }
        }
    // Its end need not come: refused once the limit is passed, not at the request timeout.
    HttpConnection endless(port());
    ASSERT_TRUE(endless.send_raw("POST /webhooks/recharge?" + std::string(1100, 'q')));
    EXPECT_EQ(endless.read_response(5000).status, 414);
    EXPECT_TRUE(contains(log(), "\"reason\":\"target_too_long\"")) << log();
    // A method that alone passes the limit is not implemented (RFC 9112 3: 501), not a long
    // target.
    for (const std::string& tail : {std::string(), std::string(" / HTTP/1.1\r\nHost: x\r\n\r\n")}) {
        HttpConnection c(port());
        c.send_raw(std::string(1100, 'M') + tail);
        auto r = c.read_response(5000);
        EXPECT_EQ(r.status, 501) << r.body;
        EXPECT_TRUE(contains(r.body, "method not implemented: longer than 1024 bytes")) << r.body;
    }
}

// --- bytes that cannot begin a request -----------------------------------------------------------

// Bytes that can never begin a request line are answered 400 at once, whether or not an LF
// has come; they waited for one until the request timeout (15 s), holding the connection.
// A request line arriving a byte at a time is still read, and a TLS ClientHello on the plain
// port still gets its 400 at once.
TEST_F(HttpConformance, BytesThatCannotBeginARequestAre400AtOnce) {
    start();
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"GE\x01T", "byte 0x01 at offset 2, in the method"},
        {"POST\t/webhooks/recharge", "byte 0x09 at offset 4, in the method"},
        {"GET /\x7f", "byte 0x7F at offset 5, in the request-target"},
        {"GET /healthz FTP/1.1", "byte 0x46 at offset 13, in the HTTP version"},
        {"GET /healthz HTTP/1.1\rX", "byte 0x58 at offset 22, in the HTTP version"},
        // A TLS 1.2 ClientHello's first bytes (a client speaking HTTPS to the plain port).
        {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), "byte 0x16 at offset 0, in the method"},
        // After empty lines (ignored: the offset is the request line's).
        {"\r\n\r\nGE\x01T", "byte 0x01 at offset 2, in the method"},
        {"\r\n\rX", "byte 0x0D at offset 0, in the method"},
    };
    for (const auto& [bytes, where] : cases) {
        HttpConnection c(port());
        ASSERT_TRUE(c.send_raw(bytes));
        const auto t0 = std::chrono::steady_clock::now();
        auto r = c.read_response(5000);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        EXPECT_LT(ms, 2000) << where;
        expect_refused(c, r, 400, "malformed HTTP request: not a request line (" + where + ")", where);
    }
    EXPECT_TRUE(contains(log(), "not a request line (byte 0x01 at offset 2, in the method)")) << log();
    // The same bytes as a request's beginning, one at a time, are waited for as before (empty
    // lines before it included).
    const std::string request = "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    HttpConnection slow(port());
    for (char byte : request) {
        ASSERT_TRUE(slow.send_raw(std::string(1, byte)));
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_EQ(slow.read_response().status, 200);
}

// --- empty lines before a request line ---------------------------------------------------------

// RFC 9112 2.2: a server SHOULD ignore at least one empty line (CRLF) before a request line;
// some clients send one after a POST body, which then comes before the next request on a
// keep-alive connection. churnwatch ignores up to 4 before each request (they were a 400); a
// fifth is refused at once, so empty lines cannot keep a connection waiting.
TEST_F(HttpConformance, EmptyLinesBeforeARequestAreIgnored) {
    start({.args = {"--max-connections", "2", "--request-timeout", "60"}});
    const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    // At the start of a connection, wherever the bytes are split.
    const std::string first = "\r\n\r\n" + get;
    for (std::size_t at = 0; at < first.size(); ++at) {
        HttpConnection c(port());
        if (at > 0) {
            ASSERT_TRUE(c.send_raw(first.substr(0, at)));
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // read on its own
        }
        ASSERT_TRUE(c.send_raw(first.substr(at)));
        auto r = c.read_response(5000);
        EXPECT_EQ(r.status, 200) << "split at " << at << ": " << r.body;
        EXPECT_EQ(r.headers.count("connection"), 0u) << "split at " << at;
    }
    // A CRLF after a delivery's body, with it and on its own after the answer: the connection
    // stays open and serves its next requests.
    const std::string body = example_payload(kCancelled);
    const std::string post = "POST " + kTarget + " HTTP/1.1\r\nHost: x\r\nX-Recharge-Hmac-Sha256: " +
                             legacy_signature(kSecret, body) + "\r\nContent-Length: " + std::to_string(body.size()) +
                             "\r\n\r\n" + body;
    HttpConnection keep(port());
    ASSERT_TRUE(keep.send_raw(post + "\r\n"));
    auto stored = keep.read_response(5000);
    EXPECT_EQ(stored.status, 200) << stored.body;
    EXPECT_TRUE(contains(stored.body, "\"accepted\"")) << stored.body;
    ASSERT_TRUE(keep.send_raw(get));
    EXPECT_EQ(keep.read_response(5000).status, 200);
    ASSERT_TRUE(keep.send_raw("\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(keep.send_raw("\r\n\r\n\r\n" + get));
    EXPECT_EQ(keep.read_response(5000).status, 200);
    EXPECT_EQ(count(), 1);
    // Empty lines alone begin no request: the connection is still idle, and at the limit
    // (2) gives way to a new one at once, not after 2 s as a request still arriving would.
    ASSERT_TRUE(keep.send_raw("\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    HttpConnection other(port());
    ASSERT_TRUE(other.send_raw(get));
    ASSERT_EQ(other.read_response(5000).status, 200);
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    HttpConnection next(port());
    ASSERT_TRUE(next.send_raw(get));
    EXPECT_EQ(next.read_response(5000).status, 200);
    EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count(), 1000)
        << "the connection that sent an empty line was not idle";
    EXPECT_TRUE(keep.closed_by_peer(5000)) << "the connection idle the longest was not the one closed";
    EXPECT_FALSE(contains(log(), "\"reason\":\"stalled\"")) << log();
    // A bare LF is no empty line: Beast ends no line with one.
    HttpConnection lf(port());
    ASSERT_TRUE(lf.send_raw("\n" + get));
    EXPECT_EQ(lf.read_response(5000).status, 400);
    // A fifth empty line is refused at once, at a connection's start and between requests.
    for (bool between : {false, true}) {
        HttpConnection c(port());
        if (between) {
            ASSERT_TRUE(c.send_raw(get));
            ASSERT_EQ(c.read_response(5000).status, 200);
        }
        ASSERT_TRUE(c.send_raw("\r\n\r\n\r\n\r\n\r\n"));
        expect_refused(c, c.read_response(5000), 400,
                       "malformed HTTP request: more than 4 empty lines before the request line");
    }
}

// A lone CR after an answer (half an empty line, alone or after whole ones, or its first half
// with the second still to come) begins no request either: the connection stays idle, and at
// --max-connections gives way to a new one at once, before a keep-alive connection idle for
// less time. It counted as a request arriving: the other, idle, connection was closed in its
// place, and it kept its slot until the request timeout (or, none idle, until 2 s as a
// stalled request). Still the start of a request when one follows, and still bounded.
TEST_F(HttpConformance, ALoneCrBetweenRequestsLeavesTheConnectionIdle) {
    start({.args = {"--max-connections", "2", "--request-timeout", "60"}});
    const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::vector<std::vector<std::string>> cases = {{"\r"}, {"\r\n\r"}, {"\r", "\n"}, {"\r", "\n\r"}};
    for (const auto& pieces : cases) {
        std::string what;
        for (const auto& piece : pieces) what += (what.empty() ? "" : " then ") + std::to_string(piece.size()) + " bytes";
        HttpConnection stray(port());
        ASSERT_TRUE(stray.send_raw(get));
        ASSERT_EQ(stray.read_response(5000).status, 200);
        for (const auto& piece : pieces) {
            ASSERT_TRUE(stray.send_raw(piece));
            std::this_thread::sleep_for(std::chrono::milliseconds(50));  // read on its own
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // idle the longest
        HttpConnection keep(port());
        ASSERT_TRUE(keep.send_raw(get));
        ASSERT_EQ(keep.read_response(5000).status, 200);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        HttpConnection next(port());  // at the limit
        ASSERT_TRUE(next.send_raw(get));
        EXPECT_EQ(next.read_response(5000).status, 200) << what;
        EXPECT_TRUE(stray.closed_by_peer(5000)) << what << ": the connection idle the longest was not closed";
        ASSERT_TRUE(keep.send_raw(get));
        EXPECT_EQ(keep.read_response(5000).status, 200) << what << ": the keep-alive connection was closed instead";
    }
    EXPECT_FALSE(contains(log(), "\"reason\":\"stalled\"")) << log();
    // A lone CR and then the rest of a request: read as before.
    HttpConnection c(port());
    ASSERT_TRUE(c.send_raw(get));
    ASSERT_EQ(c.read_response(5000).status, 200);
    ASSERT_TRUE(c.send_raw("\r"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(c.send_raw("\n" + get));
    EXPECT_EQ(c.read_response(5000).status, 200);
    // Still at most 4 empty lines, however they arrive: the fifth is refused.
    for (const std::string piece : {"\r", "\n\r\n\r\n\r\n\r"}) {
        ASSERT_TRUE(c.send_raw(piece));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(c.send_raw("\n"));
    expect_refused(c, c.read_response(5000), 400,
                   "malformed HTTP request: more than 4 empty lines before the request line");
}

// --- HTTP versions ----------------------------------------------------------------------------

// A later minor version of HTTP/1 is understood as HTTP/1.1 (RFC 9112 2.3, RFC 9110 2.5): read,
// answered in HTTP/1.1, kept alive as 1.1 keeps, and stored when it is a delivery. Beast
// refused anything but 1.0 and 1.1 (400).
TEST_F(HttpConformance, LaterMinorVersionsOfHttp1AreServedAsHttp11) {
    start();
    HttpConnection c(port());
    for (char minor = '2'; minor <= '9'; ++minor) {
        ASSERT_TRUE(c.send_raw(std::string("GET /healthz HTTP/1.") + minor + "\r\nHost: x\r\n\r\n"));
        auto r = c.read_response(5000);
        EXPECT_EQ(r.status, 200) << "HTTP/1." << minor << ": " << r.body;
        EXPECT_EQ(r.headers.count("connection"), 0u) << "kept alive, as HTTP/1.1 is";
    }
    ASSERT_TRUE(c.send_raw("GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(c.read_raw("{\"status\":\"ok\"}").substr(0, 15), "HTTP/1.1 200 OK") << "answered as HTTP/1.1";
    // As 1.1 closes: on Connection: close only.
    ASSERT_TRUE(c.send_raw("GET /healthz HTTP/1.4\r\nHost: x\r\nConnection: close\r\n\r\n"));
    auto closing = c.read_response(5000);
    EXPECT_EQ(closing.status, 200);
    EXPECT_EQ(closing.headers["connection"], "close");
    EXPECT_TRUE(c.closed_by_peer(5000));
    // A delivery, its request line arriving a byte at a time.
    const std::string body = example_payload(kCancelled);
    const std::string request = "POST " + kTarget + " HTTP/1.7\r\nHost: x\r\nX-Recharge-Hmac-Sha256: " +
                                legacy_signature(kSecret, body) + "\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    HttpConnection slow(port());
    const std::size_t line = request.find('\n') + 1;
    for (std::size_t at = 0; at < line; ++at) {
        ASSERT_TRUE(slow.send_raw(request.substr(at, 1)));
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_TRUE(slow.send_raw(request.substr(line)));
    auto stored = slow.read_response();
    EXPECT_EQ(stored.status, 200) << stored.body;
    EXPECT_TRUE(contains(stored.body, "\"accepted\"")) << stored.body;
    EXPECT_EQ(count(), 1);
}

// A major version other than 1 is one churnwatch does not speak: 505 (RFC 9110 15.6.6), and
// the connection closed. HTTP/2's prior-knowledge preface ("PRI * HTTP/2.0") among them. What
// is no request line at all stays 400.
TEST_F(HttpConformance, OtherMajorVersionsAre505) {
    start();
    for (const std::string line : {"GET /healthz HTTP/2.0", "POST /webhooks/recharge HTTP/3.0", "GET / HTTP/0.9",
                                   "PRI * HTTP/2.0"}) {
        HttpConnection c(port());
        ASSERT_TRUE(c.send_raw(line + "\r\nHost: x\r\n\r\n"));
        expect_refused(c, c.read_response(5000), 505, " is not supported: churnwatch speaks HTTP/1.1", line);
    }
    HttpConnection preface(port());
    ASSERT_TRUE(preface.send_raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    EXPECT_EQ(preface.read_response(5000).status, 505);
    EXPECT_TRUE(contains(log(), "\"reason\":\"http_version_not_supported\"")) << log();
    EXPECT_TRUE(contains(log(), "HTTP/3.0 is not supported")) << log();
    HttpConnection bad(port());
    ASSERT_TRUE(bad.send_raw("G@T /healthz HTTP/2.0\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(bad.read_response(5000).status, 400);
}

// --- lingering close ----------------------------------------------------------------------------

// A refusal's answer reaches a client still sending its request. Closing with request bytes
// unread made the kernel send RST, which discards whatever of the answer the client has not
// received yet: here a client that writes all it has before it reads, with a small receive
// window, so the answer to its first request is still queued at the server when its second
// (a body over --max-body) is refused. Both answers were lost (ECONNRESET); now the server
// reads and drops the rest of the body before it closes.
TEST_F(HttpConformance, ARefusalsAnswerSurvivesTheRequestBytesStillComing) {
    start();
    for (int round = 0; round < 3; ++round) {
        HttpConnection c(port(), /*receive_buffer=*/1024);
        const std::string body(2'000'000, 'x');
        c.send_raw("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                   "POST " + kTarget + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + body);
        auto page = c.read_response();
        EXPECT_EQ(page.status, 200) << "round " << round << ": lost to a connection reset";
        expect_refused(c, c.read_response(), 413, "body larger than 1048576 bytes",
                       "round " + std::to_string(round) + " (a 413 lost to a connection reset?)");
    }
}

// The lingering is bounded: a client that goes on sending after its refusal is cut off after
// 2 s, or once it has sent 4 MiB beyond --max-body, whichever comes first; and at
// --max-connections a lingering connection gives way to a new one at once.
TEST_F(HttpConformance, ALingeringCloseIsBounded) {
    start({.args = {"--max-connections", "1", "--request-timeout", "60"}});
    const std::string huge = "POST " + kTarget + " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n";
    using Clock = std::chrono::steady_clock;
    auto ms_since = [](Clock::time_point t0) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    };
    {
        // Slowly: 1 KB every 50 ms, cut off by time.
        HttpConnection c(port());
        ASSERT_TRUE(c.send_raw(huge));
        EXPECT_EQ(c.read_response(5000).status, 413);
        const auto t0 = Clock::now();
        while (ms_since(t0) < 10000 && c.send_raw(std::string(1024, 'x')))
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        EXPECT_GE(ms_since(t0), 1500);
        EXPECT_LE(ms_since(t0), 4000);
    }
    {
        // As fast as it can: cut off by bytes, well before the 2 s.
        HttpConnection c(port());
        ASSERT_TRUE(c.send_raw(huge));
        EXPECT_EQ(c.read_response(5000).status, 413);
        const auto t0 = Clock::now();
        const std::string mib(1 << 20, 'x');
        std::size_t sent = 0;
        for (int i = 0; i < 1000 && c.send_raw(mib); ++i) sent += mib.size();
        EXPECT_LT(sent, std::size_t{64} << 20) << "dropped without a bound on bytes";
        EXPECT_LT(ms_since(t0), 1500);
    }
    {
        // At the limit (1 connection): a lingering connection gives way to a new one.
        HttpConnection lingering(port());
        ASSERT_TRUE(lingering.send_raw(huge));
        EXPECT_EQ(lingering.read_response(5000).status, 413);
        const auto t0 = Clock::now();
        HttpConnection next(port());
        ASSERT_TRUE(next.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
        EXPECT_EQ(next.read_response(5000).status, 200);
        EXPECT_LT(ms_since(t0), 1000) << "waited for the lingering connection to end";
    }
}

// At --max-connections a lingering connection gives way before a keep-alive one, however
// long that one has been idle: the lingering one has nothing more to serve. The keep-alive
// connection idle the longest was closed instead, its client made to reconnect, while the
// refused one went on lingering for its 2 s.
TEST_F(HttpConformance, ALingeringConnectionGivesWayBeforeAKeepAliveOne) {
    start({.args = {"--max-connections", "2"}});
    HttpConnection keep(port());
    ASSERT_TRUE(keep.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_EQ(keep.read_response(5000).status, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // idle the longest
    HttpConnection refused(port());
    ASSERT_TRUE(refused.send_raw("POST " + kTarget + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"));
    ASSERT_EQ(refused.read_response(5000).status, 413);
    // The session starts to linger when its write of the 413 completes, which the client can
    // see before: a connection in between (a busy machine delays the server's thread) still
    // finds it busy and closes the keep-alive one. Room for that, as for the idle order above.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    HttpConnection next(port());
    ASSERT_TRUE(next.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(next.read_response(5000).status, 200);
    // The refused connection is closed: what its client sends now meets a reset (while it
    // lingered, the server read and dropped it).
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    bool sent = refused.send_raw(std::string(1000, 'x'));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    sent = sent && refused.send_raw(std::string(1000, 'x'));
    EXPECT_FALSE(sent) << "the refused connection still lingers";
    // The keep-alive connection is still open and serves its next request.
    EXPECT_FALSE(keep.closed_by_peer(100)) << "the keep-alive connection was closed instead";
    ASSERT_TRUE(keep.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(keep.read_response(5000).status, 200);
}

// A lingering connection keeps nothing of the request it refused. The body read before the
// refusal (up to --max-body) was held by the session's parser for the whole linger, outside
// the 64 MiB that bodies still arriving may hold in all: clients refused one after the other
// made the server hold --max-body each for 2 s (about 1 MiB per client here, 100 MiB for 100).
TEST_F(HttpConformance, ALingeringConnectionHoldsNoneOfItsRequest) {
    // Freed memory goes back to the system at once (the sanitizer would keep it quarantined).
    const char* asan = std::getenv("ASAN_OPTIONS");
    start({.env = {{"ASAN_OPTIONS", std::string(asan ? asan : "") + ":quarantine_size_mb=0"}}});
    auto memory_kb = [this](const std::string& field) {
        const std::string status = read_file("/proc/" + std::to_string(server->pid()) + "/status");
        const auto at = status.find(field + ":");
        return at == std::string::npos ? -1L : std::stol(status.substr(at + field.size() + 1));
    };
    // Over --max-body in chunks, so that the parser has read 1 MB of it when it refuses.
    std::string request = "POST " + kTarget + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 19; ++i) request += hex(60000) + "\r\n" + std::string(60000, 'x') + "\r\n";
    const long before = memory_kb("VmRSS");
    ASSERT_GT(before, 0);
    // One after the other (never two bodies arriving at once), each left lingering.
    std::vector<std::unique_ptr<HttpConnection>> lingering;
    for (int i = 0; i < 100; ++i) {
        lingering.push_back(std::make_unique<HttpConnection>(port()));
        ASSERT_TRUE(lingering.back()->send_raw(request));
        ASSERT_EQ(lingering.back()->read_response(5000).status, 413) << i;
    }
    const long peak = memory_kb("VmHWM");
    lingering.clear();
    EXPECT_LT(peak - before, 32 * 1024) << "kB more at the peak, with 100 refused connections lingering";
}

}  // namespace
