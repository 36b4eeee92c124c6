#include "country_code.h"

#include <string>

#include <gtest/gtest.h>

#include "country_code_table.h"

namespace churnwatch {
namespace {

std::string code(std::string_view text) { return std::string(country_code(text).value_or("-")); }

// 2021-01 customers carry Recharge's (Shopify's) country name, 2021-11 billing addresses the
// code: both give the same alpha-2 code.
TEST(CountryCode, NamesAndCodesAsRechargeSendsThemGiveOneCode) {
    EXPECT_EQ(code("United States"), "US");
    EXPECT_EQ(code("US"), "US");
    EXPECT_EQ(code("us"), "US");
    EXPECT_EQ(code("USA"), "US");
    EXPECT_EQ(code("United States of America"), "US");
    EXPECT_EQ(code("United Kingdom"), "GB");
    EXPECT_EQ(code("UK"), "GB");
    EXPECT_EQ(code("Germany"), "DE");
    EXPECT_EQ(code("  canada "), "CA");
}

TEST(CountryCode, ShopifyAndIsoSpellingsMeet) {
    EXPECT_EQ(code("St. Lucia"), "LC");
    EXPECT_EQ(code("Saint Lucia"), "LC");
    EXPECT_EQ(code("Bosnia & Herzegovina"), "BA");
    EXPECT_EQ(code("Bosnia and Herzegovina"), "BA");
    EXPECT_EQ(code("South Korea"), "KR");
    EXPECT_EQ(code("Korea, Republic of"), "KR");
    EXPECT_EQ(code("Russia"), "RU");
    EXPECT_EQ(code("Russian Federation"), "RU");
    EXPECT_EQ(code("Vietnam"), "VN");
    EXPECT_EQ(code("Viet Nam"), "VN");
    EXPECT_EQ(code("Czechia"), "CZ");
    EXPECT_EQ(code("Czech Republic"), "CZ");
    EXPECT_EQ(code("Türkiye"), "TR");
    EXPECT_EQ(code("Turkey"), "TR");
    EXPECT_EQ(code("Côte d'Ivoire"), "CI");
    EXPECT_EQ(code("Cote d’Ivoire"), "CI");
    EXPECT_EQ(code("Congo - Kinshasa"), "CD");
    EXPECT_EQ(code("The Netherlands"), "NL");
    EXPECT_EQ(code("Netherlands"), "NL");
}

// "St." and "Saint" are one word wherever they stand, not only in the spellings the table
// lists: each of these is the other form of a table entry ("St. Helena", "Saint Pierre and
// Miquelon", "St. Martin", "St. Vincent & Grenadines").
TEST(CountryCode, StAndSaintMeetInSpellingsTheTableDoesNotList) {
    EXPECT_EQ(code("Saint Helena"), "SH");
    EXPECT_EQ(code("St. Pierre and Miquelon"), "PM");
    EXPECT_EQ(code("Saint Martin"), "MF");
    EXPECT_EQ(code("Saint Vincent & Grenadines"), "VC");
}

// Bytes beyond ASCII are part of the word, not separators: a name whose accented letter came
// through as a space or as another letter gives no code, rather than meeting the table's
// name split in two at that letter ("Türkiye" read as "T rkiye").
TEST(CountryCode, AGarbledAccentedLetterGivesNothing) {
    EXPECT_EQ(code("T rkiye"), "-");
    EXPECT_EQ(code("Curaéao"), "-");
    EXPECT_EQ(code("Cura ao"), "-");
}

TEST(CountryCode, WhatNamesNoCountryGivesNothing) {
    EXPECT_EQ(code(""), "-");
    EXPECT_EQ(code("Atlantis"), "-");
    EXPECT_EQ(code("XX"), "-");
    EXPECT_EQ(code("the"), "-");
    EXPECT_EQ(code("St."), "-");
    EXPECT_EQ(code(std::string(1000, 'a')), "-");
}

// Every name in the table finds its own country: no two countries' names fold alike (the
// first would silently win).
TEST(CountryCode, EveryNameInTheTableGivesItsOwnCode) {
    EXPECT_GE(kCountryNamesCount, 249u);
    for (std::size_t i = 0; i < kCountryNamesCount; ++i) {
        const CountryNames& c = kCountryNames[i];
        EXPECT_EQ(code(c.code), c.code);
        for (const char* name : c.names) {
            if (name == nullptr) continue;
            EXPECT_EQ(code(name), c.code) << name;
        }
    }
}

}  // namespace
}  // namespace churnwatch
