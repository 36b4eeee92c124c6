// A verified Recharge delivery on its way to the database, and what became of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model.h"
#include "signature.h"
#include "time_util.h"
#include "topic.h"

namespace churnwatch {

enum class DeliveryStatus { Accepted, Quarantined };
std::string_view to_string(DeliveryStatus s);  // "accepted" "quarantined"
std::string_view to_string(ApiVersion v);      // "2021-01" "2021-11" "" (unknown)

struct Delivery {
    Micros received_at = 0;
    std::optional<Topic> topic;
    std::optional<TopicSource> topic_source;
    SignatureScheme scheme = SignatureScheme::Legacy;
    std::size_t key_index = 0;
    // Accepted on the legacy hash although a timestamped header beside it did not verify:
    // how that one failed (Malformed, Mismatch, Stale), else None.
    SignatureFailure signature_overridden = SignatureFailure::None;
    std::string dedupe_key;
    std::string body;  // raw bytes, exactly as received
    DeliveryStatus status = DeliveryStatus::Accepted;
    std::string reason;  // readable; why quarantined, or a note on an accepted one (an included object left out)
    std::optional<DecodedPayload> payload;  // decoded objects when accepted
};

enum class WriteOutcome {
    Stored,     // a new row was committed
    Duplicate,  // the dedupe key was already stored: nothing written
    Failed,     // the transaction failed; nothing from this batch is stored
    Probe,      // a readiness probe was committed
    Refused,    // not queued: the writer's queue is full or it is stopping (given by the
                // caller whose submit() returned false; the writer never reports it)
};

struct WriteResult {
    WriteOutcome outcome = WriteOutcome::Failed;
    int64_t delivery_id = 0;  // for Stored
    DeliveryStatus status = DeliveryStatus::Accepted;  // as stored (the projection may quarantine later)
    std::string error;  // for Failed
};

}  // namespace churnwatch
