// Recharge webhook signature verification on the exact raw body bytes.
//
// Two schemes (see ../shared/recharge/README.md):
//  - legacy:      X-Recharge-Hmac-Sha256: hex(SHA-256(client_secret ‖ raw_body))  (a plain hash)
//  - timestamped: X-Recharge-Webhook-Signature: t=<epoch>,v1=<hex>[,v1=<hex>…]
//                 v1 = hex(HMAC-SHA256(key=client_secret, msg="<t>.<raw_body>"))
//                 the timestamp may instead (or also) come in X-Recharge-Webhook-Timestamp.
// Either scheme verifying accepts. A timestamped header that does not verify (malformed,
// mismatched or stale) is overridden by a legacy hash that does, and the result says so:
// the timestamped format is not confirmed by Recharge, and the legacy hash is always sent,
// so a request without the timestamped header would be accepted all the same.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto.h"

namespace churnwatch {

enum class SignatureScheme { None, Legacy, Timestamped };
// Suspect: the legacy hash matched, but the body has a NUL byte. Legacy is SHA-256(secret ‖
// body), so from one captured delivery anyone can compute the hash of that body with bytes
// appended (a length extension), and the appended SHA-256 padding always holds NUL bytes;
// JSON from Recharge never does (a control character must be escaped).
enum class SignatureFailure { None, Missing, Malformed, Mismatch, Stale, NoSecrets, Suspect };

std::string_view to_string(SignatureScheme s);   // "none" "legacy" "timestamped"
std::string_view to_string(SignatureFailure f);  // "ok" "missing" "malformed" "mismatch" "stale" "no_secrets" "suspect"

struct SignatureHeaders {
    std::optional<std::string_view> legacy;       // X-Recharge-Hmac-Sha256
    std::optional<std::string_view> timestamped;  // X-Recharge-Webhook-Signature
    std::optional<std::string_view> timestamp;    // X-Recharge-Webhook-Timestamp
};

struct SignatureResult {
    bool ok = false;
    SignatureScheme scheme = SignatureScheme::None;   // the scheme that decided
    SignatureFailure failure = SignatureFailure::None;
    std::string detail;          // readable reason; never contains a secret or a full signature
    std::size_t key_index = 0;   // which secret matched (when ok)
    // When ok on the legacy hash: how the timestamped header beside it failed (Malformed,
    // Mismatch, Stale), or None. `detail` then says why.
    SignatureFailure overridden = SignatureFailure::None;
};

class KeyRing {
public:
    explicit KeyRing(std::vector<std::string> secrets,
                     std::chrono::seconds window = std::chrono::hours(50));
    // now_epoch_s: the current time (seconds); |now - t| > window → Stale.
    SignatureResult verify(const SignatureHeaders& headers, std::string_view body,
                           int64_t now_epoch_s) const;
    std::size_t size() const { return secrets_.size(); }
    std::chrono::seconds window() const { return window_; }

private:
    std::vector<std::string> secrets_;
    std::vector<crypto::HmacKey> hmac_keys_;
    std::chrono::seconds window_;
};

}  // namespace churnwatch
