// Alert hooks end to end: the real churnwatch binary, signed deliveries that make customers
// churn, and a real local HTTP receiver. Every wait polls for the expected state with a
// deadline; nothing is asserted by sleeping.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <rapidjson/document.h>

#include "http_receiver.h"
#include "payloads.h"
#include "standard_webhooks.h"
#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;
using namespace std::chrono_literals;

namespace {

// The Standard Webhooks specification's example secret.
const std::string kAlertSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

void send(int port, const TestDelivery& d, const Headers& extra = {}) {
    auto r = post_webhook(port, "/webhooks/recharge/" + d.topic, d.body, extra);
    ASSERT_EQ(r.status, 200) << d.topic << " " << r.body;
    ASSERT_EQ(r.body.find("quarantined"), std::string::npos) << r.body;
}

TestDelivery subscription(int64_t id, int64_t customer, const std::string& status, const std::string& at) {
    SubscriptionSpec s{.id = id, .customer_id = customer, .status = status, .updated_at = at};
    if (status == "cancelled") s.cancelled_at = at;
    std::string action = status == "active" ? "activated" : "cancelled";
    return {"subscription/" + action, subscription_json(s)};
}

// Customer c: a subscription, a paid charge (which tells us the email), then the
// cancellation — one churn episode, reason cancelled.
void churn_customer(int port, int64_t c) {
    send(port, subscription(c * 10, c, "active", "2026-01-01T00:00:00+00:00"));
    send(port, {"charge/paid", charge_json({.id = c * 100, .customer_id = c,
                                            .updated_at = "2026-01-02T00:00:00+00:00",
                                            .subscription_ids = {c * 10}})});
    send(port, subscription(c * 10, c, "cancelled", "2026-03-01T12:00:00+00:00"));
}

void reactivate_customer(int port, int64_t c) {
    send(port, subscription(c * 10, c, "active", "2026-04-01T00:00:00+00:00"));
}

ServerProcess::Options alert_options(const std::vector<std::string>& targets,
                                     std::vector<std::string> extra = {}) {
    ServerProcess::Options o;
    for (const auto& t : targets) {
        o.args.push_back("--alert-url");
        o.args.push_back(t);
    }
    o.args.insert(o.args.end(), extra.begin(), extra.end());
    o.env["CHURNWATCH_ALERT_SECRET"] = kAlertSecret;
    return o;
}

std::string column(const std::string& db, const std::string& col, const std::string& where = "1") {
    return query_text(db, "SELECT " + col + " FROM alerts_outbox WHERE " + where + " ORDER BY id LIMIT 1");
}

// The value of one sample on /metrics (-1 when absent).
double metric(int port, const std::string& name, const std::string& target) {
    std::string page = http_request(port, "GET", "/metrics").body;
    std::string key = name + "{target=\"" + target + "\"} ";
    auto at = page.find(key);
    if (at == std::string::npos) return -1;
    return std::stod(page.substr(at + key.size(), page.find('\n', at) - at - key.size()));
}

void expect_verified(const HttpReceiver::Request& r, const std::string& secret = kAlertSecret) {
    auto signer = StandardWebhookSigner::from_secret(secret);
    ASSERT_TRUE(signer);
    ASSERT_FALSE(r.header("webhook-timestamp").empty());
    int64_t ts = std::stoll(r.header("webhook-timestamp"));
    EXPECT_TRUE(signer->verify(r.header("webhook-id"), ts, r.body, r.header("webhook-signature"),
                               now_seconds()))
        << "signature " << r.header("webhook-signature") << " for id " << r.header("webhook-id");
}

TEST(Alerts, AChurnSendsExactlyOneSignedAlert) {
    TempDir dir;
    HttpReceiver rx;
    ServerProcess server(dir, alert_options({rx.url("/hook")}));
    churn_customer(server.port(), 7);
    ASSERT_TRUE(rx.wait_for(1)) << server.log();
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status") == "sent"; })) << server.log();
    ASSERT_EQ(rx.count(), 1u);
    auto r = rx.requests()[0];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/hook");
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.header("webhook-id"), column(server.db(), "webhook_id"));
    EXPECT_EQ(r.header("webhook-id").rfind("msg_", 0), 0u);
    EXPECT_EQ(r.header("webhook-signature").rfind("v1,", 0), 0u);
    EXPECT_LE(std::abs(std::stoll(r.header("webhook-timestamp")) - now_seconds()), 60);
    expect_verified(r);
    // A signature made with another secret does not verify: the check above can fail.
    auto other = StandardWebhookSigner::from_secret("whsec_c29tZSBvdGhlciBzZWNyZXQ=");
    EXPECT_FALSE(other->verify(r.header("webhook-id"), std::stoll(r.header("webhook-timestamp")), r.body,
                               r.header("webhook-signature"), now_seconds()));
    // The body is the stored payload, byte for byte, and describes the churn.
    EXPECT_EQ(r.body, column(server.db(), "payload"));
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    ASSERT_FALSE(doc.HasParseError()) << r.body;
    EXPECT_STREQ(doc["type"].GetString(), "customer.churned");
    const auto& data = doc["data"];
    EXPECT_EQ(data["customer_id"].GetInt64(), 7);
    EXPECT_STREQ(data["email"].GetString(), "someone@example.com");
    EXPECT_STREQ(data["reason"].GetString(), "cancelled");
    EXPECT_STREQ(data["category"].GetString(), "voluntary");
    EXPECT_STREQ(data["churned_at"].GetString(), "2026-03-01T12:00:00Z");
    EXPECT_TRUE(data["reactivated_at"].IsNull());
    EXPECT_EQ(data["subscription_id"].GetInt64(), 70);
    EXPECT_TRUE(data["charge_id"].IsNull());
    EXPECT_EQ(data["episode_id"].GetInt64(), query_int(server.db(), "SELECT id FROM churn_events"));
    EXPECT_EQ(data["delivery_id"].GetInt64(), query_int(server.db(), "SELECT delivery_id FROM churn_events"));
    EXPECT_EQ(query_rows(server.db(), "SELECT count(*), status, attempts, last_status FROM alerts_outbox"),
              "1|sent|1|200\n");
    EXPECT_EQ(metric(server.port(), "churnwatch_alerts_sent_total", rx.url("/hook")), 1);
    EXPECT_EQ(metric(server.port(), "churnwatch_alerts_retried_total", rx.url("/hook")), 0);
    std::string log = server.log();
    EXPECT_NE(log.find("\"alert_attempt\""), std::string::npos) << log;
    EXPECT_EQ(log.find(kAlertSecret.substr(6)), std::string::npos) << "the secret leaked into the log";
    EXPECT_EQ(log.find(r.header("webhook-signature").substr(3)), std::string::npos) << "a signature was logged";
}

