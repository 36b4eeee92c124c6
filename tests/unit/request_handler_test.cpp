// RequestHandler without a socket: the answer to a delivery the writer stores, and to one it
// refuses (queue full or stopping), with the metric and the status each must produce.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "metrics.h"
#include "request_handler.h"
#include "test_support.h"
#include "writer.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

struct Fixture {
    TempDir dir;
    KeyRing keys{{kSecret}};
    Writer writer{dir.file("h.db"), WriterOptions{}};
    Metrics metrics;
    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    Logger logger{null_fd};
    RequestHandler handler{keys, writer, metrics, logger, IngestOptions{}};

    ~Fixture() {
        writer.stop();
        ::close(null_fd);
    }

    HttpResponse post(const std::string& topic, const std::string& body) {
        HttpRequest req;
        req.method = "POST";
        req.target = "/webhooks/recharge/" + topic;
        req.headers = {{"Content-Type", "application/json"},
                       {"X-Recharge-Hmac-Sha256", legacy_signature(kSecret, body)}};
        req.body = body;
        std::promise<HttpResponse> answer;
        auto f = answer.get_future();
        handler.handle(std::move(req), [&answer](HttpResponse r) { answer.set_value(std::move(r)); });
        return f.get();
    }
};

std::string header(const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return "";
}

const std::string kBody = example_payload("subscription_cancelled.2021-11.json");

}  // namespace

TEST(RequestHandler, StoredDeliveryIsAnsweredWithItsIdAndCounted) {
    Fixture fx;
    HttpResponse r = fx.post("subscription/cancelled", kBody);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"status\":\"accepted\",\"id\":1}");
    EXPECT_EQ(fx.metrics.value("churnwatch_deliveries_total",
                               {{"topic", "subscription/cancelled"}, {"outcome", "accepted"}}),
              1);
    EXPECT_NE(fx.metrics.render().find("churnwatch_ack_duration_seconds_count 1\n"), std::string::npos);

    HttpResponse again = fx.post("subscription/cancelled", kBody);
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body, "{\"status\":\"duplicate\"}");
}

TEST(RequestHandler, RefusedDeliveryIsA503WithRetryAfterAndCountedAsOverloaded) {
    Fixture fx;
    fx.writer.stop();  // submit() now refuses, as with a full queue
    HttpResponse r = fx.post("subscription/cancelled", kBody);
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("writer queue full"), std::string::npos) << r.body;
    EXPECT_EQ(header(r, "Retry-After"), "1");
    EXPECT_EQ(fx.metrics.value("churnwatch_deliveries_total",
                               {{"topic", "subscription/cancelled"}, {"outcome", "overloaded"}}),
              1);
    // Not an acknowledgement: no ack duration is recorded for it.
    EXPECT_EQ(fx.metrics.render().find("churnwatch_ack_duration_seconds_count"), std::string::npos);
}

// A handler whose log lines go to a file the test reads back.
struct LoggedHandler {
    TempDir dir;
    Writer writer{dir.file("h.db"), WriterOptions{}};
    Metrics metrics;
    KeyRing keys{{kSecret}};
    std::string log_path = dir.file("log");
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    Logger logger{fd};
    RequestHandler handler{keys, writer, metrics, logger, IngestOptions{}};

    ~LoggedHandler() {
        writer.stop();
        ::close(fd);
    }
    std::string log() const { return read_file(log_path); }
};

