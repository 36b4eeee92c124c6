// The request checks the session makes that Beast does not (service/request_checks.h), on
// plain bytes.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <string_view>
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
                                   "M-SEARCH * HTTP/1.1", "GET http://host/caf\xc3\xa9 HTTP/2.0\r", "!#$%&'*+-.^_`|~09azAZ /",
                                   "GET /!~ HTTP/1.1\r"})
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
        {"GET / HTTP/1.1\r\r", "byte 0x0D at offset 15, in the HTTP version"},
        {"GET / HTTP/11", "byte 0x31 at offset 12, in the HTTP version"},
        {"GET / HTTP/x", "byte 0x78 at offset 11, in the HTTP version"},
    };
    for (const auto& [bytes, where] : cases)
        for (std::size_t piece : {1, 2, 100})
            EXPECT_EQ(line_start(bytes, piece), "malformed HTTP request: not a request line (" + where + ")")
                << bytes << " in pieces of " << piece;
}

// tchar has none of the delimiters (RFC 9110 5.6.2), and no NUL: each ends a method where it stands.
TEST(RequestLine, ADelimiterOrNulInTheMethodIsRefused) {
    for (const char delimiter : std::string_view("\"(),/:;<=>?@[\\]{}")) {
        const std::string bytes = std::string("GE") + delimiter + "T / HTTP/1.1\r";
        char where[64];
        std::snprintf(where, sizeof where, "byte 0x%02X at offset 2, in the method", static_cast<unsigned char>(delimiter));
        EXPECT_EQ(line_start(bytes, 100), std::string("malformed HTTP request: not a request line (") + where + ")") << bytes;
    }
    EXPECT_EQ(line_start(std::string("G\0T / HTTP/1.1\r", 15), 1),
              "malformed HTTP request: not a request line (byte 0x00 at offset 1, in the method)");
}

// What the session does with `bytes` fed in pieces of `piece` bytes, where a request line is
// expected: empty lines dropped as they come (skip_empty_lines; a lone CR waits for what
// follows), the rest looked at by check_line_start. The refusal's detail, or "" (then
// `empty_lines` says how many were dropped).
std::string session_scan(const std::string& bytes, std::size_t piece, std::size_t* empty_lines = nullptr) {
    LineScan scan;
    std::string buffered;
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        buffered += bytes.substr(at, piece);
        const EmptyLines lead = skip_empty_lines(buffered, scan);
        if (lead.refusal) {
            EXPECT_EQ(lead.refusal->status, 400);
            EXPECT_EQ(lead.refusal->reason, "bad_request");
            return lead.refusal->detail;
        }
        buffered.erase(0, lead.drop);
        if (lead.partial || buffered.empty()) continue;
        if (auto r = check_line_start(buffered, scan)) return r->detail;
    }
    if (empty_lines) *empty_lines = scan.empty_lines;
    return "";
}

// RFC 9112 2.2: a server SHOULD ignore at least one empty line before a request line.
TEST(EmptyLines, AFewBeforeTheRequestLineAreDropped) {
    for (std::size_t lines = 0; lines <= kMaxEmptyLines; ++lines) {
        std::string bytes;
        for (std::size_t i = 0; i < lines; ++i) bytes += "\r\n";
        bytes += "GET /healthz HTTP/1.1\r";
        for (std::size_t piece : {1, 2, 3, 7, 100}) {
            std::size_t dropped = 99;
            EXPECT_EQ(session_scan(bytes, piece, &dropped), "") << lines << " lines, in pieces of " << piece;
            EXPECT_EQ(dropped, lines) << lines << " lines, in pieces of " << piece;
        }
    }
    // All at once: the bytes to drop, and what follows them left alone.
    LineScan scan;
    const EmptyLines lead = skip_empty_lines("\r\n\r\nPOST / HTTP/1.1\r\n", scan);
    EXPECT_EQ(lead.drop, 4u);
    EXPECT_FALSE(lead.partial);
    EXPECT_FALSE(lead.refusal.has_value());
    EXPECT_EQ(scan.empty_lines, 2u);
}

TEST(EmptyLines, ALoneCrWaitsForWhatFollowsIt) {
    LineScan scan;
    const EmptyLines lead = skip_empty_lines("\r\n\r", scan);
    EXPECT_EQ(lead.drop, 2u);
    EXPECT_TRUE(lead.partial);
    EXPECT_FALSE(lead.refusal.has_value());
    // Not followed by LF: no empty line, and no request line either.
    EXPECT_EQ(session_scan("\r\n\rX", 1), "malformed HTTP request: not a request line (byte 0x0D at offset 0, in the method)");
    EXPECT_EQ(session_scan("\r\n\r\r\n", 1), "malformed HTTP request: not a request line (byte 0x0D at offset 0, in the method)");
}