// A late delivery shows the customer never churned (a subscription created before the
// cancellation, delivered after it): the receiver that was told of the churn is told it is
// retracted, signed like any alert, naming the same episode.
// Rotating the alert secret: with the new and the old one configured, the receiver verifies
// with either, whichever it holds at that moment.
TEST(Alerts, DuringARotationEachSecretVerifiesTheAlert) {
    const std::string old_secret = "whsec_c29tZSBvdGhlciBzZWNyZXQ=";
    TempDir dir;
    HttpReceiver rx;
    auto options = alert_options({rx.url("/hook")});
    options.env["CHURNWATCH_ALERT_SECRET"] = std::string(kAlertSecret) + "," + old_secret;
    ServerProcess server(dir, options);
    churn_customer(server.port(), 7);
    ASSERT_TRUE(rx.wait_for(1)) << server.log();
    auto r = rx.requests()[0];
    const std::string signature = r.header("webhook-signature");
    EXPECT_EQ(std::count(signature.begin(), signature.end(), ' '), 1) << signature;
    expect_verified(r);
    expect_verified(r, old_secret);
    auto unrelated = StandardWebhookSigner::from_secret("whsec_PcNNCFLEJ6rL9kwQag9HPl4uTGb3FgUp");
    EXPECT_FALSE(unrelated->verify(r.header("webhook-id"), std::stoll(r.header("webhook-timestamp")), r.body,
                                   r.header("webhook-signature"), now_seconds()));
}

TEST(Alerts, AChurnALateDeliveryErasesIsRetracted) {
    TempDir dir;
    HttpReceiver rx;
    ServerProcess server(dir, alert_options({rx.url("/hook")}));
    churn_customer(server.port(), 7);
    ASSERT_TRUE(rx.wait_for(1)) << server.log();
    const int64_t episode = query_int(server.db(), "SELECT id FROM churn_events");
    SubscriptionSpec late{.id = 71, .customer_id = 7, .updated_at = "2026-02-01T00:00:00+00:00",
                          .created_at = "2026-02-01T00:00:00+00:00"};
    send(server.port(), {"subscription/created", subscription_json(late)});
    ASSERT_TRUE(rx.wait_for(2)) << server.log();
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM churn_events"), 0);
    auto r = rx.requests()[1];
    expect_verified(r);
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    ASSERT_FALSE(doc.HasParseError()) << r.body;
    EXPECT_STREQ(doc["type"].GetString(), "customer.churn_retracted");
    EXPECT_EQ(doc["data"]["episode_id"].GetInt64(), episode);
    EXPECT_STREQ(doc["data"]["churned_at"].GetString(), "2026-03-01T12:00:00Z");
    EXPECT_NE(r.header("webhook-id"), rx.requests()[0].header("webhook-id"));
    ASSERT_TRUE(eventually([&] {
        return query_rows(server.db(), "SELECT event_type, status FROM alerts_outbox ORDER BY id") ==
               "customer.churned|sent\ncustomer.churn_retracted|sent\n";
    })) << query_rows(server.db(), "SELECT event_type, status FROM alerts_outbox ORDER BY id");
    std::string page = http_request(server.port(), "GET", "/metrics").body;
    EXPECT_NE(page.find("churnwatch_churn_events_retracted_total 1"), std::string::npos) << page;
}

// --alert-hold: a churn alert waits out the hold before it is sent; a customer back within
// it (customer 8) is announced neither as churned nor as back, while one who stays gone
// (customer 7) is, once. The hold is 3 s: nothing may arrive in the first second.
TEST(Alerts, AChurnUndoneWithinTheHoldIsNeverAnnounced) {
    TempDir dir;
    HttpReceiver rx;
    ServerProcess server(dir, alert_options({rx.url("/hook")}, {"--alert-hold", "3"}));
    churn_customer(server.port(), 7);
    churn_customer(server.port(), 8);
    reactivate_customer(server.port(), 8);
    ASSERT_TRUE(eventually([&] {
        return query_rows(server.db(), "SELECT count(*) FROM churn_events") == "2\n";
    })) << server.log();
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(rx.count(), 0u) << "a held churn alert was sent at once";
    ASSERT_TRUE(rx.wait_for(1)) << server.log();
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status", "customer_id = 7") == "sent"; }))
        << server.log();
    std::this_thread::sleep_for(500ms);  // anything else due would have gone out by now
    ASSERT_EQ(rx.count(), 1u);
    rapidjson::Document doc;
    doc.Parse(rx.requests()[0].body.c_str());
    ASSERT_FALSE(doc.HasParseError());
    EXPECT_STREQ(doc["type"].GetString(), "customer.churned");
    EXPECT_EQ(doc["data"]["customer_id"].GetInt64(), 7);
    EXPECT_EQ(query_rows(server.db(), "SELECT customer_id, event_type, status FROM alerts_outbox ORDER BY id"),
              "7|customer.churned|sent\n8|customer.churned|retracted\n");
    // The brief episode is still there for analysts.
    EXPECT_EQ(query_rows(server.db(), "SELECT customer_id, reactivated_at IS NOT NULL FROM churn_events"
                                      " ORDER BY customer_id"),
              "7|0\n8|1\n");
}

TEST(Alerts, ADuplicateOfTheTriggeringWebhookSendsNoSecondAlert) {
    TempDir dir;
    HttpReceiver rx;
    ServerProcess server(dir, alert_options({rx.url("/hook")}));
    churn_customer(server.port(), 7);
    auto cancel = subscription(70, 7, "cancelled", "2026-03-01T12:00:00+00:00");
    send(server.port(), cancel);  // byte-identical retry: a duplicate delivery
    send(server.port(), cancel, {{"X-Recharge-Webhook-Id", "another-id"}});  // same facts, new id
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM alerts_outbox"), 1);
    // A later, different event goes out after the first: had a second churn alert been
    // queued in between, it would have been sent before this one.
    reactivate_customer(server.port(), 7);
    ASSERT_TRUE(rx.wait_for(2)) << server.log();
    ASSERT_TRUE(eventually([&] {
        return query_int(server.db(), "SELECT count(*) FROM alerts_outbox WHERE status = 'sent'") == 2;
    }));
    auto reqs = rx.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_NE(reqs[0].body.find("\"customer.churned\""), std::string::npos);
    EXPECT_NE(reqs[1].body.find("\"customer.reactivated\""), std::string::npos);
    EXPECT_NE(reqs[1].body.find("\"reactivated_at\":\"2026-04-01T00:00:00Z\""), std::string::npos) << reqs[1].body;
    EXPECT_NE(reqs[0].header("webhook-id"), reqs[1].header("webhook-id"));
    expect_verified(reqs[1]);
}

TEST(Alerts, ReceiverDownThenUpGetsTheAlertAfterRetries) {
    TempDir dir;
    HttpReceiver rx;
    rx.stop();  // nothing listens on its port now
    ServerProcess server(dir, alert_options({rx.url("/hook")}, {"--alert-backoff-base-ms", "50"}));
    churn_customer(server.port(), 7);
    ASSERT_TRUE(eventually([&] { return std::stoi(column(server.db(), "attempts")) >= 2; })) << server.log();
    EXPECT_EQ(column(server.db(), "status"), "pending");
    EXPECT_EQ(column(server.db(), "last_status"), "NULL");
    EXPECT_NE(column(server.db(), "last_error").find("refused"), std::string::npos);
    rx.start();
    ASSERT_TRUE(rx.wait_for(1)) << server.log();
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status") == "sent"; })) << server.log();
    EXPECT_EQ(rx.count(), 1u);
    auto r = rx.requests()[0];
    EXPECT_EQ(r.header("webhook-id"), column(server.db(), "webhook_id"));
    expect_verified(r);
    EXPECT_GE(metric(server.port(), "churnwatch_alerts_retried_total", rx.url("/hook")), 2);
    EXPECT_EQ(metric(server.port(), "churnwatch_alerts_sent_total", rx.url("/hook")), 1);
}

