// The request checks the session makes that Beast does not (service/request_checks.h), on
// plain bytes.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "request_checks.h"

using namespace churnwatch;

namespace {

// check_line_start fed `bytes` in pieces of `piece` bytes, as a session reads them: the
// refusal's detail, or "" while they could still begin a request line.
std::string line_start(const std::string& bytes, std::size_t piece) {
    LineScan scan;
    for (std::size_t end = piece; ; end += piece) {
        if (auto r = check_line_start(std::string_view(bytes).substr(0, end), scan)) {
            EXPECT_EQ(r->status, 400);
            EXPECT_EQ(r->reason, "bad_request");
            return r->detail;
        }
        if (end >= bytes.size()) return "";
    }
}

TEST(RequestLine, EveryBeginningOfAValidLineCanStillBeOne) {
    for (const std::string line : {"GET /healthz HTTP/1.1\r", "POST /webhooks/recharge/subscription/cancelled?x=1 HTTP/1.0\r",
                                   "M-SEARCH * HTTP/1.1", "GET http://host/caf\xc3\xa9 HTTP/2.0\r", "!#$%&'*+-.^_`|~09azAZ /"})
        for (std::size_t piece : {1, 2, 3, 7, 100})
            EXPECT_EQ(line_start(line, piece), "") << line << " in pieces of " << piece;
}

TEST(RequestLine, BytesThatCannotBeginOneAreRefusedAtTheFirstSuchByte) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"GE\x01T", "byte 0x01 at offset 2, in the method"},
        {"\x16\x03\x01\x02\x00", "byte 0x16 at offset 0, in the method"},  // a TLS ClientHello
        {" GET", "byte 0x20 at offset 0, in the method"},
        {"\r", "byte 0x0D at offset 0, in the method"},
        {"GET\t/", "byte 0x09 at offset 3, in the method"},
        {"G(T /", "byte 0x28 at offset 1, in the method"},
        {"GET  /", "byte 0x20 at offset 4, in the request-target"},
        {"GET /\x7f", "byte 0x7F at offset 5, in the request-target"},
        {"GET /a\rb", "byte 0x0D at offset 6, in the request-target"},
        {"GET / FTP/1.1", "byte 0x46 at offset 6, in the HTTP version"},
        {"GET / http/1.1", "byte 0x68 at offset 6, in the HTTP version"},
        {"GET / HTTP/1.1 ", "byte 0x20 at offset 14, in the HTTP version"},
        {"GET / HTTP/1.1\rX", "byte 0x58 at offset 15, in the HTTP version"},
        {"GET / HTTP/11", "byte 0x31 at offset 12, in the HTTP version"},
        {"GET / HTTP/x", "byte 0x78 at offset 11, in the HTTP version"},
    };
    for (const auto& [bytes, where] : cases)
        for (std::size_t piece : {1, 2, 100})
            EXPECT_EQ(line_start(bytes, piece), "malformed HTTP request: not a request line (" + where + ")")
                << bytes << " in pieces of " << piece;
}

TEST(RequestLine, OverTheLimitIs414) {
    const Refusal r = line_too_long("GET /" + std::string(1019, 'a'), 1024);
    EXPECT_EQ(r.status, 414);
    EXPECT_EQ(r.reason, "target_too_long");
    EXPECT_EQ(r.detail, "request-target too long: the request line is over 1024 bytes (--max-header)");
}

TEST(RequestLine, AMethodFillingTheLimitIs501) {
    const Refusal r = line_too_long(std::string(1024, 'M'), 1024);
    EXPECT_EQ(r.status, 501);
    EXPECT_EQ(r.reason, "method_too_long");
    EXPECT_EQ(r.detail, "method not implemented: longer than 1024 bytes (--max-header)");
}

// check_version on a copy of `line`: the refusal's status (0: none), and the line after it.
std::pair<int, std::string> version(std::string line) {
    auto r = check_version({line.data(), line.size()});
    return {r ? r->status : 0, line};
}