TEST(EmptyLines, MoreThanAFewAreRefused) {
    std::string bytes;
    for (std::size_t i = 0; i <= kMaxEmptyLines; ++i) bytes += "\r\n";
    for (std::size_t piece : {1, 2, 3, 100}) {
        EXPECT_EQ(session_scan(bytes + "GET / HTTP/1.1\r", piece),
                  "malformed HTTP request: more than 4 empty lines before the request line")
            << "in pieces of " << piece;
        // Refused once the line that is one too many is whole, not waiting for a request line.
        EXPECT_EQ(session_scan(bytes, piece), "malformed HTTP request: more than 4 empty lines before the request line")
            << "in pieces of " << piece;
    }
}

TEST(EmptyLines, OnlyCrLfEndsOne) {
    // Beast reads no bare LF as a line's end: it cannot begin a request line either.
    EXPECT_EQ(session_scan("\nGET / HTTP/1.1\r", 1), "malformed HTTP request: not a request line (byte 0x0A at offset 0, in the method)");
    EXPECT_EQ(session_scan("\r\n\nGET / HTTP/1.1\r", 100),
              "malformed HTTP request: not a request line (byte 0x0A at offset 0, in the method)");
    // Nor does any other byte before an LF make one: it is the method's first byte.
    for (std::size_t piece : {1, 100})
        EXPECT_EQ(session_scan("A\nGET / HTTP/1.1\r", piece),
                  "malformed HTTP request: not a request line (byte 0x0A at offset 1, in the method)")
            << "in pieces of " << piece;
    LineScan fresh;
    EXPECT_EQ(skip_empty_lines("A\n\r\n", fresh).drop, 0u);
    EXPECT_EQ(fresh.empty_lines, 0u);
    // Once a request line has begun, nothing is dropped.
    LineScan scan;
    EXPECT_FALSE(check_line_start("G", scan).has_value());
    EXPECT_EQ(skip_empty_lines("\r\nGET", scan).drop, 0u);
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
    line = "GET / HTTP/0.9\r\n";
    EXPECT_EQ(check_version({line.data(), line.size()})->detail, "HTTP/0.9 is not supported: churnwatch speaks HTTP/1.1");
}

TEST(RequestVersion, WhatIsNoRequestLineIsLeftToTheParser) {
    for (const std::string line : {"G@T / HTTP/2.0\r\n", " / HTTP/2.0\r\n", "GET  HTTP/2.0\r\n", "GET /\x01 HTTP/2.0\r\n",
                                   "GET / HTTP/1.x\r\n", "GET / HTTP/11.1\r\n", "GET / HTTP/1.2\n", "GET / http/1.2\r\n",
                                   "GET / HTTP/1.12\r\n", "HTTP/1.2\r\n", "\r\n", "GET / HTTP-2.0\r\n", "GET / HTTP/x.0\r\n",
                                   "GET / HTTP/2_0\r\n", "GET / HTTP/1_5\r\n", "GET / HTTP/1.5 \n", "GET / HTTP/2.0 \n"})
        EXPECT_EQ(version(line), std::pair(0, line)) << line;
}

// check_transfer_codings on the values of one or more Transfer-Encoding fields: the refusal's
// status (0: none) and detail.
std::pair<int, std::string> codings(std::vector<std::string_view> values) {
    auto r = check_transfer_codings(values);
    return r ? std::pair(r->status, r->detail) : std::pair(0, std::string());
}
int coding_status(std::vector<std::string_view> values) { return codings(std::move(values)).first; }

TEST(TransferCoding, ChunkedAloneIsSupported) {
    for (std::string_view v : {"chunked", "Chunked", " chunked\t", "chunked;ext=1", "chunked ; ext = \"a, b\""})
        EXPECT_EQ(coding_status({v}), 0) << v;
    // Empty list elements count for nothing (RFC 9110 5.6.1).
    EXPECT_EQ(coding_status({", chunked,"}), 0);
    EXPECT_EQ(coding_status({",", "chunked"}), 0);
}

