// Request handling as a socket-free function: routing, webhook ingest (verify → decode →
// hand to the writer → answer after commit), health, readiness and metrics endpoints.
// Every outcome gets a metric and a structured log line keyed by the dedupe key.
#pragma once

#include <functional>
#include <string_view>

#include "http_types.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "signature.h"
#include "writer.h"

namespace churnwatch {

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

private:
    void handle_webhook(HttpRequest&& req, const std::optional<Topic>& path_topic,
                        Respond respond);
    void handle_ready(Respond respond);
    void reject(const Rejection& r, const std::optional<Topic>& path_topic, Respond& respond,
                std::string_view peer);
    void describe_metrics();

    const KeyRing& keys_;
    Writer& writer_;
    Metrics& metrics_;
    Logger& logger_;
    IngestOptions options_;
    Clock clock_;
};

}  // namespace churnwatch
