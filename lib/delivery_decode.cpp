#include "delivery_decode.h"

#include "payload.h"
#include "topic.h"

namespace churnwatch {

bool decode_delivery(Delivery& d, const JsonLimits& limits, std::string& reason) {
    rapidjson::Document doc;
    std::string error;
    if (!parse_json(d.body, limits, doc, error)) {
        reason = "invalid JSON: " + error;
        return false;
    }
    if (!d.topic) {
        d.topic = infer_topic(doc);
        if (!d.topic) {
            reason = "no topic: none given with the delivery, and the payload has no known "
                     "top-level object";
            return false;
        }
        d.topic_source = TopicSource::Inferred;
    }
    if (!is_known_topic(*d.topic)) {
        reason = "unknown topic " + d.topic->full();
        return false;
    }
    auto decoded = decode_payload(doc, *d.topic);
    if (auto* err = std::get_if<DecodeError>(&decoded)) {
        reason = "cannot decode " + d.topic->full() + " payload: " + err->reason;
        return false;
    }
    d.payload = std::move(std::get<DecodedPayload>(decoded));
    return true;
}

}  // namespace churnwatch
