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
    // Non-ASCII bytes (valid UTF-8 or not) each become \u00XX: the line stays ASCII.
    EXPECT_EQ(as_json("caf\xc3\xa9"), R"("caf\u00c3\u00a9")");
    EXPECT_EQ(as_json("\xff"), R"("\u00ff")");
}

// Whatever the bytes, the result parses as a JSON string and none of the input is lost.
TEST(AppendJsonString, EveryByteRoundTripsThroughAJsonParser) {
    std::string all;
    for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
    all += "tail";
    std::string doc_text = "[" + as_json(all) + "]";
    for (char c : doc_text) ASSERT_LT(static_cast<unsigned char>(c), 0x80);
    rapidjson::Document doc;
    doc.Parse(doc_text.c_str(), doc_text.size());
    ASSERT_FALSE(doc.HasParseError());
    const auto& v = doc[0];
    ASSERT_EQ(v.GetStringLength(), 128 + 2 * 128 + 4);  // bytes >= 0x80 come back as U+0080..U+00FF
    EXPECT_EQ(std::string(v.GetString(), 128), all.substr(0, 128));
    EXPECT_EQ(std::string(v.GetString() + v.GetStringLength() - 4, 4), "tail");
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
