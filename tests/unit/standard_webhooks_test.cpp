// Standard Webhooks signing, checked against the vector used by the specification's reference
// libraries (also reproduced with `openssl dgst -sha256 -mac HMAC -macopt hexkey:… | base64`).
#include "standard_webhooks.h"

#include <gtest/gtest.h>

#include <string>

namespace churnwatch {
namespace {

constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kMsgId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kTimestamp = 1614265330;
constexpr std::string_view kPayload = R"({"test": 2432232314})";
constexpr std::string_view kSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

StandardWebhookSigner signer() {
    auto s = StandardWebhookSigner::from_secret(kSecret);
    EXPECT_TRUE(s);
    return std::move(*s);
}

TEST(StandardWebhooks, SignMatchesReferenceVector) {
    EXPECT_EQ(signer().sign(kMsgId, kTimestamp, kPayload), kSignature);
}

// A second vector, computed by the `standardwebhooks` npm library 1.1.1 (and svix 1.99.1, which
// gives the same): `new Webhook(secret).sign(id, new Date(ts * 1000), body)`. It covers what the
// first does not: a secret whose base64 ends in "==" (a 25-byte key) and a body in the alert
// shape with non-ASCII UTF-8 (the library hashes the UTF-8 bytes of the body).
TEST(StandardWebhooks, SignMatchesNpmLibraryPaddedSecretUtf8Body) {
    auto s = StandardWebhookSigner::from_secret("whsec_Y2h1cm53YXRjaC1pbnRlcm9wLWtleS0yNQ==");
    ASSERT_TRUE(s);
    const std::string_view id = "msg_5f0c2a9e1d7b4c3e8a6f1b2d9c0e7a41";
    const int64_t ts = 1772704801;
    const std::string body =
        R"({"type":"customer.churned","timestamp":"2026-03-05T10:00:01.500000Z",)"
        R"("data":{"episode_id":7,"customer_id":1,"email":"zo)" "\xC3\xAB" "@ex" "\xC3\xA4"
        R"(mple.com","reason":"cancelled","category":"voluntary",)"
        R"("churned_at":"2026-03-05T10:00:00Z","reactivated_at":null,"subscription_id":12,)"
        R"("charge_id":null,"delivery_id":42}})";
    ASSERT_EQ(body.size(), 294u);  // as the library saw it: 292 characters, 294 UTF-8 bytes
    const std::string_view expected = "v1,kqvTVCAu6rOkd9SuKVtOHp7Pi/LrWvoT2OAJcmQVO/o=";
    EXPECT_EQ(s->sign(id, ts, body), expected);
    EXPECT_TRUE(s->verify(id, ts, body, expected, ts));
}

TEST(StandardWebhooks, SecretWithoutPrefixIsBase64Too) {
    auto s = StandardWebhookSigner::from_secret(kSecret.substr(6));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->sign(kMsgId, kTimestamp, kPayload), kSignature);
}

// Rotation: with the new and the old secret, each request carries one signature per secret
// (the specification's space-separated list), so a receiver holding either verifies it.
TEST(StandardWebhooks, SeveralSecretsSignWithEach) {
    constexpr std::string_view kOther = "whsec_Y2h1cm53YXRjaC1pbnRlcm9wLWtleS0yNQ==";
    auto both = StandardWebhookSigner::from_secret(std::string(kOther) + ", " + std::string(kSecret));
    ASSERT_TRUE(both);
    EXPECT_EQ(both->secret_count(), 2u);
    auto other = StandardWebhookSigner::from_secret(kOther);
    ASSERT_TRUE(other);
    const std::string header = both->sign(kMsgId, kTimestamp, kPayload);
    EXPECT_EQ(header, other->sign(kMsgId, kTimestamp, kPayload) + " " + std::string(kSignature));
    EXPECT_TRUE(signer().verify(kMsgId, kTimestamp, kPayload, header, kTimestamp));
    EXPECT_TRUE(other->verify(kMsgId, kTimestamp, kPayload, header, kTimestamp));
    EXPECT_TRUE(both->verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp));
    EXPECT_FALSE(both->verify(kMsgId, kTimestamp, "{}", header, kTimestamp));
    // Commas and/or white space between them; one bad secret spoils the list; at most four.
    EXPECT_TRUE(StandardWebhookSigner::from_secret(std::string(kSecret) + "\t" + std::string(kOther)));
    EXPECT_FALSE(StandardWebhookSigner::from_secret(std::string(kSecret) + ",whsec_MfKQ9r8"));
    EXPECT_FALSE(StandardWebhookSigner::from_secret(" , "));
    std::string five;
    for (int i = 0; i < 5; ++i) five += std::string(kSecret) + ",";
    EXPECT_FALSE(StandardWebhookSigner::from_secret(five));
    EXPECT_EQ(split_webhook_secrets(" a,b  c,,"), (std::vector<std::string_view>{"a", "b", "c"}));
}

