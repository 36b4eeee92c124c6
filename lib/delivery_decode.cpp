#include "delivery_decode.h"

#include <vector>

#include "payload.h"
#include "plausible_times.h"
#include "topic.h"

namespace churnwatch {

bool decode_delivery(Delivery& d, const JsonLimits& limits, std::string& reason) {
    // The DOM lives only for this call (decoding copies out what it keeps), so its memory
    // comes from one buffer per thread, reused: a fresh Document would allocate and fault in
    // a new 64 KB chunk for every body.
    thread_local std::vector<char> dom_buffer(64 * 1024);
    rapidjson::MemoryPoolAllocator<> dom_memory(dom_buffer.data(), dom_buffer.size());
    rapidjson::Document doc(&dom_memory);
    std::string error;
    if (!parse_json(d.body, limits, doc, error)) {
        reason = "invalid JSON: " + error;
        return false;
    }
    // The topic the signed body names outranks the path's or header's, which no signature
    // covers: a captured subscription/updated sent again to .../subscription/deleted would
    // otherwise end the subscription. The row keeps what the request said in its note.
    std::string topic_note;
    if (d.topic) {
        if (auto named = topic_named_by_body(doc); named && *named != *d.topic) {
            const std::string_view said =
                d.topic_source ? to_string(*d.topic_source) : std::string_view("delivery");
            topic_note = "topic " + named->full() + " from the signed body's \"type\", where the " +
                         std::string(said) + " said " + d.topic->full();
            d.topic = std::move(named);
            d.topic_source = TopicSource::Inferred;
        }
    } else {
        d.topic = infer_topic(doc);
        if (!d.topic) {
            reason = "no topic: none given with the delivery, and the payload has no known "
                     "top-level object";
            return false;
        }
        d.topic_source = TopicSource::Inferred;
    }
    // A reason for a body that will not do, with the topic's note when it has one.
    auto fail = [&](std::string text) {
        reason = topic_note.empty() ? std::move(text) : text + " (" + topic_note + ")";
        return false;
    };
    if (!is_known_topic(*d.topic)) return fail("unknown topic " + d.topic->full());
    auto decoded = decode_payload(doc, *d.topic);
    if (auto* err = std::get_if<DecodeError>(&decoded))
        return fail("cannot decode " + d.topic->full() + " payload: " + err->reason);
    DecodedPayload& p = std::get<DecodedPayload>(decoded);
    if (auto why = implausible_time_of(p, d.topic->resource, d.received_at))
        return fail("implausible time in " + d.topic->full() + " payload: " + *why);
    // An included object with an implausible time is left out, like one that cannot be
    // decoded: the topic's own facts are kept.
    auto drop = [&](std::string_view resource, auto& slot) {
        if (resource == d.topic->resource) return;
        if (auto why = implausible_time_of(p, resource, d.received_at)) {
            slot.reset();
            note_ignored(p, resource, "implausible time: " + *why);
        }
    };
    drop("subscription", p.subscription);
    drop("charge", p.charge);
    drop("customer", p.customer);
    d.payload = std::move(p);
    // Accepted, with a note in deliveries.reason on its topic and on what was left out of it.
    d.reason = topic_note.empty() || d.payload->ignored.empty()
                   ? topic_note + d.payload->ignored
                   : topic_note + "; " + d.payload->ignored;
    return true;
}

bool decode_stored_delivery(Delivery& d, const JsonLimits& limits, std::string& reason) {
    if (decode_delivery(d, limits, reason)) return true;
    if (limits.max_depth >= kMaxJsonDepth || reason.rfind("invalid JSON: ", 0) != 0) return false;
    JsonLimits deepest = limits;
    deepest.max_depth = kMaxJsonDepth;
    std::string second;
    return decode_delivery(d, deepest, second);
}

}  // namespace churnwatch
