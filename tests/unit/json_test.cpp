#include "json.h"

#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace churnwatch {
namespace {

using namespace std::string_literals;

struct Parsed {
    bool ok;
    std::string error;
};

Parsed parse(std::string_view body, std::size_t max_depth = 64) {
    rapidjson::Document doc;
    std::string error;
    const bool ok = parse_json(body, JsonLimits{max_depth}, doc, error);
    return {ok, error};
}

std::string nested_arrays(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

std::string nested_objects(std::size_t depth) {
    std::string s;
    for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
    s += "1";
    s += std::string(depth, '}');
    return s;
}

TEST(ParseJson, ParsesAnObject) {
    rapidjson::Document doc;
    std::string error;
    ASSERT_TRUE(parse_json(R"({"charge":{"id":1,"tags":["a","b"],"price":"9.99"}})", {}, doc,
                           error))
        << error;
    EXPECT_TRUE(error.empty());
    ASSERT_TRUE(doc.IsObject());
    EXPECT_EQ(doc["charge"]["id"].GetInt(), 1);
    EXPECT_STREQ(doc["charge"]["tags"][1].GetString(), "b");
    EXPECT_STREQ(doc["charge"]["price"].GetString(), "9.99");
}

TEST(ParseJson, ScalarsAndSurroundingWhitespace) {
    EXPECT_TRUE(parse(" \t\r\n{} \n").ok);
    EXPECT_TRUE(parse("42").ok);
    EXPECT_TRUE(parse("\"text\"").ok);
    EXPECT_TRUE(parse("null").ok);
}

TEST(ParseJson, DocumentOutlivesTheBody) {
    // Strings are copied into the document: the body buffer may be freed after parsing.
    rapidjson::Document doc;
    std::string error;
    {
        auto body = std::make_unique<std::string>(R"({"k":"a value long enough to allocate"})");
        ASSERT_TRUE(parse_json(*body, {}, doc, error));
    }
    EXPECT_STREQ(doc["k"].GetString(), "a value long enough to allocate");
}

TEST(ParseJson, BodyIsNotNulTerminated) {
    // The view stops inside a larger buffer; the parser must not look beyond it.
    const std::string buffer = R"({"a":1}garbage)";
    EXPECT_TRUE(parse(std::string_view(buffer.data(), 7)).ok);
    const std::string open = R"({"a":"xyz"})";
    const Parsed cut = parse(std::string_view(open.data(), 8));  // {"a":"xy
    EXPECT_FALSE(cut.ok);
    EXPECT_NE(cut.error.find("invalid JSON at offset 8"), std::string::npos) << cut.error;
}

TEST(ParseJson, EmptyBody) {
    EXPECT_EQ(parse("").error, "empty body");
    EXPECT_EQ(parse(" \r\n\t ").error, "empty body");
    EXPECT_FALSE(parse("").ok);
}

TEST(ParseJson, SyntaxErrorNamesOffsetAndReason) {
    const Parsed p = parse(R"({"a":1 "b":2})");
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "invalid JSON at offset 7: Missing a comma or '}' after an object member.");
}

TEST(ParseJson, TrailingGarbageIsRejected) {
    const Parsed p = parse(R"({"a":1} x)");
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error,
              "invalid JSON at offset 8: The document root must not be followed by other values.");
    EXPECT_FALSE(parse("{}{}").ok);
    EXPECT_FALSE(parse("[] []").ok);
    EXPECT_FALSE(parse("1 2").ok);
}

TEST(ParseJson, RejectsNonStandardJson) {
    EXPECT_FALSE(parse("NaN").ok);
    EXPECT_FALSE(parse(R"({"a":Infinity})").ok);
    EXPECT_FALSE(parse(R"({"a":-Infinity})").ok);
    EXPECT_FALSE(parse(R"({"a":1,})").ok);  // trailing comma
    EXPECT_FALSE(parse("[1,]").ok);
    EXPECT_FALSE(parse(R"({"a":1 /* c */})").ok);
    EXPECT_FALSE(parse(R"({'a':1})").ok);
    EXPECT_FALSE(parse(R"({"a":01})").ok);
    EXPECT_FALSE(parse(R"({"a":1e400})").ok);  // does not fit a double
    EXPECT_FALSE(parse("\xEF\xBB\xBF{}").ok);  // byte-order mark
}