// A full queue answers every delivery 503 as fast as they come: the log gets at most 20
// "overloaded" lines a second, the metric counts every one.
TEST(RequestHandler, OverloadedLinesAreLimitedTheMetricCountsAll) {
    LoggedHandler h;
    ASSERT_GE(h.fd, 0);
    h.writer.stop();  // submit() now refuses, as with a full queue
    for (int i = 0; i < 200; ++i) {
        HttpRequest req;
        req.method = "POST";
        req.target = "/webhooks/recharge/subscription/cancelled";
        req.headers = {{"X-Recharge-Hmac-Sha256", legacy_signature(kSecret, kBody)}};
        req.body = kBody;
        h.handler.handle(std::move(req), [](HttpResponse r) { EXPECT_EQ(r.status, 503); });
    }
    EXPECT_EQ(h.metrics.value("churnwatch_deliveries_total",
                              {{"topic", "subscription/cancelled"}, {"outcome", "overloaded"}}),
              200);
    const std::string log = h.log();
    std::size_t lines = 0;
    for (auto at = log.find("\"outcome\":\"overloaded\""); at != std::string::npos;
         at = log.find("\"outcome\":\"overloaded\"", at + 1))
        ++lines;
    EXPECT_GE(lines, 1u);
    EXPECT_LE(lines, 40u) << "20 a second, in at most two seconds' windows";
}

TEST(RequestHandler, UnknownTopicIsCountedUnderOneLabel) {
    Fixture fx;
    HttpResponse r = fx.post("subscription/teleported", kBody);
    EXPECT_EQ(r.status, 200);  // stored for review (quarantined), never lost
    EXPECT_EQ(fx.metrics.value("churnwatch_deliveries_total",
                               {{"topic", "unknown"}, {"outcome", "quarantined"}}),
              1);
}

namespace {

// Its rules wait until released: the writer thread stays inside one projection step, as it
// would inside a commit on a disk that does not answer.
class BlockingApplier : public DeliveryApplier {
public:
    std::promise<void> entered, release;
    std::shared_future<void> released{release.get_future().share()};
    bool first = true;
    void prepare(sql::Database&) override {}
    void apply(sql::Database&, int64_t, const Delivery&) override {
        if (!first) return;
        first = false;
        entered.set_value();
        released.wait();
    }
};

HttpResponse get_ready(RequestHandler& handler) {
    HttpRequest req;
    req.method = "GET";
    req.target = "/readyz";
    std::promise<HttpResponse> answer;
    auto f = answer.get_future();
    handler.handle(std::move(req), [&answer](HttpResponse r) { answer.set_value(std::move(r)); });
    return f.get();
}

}  // namespace

// A hung disk: the writer inside one piece of work for longer than the limits. Deliveries are
// answered 503 at once (not after Recharge has given up), and /readyz says why at once; both
// recover when the writer does.
TEST(RequestHandler, AWriterThatDoesNotAnswerIsReportedAtOnce) {
    TempDir dir;
    KeyRing keys{{kSecret}};
    BlockingApplier applier;
    WriterOptions writer_options;
    writer_options.stall_answer = std::chrono::milliseconds(200);
    writer_options.probe_stall = std::chrono::milliseconds(100);
    Writer writer{dir.file("h.db"), writer_options, &applier};
    Metrics metrics;
    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    Logger logger{null_fd};
    RequestHandler handler{keys, writer, metrics, logger, IngestOptions{}};
    auto post = [&handler](const std::string& body) {
        HttpRequest req;
        req.method = "POST";
        req.target = "/webhooks/recharge/subscription/cancelled";
        req.headers = {{"X-Recharge-Hmac-Sha256", legacy_signature(kSecret, body)}};
        req.body = body;
        std::promise<HttpResponse> answer;
        auto f = answer.get_future();
        handler.handle(std::move(req), [&answer](HttpResponse r) { answer.set_value(std::move(r)); });
        return f.get();
    };
    EXPECT_EQ(get_ready(handler).status, 200);
    EXPECT_EQ(post(kBody).status, 200);
    applier.entered.get_future().wait();  // the projection of that delivery now hangs
    EXPECT_GT(writer.busy_for(), std::chrono::steady_clock::duration::zero());
    // A probe and a delivery that arrive now wait on it, and are answered once the limits
    // pass (by the writer's stall watch), not when the write finishes.
    HttpRequest probe;
    probe.method = "GET";
    probe.target = "/readyz";
    std::promise<HttpResponse> probe_answer;
    handler.handle(std::move(probe), [&probe_answer](HttpResponse r) { probe_answer.set_value(std::move(r)); });
    const std::string waiting = example_payload("subscription_cancelled.2021-01.json") + " ";
    std::promise<HttpResponse> delivery_answer;
    {
        HttpRequest req;
        req.method = "POST";
        req.target = "/webhooks/recharge/subscription/cancelled";
        req.headers = {{"X-Recharge-Hmac-Sha256", legacy_signature(kSecret, waiting)}};
        req.body = waiting;
        handler.handle(std::move(req), [&delivery_answer](HttpResponse r) { delivery_answer.set_value(std::move(r)); });
    }
    auto waited_probe = probe_answer.get_future();
    ASSERT_EQ(waited_probe.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "the probe waits for ever";
    HttpResponse p = waited_probe.get();
    EXPECT_EQ(p.status, 503);
    EXPECT_NE(p.body.find("storage not responding"), std::string::npos) << p.body;
    auto waited_delivery = delivery_answer.get_future();
    ASSERT_EQ(waited_delivery.wait_for(std::chrono::seconds(10)), std::future_status::ready)
        << "the delivery waits for ever";
    EXPECT_EQ(waited_delivery.get().status, 503);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    HttpResponse ready = get_ready(handler);
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find("storage not responding: the database has not finished a write for 0."),
              std::string::npos)
        << ready.body;
    const std::string other = example_payload("subscription_cancelled.2021-01.json");
    HttpResponse r = post(other);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(header(r, "Retry-After"), "5");
    EXPECT_EQ(metrics.value("churnwatch_deliveries_total", {{"topic", "subscription/cancelled"}, {"outcome", "failed"}}),
              2);
    applier.release.set_value();
    // Back to answering: the next delivery is stored, the probe committed.
    for (int i = 0; i < 100 && writer.busy_for() > std::chrono::milliseconds(0); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // The delivery answered 503 at once was never handed to the writer: sent again, it is stored
    // now (one the stall watch answered would have been stored all the same: a duplicate).
    HttpResponse again = post(other);
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body.rfind("{\"status\":\"accepted\",\"id\":", 0), 0u) << again.body;
    EXPECT_EQ(get_ready(handler).status, 200);
    writer.stop();
    ::close(null_fd);
}

