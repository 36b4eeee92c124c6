// Known-answer tests for the crypto helpers. Expected values come from FIPS 180-2 / RFC 4231 /
// RFC 4648, or were computed with `openssl dgst` / Python's hmac module (never with this code).
#include "crypto.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace churnwatch::crypto {
namespace {

std::string bytes(const Digest& d) { return std::string(d.begin(), d.end()); }

std::string unhex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
    }
    return out;
}

// ---- SHA-256 -------------------------------------------------------------------------------

TEST(Sha256, NistAbc) {
    EXPECT_EQ(to_hex(sha256("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, Empty) {
    EXPECT_EQ(to_hex(sha256("")),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, TwoPartsAreConcatenatedWithoutSeparator) {
    EXPECT_EQ(to_hex(sha256("a", "bc")), to_hex(sha256("abc")));
    EXPECT_EQ(to_hex(sha256("", "abc")), to_hex(sha256("abc")));
    EXPECT_EQ(to_hex(sha256("ab", "c")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, NistTwoBlockMessage) {
    EXPECT_EQ(to_hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// ---- HMAC-SHA256 (RFC 4231) ----------------------------------------------------------------

constexpr const char* kRfc4231Case1 =
    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
constexpr const char* kRfc4231Case2 =
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

TEST(HmacSha256, Rfc4231Case1) {
    std::string key(20, '\x0b');
    EXPECT_EQ(to_hex(hmac_sha256(key, "Hi There")), kRfc4231Case1);
}

TEST(HmacSha256, Rfc4231Case2) {
    EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")), kRfc4231Case2);
}

TEST(HmacSha256, EmptyKeyWorks) {
    // python3 -c "import hmac,hashlib;print(hmac.new(b'',b'abc',hashlib.sha256).hexdigest())"
    EXPECT_EQ(to_hex(hmac_sha256("", "abc")),
              "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351");
    EXPECT_EQ(to_hex(HmacKey("").mac("abc")),
              "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351");
}

TEST(HmacKey, Rfc4231Vectors) {
    EXPECT_EQ(to_hex(HmacKey(std::string(20, '\x0b')).mac("Hi There")), kRfc4231Case1);
    EXPECT_EQ(to_hex(HmacKey("Jefe").mac("what do ya want for nothing?")), kRfc4231Case2);
}

TEST(HmacKey, PartsAreConcatenated) {
    HmacKey key("Jefe");
    EXPECT_EQ(to_hex(key.mac("what do ya ", "want for ", "nothing?")), kRfc4231Case2);
    EXPECT_EQ(to_hex(key.mac("", "what do ya want for nothing?", "")), kRfc4231Case2);
}

TEST(HmacKey, ReusableAndIndependentAcrossCalls) {
    HmacKey key("Jefe");
    Digest other = key.mac("something else");
    EXPECT_EQ(to_hex(key.mac("what do ya want for nothing?")), kRfc4231Case2);
    EXPECT_EQ(to_hex(key.mac("what do ya want for nothing?")), kRfc4231Case2);
    EXPECT_NE(to_hex(other), kRfc4231Case2);
}

TEST(HmacKey, MoveKeepsTheKey) {
    HmacKey a("Jefe");
    HmacKey b(std::move(a));
    EXPECT_EQ(to_hex(b.mac("what do ya want for nothing?")), kRfc4231Case2);
    HmacKey c(std::string(20, '\x0b'));
    c = std::move(b);
    EXPECT_EQ(to_hex(c.mac("what do ya want for nothing?")), kRfc4231Case2);
}

TEST(HmacKey, ConcurrentUseFromSeveralThreads) {
    const HmacKey key("Jefe");
    std::vector<std::thread> threads;
    std::vector<int> good(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                good[t] += to_hex(key.mac("what do ya want for nothing?")) == kRfc4231Case2;
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int g : good) EXPECT_EQ(g, 200);
}

// ---- hex -----------------------------------------------------------------------------------

TEST(Hex, ToHexIsLowercase) {
    const unsigned char data[] = {0x00, 0x01, 0xab, 0xCD, 0xff};
    EXPECT_EQ(to_hex(data, sizeof data), "0001abcdff");
    EXPECT_EQ(to_hex(data, 0), "");
}

TEST(Hex, DigestRoundTrip) {
    const std::string hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    auto d = digest_from_hex(hex);
    ASSERT_TRUE(d);
    EXPECT_EQ(to_hex(*d), hex);
    EXPECT_EQ(bytes(*d), unhex(hex));
}

TEST(Hex, UppercaseAndMixedCaseAccepted) {
    const std::string lower = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const std::string upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
    const std::string mixed = "Ba7816bF8f01cfEA414140de5dae2223b00361a396177a9cb410ff61f20015aD";
    ASSERT_TRUE(digest_from_hex(upper));
    ASSERT_TRUE(digest_from_hex(mixed));
    EXPECT_EQ(to_hex(*digest_from_hex(upper)), lower);
    EXPECT_EQ(to_hex(*digest_from_hex(mixed)), lower);
}

TEST(Hex, WrongLengthRejected) {
    const std::string hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    EXPECT_FALSE(digest_from_hex(hex.substr(0, 63)));
    EXPECT_FALSE(digest_from_hex(hex + "0"));
    EXPECT_FALSE(digest_from_hex(hex.substr(0, 62)));
    EXPECT_FALSE(digest_from_hex(hex + "00"));
    EXPECT_FALSE(digest_from_hex(""));
}

TEST(Hex, NonHexRejected) {
    std::string hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    for (char bad : {'g', 'G', 'z', ' ', '-', '\0', 'x'}) {
        std::string h = hex;
        h[10] = bad;
        EXPECT_FALSE(digest_from_hex(h)) << "char " << int(bad);
    }
    std::string spaced = " " + hex.substr(1);
    EXPECT_FALSE(digest_from_hex(spaced));
}

// ---- constant-time equality ----------------------------------------------------------------

TEST(EqualCt, Digests) {
    Digest a = sha256("abc");
    Digest b = sha256("abc");
    Digest c = a;
    c[31] ^= 1;
    Digest d = a;
    d[0] ^= 0x80;
    EXPECT_TRUE(equal_ct(a, b));
    EXPECT_FALSE(equal_ct(a, c));
    EXPECT_FALSE(equal_ct(a, d));
}

TEST(EqualCt, Strings) {
    EXPECT_TRUE(equal_ct(std::string_view("v1,abc"), std::string_view("v1,abc")));
    EXPECT_TRUE(equal_ct(std::string_view(""), std::string_view("")));
    EXPECT_FALSE(equal_ct(std::string_view("v1,abc"), std::string_view("v1,abd")));
    EXPECT_FALSE(equal_ct(std::string_view("v1,abc"), std::string_view("v1,ab")));
    EXPECT_FALSE(equal_ct(std::string_view("v1,ab"), std::string_view("v1,abc")));
    EXPECT_FALSE(equal_ct(std::string_view(""), std::string_view("a")));
    EXPECT_TRUE(equal_ct(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
    EXPECT_FALSE(equal_ct(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

// ---- base64 (RFC 4648 section 10) ----------------------------------------------------------

TEST(Base64, Rfc4648Vectors) {
    const std::pair<const char*, const char*> cases[] = {
        {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (auto [plain, encoded] : cases) {
        EXPECT_EQ(base64_encode(plain), encoded);
        auto decoded = base64_decode(encoded);
        ASSERT_TRUE(decoded) << encoded;
        EXPECT_EQ(*decoded, plain);
    }
}

TEST(Base64, AlphabetEdgesAndBinaryRoundTrip) {
    EXPECT_EQ(base64_encode(unhex("fbff")), "+/8=");
    EXPECT_EQ(base64_encode(unhex("000000")), "AAAA");
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (std::size_t n = 0; n <= all.size(); n += 37) {
        std::string part = all.substr(all.size() - n);
        auto back = base64_decode(base64_encode(part));
        ASSERT_TRUE(back) << n;
        EXPECT_EQ(*back, part);
    }
    auto back = base64_decode(base64_encode(all));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, all);
}

TEST(Base64, InvalidInputRejected) {
    for (const char* bad : {
             "Zg",        // missing padding
             "Zg=",       // length not a multiple of 4
             "Z===",      // three padding characters
             "====",      // only padding
             "Zg==Zg==",  // padding in the middle
             "Z=g=",      // padding before data
             "Zm9v\n",    // whitespace
             "Zm 9v",     // whitespace
             "Zm9-",      // URL-safe alphabet
             "Zm9_",      // URL-safe alphabet
             "Zm9*",      // not base64
             "Zh==",      // non-zero unused bits (canonical: Zg==)
             "Zm9=",      // non-zero unused bits (canonical: Zm8=)
         }) {
        EXPECT_FALSE(base64_decode(bad)) << bad;
    }
    EXPECT_FALSE(base64_decode(std::string_view("Zm9\0", 4)));
}

}  // namespace
}  // namespace churnwatch::crypto