TEST(ParseJson, ControlCharacterInString) {
    EXPECT_FALSE(parse("{\"a\":\"x\ty\"}").ok);
    EXPECT_TRUE(parse(R"({"a":"x\ty"})").ok);
}

TEST(ParseJson, DepthExactlyAtLimitIsAccepted) {
    EXPECT_TRUE(parse(nested_arrays(64)).ok);
    EXPECT_TRUE(parse(nested_objects(64)).ok);
    EXPECT_TRUE(parse(nested_arrays(3), 3).ok);
}

TEST(ParseJson, DepthOneOverLimitIsRejected) {
    EXPECT_EQ(parse(nested_arrays(65)).error, "JSON nesting deeper than 64");
    EXPECT_EQ(parse(nested_objects(65)).error, "JSON nesting deeper than 64");
    EXPECT_EQ(parse(nested_arrays(4), 3).error, "JSON nesting deeper than 3");
    EXPECT_EQ(parse(R"({"a":[{"b":[]}]})", 3).error, "JSON nesting deeper than 3");
}

TEST(ParseJson, DepthCountsNestingNotContainerCount) {
    // Many siblings at depth 2 are fine with a limit of 2.
    std::string wide = "[";
    for (int i = 0; i < 1000; ++i) wide += i == 0 ? "[]" : ",[]";
    wide += "]";
    EXPECT_TRUE(parse(wide, 2).ok);
    EXPECT_TRUE(parse(R"({"a":{},"b":{},"c":[{}]})", 3).ok);
}

TEST(ParseJson, ZeroDepthAllowsOnlyScalars) {
    EXPECT_TRUE(parse("1", 0).ok);
    EXPECT_EQ(parse("[]", 0).error, "JSON nesting deeper than 0");
}

TEST(ParseJson, TenThousandDeepIsRejectedQuicklyWithoutRecursion) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(parse(nested_arrays(10000)).error, "JSON nesting deeper than 64");
    EXPECT_EQ(parse(std::string(10000, '[')).error, "JSON nesting deeper than 64");
    EXPECT_EQ(parse(nested_objects(10000)).error, "JSON nesting deeper than 64");
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, std::chrono::seconds(1));
}

TEST(ParseJson, DeepInputWithHugeLimitDoesNotOverflowTheStack) {
    // With the limit out of the way the iterative parser still must not recurse.
    EXPECT_TRUE(parse(nested_arrays(100000), 1000000).ok);
}

// Up to a limit of 256 the recursive parser runs (faster), past it the iterative one: the
// limit holds exactly on both sides of that switch, and with objects as with arrays.
TEST(ParseJson, DepthLimitIsExactForBothParsers) {
    for (std::size_t limit : {1, 64, 255, 256, 257, 1000}) {
        EXPECT_TRUE(parse(nested_arrays(limit), limit).ok) << limit;
        EXPECT_EQ(parse(nested_arrays(limit + 1), limit).error,
                  "JSON nesting deeper than " + std::to_string(limit))
            << limit;
        EXPECT_TRUE(parse(nested_objects(limit), limit).ok) << limit;
        EXPECT_FALSE(parse(nested_objects(limit + 1), limit).ok) << limit;
        EXPECT_FALSE(parse(nested_arrays(100000), limit).ok) << limit;
    }
}

