// Standard Webhooks signing (https://www.standardwebhooks.com/) for the alerts churnwatch
// sends: each outgoing request carries webhook-id, webhook-timestamp and webhook-signature
// headers, the signature being "v1,<base64(HMAC-SHA256(key, id.timestamp.body))>" with the key
// taken from a "whsec_<base64>" secret. verify() is the receiving side, used by tests and by
// anyone who wants to check what we send; expected failures are return values, not exceptions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto.h"

namespace churnwatch {

// Header names defined by the specification.
inline constexpr std::string_view kWebhookIdHeader = "webhook-id";
inline constexpr std::string_view kWebhookTimestampHeader = "webhook-timestamp";
inline constexpr std::string_view kWebhookSignatureHeader = "webhook-signature";

// The secrets of a list: separated by commas and/or white space (no base64 text has either).
std::vector<std::string_view> split_webhook_secrets(std::string_view secrets);

class StandardWebhookSigner {
public:
    // At most this many secrets at once (rotation needs two).
    static constexpr std::size_t kMaxSecrets = 4;

    // One secret, or several for rotation (split_webhook_secrets), each in "whsec_<base64>"
    // form (the base64 part decodes to the key bytes); a secret without the prefix is taken
    // as base64 too. Returns nullopt if any base64 is invalid (strict: padded, standard
    // alphabet), a key is empty, or there are none or more than kMaxSecrets.
    static std::optional<StandardWebhookSigner> from_secret(std::string_view secrets);

    // "v1,<base64(HMAC-SHA256(key, msg_id + "." + timestamp + "." + body))>", one such entry
    // per secret in the order given, separated by a space: during a rotation a receiver
    // holding either secret verifies the request, as the specification provides.
    std::string sign(std::string_view msg_id, int64_t timestamp, std::string_view body) const;

    // Verifies a webhook-signature header value: a space-separated list of "v1,<b64>" entries,
    // any of which may match any of the secrets (constant-time compare; entries of other
    // versions never match), and |now - timestamp| <= tolerance_s.
    bool verify(std::string_view msg_id, int64_t timestamp, std::string_view body,
                std::string_view signature_header, int64_t now,
                int64_t tolerance_s = 300) const;

    std::size_t secret_count() const { return keys_.size(); }

private:
    explicit StandardWebhookSigner(std::vector<crypto::HmacKey> keys) : keys_(std::move(keys)) {}
    std::string sign_with(const crypto::HmacKey& key, std::string_view prefix, std::string_view body) const;

    std::vector<crypto::HmacKey> keys_;  // each keyed once, duplicated per signature
};

}  // namespace churnwatch
