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

#include "crypto.h"

namespace churnwatch {

// Header names defined by the specification.
inline constexpr std::string_view kWebhookIdHeader = "webhook-id";
inline constexpr std::string_view kWebhookTimestampHeader = "webhook-timestamp";
inline constexpr std::string_view kWebhookSignatureHeader = "webhook-signature";

class StandardWebhookSigner {
public:
    // secret in "whsec_<base64>" form (the base64 part decodes to the key bytes); a secret
    // without the prefix is taken as base64 too. Returns nullopt if the base64 is invalid
    // (strict: padded, standard alphabet) or the key is empty.
    static std::optional<StandardWebhookSigner> from_secret(std::string_view secret);

    // "v1,<base64(HMAC-SHA256(key, msg_id + "." + timestamp + "." + body))>"
    std::string sign(std::string_view msg_id, int64_t timestamp, std::string_view body) const;

    // Verifies a webhook-signature header value: a space-separated list of "v1,<b64>" entries,
    // any of which may match (constant-time compare; entries of other versions never match),
    // and |now - timestamp| <= tolerance_s.
    bool verify(std::string_view msg_id, int64_t timestamp, std::string_view body,
                std::string_view signature_header, int64_t now,
                int64_t tolerance_s = 300) const;

private:
    explicit StandardWebhookSigner(crypto::HmacKey key) : key_(std::move(key)) {}

    crypto::HmacKey key_;  // keyed once, duplicated per signature
};

}  // namespace churnwatch
