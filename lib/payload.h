// RapidJSON → domain model, for both Recharge API versions (decided by shape, never announced).
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include <rapidjson/document.h>

#include "model.h"
#include "topic.h"

namespace churnwatch {

struct DecodeError {
    std::string reason;  // readable, e.g. "subscription.updated_at missing or not a timestamp"
};

// Decodes the objects the topic's resource needs; extra top-level objects (included_objects)
// are decoded too when they are subscription/charge/customer (one that cannot be is left
// out, and DecodedPayload::ignored says why). Errors:
//  - root not an object;
//  - the topic's resource is subscription/charge/customer but that key is missing or not an
//    object ("topic subscription/cancelled but payload has no \"subscription\" object");
//  - the topic's object lacks a usable id, customer id, or updated_at.
// Topics of other resources (order/…, address/…) decode to an empty DecodedPayload.
// When topic is charge/max_retries_reached, charge.max_retries_reached is set.
std::variant<DecodedPayload, DecodeError> decode_payload(const rapidjson::Value& root,
                                                         const Topic& topic);

// Records in p.ignored that the included `resource` object was left out, and why.
void note_ignored(DecodedPayload& p, std::string_view resource, const std::string& why);

}  // namespace churnwatch