TEST(Alerts, RetriesKeepTheWebhookIdAndHonourRetryAfter) {
    TempDir dir;
    HttpReceiver rx;
    rx.script({{.status = 503, .headers = {{"Retry-After", "1"}}}, {.status = 500}, {.status = 200}});
    ServerProcess server(dir, alert_options({rx.url("/hook")}, {"--alert-backoff-base-ms", "50"}));
    churn_customer(server.port(), 7);
    ASSERT_TRUE(rx.wait_for(3)) << server.log();
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status") == "sent"; })) << server.log();
    auto reqs = rx.requests();
    ASSERT_EQ(reqs.size(), 3u);
    for (const auto& r : reqs) {
        EXPECT_EQ(r.header("webhook-id"), reqs[0].header("webhook-id"));
        EXPECT_EQ(r.body, reqs[0].body);
        expect_verified(r);
    }
    EXPECT_GE(reqs[1].received - reqs[0].received, 900ms) << "Retry-After: 1 was not honoured";
    EXPECT_EQ(column(server.db(), "attempts"), "3");
}

// After a retryable failure the target rests until that attempt's next try: here the
// receiver's Retry-After of 120 s. An operator who knows it is back runs `alerts retry`
// beside the running server, and the alert goes out within seconds. (The server used to
// ignore the reset row until its rest was over: 119 s in the audit.) A retry ends only its
// own target's rest, and a rest nobody retried still holds back the next alert.
TEST(Alerts, ARetryBesideTheServerEndsTheTargetsRest) {
    TempDir dir;
    HttpReceiver rx, other;
    rx.script({{.status = 503, .headers = {{"Retry-After", "120"}}}});  // then 200
    other.script({{.status = 503, .headers = {{"Retry-After", "120"}}}});
    ServerProcess server(dir, alert_options({rx.url("/hook"), other.url("/other")}));
    churn_customer(server.port(), 7);
    ASSERT_TRUE(rx.wait_for(1)) << server.log();
    ASSERT_TRUE(other.wait_for(1)) << server.log();
    const std::string mine = "target = '" + rx.url("/hook") + "'";
    ASSERT_TRUE(eventually([&] { return column(server.db(), "attempts", mine) == "1"; })) << server.log();
    EXPECT_EQ(column(server.db(), "status", mine), "pending");
    EXPECT_EQ(column(server.db(), "last_status", mine), "503");
    // Another churn meanwhile waits behind the rest: the resting receiver is not probed again.
    churn_customer(server.port(), 8);
    EXPECT_FALSE(rx.wait_for(2, 1500ms)) << server.log();

    auto started = std::chrono::steady_clock::now();
    auto retry = run_churnwatch({"alerts", "retry", column(server.db(), "id", mine), "--db", server.db()});
    ASSERT_EQ(retry.exit_code, 0) << retry.err;
    ASSERT_TRUE(rx.wait_for(2, 5s)) << server.log();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    // The rest is over: the alert that waited goes too, in order.
    ASSERT_TRUE(rx.wait_for(3, 5s)) << server.log();
    auto reqs = rx.requests();
    EXPECT_EQ(reqs[1].header("webhook-id"), reqs[0].header("webhook-id"));
    EXPECT_NE(reqs[1].body.find("\"customer_id\":7"), std::string::npos) << reqs[1].body;
    EXPECT_NE(reqs[2].body.find("\"customer_id\":8"), std::string::npos) << reqs[2].body;
    expect_verified(reqs[1]);
    ASSERT_TRUE(eventually([&] {
        return query_int(server.db(), "SELECT count(*) FROM alerts_outbox WHERE " + mine + " AND status = 'sent'") == 2;
    })) << server.log();
    // The other target still rests: nothing asked for its alerts.
    EXPECT_FALSE(other.wait_for(2, 1500ms)) << server.log();
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM alerts_outbox WHERE target = '" + other.url("/other") +
                                         "' AND status = 'pending'"),
              2);
}

// A retry of a dead alert while another alert of its target rests (waits out a backoff step)
// ends that rest too: both go at once, oldest first. The rest is in the outbox rows, so the
// retry makes the resting one due now; before, the retried alert waited behind it.
TEST(Alerts, RetryingADeadAlertEndsTheRestOfAnotherOfItsTarget) {
    TempDir dir;
    HttpReceiver rx;
    rx.script({{.status = 400}, {.status = 503, .headers = {{"Retry-After", "120"}}}});  // then 200
    ServerProcess server(dir, alert_options({rx.url("/hook")}));
    churn_customer(server.port(), 7);
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status") == "dead"; })) << server.log();
    churn_customer(server.port(), 8);
    ASSERT_TRUE(eventually([&] {
        return query_int(server.db(), "SELECT count(*) FROM alerts_outbox WHERE status = 'pending'"
                                      " AND last_status = 503") == 1;
    })) << server.log();
    auto retry = run_churnwatch({"alerts", "retry", column(server.db(), "id", "status = 'dead'"), "--db", server.db()});
    ASSERT_EQ(retry.exit_code, 0) << retry.err;
    ASSERT_TRUE(rx.wait_for(4, 5s)) << "the resting alert held the retried one back\n" << server.log();
    auto reqs = rx.requests();
    EXPECT_NE(reqs[2].body.find("\"customer_id\":7"), std::string::npos) << reqs[2].body;
    EXPECT_NE(reqs[3].body.find("\"customer_id\":8"), std::string::npos) << reqs[3].body;
}

// An `alerts retry` while an attempt of the same target is under way: that attempt is not
// resting yet, so the retry cannot end its rest in the rows; the dispatcher sees the retry's
// count change and ends the rest the attempt's failure begins. Before, the retried alert
// waited out that whole step (here a Retry-After of 120 s).
TEST(Alerts, ARetryDuringAnAttemptEndsTheRestItsFailureBegins) {
    TempDir dir;
    HttpReceiver rx;
    rx.script({{.status = 400},
               {.status = 503, .headers = {{"Retry-After", "120"}}, .delay = 3000ms}});  // then 200
    ServerProcess server(dir, alert_options({rx.url("/hook")}));
    churn_customer(server.port(), 7);
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status") == "dead"; })) << server.log();
    churn_customer(server.port(), 8);
    ASSERT_TRUE(rx.wait_for(2, 5s)) << server.log();  // the slow attempt has begun
    auto retry = run_churnwatch({"alerts", "retry", column(server.db(), "id", "status = 'dead'"), "--db", server.db()});
    ASSERT_EQ(retry.exit_code, 0) << retry.err;
    ASSERT_TRUE(rx.wait_for(4, 10s)) << "the rest begun after the retry held both\n" << server.log();
}

