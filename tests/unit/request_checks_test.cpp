// The request checks the session makes that Beast does not (service/request_checks.h), on
// plain bytes.
#include <gtest/gtest.h>

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
