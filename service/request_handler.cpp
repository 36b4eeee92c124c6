#include "request_handler.h"

#include <algorithm>
#include <chrono>

#include "route.h"
#include "standard_webhooks.h"

namespace churnwatch {

namespace {

Micros system_now() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// Topic label for metrics: only known topics, so an authenticated sender cannot mint
// unbounded label values.
std::string_view topic_label(const std::optional<Topic>& t) {
    if (!t) return "none";
    return known_topic_name(*t).value_or("unknown");
}

std::string_view outcome_name(WriteOutcome o, DeliveryStatus s) {
    switch (o) {
        case WriteOutcome::Stored: return to_string(s);
        case WriteOutcome::Duplicate: return "duplicate";
        case WriteOutcome::Failed: return "failed";
        case WriteOutcome::Probe: return "probe";
        case WriteOutcome::Refused: return "overloaded";
    }
    return "failed";
}

}  // namespace

void recall_last_deliveries(Metrics& metrics, sql::Database& db) {
    sql::Statement latest(db,
                          "SELECT CAST(strftime('%s', max(received_at)) AS INTEGER) FROM deliveries"
                          " WHERE topic = ?");
    for (std::string_view topic : known_topic_names()) {
        latest.reset();
        latest.bind(1, topic);
        if (latest.step() && !latest.is_null(0))
            metrics.set(kLastDeliveryMetric, {{"topic", topic}}, static_cast<double>(latest.column_int(0)));
    }
}

RequestHandler::RequestHandler(const KeyRing& keys, Writer& writer, Metrics& metrics,
                               Logger& logger, IngestOptions options, Clock clock)
    : keys_(keys), writer_(writer), metrics_(metrics), logger_(logger),
      options_(std::move(options)), clock_(clock ? std::move(clock) : Clock(system_now)) {
    describe_metrics();
}

void RequestHandler::describe_metrics() {
    metrics_.describe_counter("churnwatch_deliveries_total",
                              "Webhook deliveries answered, by topic and outcome "
                              "(accepted, quarantined, duplicate, failed, overloaded).");
    metrics_.describe_gauge(kLastDeliveryMetric,
                            "Unix time of the latest authentic delivery (stored, quarantined or a "
                            "duplicate) by topic: a topic silent for longer than it ever is may "
                            "have had its webhook deleted by Recharge.");
    metrics_.describe_counter("churnwatch_deliveries_rejected_total",
                              "Requests refused before storage, by reason.");
    metrics_.describe_counter(kSignatureOverridesMetric,
                              "Deliveries accepted on the legacy hash whose timestamped signature "
                              "did not verify, by how it failed (malformed, mismatch, stale): "
                              "steadily rising, Recharge's timestamped format may differ from ours.");
    for (const char* f : {"malformed", "mismatch", "stale"})
        metrics_.inc(kSignatureOverridesMetric, {{"timestamped", f}}, 0);
    metrics_.describe_histogram("churnwatch_ack_duration_seconds",
                                "From a complete webhook request to its answer.",
                                {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                 1, 2.5, 5});
    metrics_.describe_gauge("churnwatch_writer_queue_depth",
                            "Deliveries waiting for the writer's next group commit.");
    metrics_.gauge_fn("churnwatch_writer_queue_depth",
                      [w = &writer_] { return static_cast<double>(w->queue_depth()); });
    metrics_.describe_gauge("churnwatch_projection_lag",
                            "Stored deliveries whose churn rules have not run yet (by id).");
    metrics_.gauge_fn("churnwatch_projection_lag",
                      [w = &writer_] { return static_cast<double>(w->projection_lag()); });
}

void RequestHandler::handle(HttpRequest&& req, Respond respond) {
    Route r = route(req.target);
    bool get = req.method == "GET" || req.method == "HEAD";
    // 405 carries Allow, as RFC 9110 requires.
    auto get_only = [&] {
        refuse_route(req, "method_not_allowed");
        HttpResponse res = error_response(405, "use GET");
        res.headers.emplace_back("Allow", "GET, HEAD");
        respond(std::move(res));
    };
    switch (r.kind) {
        case Route::Health:
            if (!get) return get_only();
            return respond(json_response(200, "{\"status\":\"ok\"}"));
        case Route::Ready:
            if (!get) return get_only();
            return handle_ready(std::move(respond));
        case Route::MetricsPage: {
            if (!get) return get_only();
            HttpResponse page = json_response(200, metrics_.render());
            page.content_type = "text/plain; version=0.0.4; charset=utf-8";
            return respond(std::move(page));
        }
        case Route::Webhook:
            if (req.method != "POST") {
                refuse_route(req, "method_not_allowed");
                HttpResponse res = error_response(405, "webhooks are delivered with POST");
                res.headers.emplace_back("Allow", "POST");
                return respond(std::move(res));
            }
            return handle_webhook(std::move(req), r.topic, std::move(respond));
        case Route::NotFound:
            break;
    }
    refuse_route(req, "no_such_route");
    respond(error_response(404, "no such route"));
}

namespace {

// A request target without what may carry secrets: the query and a fragment (tokens), and in
// absolute form the user and password before the host (http://user:pw@host/...).
std::string loggable_target(std::string_view target) {
    target = target.substr(0, target.find_first_of("?#"));
    const std::size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || target.substr(0, scheme_end).find('/') != std::string_view::npos)
        return std::string(target);
    const std::size_t host_start = scheme_end + 3;
    const std::size_t authority_end = std::min(target.find('/', host_start), target.size());
    const std::size_t at = target.substr(host_start, authority_end - host_start).rfind('@');
    if (at == std::string_view::npos) return std::string(target);
    return std::string(target.substr(0, host_start)) + std::string(target.substr(host_start + at + 1));
}

}  // namespace