TEST(TransferCoding, AnyOtherCodingBeforeChunkedIs501AndNamed) {
    EXPECT_EQ(codings({"gzip, chunked"}), std::pair(501, std::string("Transfer-Encoding 'gzip' is not implemented: only chunked is")));
    EXPECT_EQ(codings({"identity,chunked"}).second, "Transfer-Encoding 'identity' is not implemented: only chunked is");
    EXPECT_EQ(codings({"xchunked, chunked"}).second, "Transfer-Encoding 'xchunked' is not implemented: only chunked is");
    EXPECT_EQ(codings({"gzip", "chunked"}).first, 501);
    // With parameters (RFC 9112 7: transfer-parameter = token BWS "=" BWS ( token /
    // quoted-string )): Beast's parser stops reading the list at one, and that was a 400.
    for (std::string_view v : {"gzip;level=1, chunked", "GZip;level=1 , chunked", "gzip ; level = 1, chunked",
                               "gzip;level=\"1\";q=x, chunked", "gzip;a=\"\\\"x,y\", chunked", "deflate, gzip;level=9, chunked"}) {
        const auto [status, detail] = codings({v});
        EXPECT_EQ(status, 501) << v;
        EXPECT_EQ(detail.substr(0, 20), "Transfer-Encoding '" + std::string(1, v[0])) << v;
    }
    EXPECT_EQ(codings({"gzip;level=1", "chunked"}).first, 501);
}

// The 400s of Transfer-Encoding are counted and logged as bad_request, as Beast's own are; a
// malformed value is quoted (cut short) in the answer.
TEST(TransferCoding, ItsRefusalsAreBadRequests) {
    for (std::vector<std::string_view> values : {std::vector<std::string_view>{"gzip"}, {"chunked, chunked"}, {"gzip;;, chunked"}}) {
        auto r = check_transfer_codings(values);
        ASSERT_TRUE(r.has_value()) << values[0];
        EXPECT_EQ(r->status, 400) << values[0];
        EXPECT_EQ(r->reason, "bad_request") << values[0];
    }
    EXPECT_EQ(codings({"chunked", "gzip;;, chunked"}).second,
              "malformed HTTP request: Transfer-Encoding 'gzip;;, chunked' is not a list of transfer codings");
    EXPECT_EQ(codings({"chunked;x=" + std::string(50, 'y') + " z"}).second,
              "malformed HTTP request: Transfer-Encoding 'chunked;x=" + std::string(30, 'y') + "...' is not a list of transfer codings");
}

TEST(TransferCoding, ChunkedNotLastIs400) {
    for (std::vector<std::string_view> values :
         {std::vector<std::string_view>{"gzip"}, {"chunked, gzip"}, {"gzip;level=1"}, {"chunked, gzip;level=1"},
          {"chunked, chunked"}, {"gzip, chunked, chunked"}, {"chunked", "gzip"}, {""}, {","}}) {
        const auto [status, detail] = codings(values);
        EXPECT_EQ(status, 400) << values[0];
        EXPECT_EQ(detail, "Transfer-Encoding without chunked as its last coding: the body's length is ambiguous") << values[0];
    }
}

TEST(TransferCoding, MalformedCodingsAre400) {
    for (std::string_view v : {";q=1, chunked", "gzip;;, chunked", "gzip;=1, chunked", "gzip;level, chunked",
                               "gzip;level=, chunked", "gzip;level=\"1, chunked", "gzip level, chunked", "@, chunked",
                               "gzip;a=\"\x01\", chunked", "chunked;x=1 y", "chunked;", "chunked;a=\"x\\"}) {
        const auto [status, detail] = codings({v});
        EXPECT_EQ(status, 400) << v;
        EXPECT_NE(detail.find("malformed HTTP request: Transfer-Encoding '"), std::string::npos) << v << ": " << detail;
        EXPECT_NE(detail.find("' is not a list of transfer codings"), std::string::npos) << v << ": " << detail;
    }
}

// A quoted-pair escapes no control byte (RFC 9110 5.6.4: HTAB, SP, VCHAR, obs-text only).
TEST(TransferCoding, AQuotedPairOfAControlByteIsMalformed) {
    for (std::string_view v : {"gzip;a=\"\\\x01\", chunked", "gzip;a=\"\\\x7f\", chunked", "chunked;a=\"\\\n\""}) {
        const auto [status, detail] = codings({v});
        EXPECT_EQ(status, 400) << v;
        EXPECT_NE(detail.find("' is not a list of transfer codings"), std::string::npos) << v << ": " << detail;
    }
    EXPECT_EQ(coding_status({"chunked;a=\"\\\t\\x\""}), 0);
    EXPECT_EQ(coding_status({"chunked;a=\"\\ \\\xc3\\\xa9\""}), 0) << "SP and obs-text may be escaped";
}

