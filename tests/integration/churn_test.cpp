// The churn engine end to end: signed deliveries into the real server in a scrambled order
// with retries, churn tables checked; `rebuild` and `report` on the same database.
#include <gtest/gtest.h>
#include <ctime>

#include <filesystem>

#include <algorithm>
#include <random>

#include "churn_scenario.h"
#include "churn_store.h"
#include "sqlite.h"
#include "test_support.h"

using namespace churnwatch::test;

namespace {

void send_all(int port, const std::vector<TestDelivery>& deliveries) {
    HttpConnection conn(port);
    for (const auto& d : deliveries) {
        auto r = conn.request("POST", "/webhooks/recharge/" + d.topic,
                              {{"Content-Type", "application/json"},
                               {"X-Recharge-Hmac-Sha256", legacy_signature(kSecret, d.body)}},
                              d.body);
        ASSERT_EQ(r.status, 200) << d.topic << " " << r.body;
        EXPECT_EQ(r.body.find("quarantined"), std::string::npos) << d.body;
    }
}

std::vector<TestDelivery> scrambled_with_retries(unsigned seed) {
    auto deliveries = rich_scenario();
    for (std::size_t i = 1; i < deliveries.size(); i += 4) deliveries.push_back(deliveries[i]);
    std::shuffle(deliveries.begin(), deliveries.end(), std::mt19937(seed));
    return deliveries;
}

std::string events(const std::string& db) {
    return query_rows(db,
                      "SELECT customer_id, churned_at, reason, category, subscription_id, charge_id,"
                      " reactivated_at FROM churn_events ORDER BY customer_id, churned_at");
}

TEST(ChurnEndToEnd, ScenarioThroughTheServerGivesTheExpectedChurnTables) {
    TempDir dir;
    ServerProcess server(dir);
    send_all(server.port(), scrambled_with_retries(42));
    EXPECT_EQ(events(server.db()), rich_scenario_expected_events());
    EXPECT_EQ(query_rows(server.db(), "SELECT id, status FROM customers ORDER BY id"),
              "1|active\n2|churned\n3|churned\n4|churned\n5|churned\n");
}

TEST(ChurnEndToEnd, TwoSubscriptionsCancelOneStaysActiveCancelBothChurns) {
    TempDir dir;
    ServerProcess server(dir);
    auto sub = [](int64_t id, const std::string& status, const std::string& at) {
        SubscriptionSpec s{.id = id, .customer_id = 77, .status = status, .updated_at = at,
                           .created_at = "2026-01-01T00:00:00+00:00"};
        if (status == "cancelled") s.cancelled_at = at;
        return TestDelivery{"subscription/" + std::string(status == "active" ? "created" : "cancelled"),
                            subscription_json(s)};
    };
    send_all(server.port(), {sub(1, "active", "2026-01-01T00:00:00+00:00"),
                             sub(2, "active", "2026-01-01T00:00:00+00:00"),
                             sub(1, "cancelled", "2026-02-01T00:00:00+00:00")});
    EXPECT_EQ(query_text(server.db(), "SELECT status FROM customers WHERE id = 77"), "active");
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM churn_events"), 0);
    send_all(server.port(), {sub(2, "cancelled", "2026-03-01T00:00:00+00:00")});
    EXPECT_EQ(query_text(server.db(), "SELECT status FROM customers WHERE id = 77"), "churned");
    EXPECT_EQ(events(server.db()), "77|2026-03-01 00:00:00|cancelled|voluntary|2|NULL|NULL\n");
}

// Customers who never had a subscription, deactivated: Recharge's own count
// (subscriptions_total_count 2021-11, number_subscriptions 2021-01) is 0. They never became
// active, so no churn and no first_active_at, in either API version. (A 2021-11
// customer/deactivated used to be taken as the churn of a customer active since creation.)
TEST(ChurnEndToEnd, DeactivatingACustomerWhoNeverSubscribedIsNotAChurn) {
    TempDir dir;
    ServerProcess server(dir);
    auto customer_2021_11 = [](int id, const std::string& created, const std::string& updated) {
        return "{\"customer\":{\"id\":" + std::to_string(id) + ",\"created_at\":\"" + created +
               "\",\"email\":\"c" + std::to_string(id) + "@example.com\","
               "\"external_customer_id\":{\"ecommerce\":\"555" + std::to_string(id) + "\"},"
               "\"has_payment_method_in_dunning\":false,\"has_valid_payment_method\":true,"
               "\"subscriptions_active_count\":0,\"subscriptions_total_count\":0,"
               "\"updated_at\":\"" + updated + "\"}}";
    };
    auto customer_2021_01 = [](int id, const std::string& status, const std::string& updated) {
        return "{\"customer\":{\"id\":" + std::to_string(id) + ",\"created_at\":\"2026-01-06T09:00:00\","
               "\"email\":\"c" + std::to_string(id) + "@example.com\",\"has_card_error_in_dunning\":false,"
               "\"number_active_subscriptions\":0,\"number_subscriptions\":0,"
               "\"shopify_customer_id\":\"77" + std::to_string(id) + "\",\"status\":\"" + status +
               "\",\"updated_at\":\"" + updated + "\"}}";
    };
    const std::string one_time_charge =
        "{\"charge\":{\"id\":5011,\"charge_attempts\":1,\"created_at\":\"2026-01-20T10:00:00+00:00\","
        "\"customer\":{\"id\":501,\"email\":\"c501@example.com\","
        "\"external_customer_id\":{\"ecommerce\":\"555501\"}},\"line_items\":[{\"purchase_item_id\":9501,"
        "\"purchase_item_type\":\"onetime\",\"quantity\":1,\"total_price\":\"24.00\"}],"
        "\"processed_at\":\"2026-01-20T10:00:00+00:00\",\"status\":\"success\",\"total_price\":\"24.00\","
        "\"type\":\"checkout\",\"updated_at\":\"2026-01-20T10:00:00+00:00\"}}";
    send_all(server.port(),
             {{"charge/paid", one_time_charge},
              {"customer/deactivated", customer_2021_11(501, "2026-01-20T09:00:00", "2026-02-20T10:00:00")},
              {"customer/deactivated", customer_2021_11(502, "2026-01-05T09:00:00", "2026-02-21T10:00:00")},
              {"customer/updated", customer_2021_01(503, "INACTIVE", "2026-02-22T10:00:00")},
              {"customer/deactivated", customer_2021_01(504, "INACTIVE", "2026-02-23T10:00:00")}});
    EXPECT_EQ(query_rows(server.db(), "SELECT id, status, first_seen_at, first_active_at, churned_at"
                                      " FROM customers ORDER BY id"),
              "501|never_active|2026-01-20 09:00:00|NULL|NULL\n"
              "502|never_active|2026-01-05 09:00:00|NULL|NULL\n"
              "503|never_active|2026-01-06 09:00:00|NULL|NULL\n"
              "504|never_active|2026-01-06 09:00:00|NULL|NULL\n");
    EXPECT_EQ(events(server.db()), "");
}

// Max retries on the charge, the store deactivates the customer at 01:00 and cancels the
// subscription at 01:10: one churn, at the deactivation, max_retries, with the charge and the
// subscription (the episode used to lose the subscription when the charge explained it).
TEST(ChurnEndToEnd, DeactivationForMaxRetriesKeepsTheSubscriptionCancelledAfterIt) {
    TempDir dir;
    ServerProcess server(dir);
    send_all(server.port(),
             {{"subscription/created",
               subscription_json({.id = 11701, .customer_id = 117,
                                  .updated_at = "2026-06-01T10:00:00+00:00",
                                  .created_at = "2026-06-01T10:00:00+00:00"})},
              {"charge/max_retries_reached",
               charge_json({.id = 21701, .customer_id = 117, .status = "error",
                            .updated_at = "2026-08-20T00:30:00+00:00",
                            .error_type = "CLOSED_MAX_RETRIES_REACHED",
                            .subscription_ids = {11701}, .attempts = 7})},
              {"customer/deactivated",
               customer_json({.id = 117, .updated_at = "2026-08-20T01:00:00", .active_count = 0})},
              {"subscription/cancelled",
               subscription_json({.id = 11701, .customer_id = 117, .status = "cancelled",
                                  .updated_at = "2026-08-20T01:10:00+00:00",
                                  .created_at = "2026-06-01T10:00:00+00:00",
                                  .cancelled_at = "2026-08-20T01:10:00+00:00"})}});
    EXPECT_EQ(events(server.db()),
              "117|2026-08-20 01:00:00|max_retries|involuntary|11701|21701|NULL\n");
}

// A version dated in the future would outrank every real update of its subscription for good
// (versions are ordered by updated_at): the cancellation below would never count. Such a
// delivery is stored quarantined with the reason instead, and so is one dated before 2000.
TEST(ChurnEndToEnd, ImplausibleBusinessTimesAreQuarantinedAndDoNotOutrankRealUpdates) {
    TempDir dir;
    ServerProcess server(dir);
    auto post = [&](const std::string& topic, const SubscriptionSpec& s) {
        const std::string body = subscription_json(s);
        return post_webhook(server.port(), "/webhooks/recharge/" + topic, body);
    };
    auto last_reason = [&] {
        return query_text(server.db(), "SELECT reason FROM deliveries ORDER BY id DESC LIMIT 1");
    };
    auto future = post("subscription/updated", {.id = 5, .customer_id = 55,
                                                .updated_at = "9999-01-01T00:00:00+00:00"});
    EXPECT_EQ(future.status, 200);
    EXPECT_NE(future.body.find("\"quarantined\""), std::string::npos) << future.body;
    EXPECT_EQ(last_reason().rfind("implausible time in subscription/updated payload: "
                                  "subscription.updated_at 9999-01-01T00:00:00+00:00 is more "
                                  "than a day after the delivery was received (", 0), 0u)
        << last_reason();
    auto old = post("subscription/created", {.id = 6, .customer_id = 55,
                                             .updated_at = "2026-01-01T00:00:00+00:00",
                                             .created_at = "1900-01-01T00:00:00+00:00"});
    EXPECT_NE(old.body.find("\"quarantined\""), std::string::npos) << old.body;
    EXPECT_EQ(last_reason(), "implausible time in subscription/created payload: "
                             "subscription.created_at 1900-01-01 00:00:00 is before 2000-01-01");

    send_all(server.port(),
             {{"subscription/created", subscription_json({.id = 5, .customer_id = 55,
                                                          .updated_at = "2026-01-01T00:00:00+00:00"})},
              {"subscription/cancelled",
               subscription_json({.id = 5, .customer_id = 55, .status = "cancelled",
                                  .updated_at = "2026-02-01T00:00:00+00:00",
                                  .cancelled_at = "2026-02-01T00:00:00+00:00"})}});
    EXPECT_EQ(query_text(server.db(), "SELECT status FROM customers WHERE id = 55"), "churned");
    EXPECT_EQ(events(server.db()), "55|2026-02-01 00:00:00|cancelled|voluntary|5|NULL|NULL\n");
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM deliveries WHERE status = 'quarantined'"), 2);

    // rebuild judges stored deliveries the same way: it quarantines an accepted one (stored by
    // an older churnwatch) and keeps the outcome.
    server.stop();
    {
        churnwatch::sql::Database conn(server.db());  // id 1: the delivery dated 9999
        conn.exec("UPDATE deliveries SET status = 'accepted', reason = NULL"
                  " WHERE id = 1");
    }
    auto r = run_churnwatch({"rebuild", "--db", server.db()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(events(server.db()), "55|2026-02-01 00:00:00|cancelled|voluntary|5|NULL|NULL\n");
    const std::string rebuilt = query_rows(
        server.db(), "SELECT status, reason FROM deliveries WHERE id = 1");
    EXPECT_EQ(rebuilt.rfind("quarantined|rebuild could not decode: implausible time in "
                            "subscription/updated payload: subscription.updated_at "
                            "9999-01-01T00:00:00+00:00 is more than a day after", 0), 0u)
        << rebuilt;
}

// The rates count customers: a customer who churns, comes back and churns again in a month
// is one customer lost, and customers who join and leave within the month are not among those
// active at its start (churn_rate was 5.0 here when it counted episodes). A one-time item is
// not a subscription: its buyer's cohort is the month of their first real subscription.
TEST(ChurnEndToEnd, ChurnRatesCountCustomersAndCohortsStartAtTheFirstSubscription) {
    TempDir dir;
    ServerProcess server(dir);
    auto sub = [](int64_t id, int64_t customer, const std::string& status, const std::string& at,
                  const std::string& created) {
        SubscriptionSpec s{.id = id, .customer_id = customer, .status = status, .updated_at = at,
                           .created_at = created};
        if (status == "cancelled") s.cancelled_at = at;
        const std::string action = status == "cancelled" ? "cancelled" : "created";
        return TestDelivery{"subscription/" + action, subscription_json(s)};
    };
    std::vector<TestDelivery> ds = {
        sub(10, 1, "active", "2026-01-05T00:00:00+00:00", "2026-01-05T00:00:00+00:00"),
        sub(10, 1, "cancelled", "2026-03-05T00:00:00+00:00", "2026-01-05T00:00:00+00:00"),
        sub(11, 1, "active", "2026-03-10T00:00:00+00:00", "2026-03-10T00:00:00+00:00"),
        sub(11, 1, "cancelled", "2026-03-20T00:00:00+00:00", "2026-03-10T00:00:00+00:00"),
        sub(50, 5, "onetime", "2026-01-10T00:00:00+00:00", "2026-01-10T00:00:00+00:00"),
        sub(51, 5, "active", "2026-03-03T00:00:00+00:00", "2026-03-03T00:00:00+00:00"),
    };
    for (int64_t c : {2, 3, 4}) {
        ds.push_back(sub(c * 10, c, "active", "2026-03-02T00:00:00+00:00", "2026-03-02T00:00:00+00:00"));
        ds.push_back(sub(c * 10, c, "cancelled", "2026-03-25T00:00:00+00:00", "2026-03-02T00:00:00+00:00"));
    }
    send_all(server.port(), ds);
    EXPECT_EQ(query_rows(server.db(), "SELECT * FROM churn_monthly ORDER BY month"),
              "2026-01|0|1|0|0|0|0|NULL|0.0\n"
              "2026-02|1|0|0|0|0|0|0.0|0.0\n"
              "2026-03|1|4|5|1|1|4|1.0|0.8\n");
    EXPECT_EQ(query_rows(server.db(), "SELECT * FROM cohort_retention ORDER BY cohort, months_since"),
              "2026-01|0|1|1|1.0\n2026-01|1|1|1|1.0\n2026-01|2|1|0|0.0\n"
              "2026-03|0|4|1|0.25\n");
    server.stop();

    // `report --to` ends the cohort table at that month too.
    auto r = run_churnwatch({"report", "--db", server.db(), "--format", "csv", "--to", "2026-02"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("# cohort_retention\ncohort,months_since,cohort_size,retained,retained_share\n"
                         "2026-01,0,1,1,1.0\n2026-01,1,1,1,1.0\n"),
              std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("2026-01,2,"), std::string::npos) << r.out;
}

// A store in Los Angeles: a customer who cancels on the evening of March 31 there (April 1,
// 03:00 UTC) churned in March. serve stores the zone's calendar; report says when its own
// configuration names another zone than the database's; a plain rebuild keeps the database's
// zone (the analyst audit: it used to turn the months back to UTC, saying only "months in
// UTC"), and one given a zone sets it.
TEST(ChurnEndToEnd, MonthsAreTheStoresCalendarMonthsWithReportTimezone) {
    TempDir dir;
    ServerProcess server(dir, {.args = {"--report-timezone", "America/Los_Angeles"}});
    SubscriptionSpec s{.id = 10, .customer_id = 1, .status = "active", .updated_at = "2026-01-10T12:00:00+00:00",
                       .created_at = "2026-01-10T12:00:00+00:00"};
    std::vector<TestDelivery> ds = {{"subscription/created", subscription_json(s)}};
    s.status = "cancelled";
    s.updated_at = "2026-03-31T20:00:00-07:00";
    s.cancelled_at = s.updated_at;
    ds.push_back({"subscription/cancelled", subscription_json(s)});
    send_all(server.port(), ds);
    server.stop();
    EXPECT_NE(server.log().find("\"event\":\"report_calendar\",\"report_timezone\":\"America/Los_Angeles\""),
              std::string::npos)
        << server.log();
    EXPECT_EQ(query_rows(server.db(), "SELECT churned_at FROM churn_events"), "2026-04-01 03:00:00\n");
    EXPECT_EQ(query_rows(server.db(), "SELECT month, churned FROM churn_by_reason"), "2026-03|1\n");

    auto same = run_churnwatch({"report", "--db", server.db(), "--format", "csv",
                                "--report-timezone", "America/Los_Angeles"});
    ASSERT_EQ(same.exit_code, 0) << same.err;
    EXPECT_EQ(same.err, "");
    EXPECT_NE(same.out.find("# churn_by_reason\nmonth,reason,category,churned,share\n2026-03,cancelled,"),
              std::string::npos)
        << same.out;
    auto other = run_churnwatch({"report", "--db", server.db(), "--format", "csv"});
    ASSERT_EQ(other.exit_code, 0) << other.err;
    EXPECT_NE(other.err.find("note: the months are America/Los_Angeles calendar months, as the database "
                             "holds them; report-timezone here is UTC"),
              std::string::npos)
        << other.err;
    EXPECT_EQ(run_churnwatch({"report", "--db", server.db(), "--report-timezone", "Nowhere"}).exit_code, 2);

    auto kept = run_churnwatch({"rebuild", "--db", server.db()});
    ASSERT_EQ(kept.exit_code, 0) << kept.err;
    EXPECT_EQ(kept.out.rfind("rebuild: report-timezone America/Los_Angeles, as the churn tables were derived "
                             "(give the option to change it)\n", 0), 0u) << kept.out;
    EXPECT_NE(kept.out.find("; months in America/Los_Angeles\n"), std::string::npos) << kept.out;
    EXPECT_EQ(query_rows(server.db(), "SELECT month, churned FROM churn_by_reason"), "2026-03|1\n");

    auto rebuilt = run_churnwatch({"rebuild", "--db", server.db(), "--report-timezone", "UTC"});
    ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
    EXPECT_EQ(rebuilt.out.find("as the churn tables were derived"), std::string::npos) << rebuilt.out;
    EXPECT_NE(rebuilt.out.find("; months in UTC\n"), std::string::npos) << rebuilt.out;
    EXPECT_EQ(query_rows(server.db(), "SELECT month, churned FROM churn_by_reason"), "2026-04|1\n");
}

// The analyst audit: a plain `rebuild` (the upgrade notes' advice) on a database that serve
// ran with --auto-churn-days deleted its auto-churn episodes, and serve's next pass made them
// again under new ids. A rebuild now judges with the setting the tables were derived with
// unless given one.
TEST(ChurnEndToEnd, APlainRebuildKeepsTheAutoChurnDaysTheTablesWereDerivedWith) {
    TempDir dir;
    const std::string db = dir.file("churnwatch.db");
    auto episodes = [&] { return query_rows(db, "SELECT id, customer_id, reason FROM churn_events"); };
    {
        ServerProcess server(dir);
        SubscriptionSpec s{.id = 20, .customer_id = 2, .status = "active",
                           .updated_at = "2026-01-10T12:00:00+00:00", .created_at = "2026-01-10T12:00:00+00:00"};
        ChargeSpec c{.id = 900, .customer_id = 2, .status = "error", .updated_at = "2026-02-10T12:00:00+00:00",
                     .error_type = "CLOSED_MAX_RETRIES_REACHED", .subscription_ids = {20}};
        send_all(server.port(), {{"subscription/created", subscription_json(s)},
                                 {"charge/max_retries_reached", charge_json(c)}});
        ASSERT_EQ(server.stop(), 0);
    }
    ASSERT_EQ(episodes(), "");  // "Do nothing": no churn without the setting
    {
        // Started with the setting and stopped before its first pass (10 minutes in): the
        // tables are still as before, but a plain rebuild must judge as this serve would.
        ServerProcess server(dir, {.args = {"--auto-churn-days", "7"}});
        ASSERT_EQ(server.stop(), 0);
    }
    auto plain = run_churnwatch({"rebuild", "--db", db});
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    EXPECT_EQ(plain.out.rfind("rebuild: auto-churn-days 7, as the churn tables were derived", 0), 0u) << plain.out;
    const std::string churned = episodes();
    ASSERT_NE(churned.find("|2|max_retries\n"), std::string::npos) << churned;

    auto again = run_churnwatch({"rebuild", "--db", db});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(episodes(), churned) << "the same episode, the same id";

    // Given (here by the environment, as systemd's environment file gives it), the setting wins.
    auto off = run_churnwatch({"rebuild", "--db", db}, {{"CHURNWATCH_AUTO_CHURN_DAYS", "0"}});
    ASSERT_EQ(off.exit_code, 0) << off.err;
    EXPECT_EQ(off.out.find("as the churn tables were derived"), std::string::npos) << off.out;
    EXPECT_EQ(episodes(), "");
    auto after_off = run_churnwatch({"rebuild", "--db", db});
    ASSERT_EQ(after_off.exit_code, 0) << after_off.err;
    EXPECT_EQ(after_off.out.find("as the churn tables were derived"), std::string::npos) << after_off.out;
    EXPECT_EQ(episodes(), "");

    // A value serve would refuse is not used.
    {
        churnwatch::sql::Database conn(db);
        conn.exec("UPDATE service_state SET value = '99999' WHERE key = 'auto_churn_days'");
    }
    auto odd = run_churnwatch({"rebuild", "--db", db});
    ASSERT_EQ(odd.exit_code, 0) << odd.err;
    EXPECT_EQ(episodes(), "");
}

// A customer seen only through 2021-11 charges has the platform id the charge nests
// (customer.external_customer_id.ecommerce); once a customer record arrives, its own wins.
// rebuild gives the same.
TEST(ChurnEndToEnd, PlatformIdComesFromChargesUntilTheCustomerRecordNamesIt) {
    TempDir dir;
    ServerProcess server(dir);
    auto external_id = [&] {
        return query_text(server.db(), "SELECT external_customer_id FROM customers WHERE id = 71003");
    };
    send_all(server.port(), {{"charge/max_retries_reached",
                              example_payload("charge_max_retries_reached.2021-11.json")}});
    EXPECT_EQ(external_id(), "5550003");
    send_all(server.port(), {{"customer/updated", customer_json({.id = 71003,
                                                                 .updated_at = "2026-01-02T00:00:00+00:00"})}});
    EXPECT_EQ(external_id(), "555");
    const std::string live = churn_tables_dump(server.db());
    ASSERT_EQ(server.stop(), 0);
    auto r = run_churnwatch({"rebuild", "--db", server.db()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(churn_tables_dump(server.db()), live);
}

TEST(ChurnEndToEnd, CommandsRefuseADatabaseThatIsNotThere) {
    // rebuild used to create an empty database at a mistyped --db and say "0 deliveries
    // replayed" (exit 0); now it refuses like the other commands that need one.
    TempDir dir;
    std::string db = dir.file("mistyped.db");
    for (std::vector<std::string> cmd : {std::vector<std::string>{"rebuild"}, {"report"},
                                         {"alerts", "list"}, {"quarantine", "list"}}) {
        cmd.insert(cmd.end(), {"--db", db});
        auto r = run_churnwatch(cmd);
        EXPECT_EQ(r.exit_code, 1) << cmd[0] << ": " << r.out << r.err;
        EXPECT_NE(r.err.find("no database at " + db), std::string::npos) << cmd[0] << ": " << r.err;
        EXPECT_EQ(r.out.find("replayed"), std::string::npos) << r.out;
        EXPECT_FALSE(std::filesystem::exists(db)) << cmd[0] << " created " << db;
        EXPECT_FALSE(std::filesystem::exists(db + "-journal")) << cmd[0];
        EXPECT_FALSE(std::filesystem::exists(db + "-wal")) << cmd[0];
    }
}

TEST(ChurnEndToEnd, ReportRefusesMonthsThatDoNotExist) {
    // --from 2026-13 used to be accepted (and showed "(no data)") while 2026/01 was refused.
    TempDir dir;
    std::string db = dir.file("churnwatch.db");
    write_file(db, "");
    ASSERT_EQ(run_churnwatch({"rebuild", "--db", db}).exit_code, 0);
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    for (const Case& c : std::vector<Case>{
             {{"--from", "2026-13"}, "--from takes a month, YYYY-MM with MM from 01 to 12 (got '2026-13')"},
             {{"--from", "2026-00"}, "--from takes a month, YYYY-MM with MM from 01 to 12 (got '2026-00')"},
             {{"--to", "2026-13"}, "--to takes a month, YYYY-MM with MM from 01 to 12 (got '2026-13')"},
             {{"--from", "2026/01"}, "--from takes a month, YYYY-MM with MM from 01 to 12 (got '2026/01')"},
             {{"--to", "2026-1"}, "--to takes a month, YYYY-MM with MM from 01 to 12 (got '2026-1')"},
             {{"--from", "2026-06", "--to", "2026-01"}, "--from 2026-06 is after --to 2026-01"}}) {
        std::vector<std::string> args{"report", "--db", db};
        args.insert(args.end(), c.args.begin(), c.args.end());
        auto r = run_churnwatch(args);
        EXPECT_EQ(r.exit_code, 2) << c.args[1] << ": " << r.out << r.err;
        EXPECT_NE(r.err.find("churnwatch report: " + c.message), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }
    auto good = run_churnwatch({"report", "--db", db, "--from", "2026-01", "--to", "2026-12"});
    EXPECT_EQ(good.exit_code, 0) << good.err;
}

TEST(ChurnEndToEnd, RebuildReproducesLiveTablesAndReportMatchesTheViews) {
    TempDir dir;
    std::string live;
    std::string db;
    {
        ServerProcess server(dir);
        send_all(server.port(), scrambled_with_retries(7));
        db = server.db();
        live = churn_tables_dump(db);
        ASSERT_EQ(server.stop(), 0);
    }
    auto rebuilt = run_churnwatch({"rebuild", "--db", db});
    ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
    EXPECT_NE(rebuilt.out.find("5 churn episodes"), std::string::npos) << rebuilt.out;
    // Where the time went, commit included; the server has stopped, so no WAL note.
    EXPECT_NE(rebuilt.out.find("rebuild: read and decode "), std::string::npos) << rebuilt.out;
    EXPECT_NE(rebuilt.out.find(" s, commit "), std::string::npos) << rebuilt.out;
    EXPECT_EQ(rebuilt.out.find("in WAL"), std::string::npos) << rebuilt.out;
    EXPECT_EQ(churn_tables_dump(db), live);

    auto csv = run_churnwatch({"report", "--db", db, "--format", "csv"});
    ASSERT_EQ(csv.exit_code, 0) << csv.err;
    std::string monthly = query_rows(db, "SELECT month, active_at_start, new_customers, churned,"
                                         " reactivated, churned_customers, churned_customers_with_new,"
                                         " churn_rate, churn_rate_with_new"
                                         " FROM churn_monthly ORDER BY month");
    std::string as_csv;
    for (char c : monthly) as_csv += c == '|' ? ',' : c;
    // NULL rates print as empty fields in CSV.
    std::size_t pos = 0;
    while ((pos = as_csv.find("NULL")) != std::string::npos) as_csv.erase(pos, 4);
    EXPECT_NE(csv.out.find(as_csv), std::string::npos) << csv.out << "\nexpected:\n" << as_csv;

    auto json = run_churnwatch({"report", "--db", db, "--format", "json", "--from", "2026-03",
                                "--to", "2026-03"});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    EXPECT_NE(json.out.find("{\"month\":\"2026-03\",\"active_at_start\":4,\"new_customers\":1,"
                            "\"churned\":1,\"reactivated\":0,\"churned_customers\":1,"
                            "\"churned_customers_with_new\":1,\"churn_rate\":0.25"),
              std::string::npos)
        << json.out;
    EXPECT_EQ(json.out.find("2026-04"), std::string::npos) << "--to must bound the report";

    auto table = run_churnwatch({"report", "--db", db});
    ASSERT_EQ(table.exit_code, 0);
    EXPECT_NE(table.out.find("== cohort_retention =="), std::string::npos);
    EXPECT_NE(table.out.find("max_retries"), std::string::npos);

    EXPECT_EQ(run_churnwatch({"report", "--db", db, "--format", "xml"}).exit_code, 2);
}

// Customers at risk through the server: a failing payment method and failed charges, as
// Recharge sends them; `report` counts them by signal, whatever the months asked for.
TEST(ChurnEndToEnd, ReportCountsCustomersAtRiskBySignal) {
    TempDir dir;
    std::string db;
    {
        ServerProcess server(dir);
        db = server.db();
        std::vector<TestDelivery> ds;
        for (int64_t c : {1, 2, 3, 4})
            ds.push_back({"subscription/created",
                          subscription_json({.id = c * 10, .customer_id = c, .updated_at = "2026-01-05T00:00:00+00:00"})});
        ds.push_back({"customer/updated", customer_json({.id = 1, .updated_at = "2026-02-01T00:00:00+00:00",
                                                         .in_dunning = true, .valid_payment_method = true})});
        ds.push_back({"charge/failed", charge_json({.id = 201, .customer_id = 2, .status = "error",
                                                    .updated_at = "2026-02-01T00:00:00+00:00",
                                                    .error_type = "CARD_DECLINED", .subscription_ids = {20}})});
        ds.push_back({"charge/max_retries_reached",
                      charge_json({.id = 301, .customer_id = 3, .status = "error",
                                   .updated_at = "2026-02-01T00:00:00+00:00",
                                   .error_type = "CLOSED_MAX_RETRIES_REACHED", .subscription_ids = {30}, .attempts = 4})});
        ds.push_back({"charge/paid", charge_json({.id = 401, .customer_id = 4, .status = "success",
                                                  .updated_at = "2026-02-01T00:00:00+00:00", .subscription_ids = {40}})});
        send_all(server.port(), ds);
        ASSERT_EQ(server.stop(), 0);  // the projection is done once it has stopped
    }
    EXPECT_EQ(query_rows(db, "SELECT customer_id, signals FROM customers_at_risk ORDER BY customer_id"),
              "1|dunning\n2|charge_failed\n3|max_retries_reached\n");
    auto json = run_churnwatch({"report", "--db", db, "--format", "json", "--from", "2020-01", "--to", "2020-02"});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    EXPECT_NE(json.out.find("\"customers_at_risk\":[{\"customers\":3,\"in_dunning\":1,"
                            "\"no_valid_payment_method\":0,\"charge_failed\":1,\"max_retries_reached\":1}]"),
              std::string::npos)
        << json.out;
    auto table = run_churnwatch({"report", "--db", db});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_NE(table.out.find("== customers_at_risk ==\ncustomers  in_dunning"), std::string::npos) << table.out;
}

// While deliveries come in, the last month of the tables is the current one, and its counts
// and rates are of the month so far: report says so for each month of its range that has not
// ended, and for no other.
TEST(ChurnEndToEnd, ReportNotesAMonthThatHasNotEnded) {
    auto utc = [](const char* format) {
        const std::time_t t = static_cast<std::time_t>(now_seconds());
        std::tm tm{};
        gmtime_r(&t, &tm);
        char text[40];
        std::strftime(text, sizeof text, format, &tm);
        return std::string(text);
    };
    const std::string month = utc("%Y-%m");
    const std::string now = utc("%Y-%m-%dT%H:%M:%S+00:00");
    TempDir dir;
    std::string db;
    {
        ServerProcess server(dir);
        db = server.db();
        send_all(server.port(),
                 {{"subscription/created", subscription_json({.id = 10, .customer_id = 1,
                                                               .updated_at = "2020-01-05T00:00:00+00:00",
                                                               .created_at = "2020-01-05T00:00:00+00:00"})},
                  {"subscription/created",
                   subscription_json({.id = 20, .customer_id = 2, .updated_at = now, .created_at = now})}});
        ASSERT_EQ(server.stop(), 0);
    }
    auto all = run_churnwatch({"report", "--db", db});
    auto past = run_churnwatch({"report", "--db", db, "--to", "2020-12"});
    if (utc("%Y-%m") != month) GTEST_SKIP() << "the month ended while the test ran";
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_EQ(all.err, "churnwatch report: note: " + month +
                           " has not ended: its figures are those of the month so far\n");
    EXPECT_NE(all.out.find(month), std::string::npos) << all.out;
    ASSERT_EQ(past.exit_code, 0) << past.err;
    EXPECT_EQ(past.err, "") << "every month to 2020-12 has ended";
}

// A database whose churn tables older rules computed (no rules_version recorded, as before
// it was kept): serve says a rebuild is due (log line and gauge) and report notes it, until
// `churnwatch rebuild` recomputes the tables with this binary's rules. A fresh database is
// this version's from the start.
TEST(ChurnEndToEnd, TablesFromOlderRulesAskForARebuildUntilOneRuns) {
    const std::string current = std::to_string(churnwatch::kRulesVersion);
    TempDir dir;
    std::string db;
    {
        ServerProcess server(dir);
        send_all(server.port(), scrambled_with_retries(7));
        db = server.db();
        EXPECT_NE(http_request(server.port(), "GET", "/metrics").body.find("churnwatch_rebuild_recommended 0"),
                  std::string::npos);
        ASSERT_EQ(server.stop(), 0);
        EXPECT_EQ(server.log().find("rebuild_recommended"), std::string::npos) << server.log();
    }
    EXPECT_EQ(query_text(db, "SELECT value FROM service_state WHERE key = 'rules_version'"), current);
    EXPECT_EQ(run_churnwatch({"report", "--db", db}).err, "");
    {
        churnwatch::sql::Database conn(db);
        conn.exec("DELETE FROM service_state WHERE key = 'rules_version'");  // an upgraded database
    }
    auto noted = run_churnwatch({"report", "--db", db});
    ASSERT_EQ(noted.exit_code, 0) << noted.err;
    EXPECT_NE(noted.err.find("note: the churn tables were computed by an older version's rules (1, this "
                             "one's are " + current + "); run `churnwatch rebuild`"),
              std::string::npos)
        << noted.err;
    {
        ServerProcess::Options o;
        o.db = db;
        ServerProcess server(dir, o);
        EXPECT_NE(http_request(server.port(), "GET", "/metrics").body.find("churnwatch_rebuild_recommended 1"),
                  std::string::npos);
        ASSERT_EQ(server.stop(), 0);
        std::string log = server.log();
        EXPECT_NE(log.find("\"event\":\"rebuild_recommended\",\"rules_version\":1,\"current\":" + current),
                  std::string::npos)
            << log;
    }
    ASSERT_EQ(run_churnwatch({"rebuild", "--db", db}).exit_code, 0);
    EXPECT_EQ(run_churnwatch({"report", "--db", db}).err, "");
    EXPECT_EQ(query_text(db, "SELECT value FROM service_state WHERE key = 'rules_version'"), current);
}

}  // namespace
