// Request handling as a socket-free function: routing, webhook ingest (verify → decode →
// hand to the writer → answer after commit), health, readiness and metrics endpoints.
// Every outcome gets a metric and a structured log line keyed by the dedupe key.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>

#include "http_types.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "signature.h"
#include "writer.h"

namespace churnwatch {

// The Unix time of the latest authentic delivery of each topic (stored, quarantined or a
// duplicate): Recharge deletes a webhook, one topic's registration, after 20 failed retries,
// and a topic silent for longer than it ever is shows it.
inline constexpr std::string_view kLastDeliveryMetric = "churnwatch_last_delivery_timestamp_seconds";
inline constexpr std::string_view kSignatureOverridesMetric = "churnwatch_signature_overrides_total";

// At start: each known topic's latest stored delivery (received_at) into kLastDeliveryMetric,
// so that a restart does not make a silent topic look newly quiet (or absent). One index
// lookup per topic.
void recall_last_deliveries(Metrics& metrics, sql::Database& db);

class RequestHandler {
public:
    using Clock = std::function<Micros()>;
    RequestHandler(const KeyRing& keys, Writer& writer, Metrics& metrics, Logger& logger,
                   IngestOptions options, Clock clock = {});

    // Answers through `respond`, possibly later and from the writer's thread.
    void handle(HttpRequest&& req, Respond respond);

    // A request the transport refused before it was complete (body or headers over the
    // limit, malformed HTTP, too slow): counted, logged, and answered with this response.
    HttpResponse transport_error(int status, std::string_view reason, std::string_view detail,
                                 std::string_view peer = {});

    // /readyz also fails while the database's filesystem has under kReadyMinFreeBytes
    // available (the probe's few bytes can still fit in the WAL's spare room when deliveries
    // no longer do). Set before use; called on an I/O thread per probe.
    static constexpr std::uint64_t kReadyMinFreeBytes = 1 << 20;
    void watch_free_space(std::function<std::optional<std::uint64_t>()> probe) {
        free_space_ = std::move(probe);
    }

private:
    void handle_webhook(HttpRequest&& req, const std::optional<Topic>& path_topic,
                        Respond respond);
    void handle_ready(Respond respond);
    std::string stall_reason(std::chrono::milliseconds limit);
    void reject(const Rejection& r, const std::optional<Topic>& path_topic, Respond& respond,
                std::string_view peer);
    // A request for no route, or with a method its route does not take: counted by reason,
    // and logged (at most one line per 10 s, with the count since) so that a webhook
    // registered with a mistyped address shows up before Recharge gives up on it.
    // Answers /readyz 503 with `why`, and logs not_ready (throttled).
    void not_ready(Respond& respond, const std::string& why);
    void refuse_route(const HttpRequest& req, std::string_view reason);
    void describe_metrics();

    const KeyRing& keys_;
    Writer& writer_;
    Metrics& metrics_;
    Logger& logger_;
    IngestOptions options_;
    Clock clock_;
    std::function<std::optional<std::uint64_t>()> free_space_;
    std::mutex route_log_mu_;  // handle() runs on every I/O thread; guards the throttles below
    // Separately for requests signed like a delivery, so a scanner's noise cannot hide them.
    LogThrottle route_log_{std::chrono::seconds(10)}, signed_route_log_{std::chrono::seconds(10)};
    LogThrottle not_ready_log_{std::chrono::seconds(10)};  // /readyz failing (same mutex)
    LogThrottle stall_log_{std::chrono::seconds(10)};      // storage_stalled (same mutex)
    // Rejected requests and deliveries: a client decides how many, so at most 20 lines a
    // second (the metric counts every one; the next line says how many were not logged).
    LogBudget rejection_log_{20};
    LogBudget failure_log_{20};  // deliveries whose write failed (a full disk)
};

}  // namespace churnwatch
