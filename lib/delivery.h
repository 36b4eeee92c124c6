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
    // Its detail, as at the end of `reason`; also stored on its own (deliveries.signature_note)
    // so that a later rewrite of the row's reason keeps it (kReasonKeepingSignatureNote).
    std::string signature_note;
    std::string dedupe_key;
    std::string body;  // raw bytes, exactly as received
    DeliveryStatus status = DeliveryStatus::Accepted;
    std::string reason;  // readable; why quarantined, or a note on an accepted one (an included object left out)
    std::optional<DecodedPayload> payload;  // decoded objects when accepted
};

// SQL for `reason = <?1, then the row's signature note>` in an UPDATE of deliveries: a
// rewrite of a row's reason (a quarantine by the projection or a rebuild, a replay that
// accepts it) keeps the signature override's note after its own text. ?1 may be NULL.
inline constexpr const char* kReasonKeepingSignatureNote =
    "reason = CASE WHEN signature_note IS NULL OR signature_note = '' THEN ?1"
    " WHEN ?1 IS NULL OR ?1 = '' THEN signature_note"
    " ELSE ?1 || '; ' || signature_note END";

// Quarantines a stored delivery: ?1 the reason, ?2 its id (the projection's and a rebuild's).
inline std::string quarantine_delivery_sql() {
    return std::string("UPDATE deliveries SET status = 'quarantined', ") + kReasonKeepingSignatureNote +
           " WHERE id = ?2";
}

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