// An `alerts retry` of the very alert being attempted: its failure is not recorded over the
// retry (which gave it a fresh budget), so it is not dead-lettered but goes again at once.
// Before, the 400 that came back after the retry made it dead, the retry undone.
TEST(Alerts, ARetryOfTheAlertUnderwayIsNotUndoneByItsFailure) {
    TempDir dir;
    HttpReceiver rx;
    rx.script({{.status = 400, .delay = 3000ms}});  // then 200
    ServerProcess server(dir, alert_options({rx.url("/hook")}));
    churn_customer(server.port(), 7);
    ASSERT_TRUE(rx.wait_for(1, 5s)) << server.log();  // the slow attempt has begun
    auto retry = run_churnwatch({"alerts", "retry", column(server.db(), "id"), "--db", server.db()});
    ASSERT_EQ(retry.exit_code, 0) << retry.err;
    ASSERT_TRUE(rx.wait_for(2, 10s)) << "the failure undid the retry\n" << server.log();
    EXPECT_TRUE(eventually([&] { return column(server.db(), "status") == "sent"; })) << server.log();
    EXPECT_EQ(column(server.db(), "attempts"), "1");
}

// An `alerts retry` of the alert being attempted, after a late delivery changed its episode
// (a max-retries mark before the cancellation: reason max_retries, not cancelled): the retry
// rewrites the row to the episode as it is, with a new webhook-id, and the attempt under way
// with the old bytes, though it succeeds, does not mark the row sent: the new bytes go next.
TEST(Alerts, ARetryRewritingTheAlertUnderwayIsSentAfterItsAttempt) {
    TempDir dir;
    HttpReceiver rx;
    rx.script({{.status = 200, .delay = 3000ms}});  // then 200 at once
    ServerProcess server(dir, alert_options({rx.url("/hook")}));
    churn_customer(server.port(), 7);
    ASSERT_TRUE(rx.wait_for(1, 5s)) << server.log();  // the slow attempt has begun
    send(server.port(), {"subscription/updated",
                         subscription_json({.id = 70, .customer_id = 7, .status = "active",
                                            .updated_at = "2026-03-01T11:30:00+00:00", .max_retries_reached = true})});
    ASSERT_TRUE(eventually([&] {
        return query_text(server.db(), "SELECT reason FROM churn_events WHERE customer_id = 7") == "max_retries";
    })) << server.log();
    auto retry = run_churnwatch({"alerts", "retry", column(server.db(), "id"), "--db", server.db()});
    ASSERT_EQ(retry.exit_code, 0) << retry.err;
    EXPECT_NE(retry.out.find("it now carries the episode as it is, with a new webhook-id"), std::string::npos)
        << retry.out;
    ASSERT_TRUE(rx.wait_for(2, 10s)) << "the old bytes' success marked the rewritten row sent\n" << server.log();
    EXPECT_TRUE(eventually([&] { return column(server.db(), "status") == "sent"; })) << server.log();
    auto reqs = rx.requests();
    EXPECT_NE(reqs[0].body.find(R"("reason":"cancelled")"), std::string::npos) << reqs[0].body;
    EXPECT_NE(reqs[1].body.find(R"("reason":"max_retries")"), std::string::npos) << reqs[1].body;
    EXPECT_NE(reqs[1].header("webhook-id"), reqs[0].header("webhook-id"));
    EXPECT_EQ(reqs[1].header("webhook-id"), column(server.db(), "webhook_id"));
    expect_verified(reqs[1]);
}

