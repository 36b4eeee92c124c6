#include "log.h"

#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace churnwatch {
namespace {

std::string as_json(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

TEST(AppendJsonString, PlainTextIsCopiedAsIs) {
    EXPECT_EQ(as_json(""), "\"\"");
    EXPECT_EQ(as_json("subscription/cancelled"), "\"subscription/cancelled\"");
    std::string out = "prefix:";
    append_json_string(out, "abc");
    EXPECT_EQ(out, "prefix:\"abc\"");
}

TEST(AppendJsonString, EscapesAtEveryPosition) {
    EXPECT_EQ(as_json("\"a\\b\""), R"("\"a\\b\"")");
    EXPECT_EQ(as_json("x\ny\rz\t"), R"("x\ny\rz\t")");
    EXPECT_EQ(as_json(std::string("\0", 1)), R"("\u0000")");
    EXPECT_EQ(as_json("\x1f" "ok" "\x7f"), R"("\u001fok\u007f")");
}

// A JSON reader's view of append_json_string's output: the UTF-8 text it decodes to.
std::string decoded(std::string_view s) {
    std::string doc_text = "[" + as_json(s) + "]";
    for (char c : doc_text) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << doc_text;
    rapidjson::Document doc;
    doc.Parse(doc_text.c_str(), doc_text.size());
    EXPECT_FALSE(doc.HasParseError()) << doc_text;
    if (doc.HasParseError()) return "";
    return std::string(doc[0].GetString(), doc[0].GetStringLength());
}

// Each byte of a UTF-8 character used to be escaped as if it were a Latin-1 character of its
// own, so a reader of the log saw "caf\u00c3\u00a9" as "cafÃ©" and a truncated excerpt's
// "…" as "â\u0080¦". The line stays ASCII, but a character is escaped as itself.
TEST(AppendJsonString, NonAsciiCharactersAreEscapedAsTheirCodePoints) {
    EXPECT_EQ(as_json("caf\xc3\xa9"), R"("caf\u00e9")");
    EXPECT_EQ(as_json("cut\xe2\x80\xa6"), R"("cut\u2026")");            // "…"
    EXPECT_EQ(as_json("\xe2\x82\xac" "5"), R"("\u20ac5")");                  // "€5"
    EXPECT_EQ(as_json("\xf0\x9f\x98\x80!"), R"("\ud83d\ude00!")");       // U+1F600: a surrogate pair
    EXPECT_EQ(as_json("\xc2\x80\xef\xbf\xbf"), R"("\u0080\uffff")");      // the edges of 2 and 3 bytes
    EXPECT_EQ(as_json("\xf4\x8f\xbf\xbf"), R"("\udbff\udfff")");         // U+10FFFF
    for (std::string text : {"caf\xc3\xa9", "stderr: d\xc3\xa9j\xc3\xa0 vu\xe2\x80\xa6",
                             "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xd0\xaf"}) {
        EXPECT_EQ(decoded(text), text);
    }
}

// Bytes that are not UTF-8 cannot stand for any character: each becomes U+FFFD, and the
// well-formed text around them is kept.
TEST(AppendJsonString, InvalidUtf8BytesBecomeTheReplacementCharacter) {
    EXPECT_EQ(as_json("\xff"), R"("\ufffd")");
    EXPECT_EQ(as_json("a\x80" "b"), R"("a\ufffdb")");                      // a stray continuation byte
    EXPECT_EQ(as_json("\xc0\xaf"), R"("\ufffd\ufffd")");                // overlong "/"
    EXPECT_EQ(as_json("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");      // a UTF-16 surrogate
    EXPECT_EQ(as_json("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // past U+10FFFF
    // A character cut off by the end of the text (an excerpt cut in the middle of one).
    EXPECT_EQ(as_json("vu\xe2\x80"), R"("vu\ufffd\ufffd")");
    EXPECT_EQ(as_json("\xe2\x80x\xc3\xa9"), R"("\ufffd\ufffdx\u00e9")");
}

// Whatever the bytes, the result is one ASCII line that parses as a JSON string; the ASCII
// bytes come back as they were, each other byte (none of them valid UTF-8 here) as U+FFFD.
TEST(AppendJsonString, EveryByteGivesValidJson) {
    std::string all;
    for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
    all += "tail";
    std::string text = decoded(all);
    std::string expected = all.substr(0, 128);
    for (int c = 128; c < 256; ++c) expected += "\xef\xbf\xbd";
    EXPECT_EQ(text, expected + "tail");
}

TEST(LogLine, WritesOneJsonObjectPerLine) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    {
        Logger logger(fds[1]);
        LogLine(logger, LogLevel::Info, "delivery").str("reason", "bad \"sig\"\n").num("id", 7);
        LogLine(logger, LogLevel::Debug, "hidden").str("x", "y");  // below the level
    }
    ::close(fds[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    EXPECT_EQ(text.find('\n'), text.size() - 1) << text;
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size() - 1);
    ASSERT_FALSE(doc.HasParseError()) << text;
    EXPECT_STREQ(doc["event"].GetString(), "delivery");
    EXPECT_STREQ(doc["reason"].GetString(), "bad \"sig\"\n");
    EXPECT_EQ(doc["id"].GetInt64(), 7);
}

}  // namespace
}  // namespace churnwatch

namespace churnwatch {
namespace {

// The first occurrence is logged at once; the next ones within the interval are counted
// and reported with the next line.
TEST(LogBudget, AtMostSoManyLinesASecondAndTheNextOneCountsTheRest) {
    using namespace std::chrono_literals;
    LogBudget b(3);
    const auto t0 = std::chrono::steady_clock::time_point{} + 100s;
    int64_t suppressed = -1;
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(b.allow(suppressed, t0 + 10ms * i));
        EXPECT_EQ(suppressed, 0);
    }
    for (int i = 0; i < 5; ++i) EXPECT_FALSE(b.allow(suppressed, t0 + 500ms));
    EXPECT_TRUE(b.allow(suppressed, t0 + 1s));  // a new second
    EXPECT_EQ(suppressed, 5);
    EXPECT_TRUE(b.allow(suppressed, t0 + 1s + 1ms));
    EXPECT_EQ(suppressed, 0);
}

TEST(LogThrottle, FirstAtOnceThenOncePerIntervalWithTheCount) {
    using namespace std::chrono_literals;
    const auto t0 = std::chrono::steady_clock::now();
    LogThrottle t(10s);
    EXPECT_TRUE(t.due(t0));
    EXPECT_EQ(t.occurrences(), 1);
    EXPECT_FALSE(t.due(t0 + 1s));
    EXPECT_FALSE(t.due(t0 + 9s));
    EXPECT_TRUE(t.due(t0 + 10s));
    EXPECT_EQ(t.occurrences(), 3);  // the two held back and this one
    EXPECT_FALSE(t.due(t0 + 11s));
}

}  // namespace
}  // namespace churnwatch