TEST(RequestVersion, Http10And11AreLeftAsTheyAre) {
    EXPECT_EQ(version("GET / HTTP/1.1\r\n"), std::pair(0, std::string("GET / HTTP/1.1\r\n")));
    EXPECT_EQ(version("GET / HTTP/1.0\r\n"), std::pair(0, std::string("GET / HTTP/1.0\r\n")));
}

TEST(RequestVersion, LaterMinorVersionsOfHttp1BecomeHttp11) {
    for (char minor = '2'; minor <= '9'; ++minor) {
        const std::string line = std::string("POST /webhooks/recharge HTTP/1.") + minor + "\r\n";
        EXPECT_EQ(version(line), std::pair(0, std::string("POST /webhooks/recharge HTTP/1.1\r\n"))) << line;
    }
}

TEST(RequestVersion, OtherMajorVersionsAre505) {
    for (std::string line : {"GET / HTTP/2.0\r\n", "PRI * HTTP/2.0\r\n", "GET /x?y HTTP/3.0\r\n", "GET / HTTP/0.9\r\n"}) {
        auto r = check_version({line.data(), line.size()});
        ASSERT_TRUE(r.has_value()) << line;
        EXPECT_EQ(r->status, 505) << line;
        EXPECT_EQ(r->reason, "http_version_not_supported");
    }
    std::string line = "GET / HTTP/2.0\r\n";
    EXPECT_EQ(check_version({line.data(), line.size()})->detail, "HTTP/2.0 is not supported: churnwatch speaks HTTP/1.1");
}

TEST(RequestVersion, WhatIsNoRequestLineIsLeftToTheParser) {
    for (const std::string line : {"G@T / HTTP/2.0\r\n", " / HTTP/2.0\r\n", "GET  HTTP/2.0\r\n", "GET /\x01 HTTP/2.0\r\n",
                                   "GET / HTTP/1.x\r\n", "GET / HTTP/11.1\r\n", "GET / HTTP/1.2\n", "GET / http/1.2\r\n",
                                   "GET / HTTP/1.12\r\n", "HTTP/1.2\r\n", "\r\n"})
        EXPECT_EQ(version(line), std::pair(0, line)) << line;
}

TEST(TransferCoding, ChunkedAloneIsSupported) {
    EXPECT_EQ(unsupported_coding("chunked"), "");
    EXPECT_EQ(unsupported_coding("Chunked"), "");
    EXPECT_EQ(unsupported_coding(" chunked\t"), "");
    // Empty list elements count for nothing (RFC 9110 5.6.1).
    EXPECT_EQ(unsupported_coding(", chunked,"), "");
    EXPECT_EQ(unsupported_coding(""), "");
}

TEST(TransferCoding, AnyOtherCodingIsNamed) {
    EXPECT_EQ(unsupported_coding("gzip, chunked"), "gzip");
    EXPECT_EQ(unsupported_coding("identity,chunked"), "identity");
    EXPECT_EQ(unsupported_coding("chunked, gzip"), "gzip");
    EXPECT_EQ(unsupported_coding("GZip;level=1 , chunked"), "GZip");
    EXPECT_EQ(unsupported_coding("chunked;ext=1"), "");
    EXPECT_EQ(unsupported_coding("xchunked"), "xchunked");
    EXPECT_EQ(unsupported_coding("chunk"), "chunk");
    EXPECT_EQ(unsupported_coding(";q=1, chunked"), ";q=1");
}

TEST(TransferCoding, TheRefusalIs501AndSaysWhich) {
    const Refusal r = coding_not_implemented("gzip");
    EXPECT_EQ(r.status, 501);
    EXPECT_EQ(r.reason, "unsupported_transfer_coding");
    EXPECT_EQ(r.detail, "Transfer-Encoding 'gzip' is not implemented: only chunked is");
    // A client's long string is cut short.
    EXPECT_EQ(coding_not_implemented(std::string(100, 'x')).detail,
              "Transfer-Encoding '" + std::string(40, 'x') + "...' is not implemented: only chunked is");
}

}  // namespace