void RequestHandler::refuse_route(const HttpRequest& req, std::string_view reason) {
    metrics_.inc("churnwatch_deliveries_rejected_total", {{"reason", reason}});
    // Signed like a delivery: most likely a webhook registered with a mistyped address.
    const bool is_signed = req.header(kLegacyHeader) || req.header(kSignatureHeader) ||
                           req.header(kWebhookSignatureHeader);
    std::lock_guard lock(route_log_mu_);
    LogThrottle& throttle = is_signed ? signed_route_log_ : route_log_;
    if (!throttle.due()) return;
    constexpr std::size_t kMaxPath = 200;  // a scanner's path can be long
    const std::string target = loggable_target(req.target);
    LogLine line(logger_, LogLevel::Warn, "request");
    line.str("outcome", "rejected").str("reason", reason).str("method", req.method.substr(0, 16));
    line.str("path", target.substr(0, kMaxPath));
    line.str("peer", req.peer);
    if (throttle.occurrences() > 1) line.num("refused_since_last_line", throttle.occurrences());
    if (is_signed)
        line.str("hint", "a signed delivery: webhooks go to POST /webhooks/recharge or "
                         "/webhooks/recharge/<topic>; check the address registered with Recharge");
}

// "" while the writer answers; else why a write now would wait on a disk (or lock) that
// does not answer, logged at most once per 10 s. (Requests already waiting on it are
// answered by the writer's stall watch.)
std::string RequestHandler::stall_reason(std::chrono::milliseconds limit) {
    const auto busy = writer_.busy_for();
    if (busy < limit) return "";
    std::string why = churnwatch::storage_stalled(busy);
    std::lock_guard lock(route_log_mu_);
    if (stall_log_.due())
        LogLine(logger_, LogLevel::Error, "storage_stalled")
            .str("reason", why)
            .num("busy_ms", std::chrono::duration_cast<std::chrono::milliseconds>(busy).count())
            .num("answers_since_last_line", stall_log_.occurrences());
    return why;
}

// Every 503 of /readyz is logged too (at most once per 10 s): with no delivery arriving, a
// database deleted under the server, or a full disk, showed only in the probe's answer.
void RequestHandler::not_ready(Respond& respond, const std::string& why) {
    {
        std::lock_guard lock(route_log_mu_);
        if (not_ready_log_.due())
            LogLine(logger_, LogLevel::Error, "not_ready")
                .str("reason", why)
                .num("probes_since_last_line", not_ready_log_.occurrences());
    }
    respond(error_response(503, why));
}

void RequestHandler::handle_ready(Respond respond) {
    if (std::string why = stall_reason(writer_.options().probe_stall); !why.empty())
        return not_ready(respond, "database not writable: " + why);
    if (auto free = free_space_ ? free_space_() : std::nullopt; free && *free < kReadyMinFreeBytes)
        return not_ready(respond, "database not writable soon: disk nearly full (" + std::to_string(*free) +
                                      " bytes available on the database's filesystem; ready needs 1 MiB)");
    // The callback runs at most once and only when queued; a refused probe leaves it unrun.
    auto answer = std::make_shared<Respond>(std::move(respond));
    bool queued = writer_.submit_probe([this, answer](const WriteResult& w) {
        if (w.outcome == WriteOutcome::Probe) return (*answer)(json_response(200, "{\"status\":\"ready\"}"));
        not_ready(*answer, "database not writable: " + w.error);
    });
    if (!queued) not_ready(*answer, "writer queue full");
}

void RequestHandler::reject(const Rejection& r, const std::optional<Topic>& path_topic,
                            Respond& respond, std::string_view peer) {
    metrics_.inc("churnwatch_deliveries_rejected_total", {{"reason", r.reason}});
    if (int64_t suppressed = 0; rejection_log_.allow(suppressed)) {
        LogLine line(logger_, LogLevel::Warn, "delivery");
        line.str("outcome", "rejected")
            .str("reason", r.reason)
            .str("detail", r.detail)
            .str("dedupe_key", r.dedupe_key)
            .str("topic", topic_label(path_topic))
            .str("peer", peer);  // Recharge, or a scanner?
        if (suppressed) line.num("rejections_not_logged", suppressed);
    }
    std::string body = "{\"error\":";
    append_json_string(body, r.reason);
    body += ",\"detail\":";
    append_json_string(body, r.detail);
    respond(json_response(r.status, body + "}"));
}