TEST(ParseJson, InvalidUtf8IsRejectedWithOffset) {
    EXPECT_EQ(parse("{\"a\":\"\xFF\"}").error, "invalid UTF-8 at offset 6");
    EXPECT_EQ(parse("[\"ok\",\"\xC3\"]").error, "invalid UTF-8 at offset 7");  // truncated
    EXPECT_FALSE(parse("[\"\xC0\xAF\"]").ok);          // overlong '/'
    EXPECT_FALSE(parse("[\"\xED\xA0\x80\"]").ok);      // encoded surrogate
    EXPECT_FALSE(parse("[\"\xF4\x90\x80\x80\"]").ok);  // beyond U+10FFFF
    EXPECT_FALSE(parse("{\"\xFF\":1}").ok);            // in a key
    EXPECT_FALSE(parse("[\"\x80\"]").ok);              // lone continuation byte
}

// The check skips ASCII 32 and 8 bytes at a time: a bad or a multi-byte sequence at any
// position relative to those words is judged the same.
TEST(ParseJson, Utf8CheckIsExactAtEveryAlignment) {
    for (std::size_t k = 0; k < 70; ++k) {
        std::string pad(k, 'a');
        EXPECT_EQ(parse("[\"" + pad + "\xFF\"]").error, "invalid UTF-8 at offset " + std::to_string(2 + k)) << k;
        EXPECT_EQ(parse("[\"" + pad + "\xE2\x82\"]").error, "invalid UTF-8 at offset " + std::to_string(2 + k)) << k;
        EXPECT_TRUE(parse("[\"" + pad + "\xE2\x82\xAC" + pad + "\"]").ok) << k;
    }
}

// The bad byte also in the first bytes of a skipped word, with plenty of text after it, so
// that every byte of the 32- and 8-byte words is the one examined.
TEST(ParseJson, Utf8CheckSeesEveryByteOfALongAsciiRun) {
    const std::string tail(70, 'b');
    for (std::size_t k = 0; k < 70; ++k) {
        std::string pad(k, 'a');
        EXPECT_EQ(parse("[\"" + pad + "\xFF" + tail + "\"]").error,
                  "invalid UTF-8 at offset " + std::to_string(2 + k))
            << k;
        EXPECT_EQ(parse("[\"" + pad + "\xC3\xA9" + tail + "\"]").error, "") << k;
    }
}

// The first and last code point of every encoded length and around the surrogate gap are
// accepted; one step outside each range is refused at the lead byte.
TEST(ParseJson, Utf8BoundariesAreExact) {
    for (const char* good : {"\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xE1\x80\x80",
                             "\xEC\xBF\xBF", "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF",
                             "\xF0\x90\x80\x80", "\xF3\xBF\xBF\xBF", "\xF4\x8F\xBF\xBF"}) {
        const std::string body = "[\"" + std::string(good) + "\"]";
        EXPECT_TRUE(parse(body).ok) << parse(body).error;
    }
    for (const char* bad : {"\xC1\xBF",          // overlong U+007F
                            "\xC3\xC0",          // second byte not a continuation
                            "\xE0\x9F\xBF",      // overlong U+07FF
                            "\xE2\x82\x41",      // third byte not a continuation
                            "\xED\xA0\x80",      // surrogate U+D800
                            "\xF0\x8F\xBF\xBF",  // overlong U+FFFF
                            "\xF0\x9F\x98\x41",  // fourth byte not a continuation
                            "\xF4\x90\x80\x80",  // U+110000
                            "\xF5\x80\x80\x80", "\xF8\x88\x80\x80\x80", "\xFE", "\xFF"}) {
        EXPECT_EQ(parse("[\"" + std::string(bad) + "\"]").error, "invalid UTF-8 at offset 2")
            << bad;
    }
}

// A character cut by the end of the view is bad UTF-8 at its first byte, even when the bytes
// that would complete it follow in memory; a whole character at the very end is fine as
// UTF-8 and the body is judged as JSON.
TEST(ParseJson, CharacterCutByTheEndOfTheViewIsBadUtf8) {
    const std::string buffer = "[\"\xE2\x82\xAC\"]";
    EXPECT_EQ(parse(std::string_view(buffer.data(), 3)).error, "invalid UTF-8 at offset 2");
    EXPECT_EQ(parse(std::string_view(buffer.data(), 4)).error, "invalid UTF-8 at offset 2");
    EXPECT_EQ(parse(std::string_view(buffer.data(), 5)).error,
              "invalid JSON at offset 5: Missing a closing quotation mark in string.");
}

