// From an authentic delivery's raw body to its decoded objects: bounded JSON parsing, the
// topic (inferred from the body when the delivery did not name one), the check that
// Recharge knows the topic, and payload decoding. Shared by ingest, rebuild and quarantine
// replay, so a body is judged the same way on every path.
#pragma once

#include <string>

#include "delivery.h"
#include "json.h"

namespace churnwatch {

// On success sets d.payload (and d.topic / d.topic_source when inferred) and returns true.
// Otherwise returns false with a readable reason: "invalid JSON: …", "no topic: …",
// "unknown topic x/y", "cannot decode x/y payload: …", "implausible time in x/y payload: …"
// (see plausible_times.h; judged against d.received_at, which callers set to when the
// delivery arrived).
bool decode_delivery(Delivery& d, const JsonLimits& limits, std::string& reason);

// The same, for a delivery stored as accepted and decoded again (the projection reading it
// back, rebuild). It is not judged again by a lower depth limit than it was accepted under:
// a `quarantine replay --json-depth 128` accepted it, and the service and rebuild run with
// 64. The limit guards ingest against untrusted bodies; this one was authenticated and
// accepted once, and quarantining it now would take it out of the churn tables unseen. So a
// body that fails to parse is tried again at kMaxJsonDepth (the iterative parser) before
// the first reason stands.
bool decode_stored_delivery(Delivery& d, const JsonLimits& limits, std::string& reason);

}  // namespace churnwatch