// qdtext = HTAB / SP / VCHAR except DQUOTE and backslash / obs-text (RFC 9110 5.6.4): no control
// byte and no DEL.
TEST(TransferCoding, AQuotedStringHoldsTabsSpacesAndObsTextButNoDel) {
    for (std::string_view v : {"chunked;a=\"x\ty\"", "chunked;a=\" x \"", "chunked;a=\"caf\xc3\xa9\"", "chunked;a=\"\""})
        EXPECT_EQ(coding_status({v}), 0) << v;
    EXPECT_EQ(codings({"gzip;a=\"\x7f\", chunked"}),
              std::pair(400, std::string("malformed HTTP request: Transfer-Encoding 'gzip;a=\"\x7f\", chunked' is not a list of "
                                         "transfer codings")));
}

// Only the whole token "chunked" is chunked: a coding that merely begins with it is another
// coding (Beast would not frame the body as chunked either).
TEST(TransferCoding, ACodingThatBeginsWithChunkedIsNotChunked) {
    for (std::string_view v : {"chunkedx", "chunked-gzip", "CHUNKEDCHUNKED"})
        EXPECT_EQ(codings({v}), std::pair(400, std::string("Transfer-Encoding without chunked as its last coding: "
                                                           "the body's length is ambiguous"))) << v;
    EXPECT_EQ(codings({"chunked, chunkedx"}).first, 400);
}

TEST(TransferCoding, TheRefusalIs501AndSaysWhich) {
    const Refusal r = coding_not_implemented("gzip");
    EXPECT_EQ(r.status, 501);
    EXPECT_EQ(r.reason, "unsupported_transfer_coding");
    EXPECT_EQ(r.detail, "Transfer-Encoding 'gzip' is not implemented: only chunked is");
    // A client's long string is cut short.
    EXPECT_EQ(coding_not_implemented(std::string(100, 'x')).detail,
              "Transfer-Encoding '" + std::string(40, 'x') + "...' is not implemented: only chunked is");
    EXPECT_EQ(coding_not_implemented(std::string(40, 'x')).detail,
              "Transfer-Encoding '" + std::string(40, 'x') + "' is not implemented: only chunked is");
}

}  // namespace

namespace churnwatch {
namespace {

TEST(HostCount, OneHostAlwaysNoneOnlyForHttp10) {
    EXPECT_EQ(check_host_count(11, 1), std::nullopt);
    EXPECT_EQ(check_host_count(10, 1), std::nullopt);
    EXPECT_EQ(check_host_count(10, 0), std::nullopt);
    auto missing = check_host_count(11, 0);
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 400);
    EXPECT_EQ(missing->reason, "bad_request");
    EXPECT_EQ(missing->detail, "HTTP/1.1 request without a Host header");
    for (int version : {10, 11}) {
        auto repeated = check_host_count(version, 2);
        ASSERT_TRUE(repeated);
        EXPECT_EQ(repeated->status, 400);
        EXPECT_EQ(repeated->reason, "bad_request");
        EXPECT_EQ(repeated->detail, "more than one Host header");
    }
}

// RFC 9110 7.2 / RFC 9112 3.2: a Host is a host name or bracketed IP literal and an optional
// decimal port; anything else is a 400 naming what is wrong.
TEST(RequestChecks, AHostIsAHostNameOrIpLiteralWithAnOptionalPort) {
    for (std::string_view ok : {"", "x", "example.com", "Example.COM.", "127.0.0.1", "127.0.0.1:8080",
                                "churn-watch_1.example:443", "[::1]", "[::1]:8080", "[v1.fe80::a+en1]",
                                "xn--bcher-kva.example", "a%2Eb", "host:", "[::1]:",
                                "a.example,b.example"}) {  // a comma is a sub-delim: one odd name
        EXPECT_EQ(check_host_value(ok), std::nullopt) << ok;
    }
    const std::vector<std::pair<std::string_view, std::string_view>> bad = {
        {"user:pw@example.com", "a user@ part is not allowed"},
        {"user@example.com", "a user@ part is not allowed"},
        {"example.com/path", "a character not allowed in a host name"},
        {"a b", "a character not allowed in a host name"},
        {"ex\xc3\xa4mple.com", "a character not allowed in a host name"},
        {"example.com:80:80", "the port is not decimal digits"},
        {"example.com:http", "the port is not decimal digits"},
        {"[::1", "an unclosed ["},
        {"[::1]x", "text after the IP literal"},
        {"[::1/64]", "a character not allowed in an IP literal"},
    };
    for (const auto& [value, why] : bad) {
        auto r = check_host_value(value);
        ASSERT_TRUE(r) << value;
        EXPECT_EQ(r->status, 400) << value;
        EXPECT_EQ(r->reason, "bad_request") << value;
        EXPECT_EQ(r->detail, "invalid Host header: " + std::string(why)) << value;
    }
}

}  // namespace
}  // namespace churnwatch