// A full disk: the probe's few bytes could still fit in the WAL's spare room, so /readyz also
// looks at the space left on the database's filesystem.
TEST(RequestHandler, ReadinessFailsOnAFullDisk) {
    Fixture fx;
    std::uint64_t free = 0;
    fx.handler.watch_free_space([&free]() -> std::optional<std::uint64_t> { return free; });
    HttpResponse full = get_ready(fx.handler);
    EXPECT_EQ(full.status, 503);
    EXPECT_NE(full.body.find("disk nearly full (0 bytes available on the database's filesystem; ready needs 1 MiB)"), std::string::npos)
        << full.body;
    free = RequestHandler::kReadyMinFreeBytes;
    EXPECT_EQ(get_ready(fx.handler).status, 200);
    fx.handler.watch_free_space([]() -> std::optional<std::uint64_t> { return std::nullopt; });
    EXPECT_EQ(get_ready(fx.handler).status, 200) << "unknown space is not a full disk";
}

// Every 503 of /readyz is logged as not_ready, whatever its cause: with no delivery
// arriving, a full disk or a full queue showed only in the probe's answer.
TEST(RequestHandler, EveryReadinessFailureIsLogged) {
    for (const bool full_disk : {true, false}) {
        LoggedHandler h;
        ASSERT_GE(h.fd, 0);
        if (full_disk) h.handler.watch_free_space([]() -> std::optional<std::uint64_t> { return 0; });
        else h.writer.stop();  // submit_probe() now refuses, as with a full queue
        HttpResponse r = get_ready(h.handler);
        EXPECT_EQ(r.status, 503);
        const std::string why = full_disk ? "disk nearly full (0 bytes" : "writer queue full";
        EXPECT_NE(r.body.find(why), std::string::npos) << r.body;
        const std::string log = h.log();
        EXPECT_NE(log.find("\"event\":\"not_ready\""), std::string::npos) << log;
        EXPECT_NE(log.find(why), std::string::npos) << log;
    }
}