TEST(ParseJson, ValidUtf8IsAccepted) {
    rapidjson::Document doc;
    std::string error;
    ASSERT_TRUE(parse_json("[\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"]", {}, doc, error))
        << error;
    EXPECT_STREQ(doc[0].GetString(), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST(ParseJson, TruncatedMultibyteAtEndOfBodyDoesNotOverread) {
    const std::string buffer = "[\"\xE2\x82\xAC\"]";
    for (std::size_t n = 0; n < buffer.size(); ++n) {
        EXPECT_FALSE(parse(std::string_view(buffer.data(), n)).ok) << n;
    }
}

TEST(ParseJson, UnicodeEscapes) {
    rapidjson::Document doc;
    std::string error;
    ASSERT_TRUE(parse_json(R"(["\u00e9\ud83d\ude00"])", {}, doc, error)) << error;
    EXPECT_STREQ(doc[0].GetString(), "\xC3\xA9\xF0\x9F\x98\x80");
    EXPECT_FALSE(parse(R"(["\ud83d"])").ok);  // high surrogate alone
    const Parsed low = parse(R"(["\ude00"])");  // low surrogate alone would yield bad UTF-8
    EXPECT_FALSE(low.ok);
    EXPECT_NE(low.error.find("surrogate"), std::string::npos) << low.error;
    EXPECT_FALSE(parse(R"({"\udc00":1})").ok);
}

// Strings are only searched for surrogates when the raw body has a \uD… escape: every way
// of writing one must still be caught, and a literal backslash before "uD…" is text.
TEST(ParseJson, SurrogateEscapesAreFoundHoweverWritten) {
    EXPECT_FALSE(parse(R"(["\uDE00"])").ok);                      // upper case
    EXPECT_FALSE(parse(R"(["\u00e9", "\u0041", "x\uDc01y"])").ok);  // after other escapes
    EXPECT_FALSE(parse(R"(["\\\ude00"])").ok);                     // after an escaped backslash
    const Parsed text = parse(R"(["\\uDE00"])");                   // backslash, then text
    ASSERT_TRUE(text.ok) << text.error;
    EXPECT_TRUE(parse(R"(["\uD83D\uDE00"])").ok);                  // a pair is a character
}

TEST(ParseJson, EscapedNulIsData) {
    rapidjson::Document doc;
    std::string error;
    ASSERT_TRUE(parse_json(R"({"a":"x\u0000y"})", {}, doc, error)) << error;
    EXPECT_EQ(std::string(doc["a"].GetString(), doc["a"].GetStringLength()), "x\0y"s);
}

TEST(ParseJson, RawNulByteAfterRootIsRejected) {
    const std::string body = "{\"a\":1}\0junk"s;
    ASSERT_EQ(body.size(), 12u);
    const Parsed p = parse(body);
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "invalid JSON at offset 7: unexpected NUL byte");
    EXPECT_FALSE(parse("{}\0"s).ok);
    EXPECT_FALSE(parse("{} \0 "s).ok);
}

TEST(ParseJson, RawNulByteInsideIsRejected) {
    EXPECT_EQ(parse("{\"a\":\"x\0y\"}"s).error, "invalid JSON at offset 7: unexpected NUL byte");
    EXPECT_EQ(parse("{\"a\":\0}"s).error, "invalid JSON at offset 5: unexpected NUL byte");
    EXPECT_EQ(parse("\0{}"s).error, "invalid JSON at offset 0: unexpected NUL byte");
    EXPECT_FALSE(parse("\0"s).ok);
    EXPECT_FALSE(parse("[1,\0 2]"s).ok);
}

// Past a limit of 256 the iterative parser runs: it must be just as strict.
TEST(ParseJson, IterativeParserIsJustAsStrict) {
    const std::size_t limit = 1000;
    ASSERT_TRUE(parse(R"({"a":[1,2]})", limit).ok);
    EXPECT_EQ(parse(R"({"a":1} x)", limit).error,
              "invalid JSON at offset 8: The document root must not be followed by other values.");
    EXPECT_FALSE(parse("{}{}", limit).ok);
    EXPECT_EQ(parse("{\"a\":1}\0junk"s, limit).error, "invalid JSON at offset 7: unexpected NUL byte");
    EXPECT_FALSE(parse("NaN", limit).ok);
    EXPECT_FALSE(parse(R"({"a":-Infinity})", limit).ok);
    EXPECT_FALSE(parse(R"({"a":1,})", limit).ok);
    EXPECT_FALSE(parse("[1,]", limit).ok);
    EXPECT_FALSE(parse(R"({"a":1 /* c */})", limit).ok);
    EXPECT_FALSE(parse(R"(["\ude00"])", limit).ok);
}

// An error at the very end of the body is not a NUL byte, even when the caller's buffer
// has its terminating NUL right there.
TEST(ParseJson, ErrorAtTheEndIsNotCalledANul) {
    const std::string body = "[1,";
    EXPECT_EQ(parse(body).error, "invalid JSON at offset 3: Invalid value.");
}

TEST(ParseJson, EveryKindOfFailureLeavesDocumentNull) {
    rapidjson::Document doc;
    std::string error;
    for (const std::string bad : {""s, " "s, "[\"\xFF\"]"s, "{}\0"s, R"(["\ude00"])"s}) {
        ASSERT_TRUE(parse_json(R"({"a":1})", {}, doc, error));
        EXPECT_FALSE(parse_json(bad, {}, doc, error)) << bad;
        EXPECT_TRUE(doc.IsNull()) << bad;
    }
}

TEST(ParseJson, FailureLeavesDocumentNull) {
    rapidjson::Document doc;
    std::string error;
    ASSERT_TRUE(parse_json(R"({"a":1})", {}, doc, error));
    EXPECT_FALSE(parse_json(R"({"a":)", {}, doc, error));
    EXPECT_TRUE(doc.IsNull());
    EXPECT_FALSE(parse_json(nested_arrays(100), {}, doc, error));
    EXPECT_TRUE(doc.IsNull());
}

TEST(ParseJson, DocumentCanBeReused) {
    rapidjson::Document doc;
    std::string error;
    ASSERT_TRUE(parse_json(R"({"a":1})", {}, doc, error));
    ASSERT_TRUE(parse_json(R"([2])", {}, doc, error));
    ASSERT_TRUE(doc.IsArray());
    EXPECT_EQ(doc[0].GetInt(), 2);
}

TEST(ParseJson, EveryPrefixOfAPayloadFailsCleanly) {
    const std::string body =
        R"({"charge":{"id":90001,"customer":{"id":71003,"email":"l@example.com"},)"
        R"("line_items":[{"purchase_item_id":501003,"price":"29.00"}],"ok":true,"n":null,)"
        R"("f":-1.5e3}})";
    ASSERT_TRUE(parse(body).ok);
    for (std::size_t n = 0; n < body.size(); ++n) {
        EXPECT_FALSE(parse(std::string_view(body.data(), n)).ok) << n;
    }
}

TEST(ParseJson, LargeNumbers) {
    rapidjson::Document doc;
    std::string error;
    ASSERT_TRUE(parse_json("[9223372036854775807,18446744073709551615,-9223372036854775808]",
                           {}, doc, error))
        << error;
    EXPECT_TRUE(doc[0].IsInt64());
    EXPECT_TRUE(doc[1].IsUint64());
    EXPECT_TRUE(doc[2].IsInt64());
}

}  // namespace
}  // namespace churnwatch
