#include "ingest.h"

#include "crypto.h"
#include "delivery_decode.h"

namespace churnwatch {

namespace {

constexpr std::size_t kMaxIdHeaderLength = 200;

std::optional<std::string> duplicated_signature_header(const HttpRequest& req) {
    for (const char* h : {kLegacyHeader, kSignatureHeader, kTimestampHeader})
        if (req.header_count(h) > 1) return std::string("duplicate ") + h + " header";
    return std::nullopt;
}

// sha256:<hex of topic and body>, or with an id header id:<id>:<that hex>. The id alone is
// no identity: no signature covers it, so a captured delivery sent again first under the id
// of a delivery still to come would make that one a "duplicate" and lose it. A retry of the
// same delivery has the same bytes either way.
std::string dedupe_key(const HttpRequest& req, std::string_view body,
                       const std::optional<Topic>& topic, const IngestOptions& options) {
    std::string prefix = topic ? topic->full() + "\n" : std::string("\n");
    std::string hash = crypto::to_hex(crypto::sha256(prefix, body));
    if (!options.id_header.empty()) {
        auto id = req.header(options.id_header);
        if (id && !id->empty() && id->size() <= kMaxIdHeaderLength)
            return "id:" + std::string(*id) + ":" + hash;
    }
    return "sha256:" + hash;
}

Rejection reject(std::string reason, std::string detail) {
    Rejection r;
    r.reason = std::move(reason);
    r.detail = std::move(detail);
    return r;
}

// Topic from the path, else the header, else nullopt (inference needs the parsed body).
// A malformed header is noted and ignored.
void topic_from_request(const HttpRequest& req, const std::optional<Topic>& path_topic,
                        Delivery& d, std::string& note) {
    if (path_topic) {
        d.topic = path_topic;
        d.topic_source = TopicSource::Path;
        return;
    }
    if (auto h = req.header(kTopicHeader)) {
        if (auto t = parse_topic(*h)) {
            d.topic = std::move(t);
            d.topic_source = TopicSource::Header;
        } else {
            note = "ignored malformed X-Recharge-Topic header";
        }
    }
}

void quarantine(Delivery& d, std::string reason) {
    d.status = DeliveryStatus::Quarantined;
    d.reason = std::move(reason);
    d.payload.reset();
}

// Parses and decodes an authentic body; sets topic (if inferred) and status/reason.
void decode_into(Delivery& d, const IngestOptions& options, const std::string& note) {
    std::string reason;
    if (decode_delivery(d, options.json, reason)) return;
    if (!note.empty() && reason.rfind("no topic", 0) == 0) reason += " (" + note + ")";
    quarantine(d, reason);
}

}  // namespace

std::variant<Delivery, Rejection> prepare_delivery(HttpRequest&& req,
                                                   const std::optional<Topic>& path_topic,
                                                   const KeyRing& keys,
                                                   const IngestOptions& options, Micros now) {
    Delivery d;
    d.received_at = now;
    std::string note;
    topic_from_request(req, path_topic, d, note);

    if (auto dup = duplicated_signature_header(req)) {
        Rejection r = reject("signature_malformed", *dup);
        r.dedupe_key = dedupe_key(req, req.body, d.topic, options);
        return r;
    }
    SignatureHeaders sh;
    sh.legacy = req.header(kLegacyHeader);
    sh.timestamped = req.header(kSignatureHeader);
    sh.timestamp = req.header(kTimestampHeader);
    SignatureResult verdict = keys.verify(sh, req.body, now / kMicrosPerSecond);
    if (!verdict.ok) {
        Rejection r = reject("signature_" + std::string(to_string(verdict.failure)),
                             verdict.detail);
        r.dedupe_key = dedupe_key(req, req.body, d.topic, options);
        return r;
    }
    d.scheme = verdict.scheme;
    d.key_index = verdict.key_index;
    d.body = std::move(req.body);
    decode_into(d, options, note);
    if (verdict.overridden != SignatureFailure::None) {
        // Kept with the row (deliveries.reason) and in the delivery's log line.
        d.signature_overridden = verdict.overridden;
        d.signature_note = verdict.detail;
        d.reason = d.reason.empty() ? verdict.detail : d.reason + "; " + verdict.detail;
    }
    d.dedupe_key = dedupe_key(req, d.body, d.topic, options);
    return d;
}

}  // namespace churnwatch