namespace {

// `handler`'s answer to one request, however it comes (at once, or from the writer's thread).
HttpResponse send(RequestHandler& handler, std::string method, std::string target, Headers headers = {},
                  std::string body = "", std::string_view peer = {}) {
    HttpRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.headers = std::move(headers);
    req.body = std::move(body);
    req.peer = peer;
    std::promise<HttpResponse> answer;
    auto f = answer.get_future();
    handler.handle(std::move(req), [&answer](HttpResponse r) { answer.set_value(std::move(r)); });
    return f.get();
}

std::size_t occurrences(const std::string& s, const std::string& part) {
    std::size_t n = 0;
    for (auto at = s.find(part); at != std::string::npos; at = s.find(part, at + 1)) ++n;
    return n;
}

}  // namespace

TEST(RequestHandler, TheProbesAndTheMetricsPageAnswerGetAndHead) {
    Fixture fx;
    for (const char* method : {"GET", "HEAD"}) {
        HttpResponse health = send(fx.handler, method, "/healthz");
        EXPECT_EQ(health.status, 200) << method;
        EXPECT_EQ(health.body, "{\"status\":\"ok\"}") << method;
        EXPECT_EQ(send(fx.handler, method, "/readyz").status, 200) << method;
        HttpResponse page = send(fx.handler, method, "/metrics");
        EXPECT_EQ(page.status, 200) << method;
        EXPECT_EQ(page.content_type, "text/plain; version=0.0.4; charset=utf-8") << method;
        EXPECT_TRUE(contains(page.body, "# TYPE churnwatch_deliveries_rejected_total counter")) << page.body;
    }
    EXPECT_EQ(fx.metrics.value("churnwatch_deliveries_rejected_total", {{"reason", "method_not_allowed"}}), 0);
}

// RFC 9110 15.5.6: a 405 lists the methods the route takes in Allow.
TEST(RequestHandler, OtherMethodsOnTheProbesAndTheMetricsPageAre405WithAllow) {
    Fixture fx;
    for (const char* target : {"/healthz", "/readyz", "/metrics"})
        for (const char* method : {"POST", "PUT", "DELETE"}) {
            HttpResponse r = send(fx.handler, method, target);
            EXPECT_EQ(r.status, 405) << method << " " << target;
            EXPECT_EQ(r.body, "{\"error\":\"use GET\"}") << method << " " << target;
            EXPECT_EQ(header(r, "Allow"), "GET, HEAD") << method << " " << target;
        }
    EXPECT_EQ(fx.metrics.value("churnwatch_deliveries_rejected_total", {{"reason", "method_not_allowed"}}), 9);
}

TEST(RequestHandler, TheWebhookRouteTakesOnlyPost) {
    Fixture fx;
    for (const char* method : {"GET", "HEAD", "PUT"}) {
        HttpResponse r = send(fx.handler, method, "/webhooks/recharge/subscription/cancelled",
                              {{"X-Recharge-Hmac-Sha256", legacy_signature(kSecret, kBody)}}, kBody);
        EXPECT_EQ(r.status, 405) << method;
        EXPECT_EQ(r.body, "{\"error\":\"webhooks are delivered with POST\"}") << method;
        EXPECT_EQ(header(r, "Allow"), "POST") << method;
    }
    EXPECT_EQ(fx.metrics.value("churnwatch_deliveries_rejected_total", {{"reason", "method_not_allowed"}}), 3);
    EXPECT_EQ(fx.metrics.value("churnwatch_deliveries_total", {{"topic", "subscription/cancelled"}, {"outcome", "accepted"}}), 0);
}

TEST(RequestHandler, AnUnknownRouteIs404WhateverTheMethod) {
    Fixture fx;
    for (const char* method : {"GET", "POST"}) {
        HttpResponse r = send(fx.handler, method, "/webhooks/stripe");
        EXPECT_EQ(r.status, 404) << method;
        EXPECT_EQ(r.body, "{\"error\":\"no such route\"}") << method;
        EXPECT_EQ(header(r, "Allow"), "") << method;
    }
    EXPECT_EQ(fx.metrics.value("churnwatch_deliveries_rejected_total", {{"reason", "no_such_route"}}), 2);
    EXPECT_EQ(fx.metrics.value("churnwatch_deliveries_rejected_total", {{"reason", "method_not_allowed"}}), 0);
}