// Four secrets are the most, and allowed; line ends separate them too (a list written one per
// line, or read from a file ending in a newline).
TEST(StandardWebhooks, FourSecretsAndLineEndsBetweenThem) {
    std::string four;
    for (int i = 0; i < 4; ++i) four += std::string(kSecret) + ",";
    auto s = StandardWebhookSigner::from_secret(four);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->secret_count(), StandardWebhookSigner::kMaxSecrets);
    EXPECT_EQ(split_webhook_secrets("a\nb\r\nc\n"), (std::vector<std::string_view>{"a", "b", "c"}));
    auto lines = StandardWebhookSigner::from_secret(std::string(kSecret) + "\n");
    ASSERT_TRUE(lines);
    EXPECT_EQ(lines->sign(kMsgId, kTimestamp, kPayload), kSignature);
}

TEST(StandardWebhooks, InvalidSecretsRejected) {
    EXPECT_FALSE(StandardWebhookSigner::from_secret(""));
    EXPECT_FALSE(StandardWebhookSigner::from_secret("whsec_"));            // empty key
    EXPECT_FALSE(StandardWebhookSigner::from_secret("whsec_not base64!"));  // bad alphabet
    EXPECT_FALSE(StandardWebhookSigner::from_secret("whsec_MfKQ9r8"));      // bad length
    EXPECT_FALSE(StandardWebhookSigner::from_secret("whsec_===="));
}

TEST(StandardWebhooks, VerifyAcceptsReferenceVector) {
    EXPECT_TRUE(signer().verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp));
}

TEST(StandardWebhooks, VerifyRejectsChangedBody) {
    EXPECT_FALSE(
        signer().verify(kMsgId, kTimestamp, R"({"test": 2432232315})", kSignature, kTimestamp));
    EXPECT_FALSE(
        signer().verify(kMsgId, kTimestamp, R"({"test":2432232314})", kSignature, kTimestamp));
}

TEST(StandardWebhooks, VerifyRejectsWrongId) {
    EXPECT_FALSE(signer().verify("msg_p5jXN8AQM9LWM0D4loKWxJeK", kTimestamp, kPayload, kSignature,
                                 kTimestamp));
}

TEST(StandardWebhooks, VerifyRejectsWrongTimestamp) {
    // The timestamp is signed: a different one within tolerance still fails.
    EXPECT_FALSE(signer().verify(kMsgId, kTimestamp + 1, kPayload, kSignature, kTimestamp));
}

TEST(StandardWebhooks, VerifyRejectsWrongSecret) {
    auto other = StandardWebhookSigner::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx");
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp));
}

TEST(StandardWebhooks, ToleranceBoundaries) {
    auto s = signer();
    EXPECT_TRUE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp + 300));
    EXPECT_TRUE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp - 300));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp + 301));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp - 301));
    EXPECT_TRUE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp + 3600, 3600));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp + 3601, 3600));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, INT64_MAX));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, INT64_MIN));
}

TEST(StandardWebhooks, NegativeToleranceAcceptsNothing) {
    auto s = signer();
    EXPECT_TRUE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp, 0));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp, -1));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, kSignature, kTimestamp, INT64_MIN));
}

TEST(StandardWebhooks, SeveralSignaturesValidOneSecond) {
    std::string header = "v1,bogus " + std::string(kSignature);
    EXPECT_TRUE(signer().verify(kMsgId, kTimestamp, kPayload, header, kTimestamp));
    std::string spaced = "  v1,Zm9v  " + std::string(kSignature) + " v2,abc ";
    EXPECT_TRUE(signer().verify(kMsgId, kTimestamp, kPayload, spaced, kTimestamp));
}

TEST(StandardWebhooks, VerifyRejectsMalformedHeaders) {
    auto s = signer();
    const std::string b64(kSignature.substr(3));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, "", kTimestamp));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, "v1,bogus", kTimestamp));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, b64, kTimestamp));  // no version
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, "v2," + b64, kTimestamp));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, std::string(kSignature) + "x", kTimestamp));
    EXPECT_FALSE(s.verify(kMsgId, kTimestamp, kPayload, kSignature.substr(0, 10), kTimestamp));
}

TEST(StandardWebhooks, SignVerifyRoundTrip) {
    auto s = signer();
    std::string body = "{\"alert\":\"churn\",\"customer_id\":8991507}\n";
    std::string sig = s.sign("msg_1", 1700000000, body);
    EXPECT_TRUE(sig.starts_with("v1,"));
    EXPECT_EQ(sig.size(), 3u + 44u);  // base64 of 32 bytes
    EXPECT_TRUE(s.verify("msg_1", 1700000000, body, sig, 1700000100));
    EXPECT_FALSE(s.verify("msg_2", 1700000000, body, sig, 1700000100));
}

TEST(StandardWebhooks, HeaderNames) {
    EXPECT_EQ(kWebhookIdHeader, "webhook-id");
    EXPECT_EQ(kWebhookTimestampHeader, "webhook-timestamp");
    EXPECT_EQ(kWebhookSignatureHeader, "webhook-signature");
}

}  // namespace
}  // namespace churnwatch