void RequestHandler::handle_webhook(HttpRequest&& req, const std::optional<Topic>& path_topic,
                                    Respond respond) {
    Micros started = clock_();
    const std::string_view peer = req.peer;  // the session's string: outlives this call
    auto prepared = prepare_delivery(std::move(req), path_topic, keys_, options_, started);
    if (auto* rej = std::get_if<Rejection>(&prepared)) return reject(*rej, path_topic, respond, peer);

    Delivery& d = std::get<Delivery>(prepared);
    // Everything the answer needs, moved or viewed rather than copied where it can be: this
    // runs for every delivery (topic and source name static strings; the handler outlives
    // the writer's callbacks).
    std::string_view topic = topic_label(d.topic);
    std::string_view source = d.topic_source ? to_string(*d.topic_source) : std::string_view();
    WriteCallback done = [this, topic, source, started, key = d.dedupe_key, reason = d.reason,
                          overridden = d.signature_overridden, respond = std::move(respond)](const WriteResult& w) {
        std::string_view outcome = outcome_name(w.outcome, w.status);
        metrics_.inc("churnwatch_deliveries_total", {{"topic", topic}, {"outcome", outcome}});
        // Taken (stored, or already stored) on the legacy hash: a 503 is retried and counts then.
        if (overridden != SignatureFailure::None &&
            (w.outcome == WriteOutcome::Stored || w.outcome == WriteOutcome::Duplicate))
            metrics_.inc(kSignatureOverridesMetric, {{"timestamped", to_string(overridden)}});
        // When it arrived: the clock was read then already.
        if (w.outcome == WriteOutcome::Stored || w.outcome == WriteOutcome::Duplicate)
            metrics_.set(kLastDeliveryMetric, {{"topic", topic}}, static_cast<double>(started / kMicrosPerSecond));
        if (w.outcome != WriteOutcome::Refused) {
            double seconds = static_cast<double>(clock_() - started) / kMicrosPerSecond;
            metrics_.observe("churnwatch_ack_duration_seconds", seconds);
        }
        // Refusals (a full queue) and failures (a full disk) come as fast as deliveries do:
        // at most 20 lines a second of each, the next one logged counting those left out.
        int64_t suppressed = 0;
        if ((w.outcome != WriteOutcome::Refused || rejection_log_.allow(suppressed)) &&
            (w.outcome != WriteOutcome::Failed || failure_log_.allow(suppressed))) {
            LogLevel level = w.outcome == WriteOutcome::Failed    ? LogLevel::Error
                             : w.outcome == WriteOutcome::Refused ? LogLevel::Warn
                                                                  : LogLevel::Info;
            LogLine line(logger_, level, "delivery");
            line.str("outcome", outcome).str("dedupe_key", key).str("topic", topic);
            if (!source.empty()) line.str("topic_source", source);
            if (w.delivery_id) line.num("id", w.delivery_id);
            if (!w.error.empty()) line.str("reason", w.error);
            else if (!reason.empty()) line.str("reason", reason);
            if (suppressed)
                line.num(w.outcome == WriteOutcome::Failed ? "failures_not_logged" : "rejections_not_logged",
                         suppressed);
        }
        if (w.outcome == WriteOutcome::Refused) {
            HttpResponse res = error_response(503, "writer queue full, retry later");
            res.headers.emplace_back("Retry-After", "1");
            return respond(std::move(res));
        }
        if (w.outcome == WriteOutcome::Failed) {
            HttpResponse res = error_response(503, "storage unavailable, retry later");
            res.headers.emplace_back("Retry-After", "5");
            return respond(std::move(res));
        }
        std::string body = "{\"status\":\"";
        body += outcome;
        body += '"';
        if (w.delivery_id) body += ",\"id\":" + std::to_string(w.delivery_id);
        body += '}';
        respond(json_response(200, std::move(body)));
    };
    // Behind a write that has not finished for seconds, this one would wait past Recharge's
    // 5 s: answered now, as a storage failure it can retry.
    if (std::string why = stall_reason(writer_.options().stall_answer); !why.empty()) {
        WriteResult failed{WriteOutcome::Failed};
        failed.error = std::move(why);
        return done(failed);
    }
    // Not queued: submit() left `done` untouched, so it answers the refusal itself.
    if (!writer_.submit(std::move(d), std::move(done))) done(WriteResult{WriteOutcome::Refused});
}

HttpResponse RequestHandler::transport_error(int status, std::string_view reason,
                                             std::string_view detail, std::string_view peer) {
    metrics_.inc("churnwatch_deliveries_rejected_total", {{"reason", reason}});
    if (int64_t suppressed = 0; rejection_log_.allow(suppressed)) {
        LogLine line(logger_, LogLevel::Warn, "request");
        line.str("outcome", "rejected").str("reason", reason).str("detail", detail);
        if (!peer.empty()) line.str("peer", peer);
        if (suppressed) line.num("rejections_not_logged", suppressed);
    }
    return error_response(status, detail);
}

}  // namespace churnwatch