// A delivery that fails verification: its status and reason come from ingest, the answer says
// both, the metric counts the reason, and the log line names the peer (Recharge, or a scanner?).
TEST(RequestHandler, AnUnverifiedDeliveryIsRefusedWithItsReason) {
    LoggedHandler h;
    ASSERT_GE(h.fd, 0);
    const std::string peer = "203.0.113.7:40000";
    HttpResponse r = send(h.handler, "POST", "/webhooks/recharge", {}, kBody, peer);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body.rfind("{\"error\":\"signature_missing\",\"detail\":\"", 0), 0u) << r.body;
    EXPECT_FALSE(contains(r.body, "\"detail\":\"signature_missing\"")) << r.body;
    HttpResponse wrong = send(h.handler, "POST", "/webhooks/recharge/subscription/cancelled",
                              {{"X-Recharge-Hmac-Sha256", legacy_signature("another secret", kBody)}}, kBody, peer);
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(wrong.body.rfind("{\"error\":\"signature_mismatch\",", 0), 0u) << wrong.body;
    EXPECT_EQ(h.metrics.value("churnwatch_deliveries_rejected_total", {{"reason", "signature_missing"}}), 1);
    EXPECT_EQ(h.metrics.value("churnwatch_deliveries_rejected_total", {{"reason", "signature_mismatch"}}), 1);
    const std::string log = h.log();
    EXPECT_EQ(occurrences(log, "\"peer\":\"203.0.113.7:40000\""), 2u) << log;
    EXPECT_TRUE(contains(log, "\"reason\":\"signature_missing\"")) << log;
    EXPECT_TRUE(contains(log, "\"topic\":\"none\"")) << log;
    EXPECT_TRUE(contains(log, "\"topic\":\"subscription/cancelled\"")) << log;
}

// A request for no route is logged with its path, but never with its query, which may carry a
// token; a scanner's long path and method are cut short.
TEST(RequestHandler, ARefusedRouteIsLoggedWithoutItsQuery) {
    LoggedHandler h;
    ASSERT_GE(h.fd, 0);
    send(h.handler, "GET", "/admin/login.php?token=s3cr3t&x=1", {}, "", "198.51.100.9:5555");
    const std::string log = h.log();
    EXPECT_TRUE(contains(log, "\"reason\":\"no_such_route\"")) << log;
    EXPECT_TRUE(contains(log, "\"path\":\"/admin/login.php\"")) << log;
    EXPECT_TRUE(contains(log, "\"peer\":\"198.51.100.9:5555\"")) << log;
    EXPECT_FALSE(contains(log, "s3cr3t")) << log;
    EXPECT_FALSE(contains(log, "refused_since_last_line")) << "the first line of all: " << log;
    EXPECT_FALSE(contains(log, "\"hint\"")) << "not signed: " << log;

    LoggedHandler longer;
    ASSERT_GE(longer.fd, 0);
    send(longer.handler, std::string(20, 'M'), "/" + std::string(300, 'p'));
    const std::string cut = longer.log();
    EXPECT_TRUE(contains(cut, "\"method\":\"" + std::string(16, 'M') + "\"")) << cut;
    EXPECT_TRUE(contains(cut, "\"path\":\"/" + std::string(199, 'p') + "\"")) << cut;
}

