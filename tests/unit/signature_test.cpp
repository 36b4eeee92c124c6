// Recharge signature verification. Every expected digest below was computed with
// `openssl dgst -sha256 [-hmac <secret>]` over the exact bytes, never with the code under test.
#include "signature.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <utility>

namespace churnwatch {
namespace {

using namespace std::chrono_literals;

// The reference vector (compact JSON, no trailing newline).
constexpr std::string_view kSecret = "shjk_test_client_secret_0123456789abcdef";
constexpr std::string_view kBody =
    R"({"id":734031438,"type":"order/created","shop_id":438291,"order":{"id":123456789,)"
    R"("customer":{"id":8991507},"status":"queued","total_price":"19.99","currency":"USD"}})";
// printf '%s%s' "$SECRET" "$BODY" | openssl dgst -sha256
constexpr std::string_view kLegacy =
    "9e99d3bdb37c9b7621f929bd402fe24abf3961dab7dd0821a6fd0414a2dd0ca8";
// Common mistakes: sha256(body ‖ secret) and hmac(secret, body).
constexpr std::string_view kLegacyBodyFirst =
    "d84ac262efa5b07e603eecf77b1f6d6468b448caf09bbf79d4c243ba84d93795";
constexpr std::string_view kLegacyHmac =
    "2deb536c47dd0c7ca2e372c812c708a785c2d08849c7e058352d4f109aa24fe2";
// printf '1700000000.%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET"
constexpr int64_t kT = 1700000000;
constexpr std::string_view kV1 =
    "34b41243127c421563baa2a35e346522f8044c0c0443c8851ac6392bfbab0d42";

// A second, rotated-in secret and its signatures over the same body.
constexpr std::string_view kSecret2 = "shjk_rotated_secret_fedcba9876543210";
// printf '%s%s' "$SECRET2" "$BODY" | openssl dgst -sha256
constexpr std::string_view kLegacy2 =
    "f9e6bd96d3f8aea7f222b7d79794dd06c9a3bbb7e43d77020487f5bc27a2b7b7";
// printf '1700000000.%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET2"
constexpr std::string_view kV1Secret2 =
    "a0afad7fc6768c18d12b4858ba58f7b2552cf1e7cfc258712113c031adce341e";
// printf '1699990000.%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" (another timestamp)
constexpr std::string_view kV1At1699990000 =
    "aefe831131ab055de4a09cd6d0f692e42dac4eaa2fb128de1084926e96bc2070";

// The body with one byte changed ("id":734031439):
constexpr std::string_view kBodyChanged =
    R"({"id":734031439,"type":"order/created","shop_id":438291,"order":{"id":123456789,)"
    R"("customer":{"id":8991507},"status":"queued","total_price":"19.99","currency":"USD"}})";
// printf '%s%s' "$SECRET" "$BODY_CHANGED" | openssl dgst -sha256  (shows the change matters)
constexpr std::string_view kLegacyChanged =
    "d90624f0a3f5f0b7a0fe52c364a4826fa145d3030bfd715bb8768f9603695a0b";

constexpr int64_t k48h = 48 * 3600;

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

std::string ts_header(int64_t t, std::string_view v1) {
    return "t=" + std::to_string(t) + ",v1=" + std::string(v1);
}

SignatureHeaders legacy_only(std::string_view legacy) {
    SignatureHeaders h;
    h.legacy = legacy;
    return h;
}

SignatureHeaders timestamped_only(std::string_view sig,
                                  std::optional<std::string_view> ts = std::nullopt) {
    SignatureHeaders h;
    h.timestamped = sig;
    h.timestamp = ts;
    return h;
}

// The detail is logged: it must never carry a secret or a whole signature (any long hex run).
void expect_clean_detail(const SignatureResult& r) {
    EXPECT_FALSE(r.detail.empty());
    EXPECT_EQ(r.detail.find(kSecret), std::string::npos) << r.detail;
    EXPECT_EQ(r.detail.find(kSecret2), std::string::npos) << r.detail;
    std::size_t run = 0, longest = 0;
    for (unsigned char c : r.detail) {
        run = std::isxdigit(c) ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    EXPECT_LT(longest, 32u) << r.detail;
}

void expect_ok(const SignatureResult& r, SignatureScheme scheme, std::size_t key_index = 0) {
    EXPECT_TRUE(r.ok) << r.detail;
    EXPECT_EQ(r.failure, SignatureFailure::None) << r.detail;
    EXPECT_EQ(r.scheme, scheme) << r.detail;
    EXPECT_EQ(r.key_index, key_index) << r.detail;
    expect_clean_detail(r);
}

void expect_fail(const SignatureResult& r, SignatureFailure f, SignatureScheme scheme) {
    EXPECT_FALSE(r.ok) << r.detail;
    EXPECT_EQ(r.failure, f) << to_string(r.failure) << ": " << r.detail;
    EXPECT_EQ(r.scheme, scheme) << r.detail;
    expect_clean_detail(r);
}

class SignatureTest : public ::testing::Test {
protected:
    KeyRing ring_{{std::string(kSecret)}, std::chrono::seconds(k48h)};  // the tests below count in 48 h
};

// ---- names ---------------------------------------------------------------------------------

TEST(SignatureNames, ToString) {
    EXPECT_EQ(to_string(SignatureScheme::None), "none");
    EXPECT_EQ(to_string(SignatureScheme::Legacy), "legacy");
    EXPECT_EQ(to_string(SignatureScheme::Timestamped), "timestamped");
    EXPECT_EQ(to_string(SignatureFailure::None), "ok");
    EXPECT_EQ(to_string(SignatureFailure::Missing), "missing");
    EXPECT_EQ(to_string(SignatureFailure::Malformed), "malformed");
    EXPECT_EQ(to_string(SignatureFailure::Mismatch), "mismatch");
    EXPECT_EQ(to_string(SignatureFailure::Stale), "stale");
    EXPECT_EQ(to_string(SignatureFailure::NoSecrets), "no_secrets");
    EXPECT_EQ(to_string(SignatureFailure::Suspect), "suspect");
}

TEST(KeyRingBasics, SizeAndWindow) {
    KeyRing a({std::string(kSecret)});
    EXPECT_EQ(a.size(), 1u);
    EXPECT_EQ(a.window(), 50h);  // as serve's default: Recharge's 48 h of retries and some
    KeyRing b({std::string(kSecret), std::string(kSecret2)}, 10min);
    EXPECT_EQ(b.size(), 2u);
    EXPECT_EQ(b.window(), 600s);
}

// ---- legacy --------------------------------------------------------------------------------

TEST_F(SignatureTest, LegacyValid) {
    expect_ok(ring_.verify(legacy_only(kLegacy), kBody, kT), SignatureScheme::Legacy);
}

TEST_F(SignatureTest, LegacyIgnoresTheClock) {
    // The legacy hash binds no time: any "now" is fine.
    expect_ok(ring_.verify(legacy_only(kLegacy), kBody, 0), SignatureScheme::Legacy);
}

TEST_F(SignatureTest, LegacyOneChangedBodyByteIsMismatch) {
    expect_fail(ring_.verify(legacy_only(kLegacy), kBodyChanged, kT), SignatureFailure::Mismatch,
                SignatureScheme::Legacy);
    // Sanity check of the vector itself: the changed body has its own valid hash.
    expect_ok(ring_.verify(legacy_only(kLegacyChanged), kBodyChanged, kT),
              SignatureScheme::Legacy);
}

// SHA-256(secret ‖ body) from a captured (body, hash) pair, extended by `more`, without the
// secret: the state after secret ‖ body ‖ padding is the hash itself. Returns the forged body
// (body ‖ padding ‖ more) and its hash. What an attacker can do with the legacy scheme.
std::pair<std::string, std::string> length_extend(std::string_view body, std::string_view hex_hash,
                                                  std::size_t secret_len, std::string_view more) {
    const std::uint64_t prefix = secret_len + body.size();
    std::string padding = "\x80";
    while ((prefix + padding.size()) % 64 != 56) padding += '\0';
    for (int i = 7; i >= 0; --i) padding += static_cast<char>(((prefix * 8) >> (8 * i)) & 0xff);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    for (int i = 0; i < 8; ++i) ctx.h[i] = static_cast<SHA_LONG>(std::stoul(std::string(hex_hash.substr(8 * i, 8)), nullptr, 16));
    const std::uint64_t done_bits = (prefix + padding.size()) * 8;
    ctx.Nl = static_cast<SHA_LONG>(done_bits & 0xffffffff);
    ctx.Nh = static_cast<SHA_LONG>(done_bits >> 32);
    SHA256_Update(&ctx, more.data(), more.size());
    unsigned char out[32];
    SHA256_Final(out, &ctx);
#pragma GCC diagnostic pop
    std::string hex;
    for (unsigned char c : out) {
        char b[3];
        std::snprintf(b, sizeof b, "%02x", c);
        hex += b;
    }
    return {std::string(body) + padding + std::string(more), hex};
}

// The forgery works on the hash (checked with the secret, as Recharge would compute it), and
// is refused: the padding puts NUL bytes in the body, which no Recharge delivery has.
TEST_F(SignatureTest, LegacyLengthExtensionIsRefusedAsSuspect) {
    auto [forged, hash] = length_extend(kBody, kLegacy, kSecret.size(), R"(,"forged":true})");
    ASSERT_EQ(crypto::to_hex(crypto::sha256(kSecret, forged)), hash) << "the forgery itself is wrong";
    auto r = ring_.verify(legacy_only(hash), forged, kT);
    expect_fail(r, SignatureFailure::Suspect, SignatureScheme::Legacy);
    EXPECT_NE(r.detail.find("length extension"), std::string::npos) << r.detail;
    // A NUL byte is what gives it away, whatever follows it.
    std::string with_nul = std::string(kBody) + std::string(1, '\0');
    expect_fail(ring_.verify(legacy_only(crypto::to_hex(crypto::sha256(kSecret, with_nul))), with_nul, kT),
                SignatureFailure::Suspect, SignatureScheme::Legacy);
}

TEST_F(SignatureTest, LegacyTrailingNewlineInBodyIsMismatch) {
    expect_fail(ring_.verify(legacy_only(kLegacy), std::string(kBody) + "\n", kT),
                SignatureFailure::Mismatch, SignatureScheme::Legacy);
}

// The NUL check comes after the hash: a body with a NUL byte whose hash matches no secret is
// an ordinary mismatch (anyone can send one), not a suspected length extension of a genuine one.
TEST_F(SignatureTest, ABodyWithANulByteAndAWrongHashIsAPlainMismatch) {
    std::string with_nul = std::string(kBody) + std::string(1, '\0');
    SignatureResult r = ring_.verify(legacy_only(kLegacy), with_nul, kT);
    expect_fail(r, SignatureFailure::Mismatch, SignatureScheme::Legacy);
    EXPECT_EQ(r.detail, "legacy signature matches no configured secret");
}

TEST_F(SignatureTest, LegacyUppercaseHexAccepted) {
    std::string up = upper(kLegacy);
    expect_ok(ring_.verify(legacy_only(up), kBody, kT), SignatureScheme::Legacy);
}

TEST_F(SignatureTest, LegacySurroundingWhitespaceTolerated) {
    std::string padded = " " + std::string(kLegacy) + "\t";
    expect_ok(ring_.verify(legacy_only(padded), kBody, kT), SignatureScheme::Legacy);
}

TEST_F(SignatureTest, LegacyBodyFirstMistakeRejected) {
    expect_fail(ring_.verify(legacy_only(kLegacyBodyFirst), kBody, kT),
                SignatureFailure::Mismatch, SignatureScheme::Legacy);
}

TEST_F(SignatureTest, LegacyHmacMistakeRejected) {
    expect_fail(ring_.verify(legacy_only(kLegacyHmac), kBody, kT), SignatureFailure::Mismatch,
                SignatureScheme::Legacy);
}

TEST(Signature, LegacyWrongSecret) {
    KeyRing ring({"shjk_some_other_secret"});
    expect_fail(ring.verify(legacy_only(kLegacy), kBody, kT), SignatureFailure::Mismatch,
                SignatureScheme::Legacy);
}

TEST(Signature, LegacyKeyRotationSecondSecretMatches) {
    KeyRing ring({std::string(kSecret2), std::string(kSecret)});
    expect_ok(ring.verify(legacy_only(kLegacy), kBody, kT), SignatureScheme::Legacy, 1);
    expect_ok(ring.verify(legacy_only(kLegacy2), kBody, kT), SignatureScheme::Legacy, 0);
}

TEST_F(SignatureTest, LegacyMalformedShort) {
    expect_fail(ring_.verify(legacy_only(kLegacy.substr(0, 63)), kBody, kT),
                SignatureFailure::Malformed, SignatureScheme::Legacy);
    expect_fail(ring_.verify(legacy_only(""), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Legacy);
}

TEST_F(SignatureTest, LegacyMalformedLong) {
    std::string longer = std::string(kLegacy) + "0";
    expect_fail(ring_.verify(legacy_only(longer), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Legacy);
}

TEST_F(SignatureTest, LegacyMalformedNonHex) {
    std::string bad(kLegacy);
    bad[5] = 'g';
    expect_fail(ring_.verify(legacy_only(bad), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Legacy);
    // The base64 form of a digest is a plausible mistake by a sender; also malformed.
    const std::string b64 = "npnTvbN8m3Yh+Sm9QC/iSr85Ydq33Qghpv0EFKLdDKg=";
    expect_fail(ring_.verify(legacy_only(b64), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Legacy);
}

// ---- configuration and missing headers -----------------------------------------------------

TEST(Signature, NoSecrets) {
    KeyRing ring({});
    expect_fail(ring.verify(legacy_only(kLegacy), kBody, kT), SignatureFailure::NoSecrets,
                SignatureScheme::None);
    std::string ts = ts_header(kT, kV1);
    expect_fail(ring.verify(timestamped_only(ts), kBody, kT), SignatureFailure::NoSecrets,
                SignatureScheme::None);
    expect_fail(ring.verify({}, kBody, kT), SignatureFailure::NoSecrets, SignatureScheme::None);
}

TEST(Signature, EmptySecretsCountAsNone) {
    // sha256("" ‖ body) is computable by anyone, so an empty secret must never verify.
    // printf '%s' "$BODY" | openssl dgst -sha256
    const std::string body_hash =
        "81fbff5ad40a56dc462192419603fd355046b1d51dfab2a2da06f670fcb4afaf";
    KeyRing ring({""});
    expect_fail(ring.verify(legacy_only(body_hash), kBody, kT), SignatureFailure::NoSecrets,
                SignatureScheme::None);
    KeyRing mixed({"", std::string(kSecret)});
    expect_ok(mixed.verify(legacy_only(kLegacy), kBody, kT), SignatureScheme::Legacy, 1);
}

// One usable secret anywhere in the ring is a configured ring, wherever the empty ones sit.
TEST(Signature, AnEmptySecretAfterARealOneLeavesTheRingConfigured) {
    KeyRing ring({std::string(kSecret), ""});
    expect_ok(ring.verify(legacy_only(kLegacy), kBody, kT), SignatureScheme::Legacy, 0);
}

// Beside a real secret too, an empty one matches nothing: neither the hash of the body alone
// (legacy) nor a MAC keyed with nothing (timestamped), both computable by anyone.
TEST(Signature, AnEmptySecretBesideARealOneMatchesNothing) {
    // printf '%s' "$BODY" | openssl dgst -sha256
    const std::string body_hash =
        "81fbff5ad40a56dc462192419603fd355046b1d51dfab2a2da06f670fcb4afaf";
    // printf '1700000000.%s' "$BODY" | openssl dgst -sha256 -hmac ""
    const std::string v1_empty_key =
        "1ca10401c7e27beeb158c9d7eff29463e4fdbe5b4efcd9e0b7fb733c5a0e914f";
    KeyRing mixed({"", std::string(kSecret)}, std::chrono::seconds(k48h));
    expect_fail(mixed.verify(legacy_only(body_hash), kBody, kT), SignatureFailure::Mismatch,
                SignatureScheme::Legacy);
    std::string sig = ts_header(kT, v1_empty_key);
    expect_fail(mixed.verify(timestamped_only(sig), kBody, kT), SignatureFailure::Mismatch,
                SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, MissingHeaders) {
    expect_fail(ring_.verify({}, kBody, kT), SignatureFailure::Missing, SignatureScheme::None);
}

TEST_F(SignatureTest, TimestampHeaderAloneIsMissing) {
    // A timestamp without any signature header proves nothing.
    SignatureHeaders h;
    h.timestamp = "1700000000";
    expect_fail(ring_.verify(h, kBody, kT), SignatureFailure::Missing, SignatureScheme::None);
}

// The remaining failures say why too, in the detail an operator reads in the log.
TEST(Signature, EachOtherFailureSaysWhy) {
    KeyRing ring({std::string(kSecret)});
    EXPECT_EQ(ring.verify({}, kBody, kT).detail, "no signature header");
    EXPECT_EQ(ring.verify(legacy_only("abc"), kBody, kT).detail, "legacy signature is not 64 hex digits");
    EXPECT_EQ(ring.verify(legacy_only(kLegacyHmac), kBody, kT).detail,
              "legacy signature matches no configured secret");
    KeyRing none({});
    EXPECT_EQ(none.verify(legacy_only(kLegacy), kBody, kT).detail, "no webhook secret is configured");
}

// ---- timestamped ---------------------------------------------------------------------------

TEST_F(SignatureTest, TimestampedValidViaT) {
    std::string sig = ts_header(kT, kV1);
    expect_ok(ring_.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedValidViaSeparateHeader) {
    std::string sig = "v1=" + std::string(kV1);
    expect_ok(ring_.verify(timestamped_only(sig, "1700000000"), kBody, kT),
              SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedValidWithBothAgreeing) {
    std::string sig = ts_header(kT, kV1);
    expect_ok(ring_.verify(timestamped_only(sig, "1700000000"), kBody, kT + 5),
              SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedUppercaseHexAccepted) {
    std::string sig = ts_header(kT, upper(kV1));
    expect_ok(ring_.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedTimestampsDifferIsMalformed) {
    std::string sig = ts_header(kT, kV1);
    expect_fail(ring_.verify(timestamped_only(sig, "1700000001"), kBody, kT),
                SignatureFailure::Malformed, SignatureScheme::Timestamped);
    expect_fail(ring_.verify(timestamped_only(sig, "garbage"), kBody, kT),
                SignatureFailure::Malformed, SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedSeveralDifferentTIsMalformed) {
    // Which t was signed is ambiguous: refused, even though the last one verifies.
    std::string sig = "t=1699990000,t=1700000000,v1=" + std::string(kV1);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Timestamped);
    // The same t twice is no ambiguity.
    std::string same = "t=1700000000,t=1700000000,v1=" + std::string(kV1);
    expect_ok(ring_.verify(timestamped_only(same), kBody, kT), SignatureScheme::Timestamped);
}

// The MAC covers the timestamp as the signature header writes it: a separate timestamp header
// of the same value, written otherwise, does not replace it.
TEST_F(SignatureTest, TimestampedTIsSignedAsWrittenInTheSignatureHeader) {
    // printf '01700000000.%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET"
    const std::string v1_leading_zero =
        "a044e450534af1285ebfb637699252498727c00cafe095ede4200f7c42ba647b";
    std::string sig = "t=01700000000,v1=" + v1_leading_zero;
    expect_ok(ring_.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped);
    expect_ok(ring_.verify(timestamped_only(sig, "1700000000"), kBody, kT),
              SignatureScheme::Timestamped);
}

// Two spellings of the same t in the signature header are two different signed texts: which
// one was signed is as ambiguous as with two different values, so it is refused too, whichever
// spelling the MAC covers.
TEST_F(SignatureTest, TheSameTSpelledTwoWaysIsMalformed) {
    // printf '01700000000.%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET"
    const std::string v1_leading_zero =
        "a044e450534af1285ebfb637699252498727c00cafe095ede4200f7c42ba647b";
    for (std::string sig : {"t=1700000000,t=01700000000,v1=" + std::string(kV1),
                            "t=1700000000,t=01700000000,v1=" + v1_leading_zero,
                            "t=01700000000,t=1700000000,v1=" + std::string(kV1),
                            "t=01700000000,t=1700000000,v1=" + v1_leading_zero}) {
        SignatureResult r = ring_.verify(timestamped_only(sig), kBody, kT);
        expect_fail(r, SignatureFailure::Malformed, SignatureScheme::Timestamped);
        EXPECT_EQ(r.detail, "timestamped signature header malformed: several different t values") << sig;
    }
}

TEST_F(SignatureTest, TimestampedNoTimestampAnywhereIsMalformed) {
    std::string sig = "v1=" + std::string(kV1);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedNoV1IsMalformed) {
    expect_fail(ring_.verify(timestamped_only("t=1700000000"), kBody, kT),
                SignatureFailure::Malformed, SignatureScheme::Timestamped);
    std::string only_v2 = "t=1700000000,v2=" + std::string(kV1);
    expect_fail(ring_.verify(timestamped_only(only_v2), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Timestamped);
    expect_fail(ring_.verify(timestamped_only(""), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedNonNumericTIsMalformed) {
    for (std::string t : {"abc", "", "17e8", "-1700000000", "+1700000000", "1700000000.5",
                          "1 700000000", "99999999999999999999"}) {
        std::string sig = "t=" + t + ",v1=" + std::string(kV1);
        expect_fail(ring_.verify(timestamped_only(sig), kBody, kT), SignatureFailure::Malformed,
                    SignatureScheme::Timestamped);
    }
}

TEST_F(SignatureTest, TimestampedBadV1HexIsMalformed) {
    std::string short_v1 = ts_header(kT, kV1.substr(0, 63));
    expect_fail(ring_.verify(timestamped_only(short_v1), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Timestamped);
    std::string bad(kV1);
    bad[0] = 'x';
    std::string nonhex = ts_header(kT, bad);
    expect_fail(ring_.verify(timestamped_only(nonhex), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedBadV1BesideAGoodOneIsMalformed) {
    std::string bad(kV1);
    bad[0] = 'x';
    std::string sig = "t=1700000000,v1=" + bad + ",v1=" + std::string(kV1);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedPartWithoutKeyIsMalformed) {
    std::string sig = "t=1700000000," + std::string(kV1);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, kT), SignatureFailure::Malformed,
                SignatureScheme::Timestamped);
}

// A part without "=" is refused on its own account, even beside a t and a v1 that verify.
TEST_F(SignatureTest, APartWithoutAnEqualsSignIsMalformedBesideAValidTAndV1) {
    std::string sig = ts_header(kT, kV1) + ",garbage";
    SignatureResult r = ring_.verify(timestamped_only(sig), kBody, kT);
    expect_fail(r, SignatureFailure::Malformed, SignatureScheme::Timestamped);
    EXPECT_EQ(r.detail, "timestamped signature header malformed: a part has no key=value form");
}

// The detail is what an operator reads in the log: each malformed header says what is wrong.
TEST_F(SignatureTest, EachMalformedTimestampedHeaderSaysWhy) {
    const std::string v1 = "v1=" + std::string(kV1);
    const std::string t_v1 = ts_header(kT, kV1);
    struct Case {
        std::string sig;
        std::optional<std::string> ts;
        std::string reason;
    };
    const Case cases[] = {
        {"t=1700000000," + std::string(kV1), std::nullopt, "a part has no key=value form"},
        {"t=abc," + v1, std::nullopt, "t is not a decimal epoch"},
        {"t=1699990000,t=1700000000," + v1, std::nullopt, "several different t values"},
        {"t=1700000000,v1=abc", std::nullopt, "a v1 value is not 64 hex digits"},
        {"t=1700000000", std::nullopt, "no v1 signature"},
        {v1, "garbage", "timestamp header is not a decimal epoch"},
        {t_v1, "1700000001", "t and timestamp header differ"},
        {v1, std::nullopt, "no timestamp in t= or the timestamp header"},
    };
    for (const Case& c : cases) {
        std::optional<std::string_view> ts;
        if (c.ts) ts = *c.ts;
        SignatureResult r = ring_.verify(timestamped_only(c.sig, ts), kBody, kT);
        expect_fail(r, SignatureFailure::Malformed, SignatureScheme::Timestamped);
        EXPECT_EQ(r.detail, "timestamped signature header malformed: " + c.reason) << c.sig;
    }
}

TEST_F(SignatureTest, TimestampedWrongSignatureIsMismatch) {
    std::string sig = ts_header(kT, kV1At1699990000);  // valid for another t
    expect_fail(ring_.verify(timestamped_only(sig), kBody, kT), SignatureFailure::Mismatch,
                SignatureScheme::Timestamped);
    std::string changed = ts_header(kT, kV1);
    expect_fail(ring_.verify(timestamped_only(changed), kBodyChanged, kT),
                SignatureFailure::Mismatch, SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedOtherTimestampValid) {
    std::string sig = ts_header(1699990000, kV1At1699990000);
    expect_ok(ring_.verify(timestamped_only(sig), kBody, 1699990000),
              SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, TimestampedLegacyDigestAsV1IsMismatch) {
    // The legacy hash and the body-only HMAC are not the timestamped MAC.
    for (auto wrong : {kLegacy, kLegacyHmac, kLegacyBodyFirst}) {
        std::string sig = ts_header(kT, wrong);
        expect_fail(ring_.verify(timestamped_only(sig), kBody, kT), SignatureFailure::Mismatch,
                    SignatureScheme::Timestamped);
    }
}

TEST_F(SignatureTest, StaleBoundary) {
    std::string sig = ts_header(kT, kV1);
    expect_ok(ring_.verify(timestamped_only(sig), kBody, kT + k48h), SignatureScheme::Timestamped);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, kT + k48h + 1),
                SignatureFailure::Stale, SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, StaleInTheFuture) {
    std::string sig = ts_header(kT, kV1);
    expect_ok(ring_.verify(timestamped_only(sig), kBody, kT - k48h), SignatureScheme::Timestamped);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, kT - k48h - 1),
                SignatureFailure::Stale, SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, StaleViaSeparateHeader) {
    std::string sig = "v1=" + std::string(kV1);
    expect_fail(ring_.verify(timestamped_only(sig, "1700000000"), kBody, kT + k48h + 1),
                SignatureFailure::Stale, SignatureScheme::Timestamped);
}

// The stale detail gives the timestamp, how far it is from now and the window, in seconds.
TEST_F(SignatureTest, AStaleDetailGivesTheTimestampItsAgeAndTheWindow) {
    std::string sig = ts_header(kT, kV1);
    SignatureResult r = ring_.verify(timestamped_only(sig), kBody, kT + k48h + 1);
    expect_fail(r, SignatureFailure::Stale, SignatureScheme::Timestamped);
    EXPECT_EQ(r.detail, "timestamp 1700000000 is 172801 s from now (window 172800 s)");
}

TEST_F(SignatureTest, StaleAndWrongIsNeverOk) {
    std::string sig = ts_header(kT, kV1At1699990000);
    SignatureResult r = ring_.verify(timestamped_only(sig), kBody, kT + k48h + 1);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.failure, SignatureFailure::None);
    expect_clean_detail(r);
}

// MAC first, then age: a forged signature with an old timestamp is the mismatch it is, not a
// genuine delivery that came late.
TEST_F(SignatureTest, StaleAndWrongIsAMismatch) {
    std::string sig = ts_header(kT, kV1At1699990000);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, kT + k48h + 1), SignatureFailure::Mismatch,
                SignatureScheme::Timestamped);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, kT - k48h - 1), SignatureFailure::Mismatch,
                SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, StaleWithExtremeClocks) {
    std::string sig = ts_header(kT, kV1);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, INT64_MIN), SignatureFailure::Stale,
                SignatureScheme::Timestamped);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, INT64_MAX), SignatureFailure::Stale,
                SignatureScheme::Timestamped);
}

TEST(Signature, CustomWindow) {
    KeyRing ring({std::string(kSecret)}, 60s);
    std::string sig = ts_header(kT, kV1);
    expect_ok(ring.verify(timestamped_only(sig), kBody, kT + 60), SignatureScheme::Timestamped);
    expect_ok(ring.verify(timestamped_only(sig), kBody, kT - 60), SignatureScheme::Timestamped);
    expect_fail(ring.verify(timestamped_only(sig), kBody, kT + 61), SignatureFailure::Stale,
                SignatureScheme::Timestamped);
    expect_fail(ring.verify(timestamped_only(sig), kBody, kT - 61), SignatureFailure::Stale,
                SignatureScheme::Timestamped);
}

TEST(Signature, ANegativeWindowIsNoWindow) {
    KeyRing ring({std::string(kSecret)}, -60s);
    std::string sig = ts_header(kT, kV1);
    expect_ok(ring.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped);
    expect_fail(ring.verify(timestamped_only(sig), kBody, kT + 1), SignatureFailure::Stale,
                SignatureScheme::Timestamped);
    expect_fail(ring.verify(timestamped_only(sig), kBody, kT - 1), SignatureFailure::Stale,
                SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, MultipleV1SecondMatches) {
    std::string sig = "t=1700000000,v1=" + std::string(kV1At1699990000) + ",v1=" + std::string(kV1);
    expect_ok(ring_.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, MultipleV1FirstMatches) {
    std::string sig = "t=1700000000,v1=" + std::string(kV1) + ",v1=" + std::string(kV1At1699990000);
    expect_ok(ring_.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, MultipleV1NoneMatches) {
    std::string sig = "t=1700000000,v1=" + std::string(kV1At1699990000) + ",v1=" +
                      std::string(kLegacy);
    expect_fail(ring_.verify(timestamped_only(sig), kBody, kT), SignatureFailure::Mismatch,
                SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, UnknownKeysIgnored) {
    std::string sig = "t=1700000000,v2=" + std::string(kLegacy) + ",v1=" + std::string(kV1) +
                      ",v0=zzz,foo=bar";
    expect_ok(ring_.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, KeyOrderDoesNotMatter) {
    std::string sig = "v1=" + std::string(kV1) + ",t=1700000000";
    expect_ok(ring_.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, WhitespaceTolerated) {
    std::string sig = "  t = 1700000000 ,\tv1= " + std::string(kV1) + " , ";
    expect_ok(ring_.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped);
    std::string bare = "v1=" + std::string(kV1);
    expect_ok(ring_.verify(timestamped_only(bare, " 1700000000 "), kBody, kT),
              SignatureScheme::Timestamped);
}

TEST(Signature, TimestampedKeyRotation) {
    KeyRing ring({std::string(kSecret2), std::string(kSecret)});
    std::string sig = ts_header(kT, kV1);
    expect_ok(ring.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped, 1);
    std::string sig2 = ts_header(kT, kV1Secret2);
    expect_ok(ring.verify(timestamped_only(sig2), kBody, kT), SignatureScheme::Timestamped, 0);
}

// The success detail names the scheme and the key that matched.
TEST(Signature, ASuccessSaysWhichSchemeAndKeyMatched) {
    KeyRing ring({std::string(kSecret2), std::string(kSecret)});
    EXPECT_EQ(ring.verify(legacy_only(kLegacy), kBody, kT).detail, "legacy signature matches key 1");
    std::string sig = ts_header(kT, kV1Secret2);
    EXPECT_EQ(ring.verify(timestamped_only(sig), kBody, kT).detail,
              "timestamped signature matches key 0");
}

// A sender rotating its secret may sign with both: the first configured secret that matches is
// the one reported (deliveries.key_index), whatever order the v1 values come in.
TEST(Signature, TimestampedSignedWithBothSecretsReportsTheFirstConfigured) {
    KeyRing ring({std::string(kSecret2), std::string(kSecret)});
    for (std::string sig : {"t=1700000000,v1=" + std::string(kV1) + ",v1=" + std::string(kV1Secret2),
                            "t=1700000000,v1=" + std::string(kV1Secret2) + ",v1=" + std::string(kV1)})
        expect_ok(ring.verify(timestamped_only(sig), kBody, kT), SignatureScheme::Timestamped, 0);
}

// ---- decision order between the schemes ----------------------------------------------------

TEST_F(SignatureTest, BothValidTimestampedDecides) {
    std::string sig = ts_header(kT, kV1);
    SignatureHeaders h = timestamped_only(sig);
    h.legacy = kLegacy;
    expect_ok(ring_.verify(h, kBody, kT), SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, BothValidLeavesNothingOverridden) {
    std::string sig = ts_header(kT, kV1);
    SignatureHeaders h = timestamped_only(sig);
    h.legacy = kLegacy;
    EXPECT_EQ(ring_.verify(h, kBody, kT).overridden, SignatureFailure::None);
    EXPECT_EQ(ring_.verify(legacy_only(kLegacy), kBody, kT).overridden, SignatureFailure::None);
}

TEST_F(SignatureTest, TimestampedMalformedIsOverriddenByAValidLegacyHash) {
    SignatureHeaders h = timestamped_only("t=notanumber,v1=abc");
    h.legacy = kLegacy;
    SignatureResult r = ring_.verify(h, kBody, kT);
    expect_ok(r, SignatureScheme::Legacy);
    EXPECT_EQ(r.overridden, SignatureFailure::Malformed);
    EXPECT_NE(r.detail.find("timestamped signature header malformed"), std::string::npos) << r.detail;
    EXPECT_NE(r.detail.find("accepted on the legacy hash"), std::string::npos) << r.detail;
}

TEST_F(SignatureTest, TimestampedMalformedAndAWrongLegacyHashIsTheLegacyMismatch) {
    SignatureHeaders h = timestamped_only("garbage");
    h.legacy = kLegacyHmac;
    SignatureResult r = ring_.verify(h, kBody, kT);
    expect_fail(r, SignatureFailure::Mismatch, SignatureScheme::Legacy);
    EXPECT_NE(r.detail.find("timestamped signature header malformed"), std::string::npos) << r.detail;
    EXPECT_NE(r.detail.find("legacy: legacy signature matches no configured secret"), std::string::npos)
        << r.detail;
}

TEST_F(SignatureTest, TimestampedMalformedFallsBackToMalformedLegacy) {
    std::string sig = "v1=" + std::string(kV1);  // no timestamp anywhere: malformed
    SignatureHeaders h = timestamped_only(sig);
    h.legacy = "abc";
    expect_fail(ring_.verify(h, kBody, kT), SignatureFailure::Malformed, SignatureScheme::Legacy);
}

// The legacy hash is always sent and the timestamped format is not confirmed: a timestamped
// header that does not verify never refuses a delivery whose legacy hash does (the same
// request without it would be accepted), and the result says what was overridden.
TEST_F(SignatureTest, TimestampedMismatchIsOverriddenByAValidLegacyHash) {
    std::string sig = ts_header(kT, kV1At1699990000);
    SignatureHeaders h = timestamped_only(sig);
    h.legacy = kLegacy;
    SignatureResult r = ring_.verify(h, kBody, kT);
    expect_ok(r, SignatureScheme::Legacy);
    EXPECT_EQ(r.overridden, SignatureFailure::Mismatch);
    EXPECT_NE(r.detail.find("timestamped signature matches no configured secret; accepted on the legacy hash"),
              std::string::npos) << r.detail;
}

TEST_F(SignatureTest, TimestampedStaleIsOverriddenByAValidLegacyHash) {
    std::string sig = ts_header(kT, kV1);
    SignatureHeaders h = timestamped_only(sig);
    h.legacy = kLegacy;
    SignatureResult r = ring_.verify(h, kBody, kT + k48h + 1);
    expect_ok(r, SignatureScheme::Legacy);
    EXPECT_EQ(r.overridden, SignatureFailure::Stale);
    EXPECT_NE(r.detail.find("s from now (window"), std::string::npos) << r.detail;
}

TEST_F(SignatureTest, WhenBothFailACheckedTimestampedMacDecides) {
    std::string wrong = ts_header(kT, kV1At1699990000);
    SignatureHeaders h = timestamped_only(wrong);
    h.legacy = kLegacyHmac;
    SignatureResult r = ring_.verify(h, kBody, kT);
    expect_fail(r, SignatureFailure::Mismatch, SignatureScheme::Timestamped);
    EXPECT_NE(r.detail.find("; legacy: legacy signature matches no configured secret"), std::string::npos)
        << r.detail;

    std::string old = ts_header(kT, kV1);
    SignatureHeaders stale = timestamped_only(old);
    stale.legacy = kLegacyHmac;
    expect_fail(ring_.verify(stale, kBody, kT + k48h + 1), SignatureFailure::Stale, SignatureScheme::Timestamped);
}

TEST_F(SignatureTest, ALegacyHashSuspectedOfLengthExtensionStaysRefusedBesideAFailedTimestamp) {
    std::string body = std::string(kBody) + std::string(1, '\0');
    const std::string legacy = crypto::to_hex(crypto::sha256(kSecret, body));
    const std::string sig = ts_header(kT, kV1);  // a MAC of another body
    SignatureHeaders h = timestamped_only(sig);
    h.legacy = legacy;
    SignatureResult r = ring_.verify(h, body, kT);
    expect_fail(r, SignatureFailure::Suspect, SignatureScheme::Legacy);
}

}  // namespace
}  // namespace churnwatch
