// `churnwatch send-test` against a live `serve`: each scheme yields a stored, verified
// delivery; a wrong secret is answered 401 and the command exits 1.
#include <gtest/gtest.h>

#include "sqlite.h"
#include "test_support.h"

using namespace churnwatch::test;

namespace {

const std::string kSourceDir = std::string(CHURNWATCH_TEST_DATA) + "/../..";

// The SQL block of deploy/OPERATIONS.md that removes the test customer, as written there.
std::string documented_cleanup_sql() {
    std::string doc = read_file(kSourceDir + "/deploy/OPERATIONS.md");
    auto body = doc.find("DELETE FROM deliveries WHERE id IN");
    if (body == std::string::npos) return "";
    auto open = doc.rfind("```sql\n", body);
    auto close = doc.find("```", body);
    if (open == std::string::npos || close == std::string::npos) return "";
    return doc.substr(open + 7, close - open - 7);
}

class SendTest : public ::testing::Test {
protected:
    TempDir dir;
    ServerProcess server{dir};
    std::string base() const { return "http://127.0.0.1:" + std::to_string(server.port()); }
    CommandResult send(std::vector<std::string> args,
                       const std::map<std::string, std::string>& env = {}) {
        args.insert(args.begin(), "send-test");
        auto r = run_churnwatch(args, env);
        EXPECT_EQ(sanitizer_report(r.err), "");
        return r;
    }
    void TearDown() override {
        server.stop();
        EXPECT_EQ(sanitizer_report(server.log()), "");
    }
};

TEST_F(SendTest, LegacySchemeStoresAVerifiedDeliveryAndItsChurn) {
    auto r = send({"--url", base() + "/webhooks/recharge", "--secret", kSecret, "--topic",
                   "subscription/cancelled"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << server.log();
    EXPECT_NE(r.out.find("HTTP 200"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"accepted\""), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("/webhooks/recharge/subscription/cancelled"), std::string::npos) << r.err;
    EXPECT_EQ(
        query_rows(server.db(),
                   "SELECT topic, topic_source, signature_scheme, key_index, status, api_version"
                   " FROM deliveries"),
        "subscription/cancelled|path|legacy|0|accepted|2021-11\n");
    // The built-in example tells a story about customer 999000001.
    EXPECT_EQ(query_rows(server.db(), "SELECT customer_id, reason, category FROM churn_events"),
              "999000001|cancelled|voluntary\n");
    // Sent again: the same bytes, so the server answers duplicate (still a 2xx).
    auto again = send({"--url", base() + "/webhooks/recharge", "--secret", kSecret, "--topic",
                       "subscription/cancelled"});
    EXPECT_EQ(again.exit_code, 0);
    EXPECT_NE(again.out.find("duplicate"), std::string::npos) << again.out;
}

TEST_F(SendTest, TimestampedSchemeStoresAVerifiedDelivery) {
    auto r = send({"--url", base() + "/webhooks/recharge/", "--secret", kSecret, "--topic",
                   "charge/max_retries_reached", "--scheme", "timestamped"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << server.log();
    EXPECT_EQ(query_rows(server.db(), "SELECT topic, signature_scheme, status FROM deliveries"),
              "charge/max_retries_reached|timestamped|accepted\n");
}

TEST_F(SendTest, EveryBuiltInExampleIsAcceptedAndTheUrlRulesHold) {
    // A URL with no path gets /webhooks/recharge/<topic>; the secret may come from the
    // environment, as it does for serve.
    const std::vector<std::string> topics{"subscription/created",   "charge/paid",
                                          "subscription/cancelled", "subscription/activated",
                                          "subscription/updated",   "charge/max_retries_reached",
                                          "customer/deactivated",   "customer/activated"};
    for (const auto& t : topics) {
        auto r = send({"--url", base(), "--topic", t}, {{"CHURNWATCH_SECRETS", kSecret}});
        ASSERT_EQ(r.exit_code, 0) << t << "\n" << r.out << r.err;
        EXPECT_NE(r.out.find("\"accepted\""), std::string::npos) << t << ": " << r.out;
    }
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM deliveries WHERE status = 'accepted'"),
              8);
    EXPECT_EQ(query_int(server.db(), "SELECT count(DISTINCT topic) FROM deliveries"), 8);
    EXPECT_EQ(query_rows(server.db(), "SELECT id, status FROM customers"), "999000001|active\n");
    // The expiry alias is delivered as subscription/updated (same body: a duplicate).
    auto alias = send({"--url", base(), "--topic", "subscription/expired", "--secret", kSecret});
    EXPECT_EQ(alias.exit_code, 0) << alias.err;
    EXPECT_NE(alias.err.find("/webhooks/recharge/subscription/updated"), std::string::npos)
        << alias.err;
    // A URL naming a topic path is used as given, the topic taken from it.
    TempDir files;
    write_file(files.file("p.json"), example_payload("customer_deactivated.2021-01.json"));
    auto file = send({"--url", base() + "/webhooks/recharge/customer/deactivated", "--file",
                      files.file("p.json"), "--secret", kSecret});
    EXPECT_EQ(file.exit_code, 0) << file.out << file.err;
    EXPECT_EQ(
        query_text(server.db(),
                   "SELECT topic || ' ' || api_version FROM deliveries ORDER BY id DESC LIMIT 1"),
        "customer/deactivated 2021-01");
}

// Right after a deploy the test customer's deliveries are the newest rows. Deleting them
// used to let SQLite hand their ids out again: every later insert hit their fingerprints
// (503 for everything, across restarts), and ids below the projection's watermark would
// never have been projected.
TEST_F(SendTest, TheDocumentedCleanupRemovesTheTestCustomerAndIngestGoesOn) {
    for (const char* topic : {"subscription/created", "subscription/cancelled"}) {
        auto r = send({"--url", base(), "--topic", topic, "--secret", kSecret});
        ASSERT_EQ(r.exit_code, 0) << topic << "\n" << r.out << r.err;
    }
    ASSERT_EQ(query_int(server.db(), "SELECT count(*) FROM churn_events WHERE customer_id = 999000001"), 1);

    const std::string cleanup = documented_cleanup_sql();
    ASSERT_NE(cleanup.find("999000001"), std::string::npos) << "the cleanup SQL was not found";
    {
        churnwatch::sql::Database db(server.db());
        db.set_busy_timeout(5000);
        db.exec(cleanup);  // while the service runs
    }
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM deliveries"), 0);
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM customers"), 0);

    auto posted = post_webhook(server.port(), "/webhooks/recharge/subscription/cancelled",
                               example_payload("subscription_cancelled.2021-11.json"));
    ASSERT_EQ(posted.status, 200) << posted.body << server.log();
    EXPECT_EQ(query_int(server.db(), "SELECT id FROM deliveries"), 3) << "an id was used again";
    EXPECT_EQ(query_rows(server.db(), "SELECT customer_id, reason FROM churn_events"), "71001|cancelled\n");

    // And after a restart, which used to start again from the highest id left in the table.
    ASSERT_EQ(server.stop(), 0);
    ServerProcess again(dir, ServerProcess::Options{.db = server.db()});
    auto next = post_webhook(again.port(), "/webhooks/recharge/subscription/activated",
                             example_payload("subscription_activated.2021-11.json"));
    ASSERT_EQ(next.status, 200) << next.body << again.log();
    EXPECT_EQ(query_int(again.db(), "SELECT max(id) FROM deliveries"), 4);
    EXPECT_EQ(query_rows(again.db(), "SELECT status FROM customers WHERE id = 71001"), "active\n")
        << "the delivery after the restart was not projected";
    again.stop();
    EXPECT_EQ(sanitizer_report(again.log()), "");
}

TEST_F(SendTest, WrongSecretIs401AndExit1) {
    auto r = send({"--url", base() + "/webhooks/recharge", "--secret", "not_the_right_secret_0000",
                   "--topic", "subscription/cancelled"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("HTTP 401"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("signature_mismatch"), std::string::npos) << r.out;
    auto ts = send({"--url", base() + "/webhooks/recharge", "--secret", "not_the_right_secret_0000",
                    "--topic", "subscription/cancelled", "--scheme", "timestamped"});
    EXPECT_EQ(ts.exit_code, 1);
    EXPECT_NE(ts.out.find("HTTP 401"), std::string::npos) << ts.out;
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM deliveries"), 0);
}

TEST_F(SendTest, UsageErrorsExit2AndUnreachableExit1) {
    auto no_topic = send({"--url", base() + "/webhooks/recharge", "--secret", kSecret});
    EXPECT_EQ(no_topic.exit_code, 2);
    EXPECT_NE(no_topic.err.find("charge/max_retries_reached"), std::string::npos)
        << "lists the built-in examples: " << no_topic.err;
    auto no_example = send({"--url", base(), "--secret", kSecret, "--topic", "order/created"});
    EXPECT_EQ(no_example.exit_code, 2);
    EXPECT_NE(no_example.err.find("--file"), std::string::npos) << no_example.err;
    auto no_secret =
        send({"--url", base(), "--topic", "charge/paid"}, {{"CHURNWATCH_SECRETS", ""}});
    EXPECT_EQ(no_secret.exit_code, 2);
    auto bad_scheme =
        send({"--url", base(), "--secret", kSecret, "--topic", "charge/paid", "--scheme", "v2"});
    EXPECT_EQ(bad_scheme.exit_code, 2);
    auto bad_url =
        send({"--url", "ftp://example.com/", "--secret", kSecret, "--topic", "charge/paid"});
    EXPECT_EQ(bad_url.exit_code, 2);
    // Nothing listens on the port of a stopped server.
    int port = server.port();
    server.stop();
    auto down = send({"--url", "http://127.0.0.1:" + std::to_string(port), "--secret", kSecret,
                      "--topic", "charge/paid"});
    EXPECT_EQ(down.exit_code, 1);
    EXPECT_FALSE(down.err.empty());
}

}  // namespace
