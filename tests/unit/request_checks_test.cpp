// The request checks the session makes that Beast does not (service/request_checks.h), on
// plain bytes.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "request_checks.h"

using namespace churnwatch;

namespace {

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
