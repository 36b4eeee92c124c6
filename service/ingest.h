// Turning one webhook request into a Delivery: signature on the raw bytes first, then the
// topic (path, header, or inferred), then bounded JSON parsing and decoding. Pure: no
// socket, no database, no clock (the caller passes `now`).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include "delivery.h"
#include "http_types.h"
#include "json.h"
#include "signature.h"
#include "topic.h"

namespace churnwatch {

struct IngestOptions {
    JsonLimits json;
    // Header whose value, when present, is the delivery's identity for deduplication.
    // Recharge documents none; without it the key is SHA-256 of topic and body.
    std::string id_header = "X-Recharge-Webhook-Id";
};

// A request refused before anything is stored (401 for signatures).
struct Rejection {
    int status = 401;
    std::string reason;  // metric label: "signature_missing", "signature_mismatch", …
    std::string detail;  // readable, no secrets
    std::string dedupe_key;  // for correlating log lines with a later successful retry
};

inline constexpr const char* kLegacyHeader = "X-Recharge-Hmac-Sha256";
inline constexpr const char* kSignatureHeader = "X-Recharge-Webhook-Signature";
inline constexpr const char* kTimestampHeader = "X-Recharge-Webhook-Timestamp";
inline constexpr const char* kTopicHeader = "X-Recharge-Topic";

// Verifies and decodes; moves the body into the Delivery. An authentic delivery that cannot
// be used (bad JSON, unknown topic, unknown shape) comes back Quarantined with its reason:
// Recharge must get a 2xx for it, since a retry cannot fix it.
std::variant<Delivery, Rejection> prepare_delivery(HttpRequest&& req,
                                                   const std::optional<Topic>& path_topic,
                                                   const KeyRing& keys,
                                                   const IngestOptions& options, Micros now);

}  // namespace churnwatch
