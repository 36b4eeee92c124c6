// RequestHandler without a socket: the answer to a delivery the writer stores, and to one it
// refuses (queue full or stopping), with the metric and the status each must produce.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <future>

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

TEST(RequestHandler, UnknownTopicIsCountedUnderOneLabel) {
    Fixture fx;
    HttpResponse r = fx.post("subscription/teleported", kBody);
    EXPECT_EQ(r.status, 200);  // stored for review (quarantined), never lost
    EXPECT_EQ(fx.metrics.value("churnwatch_deliveries_total",
                               {{"topic", "unknown"}, {"outcome", "quarantined"}}),
              1);
}