TEST(Alerts, GoneDisablesTheTargetAcrossRestartsUntilRetried) {
    TempDir dir;
    HttpReceiver rx;
    rx.set_default({.status = 410});
    auto options = alert_options({rx.url("/hook")});
    auto server = std::make_unique<ServerProcess>(dir, options);
    churn_customer(server->port(), 1);
    ASSERT_TRUE(eventually([&] { return column(server->db(), "status") == "disabled"; })) << server->log();
    EXPECT_EQ(query_rows(server->db(), "SELECT target, reason FROM alert_targets_disabled"),
              rx.url("/hook") + "|HTTP 410 Gone for alert 1\n");
    EXPECT_EQ(metric(server->port(), "churnwatch_alert_targets_disabled_total", rx.url("/hook")), 1);
    // The next churn is recorded, but as disabled: nothing is pending, nothing is sent.
    churn_customer(server->port(), 2);
    EXPECT_EQ(column(server->db(), "status", "customer_id = 2"), "disabled");
    // Across a restart too.
    ASSERT_EQ(server->stop(), 0);
    server = std::make_unique<ServerProcess>(dir, options);
    churn_customer(server->port(), 3);
    EXPECT_EQ(query_rows(server->db(), "SELECT customer_id, status FROM alerts_outbox ORDER BY id"),
              "1|disabled\n2|disabled\n3|disabled\n");
    EXPECT_EQ(rx.count(), 1u);
    EXPECT_NE(server->log().find("\"disabled\":true"), std::string::npos) << server->log();

    auto list = run_churnwatch({"alerts", "list", "--db", server->db(), "--status", "disabled"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("customer.churned"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("disabled targets"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("HTTP 410 Gone for alert 1"), std::string::npos) << list.out;

    // The receiver is back; retrying one alert re-enables the target.
    rx.set_default({.status = 200});
    std::string id3 = column(server->db(), "id", "customer_id = 3");
    auto retry = run_churnwatch({"alerts", "retry", id3, "--db", server->db()});
    ASSERT_EQ(retry.exit_code, 0) << retry.err;
    EXPECT_NE(retry.out.find("re-enabled"), std::string::npos) << retry.out;
    ASSERT_TRUE(rx.wait_for(2)) << server->log();
    ASSERT_TRUE(eventually([&] { return column(server->db(), "status", "customer_id = 3") == "sent"; }));
    EXPECT_EQ(query_int(server->db(), "SELECT count(*) FROM alert_targets_disabled"), 0);
    // New churns flow again; the other disabled alerts stay as they were.
    churn_customer(server->port(), 4);
    ASSERT_TRUE(rx.wait_for(3)) << server->log();
    EXPECT_EQ(column(server->db(), "status", "customer_id = 2"), "disabled");
}

TEST(Alerts, PendingAlertsAreDeliveredAfterARestart) {
    TempDir dir;
    HttpReceiver rx;
    rx.stop();
    auto options = alert_options({rx.url("/hook")}, {"--alert-backoff-base-ms", "50"});
    auto server = std::make_unique<ServerProcess>(dir, options);
    churn_customer(server->port(), 7);
    ASSERT_TRUE(eventually([&] { return std::stoi(column(server->db(), "attempts")) >= 1; }));
    server->kill_hard();  // no goodbye: the row is only in the database
    EXPECT_EQ(column(dir.file("churnwatch.db"), "status"), "pending");
    std::string webhook_id = column(dir.file("churnwatch.db"), "webhook_id");
    // Started without that target, the server says the alert waits for it.
    {
        HttpReceiver other;
        ServerProcess without(dir, alert_options({other.url("/other")}));
        std::string log = without.log();
        EXPECT_NE(log.find("\"alert_target_unconfigured\",\"target\":\"" + rx.url("/hook") + "\",\"pending\":1"),
                  std::string::npos) << log;
        EXPECT_EQ(without.stop(), 0);
    }
    EXPECT_EQ(column(dir.file("churnwatch.db"), "status"), "pending");
    rx.start();
    server = std::make_unique<ServerProcess>(dir, options);
    ASSERT_TRUE(rx.wait_for(1)) << server->log();
    ASSERT_TRUE(eventually([&] { return column(server->db(), "status") == "sent"; })) << server->log();
    EXPECT_EQ(rx.count(), 1u);
    EXPECT_EQ(rx.requests()[0].header("webhook-id"), webhook_id);
    expect_verified(rx.requests()[0]);
}

// The audit: a server run with its clock 30 days ahead (libfaketime) recorded a churn alert
// its receiver did not take; restarted at the real time with the receiver back, the alert
// stayed pending for 30 days, its budget counting from then, newer alerts going out before
// it, and nothing said so. Here the row is moved 30 days ahead between the two runs. It is
// now made due at start (with a warning), sent before a newer alert, its retry budget
// counting from now.
TEST(Alerts, AlertsRecordedWhileTheClockWasAheadGoOutAfterItMovesBack) {
    TempDir dir;
    HttpReceiver rx;
    rx.stop();
    auto options = alert_options({rx.url("/hook")}, {"--alert-backoff-base-ms", "50"});
    auto server = std::make_unique<ServerProcess>(dir, options);
    churn_customer(server->port(), 7);
    ASSERT_TRUE(eventually([&] { return std::stoi(column(server->db(), "attempts")) >= 1; })) << server->log();
    ASSERT_EQ(server->stop(), 0);
    const std::string db = dir.file("churnwatch.db");
    const int64_t month = int64_t{30} * 86400 * 1000000;
    {
        churnwatch::sql::Database conn(db);
        sql::Statement ahead(conn,
                             "UPDATE alerts_outbox SET created_us = created_us + ?1,"
                             " next_attempt_us = next_attempt_us + ?1, retry_from_us = retry_from_us + ?1,"
                             " last_attempt_us = last_attempt_us + ?1");
        ahead.bind(1, month).run();
    }
    const std::string webhook_id = column(db, "webhook_id");
    rx.start();
    server = std::make_unique<ServerProcess>(dir, options);
    const int64_t started_us = now_seconds() * 1000000;
    ASSERT_TRUE(rx.wait_for(1)) << server->log();
    EXPECT_EQ(rx.requests()[0].header("webhook-id"), webhook_id);
    ASSERT_TRUE(eventually([&] { return column(server->db(), "status") == "sent"; })) << server->log();
    std::string log = server->log();
    EXPECT_NE(log.find("\"event\":\"alerts_rescheduled\",\"alerts\":1,"), std::string::npos) << log;
    EXPECT_NE(log.find("clock moved back"), std::string::npos) << log;
    EXPECT_LT(log.find("alerts_rescheduled"), log.find("\"alert_attempt\"")) << log;
    // Its times are of this clock again.
    EXPECT_LE(std::stoll(column(server->db(), "created_us")), started_us + 60 * 1000000LL);
    EXPECT_LE(std::stoll(column(server->db(), "retry_from_us")), started_us + 60 * 1000000LL);
    // The next churn's alert follows it.
    churn_customer(server->port(), 8);
    ASSERT_TRUE(rx.wait_for(2)) << server->log();
    EXPECT_NE(rx.requests()[1].body.find("\"customer_id\":8"), std::string::npos) << rx.requests()[1].body;
}

TEST(Alerts, ABadRequestIsDeadLetteredAndRetryAllDeadResendsIt) {
    TempDir dir;
    HttpReceiver rx;
    rx.script({{.status = 400, .body = "missing field\nfoo"}});
    ServerProcess server(dir, alert_options({rx.url("/hook")}));
    churn_customer(server.port(), 7);
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status") == "dead"; })) << server.log();
    EXPECT_EQ(rx.count(), 1u) << "a 4xx must not be retried";
    EXPECT_EQ(column(server.db(), "last_status"), "400");
    EXPECT_EQ(column(server.db(), "last_error"), "HTTP 400: missing field foo");
    EXPECT_EQ(metric(server.port(), "churnwatch_alerts_dead_lettered_total", rx.url("/hook")), 1);

    auto list = run_churnwatch({"alerts", "list", "--db", server.db(), "--status", "dead"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("id  target"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find(rx.url("/hook")), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("HTTP 400: missing field foo"), std::string::npos) << list.out;
    auto none = run_churnwatch({"alerts", "list", "--db", server.db(), "--status", "pending"});
    EXPECT_NE(none.out.find("no alerts with status pending"), std::string::npos) << none.out;

    auto retry = run_churnwatch({"alerts", "retry", "--all-dead", "--db", server.db()});
    ASSERT_EQ(retry.exit_code, 0) << retry.err;
    EXPECT_NE(retry.out.find("1 alert queued"), std::string::npos) << retry.out;
    ASSERT_TRUE(rx.wait_for(2)) << server.log();
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status") == "sent"; })) << server.log();
    auto reqs = rx.requests();
    EXPECT_EQ(reqs[1].header("webhook-id"), reqs[0].header("webhook-id"));
    EXPECT_EQ(reqs[1].body, reqs[0].body);
    EXPECT_EQ(column(server.db(), "attempts"), "1");  // the retry started a fresh count
}

// alert-retention-days (30 by default): a server that has run for months finds alerts that
// finished over 30 days ago and deletes them at start — an earlier configuration's too —
// while pending ones stay, however old, and so does one that died 10 days ago (it can still
// be retried). The churn alert its target was sent 40 days ago goes as well, though its
// episode is in churn_events: what the target was told of it is in alert_told, so a late
// delivery that erases that episode is still retracted to it.
TEST(Alerts, FinishedAlertsPastTheRetentionAreDeletedAtStartAChurnTheTargetWasToldOfToo) {
    TempDir dir;
    HttpReceiver rx;
    const std::string db = dir.file("churnwatch.db");
    {
        ServerProcess server(dir, alert_options({rx.url("/hook")}));
        churn_customer(server.port(), 7);
        ASSERT_TRUE(rx.wait_for(1)) << server.log();
        ASSERT_TRUE(eventually([&] { return column(db, "status") == "sent"; })) << server.log();
        EXPECT_EQ(server.stop(), 0);
    }
    {
        using namespace std::chrono;
        const int64_t now = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
        const int64_t day = int64_t{86400} * 1000000;
        sql::Database conn(db);
        sql::Statement age(conn, "UPDATE alerts_outbox SET created_us = ?1 - 1000000, next_attempt_us = ?1 - 1000000,"
                                 " retry_from_us = ?1 - 1000000, last_attempt_us = ?1, sent_us = ?1");
        age.bind(1, now - 40 * day).run();
        sql::Statement add(conn,
                           "INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id,"
                           " payload, created_us, status, next_attempt_us, retry_from_us, last_attempt_us, sent_us)"
                           " VALUES ('http://earlier.example/hook', ?1, 999, 9, ?2, '{}', ?3, ?4, ?3, ?3, ?5,"
                           " CASE WHEN ?4 = 'sent' THEN ?5 END)");
        auto row = [&](const char* event, const char* name, const char* status, int64_t created,
                       std::optional<int64_t> finished) {
            add.reset();
            add.bind(1, event).bind(2, name).bind(3, now + created).bind(4, status);
            add.bind(5, finished ? std::optional<int64_t>(now + *finished) : std::nullopt).run();
        };
        row("customer.reactivated", "msg_sent_40_days_ago", "sent", -41 * day, -40 * day);
        row("customer.churned", "msg_died_35_days_ago", "dead", -36 * day, -35 * day);
        row("customer.churned", "msg_disabled_40_days_ago", "disabled", -40 * day, std::nullopt);
        row("customer.churn_retracted", "msg_sent_31_days_ago", "sent", -31 * day, -31 * day);
        row("customer.reactivated", "msg_died_10_days_ago", "dead", -50 * day, -10 * day);
        row("customer.churned", "msg_pending_60_days", "pending", -60 * day, std::nullopt);
    }
    ServerProcess server(dir, alert_options({rx.url("/hook")}));
    const std::string remaining = "SELECT group_concat(event_type || ' ' || status, ', ')"
                                  " FROM (SELECT event_type, status FROM alerts_outbox ORDER BY id)";
    ASSERT_TRUE(eventually([&] {
        return query_text(db, remaining) == "customer.reactivated dead, customer.churned pending";
    })) << query_text(db, remaining) << "\n" << server.log();
    ASSERT_TRUE(eventually([&] { return server.log().find("\"alerts_pruned\"") != std::string::npos; }));
    EXPECT_NE(server.log().find("\"event\":\"alerts_pruned\",\"alerts\":5,\"sent\":3,\"dead\":1,\"disabled\":1,"
                                "\"retracted\":0,\"retention_days\":30,\"full\":true,"),
              std::string::npos)
        << server.log();
    EXPECT_EQ(query_text(db, "SELECT t.status FROM alert_told t JOIN churn_events e ON e.id = t.episode_id"),
              "sent");
    const std::string page = http_request(server.port(), "GET", "/metrics").body;
    EXPECT_NE(page.find("churnwatch_alerts_pruned_total{status=\"sent\"} 3\n"), std::string::npos) << page;
    EXPECT_NE(page.find("churnwatch_alerts_pruned_total{status=\"dead\"} 1\n"), std::string::npos) << page;
    // The dead one that is gone cannot be retried, and the answer says why.
    auto retry = run_churnwatch({"alerts", "retry", "3", "--db", db});
    EXPECT_EQ(retry.exit_code, 1);
    EXPECT_NE(retry.err.find("alert 3: no such alert (deleted: finished alerts are kept for alert-retention-days"),
              std::string::npos)
        << retry.err;

    SubscriptionSpec late{.id = 71, .customer_id = 7, .updated_at = "2026-02-01T00:00:00+00:00",
                          .created_at = "2026-02-01T00:00:00+00:00"};
    send(server.port(), {"subscription/created", subscription_json(late)});
    ASSERT_TRUE(rx.wait_for(2)) << server.log();
    rapidjson::Document doc;
    doc.Parse(rx.requests()[1].body.c_str());
    ASSERT_FALSE(doc.HasParseError()) << rx.requests()[1].body;
    EXPECT_STREQ(doc["type"].GetString(), "customer.churn_retracted");
    EXPECT_EQ(doc["data"]["customer_id"].GetInt64(), 7);
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

TEST(Alerts, AlertsCommandUsageErrors) {
    TempDir dir;
    std::string db = dir.file("x.db");
    auto no_db = run_churnwatch({"alerts", "list", "--db", db});
    EXPECT_EQ(no_db.exit_code, 1);
    EXPECT_NE(no_db.err.find("no database at"), std::string::npos) << no_db.err;
    EXPECT_NE(::access(db.c_str(), F_OK), 0) << "a mistyped --db must not create a database";
    write_file(db, "");  // an empty file is an empty database: rebuild migrates it
    ASSERT_EQ(run_churnwatch({"rebuild", "--db", db}).exit_code, 0);
    EXPECT_EQ(run_churnwatch({"alerts"}).exit_code, 2);
    EXPECT_EQ(run_churnwatch({"alerts", "frobnicate", "--db", db}).exit_code, 2);
    EXPECT_EQ(run_churnwatch({"alerts", "retry", "--db", db}).exit_code, 2);
    EXPECT_EQ(run_churnwatch({"alerts", "retry", "abc", "--db", db}).exit_code, 2);
    EXPECT_EQ(run_churnwatch({"alerts", "list", "--status", "weird", "--db", db}).exit_code, 2);
    auto missing = run_churnwatch({"alerts", "retry", "42", "--db", db});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("no such alert"), std::string::npos);
    EXPECT_NE(run_churnwatch({"alerts", "list", "--db", db}).out.find("no alerts"), std::string::npos);
}

// The audit's case: customer 200 churns (episode 1), then customer 100 (episode 2); an
// operator runs `rebuild` (OPERATIONS asks for it after some upgrades). Customer 200's
// reactivation alert must name the episode its churn alert named, and that episode_id must
// still be its row in churn_events. The rebuild used to number episodes afresh in customer
// order: the reactivation said 2, the churn had said 1.
TEST(Alerts, ARebuildKeepsEpisodeIdsSoLaterAlertsNameTheSameEpisode) {
    TempDir dir;
    HttpReceiver rx;
    auto options = alert_options({rx.url("/hook")});
    auto server = std::make_unique<ServerProcess>(dir, options);
    churn_customer(server->port(), 200);
    churn_customer(server->port(), 100);
    ASSERT_TRUE(eventually([&] {
        return query_int(server->db(), "SELECT count(*) FROM alerts_outbox WHERE status = 'sent'") == 2;
    })) << server->log();
    ASSERT_EQ(server->stop(), 0);
    std::string db = dir.file("churnwatch.db");
    auto rebuilt = run_churnwatch({"rebuild", "--db", db});
    ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;

    server = std::make_unique<ServerProcess>(dir, options);
    reactivate_customer(server->port(), 200);
    ASSERT_TRUE(rx.wait_for(3)) << server->log();
    std::map<std::string, int64_t> episode;  // "type customer" -> episode_id
    for (const auto& r : rx.requests()) {
        rapidjson::Document doc;
        doc.Parse(r.body.c_str());
        ASSERT_FALSE(doc.HasParseError()) << r.body;
        episode[std::string(doc["type"].GetString()) + " " + std::to_string(doc["data"]["customer_id"].GetInt64())] =
            doc["data"]["episode_id"].GetInt64();
    }
    ASSERT_EQ(episode.size(), 3u);
    EXPECT_EQ(episode["customer.churned 200"], 1);
    EXPECT_EQ(episode["customer.churned 100"], 2);
    EXPECT_EQ(episode["customer.reactivated 200"], episode["customer.churned 200"]);
    EXPECT_EQ(query_rows(server->db(), "SELECT customer_id, id FROM churn_events ORDER BY customer_id"),
              "100|2\n200|1\n");
}

TEST(Alerts, ASlowTargetDelaysNeitherIngestNorOtherTargets) {
    TempDir dir;
    HttpReceiver slow, fast;
    slow.set_default({.status = 200, .delay = 30s});
    ServerProcess::Options o;
    o.args = {"--alert-target", slow.url("/slow") + " | " + kAlertSecret + " | customer.churned",
              "--alert-target", fast.url("/fast") + " | " + kAlertSecret, "--alert-timeout", "60"};
    ServerProcess server(dir, o);
    churn_customer(server.port(), 7);
    ASSERT_TRUE(slow.wait_for(1)) << server.log();
    ASSERT_TRUE(fast.wait_for(1)) << server.log();
    expect_verified(fast.requests()[0]);
    // The slow request is still in flight; ingest answers promptly all the same.
    auto started = std::chrono::steady_clock::now();
    churn_customer(server.port(), 8);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
    ASSERT_TRUE(fast.wait_for(2)) << server.log();
    EXPECT_EQ(slow.count(), 1u);
    // Shutdown abandons the in-flight request promptly; the alert stays pending, unattempted.
    started = std::chrono::steady_clock::now();
    EXPECT_EQ(server.stop(), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
    EXPECT_EQ(query_rows(dir.file("churnwatch.db"),
                         "SELECT customer_id, status, attempts FROM alerts_outbox WHERE target LIKE '%/slow'"
                         " ORDER BY id"),
              "7|pending|0\n8|pending|0\n");
}

// Two channels of one hook service, told apart only by a token in the query: their metric
// series were one (the label leaves the query out), counting both targets' alerts together.
// The second gets " #2"; neither label shows the token.
TEST(Alerts, TargetsThatDifferOnlyInTheQueryHaveTheirOwnSeries) {
    TempDir dir;
    HttpReceiver rx;
    ServerProcess server(dir, alert_options({rx.url("/in?token=AAA"), rx.url("/in?token=BBB")}));
    const std::string first = rx.url("/in"), second = rx.url("/in") + " #2";
    EXPECT_EQ(metric(server.port(), "churnwatch_alerts_sent_total", first), 0);
    EXPECT_EQ(metric(server.port(), "churnwatch_alerts_sent_total", second), 0);
    churn_customer(server.port(), 7);
    ASSERT_TRUE(rx.wait_for(2)) << server.log();
    ASSERT_TRUE(eventually([&] {
        return query_int(server.db(), "SELECT count(*) FROM alerts_outbox WHERE status = 'sent'") == 2;
    })) << server.log();
    EXPECT_EQ(metric(server.port(), "churnwatch_alerts_sent_total", first), 1);
    EXPECT_EQ(metric(server.port(), "churnwatch_alerts_sent_total", second), 1);
    EXPECT_EQ(metric(server.port(), "churnwatch_alerts_dead_lettered_total", second), 0);
    std::string page = http_request(server.port(), "GET", "/metrics").body;
    std::string log = server.log();
    for (const char* token : {"AAA", "BBB"}) {
        EXPECT_EQ(page.find(token), std::string::npos) << page;
        EXPECT_EQ(log.find(token), std::string::npos) << log;
    }
    EXPECT_NE(log.find("\"target\":\"" + second + "\""), std::string::npos) << log;
    // `alerts list` tells the two apart by a fingerprint of the whole URL, token unseen.
    auto list = run_churnwatch({"alerts", "list", "--db", server.db()});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    for (const char* token : {"AAA", "BBB"}) EXPECT_EQ(list.out.find(token), std::string::npos) << list.out;
    std::set<std::string> shown;
    for (std::size_t at = 0; (at = list.out.find(rx.url("/in") + " [", at)) != std::string::npos; ++at)
        shown.insert(list.out.substr(at, list.out.find(']', at) - at + 1));
    EXPECT_EQ(shown.size(), 2u) << list.out;
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

TEST(Alerts, ConfigFileTargetsChooseTheirEvents) {
    TempDir dir;
    HttpReceiver rx;
    std::string config = dir.file("churnwatch.conf");
    write_file(config, "# alerts for the retention team: reactivations only\n"
                       "alert-target = " + rx.url("/back") + " | " + kAlertSecret + " | customer.reactivated\n");
    ServerProcess server(dir, {.args = {"--config", config}});
    churn_customer(server.port(), 7);
    reactivate_customer(server.port(), 7);
    ASSERT_TRUE(rx.wait_for(1)) << server.log();
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status") == "sent"; }));
    EXPECT_EQ(query_rows(server.db(), "SELECT event_type FROM alerts_outbox"), "customer.reactivated\n");
    EXPECT_NE(rx.requests()[0].body.find("customer.reactivated"), std::string::npos);
    expect_verified(rx.requests()[0]);
}

// A chat channel's incoming webhook (Slack and the like): each alert as one line of text,
// unsigned, needing no alert secret; the webhook's path is its token, so neither logs,
// metrics nor `alerts list` show it.
TEST(Alerts, AChatTargetGetsOneLineOfTextAndItsTokenStaysUnseen) {
    TempDir dir;
    HttpReceiver chat;
    const std::string url = chat.url("/services/T000/B000/CHATTOKEN42");
    ServerProcess server(dir, {.args = {"--alert-chat", url}});
    churn_customer(server.port(), 7);
    reactivate_customer(server.port(), 7);
    ASSERT_TRUE(chat.wait_for(2)) << server.log();
    ASSERT_TRUE(eventually([&] {
        return query_int(server.db(), "SELECT count(*) FROM alerts_outbox WHERE status = 'sent'") == 2;
    })) << server.log();
    auto requests = chat.requests();
    EXPECT_EQ(requests[0].target, "/services/T000/B000/CHATTOKEN42");
    EXPECT_EQ(requests[0].header("content-type"), "application/json");
    EXPECT_EQ(requests[0].header("webhook-signature"), "") << "chat services verify nothing";
    EXPECT_EQ(requests[0].body,
              "{\"text\":\"churnwatch: someone@example.com (customer 7) churned at 2026-03-01 12:00 UTC: "
              "cancelled (voluntary), subscription 70\"}");
    EXPECT_EQ(requests[1].body,
              "{\"text\":\"churnwatch: someone@example.com (customer 7) is back: reactivated at "
              "2026-04-01 00:00 UTC after churning at 2026-03-01 12:00 UTC (cancelled)\"}");
    // The label: "chat:" and the host, the path (the token) left out.
    const std::string label = "chat:" + chat.url("/…");
    EXPECT_EQ(metric(server.port(), "churnwatch_alerts_sent_total", label), 2);
    std::string page = http_request(server.port(), "GET", "/metrics").body;
    auto list = run_churnwatch({"alerts", "list", "--db", server.db()});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find(label + " ["), std::string::npos) << list.out;
    auto check = run_churnwatch({"config", "check"}, {{"CHURNWATCH_ALERT_CHAT", url}});
    EXPECT_NE(check.out.find("alert-chat = " + chat.url("/…") + "   # env"), std::string::npos) << check.out;
    EXPECT_EQ(server.stop(), 0);
    for (const std::string& text : {page, list.out, check.out, server.log()})
        EXPECT_EQ(text.find("CHATTOKEN42"), std::string::npos) << text;
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

TEST(Alerts, CommandHookGetsThePayloadOnStdin) {
    TempDir dir;
    std::string out = dir.file("alert.json"), env = dir.file("alert.env");
    std::string hook = dir.file("hook.sh");
    write_file(hook, "#!/bin/sh\nenv > " + env + "\ncat > " + out + ".tmp && mv " + out + ".tmp " + out + "\n");
    ::chmod(hook.c_str(), 0755);
    ServerProcess server(dir, {.args = {"--alert-command", hook}, .env = {{"CHURNWATCH_SECRETS", kSecret}}});
    churn_customer(server.port(), 7);
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status") == "sent"; })) << server.log();
    EXPECT_EQ(read_file(out), column(server.db(), "payload"));
    EXPECT_EQ(column(server.db(), "target"), "command:" + hook);
    std::string vars = read_file(env);
    EXPECT_NE(vars.find("CHURNWATCH_ALERT_ID=" + column(server.db(), "webhook_id")), std::string::npos) << vars;
    EXPECT_NE(vars.find("CHURNWATCH_ALERT_TYPE=customer.churned"), std::string::npos) << vars;
    EXPECT_EQ(vars.find(kSecret), std::string::npos) << "the hook must not see churnwatch's secrets";
}

// A command that exits 0 but writes to stderr was logged outcome "sent" with
// "error": ": stderr: …", and the excerpt's "…" (cut at 200 bytes, possibly inside a
// character) came out as \u00e2\u0080\u00a6. Now: the excerpt under "stderr", cut at a
// character, and no "error" on a success.
TEST(Alerts, ACommandsStderrOnSuccessIsLoggedAsStderrNotAsAnError) {
    TempDir dir;
    std::string hook = dir.file("hook.sh");
    std::string chatter;
    for (int i = 0; i < 100; ++i) chatter += "\xc3\xa9\xe2\x80\xa6";  // "é…" × 100: 500 bytes
    chatter = "x" + chatter;  // byte 200 falls inside a character
    write_file(hook, "#!/bin/sh\ncat >/dev/null\nprintf '%s' '" + chatter + "' >&2\n");
    ::chmod(hook.c_str(), 0755);
    ServerProcess server(dir, {.args = {"--alert-command", hook}, .env = {{"CHURNWATCH_SECRETS", kSecret}}});
    churn_customer(server.port(), 7);
    ASSERT_TRUE(eventually([&] { return column(server.db(), "status") == "sent"; })) << server.log();
    std::string line;
    ASSERT_TRUE(eventually([&] {
        std::string log = server.log();
        auto at = log.find("\"event\":\"alert_attempt\"");
        if (at == std::string::npos) return false;
        line = log.substr(log.rfind('\n', at) + 1, log.find('\n', at) - log.rfind('\n', at) - 1);
        return true;
    }));
    rapidjson::Document doc;
    doc.Parse(line.c_str(), line.size());
    ASSERT_FALSE(doc.HasParseError()) << line;
    EXPECT_STREQ(doc["outcome"].GetString(), "sent") << line;
    EXPECT_FALSE(doc.HasMember("error")) << line;
    ASSERT_TRUE(doc.HasMember("stderr")) << line;
    std::string note(doc["stderr"].GetString(), doc["stderr"].GetStringLength());
    EXPECT_EQ(note.find("\xef\xbf\xbd"), std::string::npos) << "a character cut in half: " << line;
    ASSERT_GE(note.size(), 3u);
    EXPECT_EQ(note.substr(note.size() - 3), "\xe2\x80\xa6") << line;
    EXPECT_EQ(chatter.rfind(note.substr(0, note.size() - 3), 0), 0u) << line;
    EXPECT_LE(note.size(), 200u + 3);
    server.stop();
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

TEST(Alerts, TargetsThatCannotBeSignedOrReachedRefuseToStart) {
    TempDir dir;
    std::vector<std::string> base{"serve", "--listen", "127.0.0.1:0", "--db", dir.file("x.db")};
    auto with = [&](std::vector<std::string> extra) {
        auto args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    auto no_secret = run_churnwatch(with({"--alert-url", "http://127.0.0.1:9/hook"}));
    EXPECT_EQ(no_secret.exit_code, 2);
    EXPECT_NE(no_secret.err.find("no signing secret"), std::string::npos) << no_secret.err;
    auto bad_secret = run_churnwatch(with({"--alert-url", "http://127.0.0.1:9/hook"}),
                                     {{"CHURNWATCH_ALERT_SECRET", "whsec_not base64!"}});
    EXPECT_EQ(bad_secret.exit_code, 2);
    EXPECT_NE(bad_secret.err.find("not a valid whsec_"), std::string::npos) << bad_secret.err;
    EXPECT_EQ(bad_secret.err.find("not base64!"), std::string::npos) << "the secret was echoed";
    // Valid base64 without the prefix: more likely another secret pasted here (a Recharge
    // client secret reads as base64 too) than a Standard Webhooks one.
    auto bare = run_churnwatch(with({"--alert-url", "http://127.0.0.1:9/hook"}),
                               {{"CHURNWATCH_ALERT_SECRET", "changeme"}});
    EXPECT_EQ(bare.exit_code, 2);
    EXPECT_NE(bare.err.find("the prefix whsec_"), std::string::npos) << bare.err;
    EXPECT_EQ(bare.err.find("changeme"), std::string::npos) << "the secret was echoed";
    auto bad_url = run_churnwatch(with({"--alert-url", "ftp://127.0.0.1/hook"}),
                                  {{"CHURNWATCH_ALERT_SECRET", kAlertSecret}});
    EXPECT_EQ(bad_url.exit_code, 2);
    EXPECT_NE(bad_url.err.find("scheme"), std::string::npos) << bad_url.err;
    auto bad_event = run_churnwatch(with({"--alert-target", "http://127.0.0.1:9/ | " + kAlertSecret + " | customer.born"}));
    EXPECT_EQ(bad_event.exit_code, 2);
    EXPECT_NE(bad_event.err.find("customer.born"), std::string::npos) << bad_event.err;
    auto twice = run_churnwatch(with({"--alert-url", "http://127.0.0.1:9/", "--alert-url", "http://127.0.0.1:9/"}),
                                {{"CHURNWATCH_ALERT_SECRET", kAlertSecret}});
    EXPECT_EQ(twice.exit_code, 2);
    EXPECT_NE(twice.err.find("twice"), std::string::npos) << twice.err;
    auto no_command = run_churnwatch(with({"--alert-command", dir.file("missing.sh")}));
    EXPECT_EQ(no_command.exit_code, 2);
    EXPECT_NE(no_command.err.find("not an executable"), std::string::npos) << no_command.err;
}

}  // namespace
