#include "utf8_text.h"

#include <gtest/gtest.h>

#include <string>

using namespace churnwatch;

namespace {

// "é" is 2 bytes, "…" 3, "😀" 4.
const std::string kMixed = "a\xC3\xA9\xE2\x80\xA6\xF0\x9F\x98\x80z";  // aé…😀z: 11 bytes, 5 characters

}  // namespace

TEST(Utf8Text, CountsCharactersNotBytes) {
    EXPECT_EQ(utf8::char_count(""), 0u);
    EXPECT_EQ(utf8::char_count("plain"), 5u);
    EXPECT_EQ(utf8::char_count(kMixed), 5u);
}

TEST(Utf8Text, AHeadByBytesEndsBetweenCharacters) {
    EXPECT_EQ(utf8::head_bytes(kMixed, 100), kMixed);
    EXPECT_EQ(utf8::head_bytes(kMixed, 11), kMixed);
    EXPECT_EQ(utf8::head_bytes(kMixed, 1), "a");
    EXPECT_EQ(utf8::head_bytes(kMixed, 2), "a");  // not half of é
    EXPECT_EQ(utf8::head_bytes(kMixed, 3), "a\xC3\xA9");
    EXPECT_EQ(utf8::head_bytes(kMixed, 5), "a\xC3\xA9");  // not two thirds of …
    EXPECT_EQ(utf8::head_bytes(kMixed, 9), "a\xC3\xA9\xE2\x80\xA6");  // not three quarters of 😀
    EXPECT_EQ(utf8::head_bytes(kMixed, 10), kMixed.substr(0, 10));
    EXPECT_EQ(utf8::head_bytes(kMixed, 0), "");
}

TEST(Utf8Text, ATailByBytesStartsAtACharacter) {
    EXPECT_EQ(utf8::tail_bytes(kMixed, 100), kMixed);
    EXPECT_EQ(utf8::tail_bytes(kMixed, 1), "z");
    EXPECT_EQ(utf8::tail_bytes(kMixed, 4), "z");  // not the last 3 bytes of 😀
    EXPECT_EQ(utf8::tail_bytes(kMixed, 5), "\xF0\x9F\x98\x80z");
    EXPECT_EQ(utf8::tail_bytes(kMixed, 7), "\xF0\x9F\x98\x80z");  // not part of …
    EXPECT_EQ(utf8::tail_bytes(kMixed, 0), "");
}

TEST(Utf8Text, BytesThatAreNotUtf8AreCutNearTheLimitNotEmptied) {
    const std::string garbage(20, '\x80');  // continuation bytes only
    EXPECT_EQ(utf8::head_bytes(garbage, 10).size(), 7u);
    EXPECT_EQ(utf8::tail_bytes(garbage, 10).size(), 7u);
}

TEST(Utf8Text, AHeadByCharacters) {
    EXPECT_EQ(utf8::head_chars(kMixed, 0), "");
    EXPECT_EQ(utf8::head_chars(kMixed, 2), "a\xC3\xA9");
    EXPECT_EQ(utf8::head_chars(kMixed, 4), "a\xC3\xA9\xE2\x80\xA6\xF0\x9F\x98\x80");
    EXPECT_EQ(utf8::head_chars(kMixed, 5), kMixed);
    EXPECT_EQ(utf8::head_chars(kMixed, 50), kMixed);
}

TEST(Utf8Text, ControlCharactersBecomeSpaces) {
    EXPECT_EQ(utf8::single_line("one\ntwo\r\tthree\x1b[0m"), "one two  three [0m");
    EXPECT_EQ(utf8::single_line(kMixed), kMixed);  // bytes over 0x7f are kept
}