// A target in absolute form may carry a user and password before its host
// (http://user:pw@host/...): logged without them, as without the query or a fragment.
TEST(RequestHandler, ARefusedRouteIsLoggedWithoutCredentialsInItsTarget) {
    for (const std::string target : {"http://admin:s3cr3t@198.51.100.1/setup.cgi?x=1",
                                     "HTTPS://admin:s3cr3t@198.51.100.1/setup.cgi#s3cr3t"}) {
        LoggedHandler h;
        ASSERT_GE(h.fd, 0);
        send(h.handler, "GET", target);
        const std::string log = h.log();
        EXPECT_FALSE(contains(log, "s3cr3t")) << log;
        EXPECT_FALSE(contains(log, "admin")) << log;
        EXPECT_TRUE(contains(log, "198.51.100.1/setup.cgi\"")) << log;
    }
    LoggedHandler at_in_path;  // an @ after the host is the path's, kept
    ASSERT_GE(at_in_path.fd, 0);
    send(at_in_path.handler, "GET", "http://198.51.100.1/u/@me");
    EXPECT_TRUE(contains(at_in_path.log(), "\"path\":\"http://198.51.100.1/u/@me\"")) << at_in_path.log();
}

// Refused routes are logged at most once per 10 s; requests signed like a delivery (a webhook
// registered with a mistyped address, most likely) have their own allowance, so a scanner's
// noise cannot hide them, and say what to check.
TEST(RequestHandler, ASignedRequestForAWrongRouteIsLoggedApartWithAHint) {
    const std::vector<std::pair<std::string, std::string>> signatures = {
        {"X-Recharge-Hmac-Sha256", legacy_signature(kSecret, kBody)},
        {"X-Recharge-Webhook-Signature", timestamped_signature(kSecret, now_seconds(), kBody)},
        {"webhook-signature", "v1,c2lnbmF0dXJl"}};
    for (const auto& signature : signatures) {
        LoggedHandler h;
        ASSERT_GE(h.fd, 0);
        send(h.handler, "GET", "/wp-admin");
        send(h.handler, "GET", "/.env");  // within 10 s of the first: counted, not logged
        send(h.handler, "POST", "/webhook/recharge", {signature}, kBody);
        const std::string log = h.log();
        EXPECT_EQ(occurrences(log, "\"event\":\"request\""), 2u) << signature.first << ": " << log;
        EXPECT_FALSE(contains(log, "/.env")) << log;
        EXPECT_TRUE(contains(log, "\"path\":\"/webhook/recharge\"")) << signature.first << ": " << log;
        EXPECT_EQ(occurrences(log, "\"hint\":\"a signed delivery"), 1u) << signature.first << ": " << log;
        EXPECT_EQ(h.metrics.value("churnwatch_deliveries_rejected_total", {{"reason", "no_such_route"}}), 3);
    }
}

// What the session refuses before the handler sees a request (a header too large, a timeout):
// counted by reason, logged with the peer, answered with the detail.
TEST(RequestHandler, ATransportErrorIsCountedLoggedAndAnsweredWithItsDetail) {
    LoggedHandler h;
    ASSERT_GE(h.fd, 0);
    HttpResponse r = h.handler.transport_error(431, "header_too_large", "header block over 8192 bytes", "192.0.2.1:1234");
    EXPECT_EQ(r.status, 431);
    EXPECT_EQ(r.body, "{\"error\":\"header block over 8192 bytes\"}");
    EXPECT_EQ(h.metrics.value("churnwatch_deliveries_rejected_total", {{"reason", "header_too_large"}}), 1);
    const std::string log = h.log();
    EXPECT_TRUE(contains(log, "\"reason\":\"header_too_large\"")) << log;
    EXPECT_TRUE(contains(log, "\"peer\":\"192.0.2.1:1234\"")) << log;
}

TEST(RequestHandler, AStoredDeliveryIsLoggedWithWhereItsTopicCameFrom) {
    LoggedHandler h;
    ASSERT_GE(h.fd, 0);
    EXPECT_EQ(send(h.handler, "POST", "/webhooks/recharge/subscription/cancelled",
                   {{"X-Recharge-Hmac-Sha256", legacy_signature(kSecret, kBody)}}, kBody)
                  .status,
              200);
    EXPECT_TRUE(eventually([&h] { return contains(h.log(), "\"topic_source\":\"path\""); })) << h.log();
}

