// `churnwatch quarantine list | show | replay` on a database a live server is writing: a
// delivery quarantined for a cause that is later fixed (JSON nested deeper than the server's
// --json-depth) is replayed with a larger limit while the server keeps running, becomes
// accepted, and its churn effects appear; one that still fails is left as it was.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "payloads.h"
#include "sqlite.h"
#include "test_support.h"

using namespace churnwatch::test;

namespace {

const std::string kCancelledTarget = "/webhooks/recharge/subscription/cancelled";

class QuarantineTest : public ::testing::Test {
protected:
    TempDir dir;
    // Depth 3 is too shallow for real payloads: {"subscription":{"analytics_data":{"utm_params":[
    ServerProcess server{dir, {.args = {"--json-depth", "3"}}};
    CommandResult quarantine(std::vector<std::string> args) {
        args.insert(args.begin(), "quarantine");
        args.push_back("--db");
        args.push_back(server.db());
        auto r = run_churnwatch(args);
        EXPECT_EQ(sanitizer_report(r.err), "");
        return r;
    }
    void TearDown() override {
        server.stop();
        EXPECT_EQ(sanitizer_report(server.log()), "");
    }
    std::string row(int64_t id, const std::string& columns) {
        return query_rows(
            server.db(), "SELECT " + columns + " FROM deliveries WHERE id = " + std::to_string(id));
    }
    int64_t post(const std::string& target, const std::string& body, const Headers& extra = {}) {
        auto r = post_webhook(server.port(), target, body, extra);
        EXPECT_EQ(r.status, 200) << r.body;
        auto at = r.body.find("\"id\":");
        return at == std::string::npos ? 0 : std::stoll(r.body.substr(at + 5));
    }
};

TEST_F(QuarantineTest, TooDeepThenReplayedWithALargerLimitWhileServing) {
    int64_t id = post(kCancelledTarget, example_payload("subscription_cancelled.2021-11.json"));
    ASSERT_GT(id, 0);
    ASSERT_EQ(row(id, "status"), "quarantined\n");
    EXPECT_NE(row(id, "reason").find("nesting deeper than 3"), std::string::npos);
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM churn_events"), 0);

    auto list = quarantine({"list"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("subscription/cancelled"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("nesting deeper than 3"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find(
                  std::to_string(example_payload("subscription_cancelled.2021-11.json").size())),
              std::string::npos)
        << "body size: " << list.out;
    EXPECT_NE(list.out.find("1 quarantined delivery"), std::string::npos) << list.out;

    auto show = quarantine({"show", std::to_string(id)});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    for (const char* field : {"received_at:", "topic:", "topic_source:", "signature_scheme:",
                              "dedupe_key:", "status:", "reason:", "api_version:", "UTF-8 text"}) {
        EXPECT_NE(show.out.find(field), std::string::npos) << field << "\n" << show.out;
    }
    EXPECT_NE(show.out.find("\"cancellation_reason\": \"I already have more than I need\""),
              std::string::npos)
        << show.out;

    // Not fixed yet: the same limit still fails, exit 1, nothing changes.
    auto still = quarantine({"replay", std::to_string(id), "--json-depth", "3"});
    EXPECT_EQ(still.exit_code, 1);
    EXPECT_NE(still.out.find("still quarantined: invalid JSON"), std::string::npos) << still.out;
    EXPECT_EQ(row(id, "status"), "quarantined\n");

    // Fixed: a larger limit. The server is still running and writing.
    auto fixed = quarantine({"replay", std::to_string(id), "--json-depth", "64"});
    ASSERT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
    EXPECT_EQ(fixed.err, "") << "no alerts here: nothing to warn about";
    EXPECT_NE(fixed.out.find("accepted as subscription/cancelled"), std::string::npos) << fixed.out;
    EXPECT_NE(fixed.out.find("customer 71001 now churned"), std::string::npos) << fixed.out;
    EXPECT_EQ(row(id, "status, reason, api_version, topic"),
              "accepted|NULL|2021-11|subscription/cancelled\n");
    EXPECT_EQ(
        query_rows(
            server.db(),
            "SELECT customer_id, churned_at, reason, category, delivery_id FROM churn_events"),
        "71001|2026-10-14 09:12:44.512301|cancelled|voluntary|" + std::to_string(id) + "\n");
    EXPECT_EQ(query_text(server.db(), "SELECT status FROM customers WHERE id = 71001"), "churned");

    // Replaying it again is refused: it is no longer quarantined.
    auto again = quarantine({"replay", std::to_string(id)});
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_NE(again.out.find("not quarantined"), std::string::npos) << again.out;

    // The server kept serving throughout, and a shallow delivery still goes through it.
    std::string shallow = "{\"customer\":{\"id\":5,\"updated_at\":\"2026-10-01T00:00:00\"}}";
    int64_t next = post("/webhooks/recharge/customer/updated", shallow);
    EXPECT_EQ(row(next, "status"), "accepted\n");
    EXPECT_EQ(server.stop(), 0);

    // The replayed delivery is part of history now: a rebuild gives the same churn tables.
    std::string before =
        query_rows(server.db(), "SELECT customer_id, churned_at, reason FROM churn_events");
    auto rebuild = run_churnwatch({"rebuild", "--db", server.db()});
    ASSERT_EQ(rebuild.exit_code, 0) << rebuild.err;
    EXPECT_EQ(query_rows(server.db(), "SELECT customer_id, churned_at, reason FROM churn_events"),
              before);
    // Also under the server's own limit, which it was quarantined by: accepted once, it is
    // not judged again by depth (the rebuild used to quarantine it, and its churn was gone).
    auto shallow_rebuild = run_churnwatch({"rebuild", "--db", server.db(), "--json-depth", "3"});
    ASSERT_EQ(shallow_rebuild.exit_code, 0) << shallow_rebuild.err;
    EXPECT_NE(shallow_rebuild.out.find(", 0 quarantined"), std::string::npos) << shallow_rebuild.out;
    EXPECT_EQ(row(id, "status"), "accepted\n");
    EXPECT_EQ(query_rows(server.db(), "SELECT customer_id, churned_at, reason FROM churn_events"),
              before);
}

// Taken on the legacy hash beside a timestamped signature that did not verify, and
// quarantined: the row says both. Replayed and accepted, its reason keeps the signature
// note (the replay used to replace the whole reason, and the note was gone from the row).
TEST_F(QuarantineTest, AReplayKeepsTheSignatureOverrideNote) {
    const std::string body = example_payload("subscription_cancelled.2021-11.json");
    const std::string note = "timestamped signature matches no configured secret; accepted on the legacy hash";
    int64_t id = post(kCancelledTarget, body,
                      {{"X-Recharge-Webhook-Signature",
                        timestamped_signature("another_secret_entirely_1234", now_seconds(), body)}});
    ASSERT_GT(id, 0);
    ASSERT_EQ(row(id, "status"), "quarantined\n");
    const std::string reason = row(id, "reason");
    EXPECT_NE(reason.find("nesting deeper than 3"), std::string::npos) << reason;
    EXPECT_NE(reason.find("; " + note + "\n"), std::string::npos) << reason;
    EXPECT_EQ(row(id, "signature_note"), note + "\n");

    auto fixed = quarantine({"replay", std::to_string(id), "--json-depth", "64"});
    ASSERT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
    EXPECT_EQ(row(id, "status, reason"), "accepted|" + note + "\n");
    EXPECT_EQ(row(id, "signature_note"), note + "\n");
}

TEST_F(QuarantineTest, StoredWithoutATopicIsInferredOnReplay) {
    // No topic in the path or a header, and too deep to parse: stored with topic NULL.
    int64_t id = post("/webhooks/recharge", example_payload("subscription_cancelled.2021-11.json"));
    ASSERT_EQ(row(id, "status, topic, topic_source"), "quarantined|NULL|NULL\n");
    auto fixed = quarantine({"replay", std::to_string(id), "--json-depth", "64"});
    ASSERT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
    EXPECT_EQ(row(id, "status, topic, topic_source"), "accepted|subscription/cancelled|inferred\n");
    EXPECT_EQ(query_rows(server.db(), "SELECT customer_id, reason, category FROM churn_events"),
              "71001|cancelled|voluntary\n");
}

// Quarantined with its route's topic (too deep to read the body), replayed: the topic its
// signed body names wins, and the row's topic_source says it came from the body.
TEST_F(QuarantineTest, AReplayTakesTheTopicTheBodyNames) {
    std::string body = example_payload("subscription_cancelled.2021-11.json");
    body.insert(1, R"("type":"subscription/updated",)");
    int64_t id = post("/webhooks/recharge/subscription/deleted", body);
    ASSERT_EQ(row(id, "status, topic, topic_source"), "quarantined|subscription/deleted|path\n");
    auto fixed = quarantine({"replay", std::to_string(id), "--json-depth", "64"});
    ASSERT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
    EXPECT_NE(fixed.out.find("accepted as subscription/updated"), std::string::npos) << fixed.out;
    EXPECT_EQ(row(id, "status, topic, topic_source, reason"),
              "accepted|subscription/updated|inferred|topic subscription/updated from the signed "
              "body's \"type\", where the path said subscription/deleted\n");
}

TEST_F(QuarantineTest, UnknownTopicStillFailsAndReplayAllReportsEach) {
    int64_t unknown = post("/webhooks/recharge/spaceship/launched", "{\"subscription\":{}}");
    int64_t deep = post(kCancelledTarget, example_payload("subscription_cancelled.2021-11.json"));
    // (Not a NUL byte: a legacy-signed body with one is refused as a length extension.)
    int64_t binary = post("/webhooks/recharge/customer/updated", std::string("\xff\xfe\x01{", 4));
    EXPECT_EQ(row(unknown, "reason"), "unknown topic spaceship/launched\n");

    auto one = quarantine({"replay", std::to_string(unknown)});
    EXPECT_EQ(one.exit_code, 1);
    EXPECT_NE(one.out.find("still quarantined: unknown topic spaceship/launched"),
              std::string::npos)
        << one.out;
    EXPECT_EQ(row(unknown, "status, reason"), "quarantined|unknown topic spaceship/launched\n");

    auto show = quarantine({"show", std::to_string(binary)});
    ASSERT_EQ(show.exit_code, 0);
    EXPECT_NE(show.out.find("binary (hex)"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("fffe017b"), std::string::npos) << show.out;

    auto all = quarantine({"replay", "all", "--json-depth", "64"});
    EXPECT_EQ(all.exit_code, 1) << "some still fail";
    EXPECT_NE(all.out.find("replayed 3: 1 accepted, 2 still quarantined"), std::string::npos)
        << all.out;
    EXPECT_EQ(row(deep, "status"), "accepted\n");
    auto list = quarantine({"list"});
    EXPECT_NE(list.out.find("2 quarantined deliveries"), std::string::npos) << list.out;

    EXPECT_EQ(quarantine({"show", "999"}).exit_code, 1);
    EXPECT_EQ(quarantine({"show", "abc"}).exit_code, 2);
    EXPECT_EQ(quarantine({"frobnicate"}).exit_code, 2);
    EXPECT_EQ(run_churnwatch({"quarantine", "list", "--db", dir.file("missing.db")}).exit_code, 1);
}

// An alert command that reads its event and succeeds.
std::string quiet_hook(TempDir& dir) {
    std::string hook = dir.file("hook.sh");
    write_file(hook, "#!/bin/sh\ncat >/dev/null\n");
    ::chmod(hook.c_str(), 0755);
    return hook;
}

// POSTs a signed delivery (expecting 200) and returns the id the answer names (0: none).
int64_t post_for_id(ServerProcess& server, const std::string& topic, const std::string& body) {
    auto r = post_webhook(server.port(), "/webhooks/recharge/" + topic, body);
    EXPECT_EQ(r.status, 200) << r.body;
    auto at = r.body.find("\"id\":");
    return at == std::string::npos ? int64_t{0} : std::stoll(r.body.substr(at + 5));
}

// Customer 1's live churn: subscription 10, active from 1 January, cancelled on 1 March.
void churn_customer_one(ServerProcess& server) {
    post_for_id(server, "subscription/activated",
                subscription_json({.id = 10, .customer_id = 1, .updated_at = "2026-01-01T00:00:00+00:00"}));
    post_for_id(server, "subscription/cancelled",
                subscription_json({.id = 10, .customer_id = 1, .status = "cancelled",
                                   .updated_at = "2026-03-01T00:00:00+00:00",
                                   .cancelled_at = "2026-03-01T00:00:00+00:00"}));
}

// README: replay "announces the churn it reveals like live ingest does" — but only with the
// server's alert settings. Run as OPERATIONS.md showed it (--db only), it announced nothing
// and said nothing, and a replayed delivery is never replayed again. It now warns when the
// database has sent alerts.
TEST(QuarantineAlerts, ReplayWithoutTheServersAlertSettingsWarnsThatItAnnouncedNothing) {
    TempDir dir;
    const std::string hook = quiet_hook(dir);
    // Depth 3: the builders' subscriptions go through, the real example payloads are quarantined.
    ServerProcess server(dir, {.args = {"--json-depth", "3", "--alert-command", hook}});
    auto post = [&](const std::string& topic, const std::string& body) { return post_for_id(server, topic, body); };
    // A live churn: the server announces it (one outbox row).
    churn_customer_one(server);
    ASSERT_EQ(query_int(server.db(), "SELECT count(*) FROM alerts_outbox"), 1);
    // Two churns quarantined (too deep), replayed later.
    std::string example = example_payload("subscription_cancelled.2021-11.json");
    int64_t first = post("subscription/cancelled", example);
    std::string other = example;
    for (auto [from, to] : {std::pair{"501001", "501002"}, std::pair{"71001", "71002"}})
        other.replace(other.find(from), std::string(from).size(), to);
    int64_t second = post("subscription/cancelled", other);
    ASSERT_EQ(query_text(server.db(), "SELECT group_concat(status) FROM deliveries WHERE id IN (" +
                                          std::to_string(first) + "," + std::to_string(second) + ")"),
              "quarantined,quarantined");

    // Without the server's alert settings: replayed, not announced, and said so.
    auto bare = run_churnwatch({"quarantine", "replay", std::to_string(first), "--db", server.db(),
                                "--json-depth", "64"});
    ASSERT_EQ(bare.exit_code, 0) << bare.out << bare.err;
    EXPECT_NE(bare.out.find("customer 71001 now churned"), std::string::npos) << bare.out;
    EXPECT_NE(bare.err.find("quarantine replay: warning: 1 churn alert not announced (customer 71001 "
                            "churned): alerts_outbox shows this database's server sends alerts"),
              std::string::npos)
        << bare.err;
    EXPECT_NE(bare.err.find("--config FILE"), std::string::npos) << bare.err;
    EXPECT_NE(bare.err.find("CHURNWATCH_ALERT_SECRET"), std::string::npos) << bare.err;
    EXPECT_EQ(sanitizer_report(bare.err), "");
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM alerts_outbox"), 1);

    // With them: announced (the running server sends it), no warning.
    auto full = run_churnwatch({"quarantine", "replay", std::to_string(second), "--db", server.db(),
                                "--json-depth", "64", "--alert-command", hook});
    ASSERT_EQ(full.exit_code, 0) << full.out << full.err;
    EXPECT_EQ(full.err, "");
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM alerts_outbox"), 2);
    EXPECT_TRUE(eventually([&] {
        return query_int(server.db(), "SELECT count(*) FROM alerts_outbox WHERE status = 'sent'") == 2;
    })) << server.log();
    server.stop();
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

// alert-retention-days deletes finished alerts: a server's outbox may hold none by the time a
// quarantined delivery is replayed. Its alerts' counter remembers them, and the replay
// without the server's alert settings still warns.
TEST(QuarantineAlerts, ReplayWithoutAlertSettingsWarnsAlsoWhenTheAlertsWereDeleted) {
    TempDir dir;
    ServerProcess server(dir, {.args = {"--json-depth", "3", "--alert-command", quiet_hook(dir)}});
    auto post = [&](const std::string& topic, const std::string& body) { return post_for_id(server, topic, body); };
    churn_customer_one(server);
    ASSERT_TRUE(eventually([&] {
        return query_rows(server.db(), "SELECT status FROM alerts_outbox") == "sent\n";
    })) << server.log();
    int64_t quarantined = post("subscription/cancelled", example_payload("subscription_cancelled.2021-11.json"));
    server.stop();
    {
        churnwatch::sql::Database db(server.db());
        db.exec("DELETE FROM alerts_outbox");  // as the retention does, once they are old
    }
    auto bare = run_churnwatch({"quarantine", "replay", std::to_string(quarantined), "--db", server.db(),
                                "--json-depth", "64"});
    ASSERT_EQ(bare.exit_code, 0) << bare.out << bare.err;
    EXPECT_NE(bare.err.find("quarantine replay: warning: 1 churn alert not announced (customer 71001 "
                            "churned): alerts_outbox shows this database's server sends alerts"),
              std::string::npos)
        << bare.err;
    EXPECT_EQ(sanitizer_report(bare.err), "");
}

// A replay can also take an announced churn back: a subscription created before the
// cancellation and still active, quarantined, then replayed, shows the customer never
// churned. The receivers that were sent customer.churned are owed customer.churn_retracted;
// replayed without the server's alert settings nothing is sent, and the warning must say
// that it is a retraction that went unannounced, of which churn.
TEST(QuarantineAlerts, ReplayWithoutTheServersAlertSettingsWarnsOfTheRetractionItDidNotAnnounce) {
    TempDir dir;
    // Depth 3: the builders' bodies go through; one with analytics_data is too deep.
    ServerProcess server(dir, {.args = {"--json-depth", "3", "--alert-command", quiet_hook(dir)}});
    auto post = [&](const std::string& topic, const std::string& body) { return post_for_id(server, topic, body); };
    // Customer 1 churns live on 1 March, and the server announces it.
    churn_customer_one(server);
    ASSERT_TRUE(eventually([&] {
        return query_rows(server.db(), "SELECT event_type, status FROM alerts_outbox") == "customer.churned|sent\n";
    })) << server.log();
    const int64_t episode = query_int(server.db(), "SELECT id FROM churn_events WHERE customer_id = 1");
    // A second target's copy of it failed for good: dead, waiting for an `alerts retry`.
    {
        churnwatch::sql::Database db(server.db());
        db.exec("INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id,"
                " payload, created_us, status, next_attempt_us, retry_from_us, last_error)"
                " SELECT 'https://crm.example/hook', event_type, episode_id, customer_id, 'msg_dead',"
                " payload, created_us, 'dead', next_attempt_us, retry_from_us, 'HTTP 500'"
                " FROM alerts_outbox");
    }
    // Subscription 11, created on 1 February and active ever since: quarantined (too deep).
    std::string late = subscription_json({.id = 11, .customer_id = 1, .updated_at = "2026-02-01T00:00:00+00:00",
                                           .created_at = "2026-02-01T00:00:00+00:00"});
    ASSERT_EQ(late.substr(late.size() - 2), "}}");
    late.insert(late.size() - 2, ",\"analytics_data\":{\"utm_params\":[]}");
    int64_t id = post("subscription/created", late);
    ASSERT_EQ(query_text(server.db(), "SELECT status FROM deliveries WHERE id = " + std::to_string(id)),
              "quarantined");
    ASSERT_EQ(query_int(server.db(), "SELECT count(*) FROM churn_events"), 1);

    // Replayed without the server's alert settings: the churn is gone, no retraction is
    // queued, the dead churn alert is retracted (no `alerts retry` may send it now), and the
    // warning names the retraction (not a churn) and the episode.
    auto bare = run_churnwatch({"quarantine", "replay", std::to_string(id), "--db", server.db(),
                                "--json-depth", "64"});
    ASSERT_EQ(bare.exit_code, 0) << bare.out << bare.err;
    EXPECT_NE(bare.out.find("customer 1 now active"), std::string::npos) << bare.out;
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM churn_events"), 0);
    EXPECT_EQ(query_rows(server.db(), "SELECT event_type, status FROM alerts_outbox ORDER BY id"),
              "customer.churned|sent\ncustomer.churned|retracted\n");
    auto retry = run_churnwatch({"alerts", "retry", "--all-dead", "--db", server.db()});
    EXPECT_NE(retry.out.find("0 alerts queued for sending"), std::string::npos) << retry.out << retry.err;
    EXPECT_NE(bare.err.find("quarantine replay: warning: 1 churn alert not announced (customer 1's churn "
                            "(episode " + std::to_string(episode) + ") retracted): alerts_outbox shows "
                            "this database's server sends alerts"),
              std::string::npos)
        << bare.err;
    EXPECT_EQ(bare.err.find("customer 1 churned"), std::string::npos) << bare.err;
    EXPECT_NE(bare.err.find("--config FILE"), std::string::npos) << bare.err;
    EXPECT_EQ(sanitizer_report(bare.err), "");
    server.stop();
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

// alert-retention-days deletes a delivered churn alert 30 days after it was sent, though its
// episode lives on: what the target was told stays in alert_told. A replay that reveals the
// churn never happened (a subscription created before the cancellation, quarantined) still
// retracts it to that target, as live ingest would, and the erased episode takes that row
// with it.
TEST(QuarantineAlerts, ReplayRetractsAChurnWhoseAlertTheRetentionDeleted) {
    TempDir dir;
    const std::string hook = quiet_hook(dir);
    const ServerProcess::Options options{.args = {"--json-depth", "3", "--alert-command", hook}};
    int64_t id = 0;
    {
        ServerProcess server(dir, options);
        auto post = [&](const std::string& topic, const std::string& body) { return post_for_id(server, topic, body); };
        churn_customer_one(server);
        ASSERT_TRUE(eventually([&] {
            return query_rows(server.db(), "SELECT event_type, status FROM alerts_outbox") == "customer.churned|sent\n";
        })) << server.log();
        // Subscription 11, created on 1 February and active ever since: quarantined (too deep).
        std::string late = subscription_json({.id = 11, .customer_id = 1, .updated_at = "2026-02-01T00:00:00+00:00",
                                               .created_at = "2026-02-01T00:00:00+00:00"});
        late.insert(late.size() - 2, ",\"analytics_data\":{\"utm_params\":[]}");
        id = post("subscription/created", late);
        ASSERT_EQ(query_text(server.db(), "SELECT status FROM deliveries WHERE id = " + std::to_string(id)),
                  "quarantined");
        EXPECT_EQ(server.stop(), 0);
        EXPECT_EQ(sanitizer_report(server.log()), "");
    }
    {
        // Forty days pass.
        churnwatch::sql::Database db(dir.file("churnwatch.db"));
        db.exec("UPDATE alerts_outbox SET created_us = created_us - 3456000000000,"
                " next_attempt_us = next_attempt_us - 3456000000000, retry_from_us = retry_from_us - 3456000000000,"
                " last_attempt_us = last_attempt_us - 3456000000000, sent_us = sent_us - 3456000000000");
    }
    ServerProcess server(dir, options);
    // The retention deletes the alert at start; the episode stays.
    ASSERT_TRUE(eventually([&] { return query_int(server.db(), "SELECT count(*) FROM alerts_outbox") == 0; }))
        << server.log();
    ASSERT_EQ(query_int(server.db(), "SELECT count(*) FROM churn_events"), 1);

    auto replay = run_churnwatch({"quarantine", "replay", std::to_string(id), "--db", server.db(), "--json-depth",
                                  "64", "--alert-command", hook});
    ASSERT_EQ(replay.exit_code, 0) << replay.out << replay.err;
    EXPECT_NE(replay.out.find("customer 1 now active"), std::string::npos) << replay.out;
    EXPECT_EQ(replay.err, "");
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM churn_events"), 0);
    EXPECT_TRUE(eventually([&] {
        return query_rows(server.db(), "SELECT event_type, status FROM alerts_outbox") ==
               "customer.churn_retracted|sent\n";
    })) << query_rows(server.db(), "SELECT event_type, status FROM alerts_outbox") << server.log();
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM alert_told"), 0);
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

}  // namespace