namespace {

// A handler whose clock the test sets (Unix microseconds).
struct ClockedHandler {
    TempDir dir;
    Writer writer{dir.file("h.db"), WriterOptions{}};
    Metrics metrics;
    KeyRing keys{{kSecret}};
    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    Logger logger{null_fd};
    Micros now = 0;
    RequestHandler handler{keys, writer, metrics, logger, IngestOptions{}, [this] { return now; }};

    ~ClockedHandler() {
        writer.stop();
        ::close(null_fd);
    }
    HttpResponse post(const std::string& body, Headers extra = {}) {
        extra.emplace_back("X-Recharge-Hmac-Sha256", legacy_signature(kSecret, body));
        return send(handler, "POST", "/webhooks/recharge/subscription/cancelled", std::move(extra), body);
    }
    double last_delivery() const {
        return metrics.value(kLastDeliveryMetric, {{"topic", "subscription/cancelled"}});
    }
};

}  // namespace

// The latest authentic delivery of a topic is the time it arrived (in seconds), also when it
// was a duplicate; one refused (503, to be retried) does not count.
TEST(RequestHandler, TheLastDeliveryTimeIsWhenTheLatestTakenDeliveryArrived) {
    ClockedHandler h;
    const int64_t t = now_seconds();  // the writer forgets what is older than a week by its own clock
    h.now = t * kMicrosPerSecond + 250'000;
    EXPECT_EQ(h.post(kBody).status, 200);
    EXPECT_EQ(h.last_delivery(), static_cast<double>(t));
    h.now += 60 * kMicrosPerSecond;
    EXPECT_EQ(h.post(kBody).body, "{\"status\":\"duplicate\"}");
    EXPECT_EQ(h.last_delivery(), static_cast<double>(t + 60));
    h.writer.stop();  // submit() now refuses, as with a full queue
    h.now += 60 * kMicrosPerSecond;
    EXPECT_EQ(h.post(kBody + " ").status, 503);
    EXPECT_EQ(h.last_delivery(), static_cast<double>(t + 60));
}

// A timestamped signature that fails beside a legacy hash that verifies: the delivery is taken,
// and the override counted by how it failed, only once it is stored (a 503 is retried and
// counted then). Each way of failing is rendered from the start, at 0.
TEST(RequestHandler, ASignatureOverrideIsCountedWhenTheDeliveryIsTaken) {
    ClockedHandler h;
    const std::string overrides = std::string(kSignatureOverridesMetric);
    for (const char* f : {"malformed", "mismatch", "stale"})
        EXPECT_TRUE(contains(h.metrics.render(), overrides + "{timestamped=\"" + f + "\"} 0\n")) << f;
    h.now = 1'700'000'000'000'000;
    EXPECT_EQ(h.post(kBody, {{"X-Recharge-Webhook-Signature", "not a signature"}}).status, 200);
    EXPECT_EQ(h.metrics.value(kSignatureOverridesMetric, {{"timestamped", "malformed"}}), 1);
    h.writer.stop();
    EXPECT_EQ(h.post(kBody + " ", {{"X-Recharge-Webhook-Signature", "not a signature"}}).status, 503);
    EXPECT_EQ(h.metrics.value(kSignatureOverridesMetric, {{"timestamped", "malformed"}}), 1);
}

// At start, each topic's latest stored delivery is read back into the metric; a topic never
// delivered gets no sample (not a time of 0).
TEST(RecallLastDeliveries, EachStoredTopicGetsItsLatestArrival) {
    ClockedHandler h;
    h.now = 1'700'000'000'250'000;
    EXPECT_EQ(h.post(kBody).status, 200);
    h.now = 1'700'000'100'000'000;
    EXPECT_EQ(h.post(example_payload("subscription_cancelled.2021-01.json")).status, 200);
    h.writer.stop();
    sql::Database db(h.dir.file("h.db"));
    Metrics restarted;
    recall_last_deliveries(restarted, db);
    EXPECT_EQ(restarted.value(kLastDeliveryMetric, {{"topic", "subscription/cancelled"}}), 1'700'000'100.0);
    const std::string page = restarted.render();
    EXPECT_EQ(occurrences(page, std::string(kLastDeliveryMetric) + "{"), 1u) << page;
}
