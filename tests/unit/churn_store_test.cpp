// ChurnStore through the real Writer (group commit, then the projection): order
// independence, duplicates, rebuild equality, and the analyst views.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <future>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include <sqlite3.h>

#include "churn_scenario.h"
#include "churn_store.h"
#include "crypto.h"
#include "json.h"
#include "metrics.h"
#include "payload.h"
#include "schema.h"
#include "test_support.h"
#include "time_util.h"
#include "writer.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {


// Runs deliveries through a Writer + ChurnStore on a fresh database; returns its path.
void feed(const std::string& db, const std::vector<TestDelivery>& deliveries) {
    ChurnStore churn(RulesPolicy{});
    Writer writer(db, WriterOptions{}, &churn);
    std::vector<std::future<WriteResult>> results;
    for (const auto& td : deliveries) {
        auto p = std::make_shared<std::promise<WriteResult>>();
        results.push_back(p->get_future());
        ASSERT_TRUE(writer.submit(make_delivery(td), [p](const WriteResult& r) { p->set_value(r); }));
    }
    for (auto& f : results) {
        WriteResult r = f.get();
        EXPECT_NE(r.outcome, WriteOutcome::Failed) << r.error;
        EXPECT_EQ(r.status, DeliveryStatus::Accepted) << r.error;
    }
    writer.stop();
}

// `churnwatch rebuild` on db, in one transaction as the command runs it: with a rollback
// journal when it is alone with the database (no other connection open), else in WAL.
RebuildStats rebuild_db(const std::string& db, RulesPolicy policy = {}) {
    sql::Database conn(db);
    configure_connection(conn);
    apply_migrations(conn);
    const bool alone = use_rollback_journal(conn);
    ChurnStore churn(policy);
    sql::Transaction txn(conn);
    RebuildStats stats = churn.rebuild(conn, 64);
    txn.commit();
    if (alone) configure_connection(conn);
    return stats;
}

std::string events(const std::string& db) {
    return query_rows(db,
                      "SELECT customer_id, churned_at, reason, category, subscription_id, charge_id,"
                      " reactivated_at FROM churn_events ORDER BY customer_id, churned_at");
}

TEST(ChurnStore, RichScenarioGivesTheExpectedEpisodes) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, rich_scenario());
    EXPECT_EQ(events(db), rich_scenario_expected_events());
    EXPECT_EQ(query_rows(db, "SELECT id, status, active_subscriptions FROM customers ORDER BY id"),
              "1|active|1\n2|churned|0\n3|churned|0\n4|churned|0\n5|churned|0\n");
    EXPECT_EQ(query_rows(db, "SELECT id, charges_counted, ended_by_expiry FROM subscriptions WHERE id = 31"),
              "31|3|1\n");
}

// The rules, but every delivery's first application fails its whole transaction as a lock
// taken elsewhere would: the projection retries, and each delivery is applied again.
class FirstTryFails : public DeliveryApplier {
public:
    explicit FirstTryFails(ChurnStore& inner) : inner_(inner) {}
    void prepare(sql::Database& db) override { inner_.prepare(db); }
    void apply(sql::Database& db, int64_t id, const Delivery& d) override {
        inner_.apply(db, id, d);
        if (tried_.insert(id).second) throw sql::Error(SQLITE_BUSY, SQLITE_BUSY, "database is locked");
    }
    void finished(bool committed) override { inner_.finished(committed); }

private:
    ChurnStore& inner_;
    std::set<int64_t> tried_;
};

// The counters go up for what committed: a transaction that failed and was retried counted
// its churns twice.
TEST(ChurnStore, CountersCountWhatCommittedOnceThoughTransactionsWereRetried) {
    TempDir dir;
    std::string db = dir.file("a.db");
    Metrics metrics;
    {
        ChurnStore churn(RulesPolicy{}, &metrics);
        FirstTryFails applier(churn);
        Writer writer(db, WriterOptions{}, &applier);
        for (const auto& td : rich_scenario()) {
            std::promise<void> done;
            ASSERT_TRUE(writer.submit(make_delivery(td), [&](const WriteResult&) { done.set_value(); }));
            done.get_future().wait();
        }
        writer.stop();
    }
    ASSERT_EQ(events(db), rich_scenario_expected_events());
    double churned = 0;
    for (const char* reason : {"cancelled", "max_retries", "expired", "deactivated"})
        for (const char* category : {"voluntary", "involuntary", "natural"})
            churned += metrics.value("churnwatch_churn_events_total", {{"reason", reason}, {"category", category}});
    const int64_t rows = query_int(db, "SELECT count(*) FROM churn_events");
    EXPECT_EQ(churned - metrics.value("churnwatch_churn_events_retracted_total"), rows);
    EXPECT_EQ(metrics.value("churnwatch_reactivations_total"),
              query_int(db, "SELECT count(*) FROM churn_events WHERE reactivated_at IS NOT NULL"));
}

TEST(ChurnStore, AnyOrderWithDuplicatesGivesIdenticalTables) {
    auto deliveries = rich_scenario();
    TempDir dir;
    std::string reference_db = dir.file("ref.db");
    feed(reference_db, deliveries);
    std::string reference = churn_tables_dump(reference_db);

    std::mt19937 rng(20261123);
    for (int round = 0; round < 25; ++round) {
        auto shuffled = deliveries;
        // Retries: a third of the deliveries arrive twice.
        for (std::size_t i = 0; i < deliveries.size(); i += 3) shuffled.push_back(deliveries[i]);
        if (round == 0) std::reverse(shuffled.begin(), shuffled.end());
        else std::shuffle(shuffled.begin(), shuffled.end(), rng);
        std::string db = dir.file("p" + std::to_string(round) + ".db");
        feed(db, shuffled);
        ASSERT_EQ(churn_tables_dump(db), reference) << "round " << round;
    }
}

TEST(ChurnStore, RebuildGivesTheSameTablesAsLiveProcessing) {
    TempDir dir;
    std::string db = dir.file("a.db");
    auto deliveries = rich_scenario();
    std::shuffle(deliveries.begin(), deliveries.end(), std::mt19937(7));
    feed(db, deliveries);
    std::string live = churn_tables_dump(db);
    RebuildStats stats = rebuild_db(db);
    EXPECT_EQ(stats.deliveries, static_cast<int64_t>(deliveries.size()));
    EXPECT_EQ(stats.customers, 5);
    EXPECT_EQ(stats.episodes, 5);
    EXPECT_EQ(churn_tables_dump(db), live);

    // Every step timed, in the order they run (what `churnwatch rebuild` prints).
    std::vector<std::string> steps;
    for (const auto& [name, seconds] : stats.seconds) {
        steps.emplace_back(name);
        EXPECT_GE(seconds, 0.0) << name;
    }
    EXPECT_EQ(steps, (std::vector<std::string>{"read and decode", "delete old rows", "version rows",
                                               "analyst rows", "indexes"}));
}

// Every column of every derived table, versions included; episode ids when asked.
std::string all_tables_dump(const std::string& db, bool episode_ids) {
    return "subscription_versions\n" +
           query_rows(db, "SELECT * FROM subscription_versions ORDER BY subscription_id, updated_at_us, order_key") +
           "charge_versions\n" +
           query_rows(db, "SELECT * FROM charge_versions ORDER BY charge_id, updated_at_us, order_key") +
           "customer_versions\n" +
           query_rows(db, "SELECT * FROM customer_versions ORDER BY customer_id, updated_at_us, order_key") +
           "customers\n" + query_rows(db, "SELECT * FROM customers ORDER BY id") +
           "subscriptions\n" + query_rows(db, "SELECT * FROM subscriptions ORDER BY id") +
           "charges\n" + query_rows(db, "SELECT * FROM charges ORDER BY id") + "churn_events\n" +
           query_rows(db, std::string("SELECT ") + (episode_ids ? "id, " : "") +
                              "customer_id, churned_at, reason, category, subscription_id, charge_id,"
                              " delivery_id, reactivated_at FROM churn_events ORDER BY customer_id, churned_at");
}

std::string iso(int month, int day) {
    char b[40];
    std::snprintf(b, sizeof b, "2026-%02d-%02dT10:00:00+00:00", month, day);
    return b;
}

// A delivery rewrites only the rows it can change (its objects, and the subscriptions a
// charge it carries covers in any version): a charge whose later version no longer covers
// one of two subscriptions, and an expiring subscription whose count a late charge
// completes, in every order, give the rows a full rebuild writes.
TEST(ChurnStore, RowsADeliveryDoesNotCarryStayRight) {
    const std::vector<TestDelivery> deliveries = {
        {"subscription/created", subscription_json({.id = 71, .customer_id = 7, .updated_at = iso(1, 1)})},
        {"subscription/created",
         subscription_json({.id = 72, .customer_id = 7, .updated_at = iso(1, 1), .expire_after = 2})},
        {"charge/paid", charge_json({.id = 701, .customer_id = 7, .updated_at = iso(2, 1), .subscription_ids = {71, 72}})},
        {"charge/updated", charge_json({.id = 701, .customer_id = 7, .updated_at = iso(2, 5), .subscription_ids = {71}})},
        {"charge/paid", charge_json({.id = 702, .customer_id = 7, .updated_at = iso(3, 1), .subscription_ids = {72}})},
        {"charge/paid", charge_json({.id = 703, .customer_id = 7, .updated_at = iso(4, 1), .subscription_ids = {72}})},
        {"customer/updated", customer_json({.id = 7, .updated_at = iso(4, 2), .active_count = 1})},
    };
    std::vector<int> order(deliveries.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::mt19937 rng(20261129);
    TempDir dir;
    std::string reference;
    for (int round = 0; round < 40; ++round) {
        // First the order that needs every version's list: the charge's first version (which
        // also covers 72) arrives last, after the version that dropped 72.
        if (round == 0) order = {0, 1, 3, 4, 5, 6, 2};
        if (round == 1) std::reverse(order.begin(), order.end());
        if (round > 1) std::shuffle(order.begin(), order.end(), rng);
        std::vector<TestDelivery> shuffled;
        for (int i : order) shuffled.push_back(deliveries[static_cast<std::size_t>(i)]);
        std::string db = dir.file("o" + std::to_string(round) + ".db");
        feed(db, shuffled);
        std::string live = all_tables_dump(db, false);
        std::string analyst = churn_tables_dump(db);  // without delivery ids (arrival order)
        rebuild_db(db);
        ASSERT_EQ(all_tables_dump(db, false), live) << "order " << round;
        if (reference.empty()) reference = analyst;
        ASSERT_EQ(analyst, reference) << "order " << round;
        std::filesystem::remove(db);
    }
    EXPECT_NE(reference.find("72|7|active"), std::string::npos) << reference;
}

// Enough customers and deliveries to span several of the rebuild's batches, a customer whose
// e-mail is decided by fact order (two charges with the same updated_at: the table order,
// by charge id, picks the second one's address), and the rich scenario.
std::vector<TestDelivery> rebuild_scenario() {
    std::vector<TestDelivery> out = rich_scenario();
    for (int64_t c = 1000; c < 1300; ++c) {
        int m = 1 + static_cast<int>(c % 9);
        out.push_back({"subscription/created",
                       subscription_json({.id = c * 10, .customer_id = c, .updated_at = iso(m, 1)})});
        out.push_back({"charge/paid", charge_json({.id = c * 10 + 1, .customer_id = c,
                                                   .updated_at = iso(m, 2), .subscription_ids = {c * 10}})});
        if (c % 3 == 0)
            out.push_back({"subscription/cancelled",
                           subscription_json({.id = c * 10, .customer_id = c, .status = "cancelled",
                                              .updated_at = iso(m + 1, 3), .cancelled_at = iso(m + 1, 3)})});
        if (c % 4 == 0)
            out.push_back({"customer/updated",
                           customer_json({.id = c, .updated_at = iso(m, 5), .active_count = 1,
                                          .email = "c" + std::to_string(c) + "@example.com"})});
    }
    auto charge_with_email = [](int64_t id, const std::string& email) {
        return "{\"charge\":{\"id\":" + std::to_string(id) +
               ",\"customer\":{\"id\":80,\"email\":\"" + email +
               "\"},\"status\":\"success\",\"line_items\":[],\"total_price\":\"24.00\","
               "\"created_at\":\"2026-01-01T00:00:00+00:00\",\"updated_at\":\"2026-02-01T00:00:00+00:00\"}}";
    };
    out.push_back({"charge/paid", charge_with_email(802, "second@example.com")});
    out.push_back({"charge/paid", charge_with_email(801, "first@example.com")});
    return out;
}

TEST(ChurnStoreRebuild, GivesTheRowsOfTheTableBasedRecompute) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, rebuild_scenario());
    std::string live = all_tables_dump(db, true);
    {
        // Stored but no longer decodable: the rebuild quarantines it and carries on.
        sql::Database conn(db);
        conn.exec("INSERT INTO deliveries (received_at, topic, topic_source, signature_scheme,"
                  " key_index, dedupe_key, body, status) VALUES ('2026-11-23 00:00:00',"
                  " 'subscription/updated', 'path', 'legacy', 0, 'sha256:cut', '{\"subscription\":',"
                  " 'accepted')");
        // And one taken on the legacy hash beside a failed timestamped signature (0026): its
        // quarantine reason keeps that note.
        conn.exec("INSERT INTO deliveries (received_at, topic, topic_source, signature_scheme,"
                  " key_index, dedupe_key, body, status, reason, signature_note) VALUES"
                  " ('2026-11-23 00:00:00', 'subscription/updated', 'path', 'legacy', 0, 'sha256:cut2',"
                  " '[', 'accepted', 'stale; accepted on the legacy hash', 'stale; accepted on the legacy hash')");
    }
    int64_t customers = query_int(db, "SELECT count(*) FROM customers");
    ASSERT_GT(customers, 300);
    RebuildStats stats = rebuild_db(db);
    EXPECT_EQ(stats.customers, customers);
    EXPECT_EQ(stats.quarantined, 2);
    EXPECT_EQ(query_text(db, "SELECT email FROM customers WHERE id = 80"), "second@example.com");
    EXPECT_EQ(query_text(db, "SELECT status FROM deliveries WHERE dedupe_key = 'sha256:cut'"), "quarantined");
    const std::string kept = query_text(db, "SELECT reason FROM deliveries WHERE dedupe_key = 'sha256:cut2'");
    EXPECT_EQ(kept.rfind("rebuild could not decode: ", 0), 0u) << kept;
    EXPECT_NE(kept.find("; stale; accepted on the legacy hash"), std::string::npos) << kept;
    EXPECT_EQ(all_tables_dump(db, true), live);
    EXPECT_EQ(query_text(db, "PRAGMA journal_mode"), "wal");

    // With another connection open (an analyst's, or the service's) the rebuild stays in
    // WAL; its reading threads' connections see the same deliveries either way.
    {
        sql::Database other(db);
        sql::Statement open_read(other, "SELECT count(*) FROM deliveries");
        ASSERT_TRUE(open_read.step());
        RebuildStats again = rebuild_db(db);
        EXPECT_EQ(again.deliveries, stats.deliveries - 2);  // the quarantined ones are not read again
        EXPECT_EQ(again.customers, customers);
    }
    EXPECT_EQ(all_tables_dump(db, true), live);

    // The rebuild evaluates histories it kept in memory; recomputing each customer from the
    // version tables (the live path) must find nothing to change, episode ids included.
    std::string rebuilt = all_tables_dump(db, true);
    {
        sql::Database conn(db);
        configure_connection(conn);
        ChurnStore churn(RulesPolicy{});
        churn.prepare(conn);
        std::vector<int64_t> ids;
        {
            sql::Statement q(conn, "SELECT id FROM customers ORDER BY id");
            while (q.step()) ids.push_back(q.column_int(0));
        }
        sql::Transaction txn(conn);
        for (int64_t id : ids) churn.recompute(id, /*notify=*/false);
        txn.commit();
    }
    EXPECT_EQ(all_tables_dump(db, true), rebuilt);
}

TestDelivery churn_of(int64_t customer, const std::string& start, const std::string& end) {
    return {"subscription/cancelled",
            subscription_json({.id = customer * 10, .customer_id = customer, .status = "cancelled",
                               .updated_at = end, .created_at = start, .cancelled_at = end})};
}

std::vector<TestDelivery> churns(const std::vector<int64_t>& customers) {
    std::vector<TestDelivery> out;
    for (int64_t c : customers) {
        out.push_back({"subscription/created",
                       subscription_json({.id = c * 10, .customer_id = c, .updated_at = iso(1, 1)})});
        out.push_back(churn_of(c, iso(1, 1), iso(3, static_cast<int>(c % 28) + 1)));
    }
    return out;
}

// An episode_id is what an alert carries and what its receiver looks up in churn_events
// later: a rebuild keeps every id. (It used to number episodes afresh in customer order, so
// customer 200's episode, the first to churn, became customer 100's id.)
TEST(ChurnStoreRebuild, KeepsTheIdsOfTheEpisodes) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, churns({200, 100}));
    const char* ids = "SELECT customer_id, id FROM churn_events ORDER BY customer_id";
    ASSERT_EQ(query_rows(db, ids), "100|2\n200|1\n");
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, ids), "100|2\n200|1\n");

    // Customers in random arrival order, each with an episode or two: the same ids.
    std::string shuffled_db = dir.file("b.db");
    auto deliveries = rebuild_scenario();
    std::shuffle(deliveries.begin(), deliveries.end(), std::mt19937(11));
    feed(shuffled_db, deliveries);
    std::string live = all_tables_dump(shuffled_db, true);
    rebuild_db(shuffled_db);
    EXPECT_EQ(all_tables_dump(shuffled_db, true), live);
}

// What a rebuild finds differs from the old rows when the rules changed (an upgrade,
// auto-churn-days): here the old rows are edited to stand for what older rules found. An
// episode that moved keeps its id (paired as the live projection pairs them: the same
// churned_at first, then in order); an episode no longer found goes, and a new one gets an
// id above every id seen before, its rows' and its alerts', never the gone one's.
TEST(ChurnStoreRebuild, AMovedEpisodeKeepsItsIdAndANewOneGetsAnIdNeverUsed) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, churns({3, 1, 2}));
    const char* ids = "SELECT customer_id, id, churned_at FROM churn_events ORDER BY customer_id, churned_at";
    const std::string expected = query_rows(db, ids);
    ASSERT_EQ(expected, "1|2|2026-03-02 10:00:00\n2|3|2026-03-03 10:00:00\n3|1|2026-03-04 10:00:00\n");
    {
        sql::Database conn(db);
        conn.exec("UPDATE churn_events SET churned_at = '2026-02-20 00:00:00' WHERE customer_id = 1");
        conn.exec("DELETE FROM churn_events WHERE customer_id = 2");
        conn.exec("INSERT INTO churn_events (id, customer_id, churned_at, reason, category)"
                  " VALUES (50, 3, '2025-01-01 00:00:00', 'cancelled', 'voluntary')");
    }
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, ids), "1|2|2026-03-02 10:00:00\n2|51|2026-03-03 10:00:00\n3|1|2026-03-04 10:00:00\n");

    // Nothing changed: nothing moves.
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, ids), "1|2|2026-03-02 10:00:00\n2|51|2026-03-03 10:00:00\n3|1|2026-03-04 10:00:00\n");

    // An alert names an episode that is gone (a late fact erased it): its id is not given
    // out again either.
    {
        sql::Database conn(db);
        conn.exec("INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id,"
                  " payload, created_us, next_attempt_us, retry_from_us)"
                  " VALUES ('http://x/', 'customer.churned', 70, 9, 'msg_1', '{}', 0, 0, 0)");
        conn.exec("DELETE FROM churn_events WHERE customer_id = 2");
    }
    rebuild_db(db);
    EXPECT_EQ(query_int(db, "SELECT id FROM churn_events WHERE customer_id = 2"), 71);
}

// A late fact erases customer 7's episode, the newest (id 1): the next episode, customer 8's,
// gets id 2. SQLite's rowid would have handed out 1 again, and a receiver of 7's alert that
// checks churn_events before acting would have found 8's episode under it.
TEST(ChurnStore, AnErasedEpisodesIdIsNotGivenOutAgain) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, churns({7}));
    ASSERT_EQ(query_rows(db, "SELECT customer_id, id FROM churn_events"), "7|1\n");
    // A second subscription, active since before the cancellation: 7 never churned.
    feed(db, {{"subscription/created",
               subscription_json({.id = 71, .customer_id = 7, .updated_at = iso(2, 1), .created_at = iso(2, 1)})}});
    ASSERT_EQ(query_int(db, "SELECT count(*) FROM churn_events"), 0);
    feed(db, churns({8}));
    EXPECT_EQ(query_rows(db, "SELECT customer_id, id FROM churn_events"), "8|2\n");
    EXPECT_EQ(query_text(db, "SELECT value FROM service_state WHERE key = 'last_episode_id'"), "2");
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, "SELECT customer_id, id FROM churn_events"), "8|2\n");
}

// Rules that change between rebuilds (here auto-churn-days on, off, on again): the episode
// they add, remove and add again gets a new id the second time, never the one it had.
TEST(ChurnStoreRebuild, AnEpisodeRemovedAndFoundAgainGetsANewId) {
    TempDir dir;
    std::string db = dir.file("a.db");
    std::vector<TestDelivery> d = churns({3});
    d.push_back({"subscription/created",
                 subscription_json({.id = 90, .customer_id = 9, .updated_at = iso(1, 1)})});
    d.push_back({"charge/max_retries_reached",
                 charge_json({.id = 901, .customer_id = 9, .status = "error", .updated_at = iso(2, 1),
                              .error_type = "CLOSED_MAX_RETRIES_REACHED", .subscription_ids = {90},
                              .attempts = 7})});
    feed(db, d);
    const char* ids = "SELECT customer_id, id FROM churn_events ORDER BY customer_id";
    ASSERT_EQ(query_rows(db, ids), "3|1\n");
    RulesPolicy auto_churn;
    auto_churn.auto_churn_after_max_retries_days = 30;
    rebuild_db(db, auto_churn);
    EXPECT_EQ(query_rows(db, ids), "3|1\n9|2\n");
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, ids), "3|1\n");
    rebuild_db(db, auto_churn);
    EXPECT_EQ(query_rows(db, ids), "3|1\n9|3\n");
    EXPECT_EQ(query_text(db, "SELECT value FROM service_state WHERE key = 'last_episode_id'"), "3");
}

TEST(ChurnStoreRebuild, RecordsHowFarTheProjectionGot) {
    TempDir dir;
    std::string db = dir.file("a.db");
    auto rebuild = [&] { return rebuild_db(db); };
    const char* mark = "SELECT value FROM service_state WHERE key = 'projected_through'";
    EXPECT_EQ(rebuild().projected_through, 0);
    EXPECT_EQ(query_text(db, mark), "0");

    feed(db, rich_scenario());
    {
        // The highest id is a quarantined delivery: max(id) counts every stored delivery.
        sql::Database conn(db);
        conn.exec("INSERT INTO deliveries (id, received_at, topic, topic_source, signature_scheme,"
                  " key_index, dedupe_key, body, status, reason) VALUES (9000, '2026-11-23 00:00:00',"
                  " NULL, NULL, 'legacy', 0, 'sha256:q', 'x', 'quarantined', 'invalid JSON')");
    }
    EXPECT_EQ(rebuild().projected_through, 9000);
    EXPECT_EQ(query_text(db, mark), "9000");
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM service_state WHERE key = 'projected_through'"), 1);
}

TEST(ChurnStoreRebuild, NeedsADatabaseFile) {
    // Its reading threads open their own connections: to an in-memory database, they would
    // each get a new, empty one.
    sql::Database conn(":memory:");
    apply_migrations(conn);
    ChurnStore churn(RulesPolicy{});
    sql::Transaction txn(conn);
    EXPECT_THROW(churn.rebuild(conn, 64), std::invalid_argument);
}

// Customers who never had an active subscription (a one-time purchase, a charge, a customer
// record) are in no month's active count and no cohort, and their status says so.
TEST(ChurnStore, CustomersNeverActiveAreNotCounted) {
    TempDir dir;
    std::string db = dir.file("a.db");
    std::vector<TestDelivery> d = rich_scenario();
    d.push_back({"charge/paid", charge_json({.id = 601, .customer_id = 6,
                                             .updated_at = "2026-01-20T00:00:00+00:00"})});
    feed(db, d);
    EXPECT_EQ(query_rows(db, "SELECT status, first_seen_at, first_active_at FROM customers WHERE id = 6"),
              "never_active|2026-01-01 00:00:00|NULL\n");
    EXPECT_EQ(query_text(db, "SELECT first_active_at FROM customers WHERE id = 4"), "2026-03-01 00:00:00");
    EXPECT_EQ(query_rows(db, "SELECT active_at_start, new_customers FROM churn_monthly WHERE month = '2026-03'"),
              "4|1\n");
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM customer_cohorts WHERE customer_id = 6"), 0);
}

// subscription/deleted carries the subscription as it was, usually still active: its row
// says deleted, not active, and its end churns the customer.
// Recharge's count of active subscriptions, reported with a customer payload, disagrees with
// churnwatch's own only as a sign of missed webhooks when no subscription changed after the
// report: a cancellation after it makes the report old, not wrong.
TEST(ChurnStore, CountMismatchesLeaveOutReportsOlderThanTheLastSubscriptionChange) {
    TempDir dir;
    std::string db = dir.file("m.db");
    auto sub = [](int64_t id, int64_t customer, const std::string& status, const std::string& at) {
        SubscriptionSpec s{.id = id, .customer_id = customer, .status = status, .updated_at = at};
        if (status == "cancelled") s.cancelled_at = at;
        return TestDelivery{"subscription/" + std::string(status == "active" ? "created" : "cancelled"),
                            subscription_json(s)};
    };
    auto cust = [](int64_t id, int count, const std::string& at) {
        return TestDelivery{"customer/updated",
                            customer_json({.id = id, .updated_at = at, .active_count = count})};
    };
    feed(db, {// 1: reported 1 in January, cancelled in March: the report is old.
              sub(10, 1, "active", "2026-01-01T00:00:00+00:00"), cust(1, 1, "2026-01-02T00:00:00+00:00"),
              sub(10, 1, "cancelled", "2026-03-01T00:00:00+00:00"),
              // 2: reports 2 after the last change churnwatch saw: a subscription it missed.
              sub(20, 2, "active", "2026-01-01T00:00:00+00:00"), cust(2, 2, "2026-02-01T00:00:00+00:00")});
    EXPECT_EQ(query_rows(db, "SELECT * FROM customer_count_mismatches ORDER BY customer_id"),
              "2|someone@example.com|active|1|2|2026-02-01 00:00:00\n");
}

// customers_at_risk: active customers showing what precedes involuntary churn (a failing or
// missing payment method, a charge failed and not made good), each with its signals; a
// failure made good by a later successful charge, or by the retry itself, is not a risk,
// and a churned customer is churn, not risk. A subscriber churnwatch has seen only through
// charges (its subscription predates the deployment: never_active) is listed when a failed
// charge of a subscription is open (0027); a one-time purchase that failed is not.
TEST(ChurnStore, CustomersAtRiskListsActiveCustomersWithPaymentTrouble) {
    TempDir dir;
    std::string db = dir.file("risk.db");
    auto active = [](int64_t customer) {
        return TestDelivery{"subscription/created",
                            subscription_json({.id = customer * 10, .customer_id = customer,
                                               .updated_at = "2026-01-05T00:00:00+00:00"})};
    };
    auto charge = [](int64_t id, int64_t customer, const std::string& status, const std::string& at,
                     int attempts = 1, std::optional<std::string> error_type = std::nullopt) {
        if (!error_type && status == "error") error_type = "CARD_DECLINED";
        return TestDelivery{"charge/" + std::string(status == "error" ? "failed" : "paid"),
                            charge_json({.id = id, .customer_id = customer, .status = status, .updated_at = at,
                                         .error_type = error_type, .subscription_ids = {customer * 10},
                                         .attempts = attempts})};
    };
    auto customer = [](int64_t id, std::optional<bool> dunning, std::optional<bool> valid) {
        return TestDelivery{"customer/updated",
                            customer_json({.id = id, .updated_at = "2026-02-10T00:00:00+00:00",
                                           .in_dunning = dunning, .valid_payment_method = valid})};
    };
    feed(db, {active(1), customer(1, true, true),                      // dunning
              active(2), charge(201, 2, "error", "2026-02-01T00:00:00+00:00", 2),
              active(3), charge(301, 3, "error", "2026-02-01T00:00:00+00:00"),
              charge(302, 3, "success", "2026-03-01T00:00:00+00:00"),  // made good
              active(4), charge(401, 4, "error", "2026-02-01T00:00:00+00:00"),
              charge(401, 4, "success", "2026-02-04T00:00:00+00:00", 2),  // the retry paid
              active(5), customer(5, false, false),
              charge(501, 5, "error", "2026-02-01T00:00:00+00:00", 4, "CLOSED_MAX_RETRIES_REACHED"),
              active(6), charge(601, 6, "error", "2026-02-01T00:00:00+00:00"),
              {"subscription/cancelled",
               subscription_json({.id = 60, .customer_id = 6, .status = "cancelled",
                                  .updated_at = "2026-02-20T00:00:00+00:00",
                                  .cancelled_at = "2026-02-20T00:00:00+00:00"})},  // churned
              active(7), customer(7, false, true),                     // all well
              active(8), charge(801, 8, "error", "2026-02-01T00:00:00+00:00"),
              charge(802, 8, "error", "2026-03-01T00:00:00+00:00", 3),
              charge(901, 9, "error", "2026-02-01T00:00:00+00:00", 7, "CLOSED_MAX_RETRIES_REACHED"),
              {"charge/failed", charge_json({.id = 1001, .customer_id = 10, .status = "error",
                                             .updated_at = "2026-02-01T00:00:00+00:00",
                                             .error_type = "CARD_DECLINED", .subscription_ids = {}})}});
    EXPECT_EQ(query_rows(db, "SELECT id, status FROM customers WHERE id IN (9, 10) ORDER BY id"),
              "9|never_active\n10|never_active\n");
    EXPECT_EQ(query_rows(db, "SELECT customer_id, in_dunning, no_valid_payment_method, failed_charge_id,"
                             " failed_at, error_type, attempts, max_retries_reached, open_failed_charges,"
                             " signals, status FROM customers_at_risk ORDER BY customer_id"),
              "1|1|0|NULL|NULL|NULL|NULL|NULL|0|dunning|active\n"
              "2|0|0|201|2026-02-01 00:00:00|CARD_DECLINED|2|0|1|charge_failed|active\n"
              "5|0|1|501|2026-02-01 00:00:00|CLOSED_MAX_RETRIES_REACHED|4|1|1|"
              "no_valid_payment_method,max_retries_reached|active\n"
              "8|0|0|802|2026-03-01 00:00:00|CARD_DECLINED|3|0|2|charge_failed|active\n"
              "9|0|0|901|2026-02-01 00:00:00|CLOSED_MAX_RETRIES_REACHED|7|1|1|max_retries_reached|never_active\n");
}

TEST(ChurnStore, ADeletedSubscriptionsRowSaysDeleted) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, {{"subscription/created", subscription_json({.id = 71, .customer_id = 7,
                                                          .updated_at = "2026-02-01T00:00:00+00:00"})},
              {"subscription/deleted", subscription_json({.id = 71, .customer_id = 7,
                                                          .updated_at = "2026-03-01T00:00:00+00:00"})}});
    EXPECT_EQ(query_rows(db, "SELECT status FROM subscriptions WHERE id = 71"), "deleted\n");
    EXPECT_EQ(query_rows(db, "SELECT status, active_subscriptions FROM customers WHERE id = 7"), "churned|0\n");
}

// Recharge sends a deleted subscription as it was: its updated_at may be that of its last
// change. At a tie the deletion is the later version (the order keys, hashes of the bodies,
// decided it before: the deletion was lost for about half of the customers).
TEST(ChurnStore, ADeletionWithTheLastChangesUpdatedAtStillDeletes) {
    TempDir dir;
    std::string db = dir.file("a.db");
    std::vector<TestDelivery> d;
    for (int64_t c = 1; c <= 12; ++c) {
        const std::string body = subscription_json({.id = 100 + c, .customer_id = c,
                                                     .updated_at = "2026-02-01T00:00:00+00:00",
                                                     .created_at = "2026-01-01T00:00:00+00:00"});
        d.push_back({"subscription/created", body});
        d.push_back({"subscription/deleted", body});
    }
    feed(db, d);
    EXPECT_EQ(query_rows(db, "SELECT status, count(*) FROM subscriptions GROUP BY status"), "deleted|12\n");
    EXPECT_EQ(query_rows(db, "SELECT status, churned_at, count(*) FROM customers GROUP BY 1, 2"),
              "churned|2026-02-01 00:00:00|12\n");
}

// billing_country keeps the text as sent — a name from 2021-01, a code from 2021-11 — and
// billing_country_code (0023) the same country as one ISO code, live and after a rebuild.
TEST(ChurnStore, TheBillingCountryIsOneCodeWhicheverWayItWasSent) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, {{"customer/updated", R"({"customer":{"id":1,"email":"a@example.com","status":"ACTIVE",)"
                                   R"("billing_country":"United States","updated_at":"2026-01-01T00:00:00"}})"},
              {"customer/updated", R"({"customer":{"id":2,"email":"b@example.com","subscriptions_active_count":0,)"
                                   R"("billing_address":{"country_code":"US"},"updated_at":"2026-01-01T00:00:00+00:00"}})"},
              {"customer/updated", R"({"customer":{"id":3,"email":"c@example.com","status":"ACTIVE",)"
                                   R"("billing_country":"Atlantis","updated_at":"2026-01-01T00:00:00"}})"}});
    const std::string expected = "1|United States|US\n2|US|US\n3|Atlantis|NULL\n";
    const std::string sql = "SELECT id, billing_country, billing_country_code FROM customers ORDER BY id";
    EXPECT_EQ(query_rows(db, sql), expected);
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, sql), expected);
}

// A 2021-11 customer carries no billing address; its charges do. The customers row takes
// the latest charge's (by business time, whatever the arrival) when the customer record
// names no country, and the customer record's own when it does; country, province and zip
// always from one address. Live and after a rebuild.
TEST(ChurnStore, TheBillingAddressComesFromChargesWhenTheCustomerRecordHasNone) {
    TempDir dir;
    std::string db = dir.file("a.db");
    auto charge = [](int id, int customer, const std::string& at, const std::string& address) {
        return TestDelivery{"charge/paid",
                            R"({"charge":{"id":)" + std::to_string(id) + R"(,"customer":{"id":)" +
                                std::to_string(customer) + R"(},"status":"success",)" + address +
                                R"("updated_at":")" + at + R"("}})"};
    };
    const std::string customer_2021_11 = R"({"customer":{"id":1,"email":"a@example.com",)"
                                         R"("subscriptions_active_count":1,"subscriptions_total_count":1,)"
                                         R"("updated_at":"2026-01-01T00:00:00+00:00"}})";
    feed(db, {{"customer/updated", customer_2021_11},
              // The later charge arrives first: its address is still the one kept.
              charge(12, 1, "2026-03-01T00:00:00+00:00",
                     R"("billing_address":{"country_code":"CA","province":"Ontario","zip":"K1A 0B1"},)"),
              charge(11, 1, "2026-02-01T00:00:00+00:00",
                     R"("billing_address":{"country_code":"US","province":"California","zip":"90404"},)"),
              // Later still, but with no country: it names no address.
              charge(13, 1, "2026-04-01T00:00:00+00:00", R"("billing_address":{"zip":"10001"},)"),
              // Customer 2: seen only through a 2021-01 charge, which names the country.
              charge(21, 2, "2026-02-01T00:00:00", R"("billing_address":{"country":"United Kingdom"},)"),
              // Customer 3: its own record names the country, a newer charge another one.
              {"customer/updated", R"({"customer":{"id":3,"email":"c@example.com","status":"ACTIVE",)"
                                   R"("billing_country":"Germany","billing_zip":"10115",)"
                                   R"("updated_at":"2026-01-01T00:00:00"}})"},
              charge(31, 3, "2026-02-01T00:00:00+00:00", R"("billing_address":{"country_code":"FR","zip":"75001"},)"),
              // Customer 4: no address anywhere.
              charge(41, 4, "2026-02-01T00:00:00+00:00", "")});
    const std::string expected =
        "1|CA|Ontario|K1A 0B1|CA\n2|United Kingdom|NULL|NULL|GB\n3|Germany|NULL|10115|DE\n4|NULL|NULL|NULL|NULL\n";
    const std::string sql = "SELECT id, billing_country, billing_province, billing_zip, billing_country_code"
                            " FROM customers ORDER BY id";
    EXPECT_EQ(query_rows(db, sql), expected);
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, sql), expected);
}

TEST(ChurnStore, ViewsCountTheScenario) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, rich_scenario());
    // Customers 1, 2, 3 and 5 were active before March (5 from its created_at: nothing but
    // its deactivation is known); 4's first subscription starts on March 1st, so it is new in
    // March though its customer record was created before. Customer 1 churns in March.
    EXPECT_EQ(query_rows(db, "SELECT month, active_at_start, new_customers, churned, reactivated,"
                             " churn_rate FROM churn_monthly WHERE month = '2026-03'"),
              "2026-03|4|1|1|0|0.25\n");
    EXPECT_EQ(query_rows(db, "SELECT month, active_at_start, churned, reactivated"
                             " FROM churn_monthly WHERE month = '2026-04'"),
              "2026-04|4|1|1\n");
    EXPECT_EQ(query_rows(db, "SELECT reason, category, churned FROM churn_by_reason"
                             " WHERE month = '2026-06' ORDER BY reason"),
              "deactivated|voluntary|1\nmax_retries|involuntary|1\n");
    // Cohort 2026-01 = customers 1, 2 (first subscription in January) and 5 (no subscription
    // known: first seen in January). At the end of April: 1 is back, 2 churned, 5 still active.
    EXPECT_EQ(query_rows(db, "SELECT retained, cohort_size FROM cohort_retention"
                             " WHERE cohort = '2026-01' AND months_since = 3"),
              "2|3\n");
}

// A late fact moves a customer's first episode later, still before its second: each keeps
// its id (a row with the same churned_at first, then the rows left in order), live and after
// a rebuild. Pairing an episode with the first row at or after its new time gave the moved
// episode its successor's id, and the successor the moved one's.
TEST(ChurnStore, AnEpisodeMovedLaterKeepsItsIdBesideTheNextOne) {
    TempDir dir;
    std::string db = dir.file("a.db");
    auto created = [](int64_t id, const std::string& at) {
        return TestDelivery{"subscription/created",
                            subscription_json({.id = id, .customer_id = 1, .updated_at = at, .created_at = at})};
    };
    auto cancelled = [](int64_t id, const std::string& start, const std::string& end) {
        return TestDelivery{"subscription/cancelled",
                            subscription_json({.id = id, .customer_id = 1, .status = "cancelled",
                                               .updated_at = end, .created_at = start, .cancelled_at = end})};
    };
    feed(db, {created(11, iso(1, 1)), cancelled(11, iso(1, 1), iso(3, 1)),  // churned March 1
              created(12, iso(3, 10)), cancelled(12, iso(3, 10), iso(4, 1))});  // back, churned April 1
    const char* sql = "SELECT id, churned_at, reactivated_at FROM churn_events ORDER BY churned_at";
    ASSERT_EQ(query_rows(db, sql), "1|2026-03-01 10:00:00|2026-03-10 10:00:00\n2|2026-04-01 10:00:00|NULL\n");
    // Late: a subscription seen only cancelled, active from February 1 to March 5.
    feed(db, {cancelled(13, iso(2, 1), iso(3, 5))});
    const std::string expected = "1|2026-03-05 10:00:00|2026-03-10 10:00:00\n2|2026-04-01 10:00:00|NULL\n";
    EXPECT_EQ(query_rows(db, sql), expected);
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, sql), expected);

    // Rules that moved both (the old rows edited to stand for what they found): neither has
    // a row at its time, and each takes the row left in order, not both the first.
    {
        sql::Database conn(db);
        conn.exec("UPDATE churn_events SET churned_at = replace(churned_at, '10:00:00', '09:00:00')");
    }
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, sql), expected);
}

// churn_events.delivery_id names the delivery of the version that showed the end first: a
// late delivery of an earlier version of the cancellation takes the episode over though
// nothing else of it changes, live as in a rebuild.
TEST(ChurnStore, AnEarlierVersionOfTheEndArrivingLateTakesTheEpisodesDelivery) {
    TempDir dir;
    std::string db = dir.file("a.db");
    auto cancelled = [](const std::string& topic, const std::string& at) {
        return TestDelivery{topic, subscription_json({.id = 70, .customer_id = 7, .status = "cancelled", .updated_at = at,
                                                      .created_at = iso(1, 1), .cancelled_at = iso(3, 1)})};
    };
    feed(db, {{"subscription/created",
               subscription_json({.id = 70, .customer_id = 7, .updated_at = iso(1, 1), .created_at = iso(1, 1)})},
              cancelled("subscription/updated", iso(3, 2))});
    const char* sql = "SELECT e.churned_at, d.topic FROM churn_events e JOIN deliveries d ON d.id = e.delivery_id";
    ASSERT_EQ(query_rows(db, sql), "2026-03-01 10:00:00|subscription/updated\n");
    feed(db, {cancelled("subscription/cancelled", iso(3, 1))});
    EXPECT_EQ(query_rows(db, sql), "2026-03-01 10:00:00|subscription/cancelled\n");
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, sql), "2026-03-01 10:00:00|subscription/cancelled\n");
}

// A charge/paid whose nested customer names `email` (and, when given, the platform id).
TestDelivery charge_naming(int64_t id, int64_t customer, const std::string& at, const std::string& email,
                           std::optional<std::string> external_id = std::nullopt) {
    std::string body = charge_json({.id = id, .customer_id = customer, .updated_at = at});
    const std::string from = "\"email\":\"someone@example.com\"}";
    std::string to = "\"email\":\"" + email + "\"";
    if (external_id) to += ",\"external_customer_id\":{\"ecommerce\":\"" + *external_id + "\"}";
    body.replace(body.find(from), from.size(), to + "}");
    return {"charge/paid", body};
}

// customers.email: the latest address any payload of the customer carries (a subscription's,
// a charge's, the customer record's), by business time whatever the arrival; the customer
// record's own at a tie; an empty one names none.
TEST(ChurnStore, TheEmailIsTheLatestOneCarriedAndTheRecordsOwnAtATie) {
    TempDir dir;
    std::string db = dir.file("a.db");
    std::string subscription = subscription_json({.id = 30, .customer_id = 3, .updated_at = iso(3, 1)});
    subscription.replace(subscription.find("\"address_id\":1,"), 15,
                         "\"address_id\":1,\"email\":\"subscription@example.com\",");  // 2021-01 carries it
    feed(db, {// 1: a charge newer than the record; the newest charge (arriving first) names none.
              charge_naming(12, 1, iso(4, 1), ""),
              {"customer/updated", customer_json({.id = 1, .updated_at = iso(2, 1), .email = "record@example.com"})},
              charge_naming(11, 1, iso(3, 1), "charge@example.com"),
              // 2: the record and a charge in the same second.
              charge_naming(21, 2, iso(3, 1), "charge@example.com"),
              {"customer/updated", customer_json({.id = 2, .updated_at = iso(3, 1), .email = "record@example.com"})},
              // 3: a subscription newer than the charge.
              charge_naming(31, 3, iso(2, 1), "charge@example.com"),
              {"subscription/created", subscription}});
    const std::string expected = "1|charge@example.com\n2|record@example.com\n3|subscription@example.com\n";
    EXPECT_EQ(query_rows(db, "SELECT id, email FROM customers ORDER BY id"), expected);
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, "SELECT id, email FROM customers ORDER BY id"), expected);
}

// customers.external_customer_id: the customer record's; for a customer seen only through
// charges (2021-11 charges nest it), the latest charge's that names one, whatever the arrival.
TEST(ChurnStore, TheExternalCustomerIdIsTheRecordsElseTheLatestChargesThatNamesOne) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, {{"customer/updated", customer_json({.id = 1, .updated_at = iso(2, 1)})},  // names 555
              charge_naming(11, 1, iso(3, 1), "someone@example.com", "777"),
              charge_naming(23, 2, iso(5, 1), "someone@example.com"),  // the latest, names none
              charge_naming(22, 2, iso(4, 1), "someone@example.com", "888"),
              charge_naming(21, 2, iso(3, 1), "someone@example.com", "111")});
    const std::string expected = "1|555\n2|888\n";
    EXPECT_EQ(query_rows(db, "SELECT id, external_customer_id FROM customers ORDER BY id"), expected);
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, "SELECT id, external_customer_id FROM customers ORDER BY id"), expected);
}

// An empty platform id on the customer record names none, as an empty country or e-mail
// does: the latest charge's that names one is taken; with none, the record's as sent.
TEST(ChurnStore, AnEmptyPlatformIdOnTheCustomerRecordNamesNone) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, {{"customer/updated", R"({"customer":{"id":1,"email":"a@example.com",)"
                                   R"("external_customer_id":{"ecommerce":""},)"
                                   R"("updated_at":"2026-02-01T00:00:00+00:00"}})"},
              charge_naming(11, 1, iso(3, 1), "a@example.com", "777"),
              {"customer/updated", R"({"customer":{"id":2,"email":"b@example.com",)"
                                   R"("shopify_customer_id":"","status":"ACTIVE",)"
                                   R"("updated_at":"2026-02-01T00:00:00"}})"}});
    const std::string expected = "1|777\n2|\n";
    EXPECT_EQ(query_rows(db, "SELECT id, external_customer_id FROM customers ORDER BY id"), expected);
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, "SELECT id, external_customer_id FROM customers ORDER BY id"), expected);
}

// The customer record's fields on the customers row (Recharge's count, the payment method,
// the address) are its latest version's, by business time whatever the arrival.
TEST(ChurnStore, TheCustomerRowTakesTheRecordsLatestVersion) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, {{"customer/updated", customer_json({.id = 1, .updated_at = iso(2, 1), .active_count = 2,
                                                  .in_dunning = false, .valid_payment_method = true})},
              {"customer/updated", customer_json({.id = 1, .updated_at = iso(1, 1), .active_count = 1,
                                                  .in_dunning = true, .valid_payment_method = false})}});
    EXPECT_EQ(query_rows(db, "SELECT reported_active_subscriptions, payment_method_in_dunning,"
                             " has_valid_payment_method FROM customers WHERE id = 1"),
              "2|0|1\n");
    // And its times: the earliest business time of its payloads (the record's created_at
    // here), the latest.
    EXPECT_EQ(query_rows(db, "SELECT first_seen_at, last_event_at FROM customers WHERE id = 1"),
              "2026-01-01 00:00:00|2026-02-01 10:00:00\n");
}

// An empty billing_country on the customer record names no country: the address is then
// the latest charge's that names one. A record naming no country and no charge naming one:
// the record's province and zip.
TEST(ChurnStore, AnEmptyBillingCountryOnTheCustomerRecordNamesNone) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, {{"customer/updated", R"({"customer":{"id":1,"email":"a@example.com","status":"ACTIVE",)"
                                   R"("billing_country":"","billing_province":"","billing_zip":"",)"
                                   R"("updated_at":"2026-01-01T00:00:00"}})"},
              {"charge/paid", R"({"charge":{"id":11,"customer":{"id":1},"status":"success",)"
                              R"("billing_address":{"country_code":"FR","zip":"75001"},)"
                              R"("updated_at":"2026-02-01T00:00:00+00:00"}})"},
              {"customer/updated", R"({"customer":{"id":2,"email":"b@example.com","status":"ACTIVE",)"
                                   R"("billing_province":"Berlin","billing_zip":"10115",)"
                                   R"("updated_at":"2026-01-01T00:00:00"}})"}});
    EXPECT_EQ(query_rows(db, "SELECT id, billing_country, billing_province, billing_zip, billing_country_code"
                             " FROM customers ORDER BY id"),
              "1|FR|NULL|75001|FR\n2|NULL|Berlin|10115|NULL\n");
}

// Every column of a subscription's row and of a charge's, each from its own field. (The
// tests that compare the live rows with a rebuild's cannot see a column written from the
// wrong field: both paths write the rows alike.)
TEST(ChurnStore, TheSubscriptionAndChargeRowsTakeEachColumnFromItsField) {
    TempDir dir;
    std::string db = dir.file("a.db");
    std::string cancelled = subscription_json({.id = 31, .customer_id = 3, .status = "cancelled",
                                               .updated_at = iso(4, 2), .created_at = iso(1, 1),
                                               .cancelled_at = iso(4, 1), .expire_after = 3});
    cancelled.replace(cancelled.find("\"price\":"), 8, "\"next_charge_scheduled_at\":\"2026-05-01\",\"price\":");
    std::string failed = charge_json({.id = 302, .customer_id = 3, .status = "error", .updated_at = iso(3, 2),
                                      .error_type = "CARD_DECLINED", .subscription_ids = {31, 32}, .attempts = 2});
    failed.replace(failed.find("\"error_type\":"), 13, "\"error\":\"Card declined.\",\"error_type\":");
    failed.replace(failed.find("\"updated_at\":"), 13, "\"processed_at\":\"2026-03-02T09:00:00+00:00\",\"updated_at\":");
    feed(db, {{"subscription/created", subscription_json({.id = 31, .customer_id = 3, .updated_at = iso(1, 1),
                                                          .created_at = iso(1, 1), .expire_after = 3})},
              {"subscription/created", subscription_json({.id = 32, .customer_id = 3, .updated_at = iso(1, 1),
                                                          .created_at = iso(1, 1)})},
              {"charge/paid", charge_json({.id = 301, .customer_id = 3, .updated_at = iso(2, 1), .subscription_ids = {31}})},
              {"charge/failed", failed},
              {"subscription/cancelled", cancelled}});
    EXPECT_EQ(query_rows(db, "SELECT id, customer_id, status, cancelled_at, cancellation_reason,"
                             " expire_after_specific_number_of_charges, charges_counted, ended_by_expiry,"
                             " max_retries_reached, next_charge_scheduled_at, price, quantity, product_title,"
                             " created_at, updated_at FROM subscriptions WHERE id = 31"),
              "31|3|cancelled|2026-04-01 10:00:00|other|3|1|0|0|2026-05-01|24.00|1|Coffee|"
              "2026-01-01 10:00:00|2026-04-02 10:00:00\n");
    EXPECT_EQ(query_rows(db, "SELECT id, customer_id, subscription_ids, status, error_type, error, attempts,"
                             " max_retries_reached, total_price, created_at, processed_at, updated_at"
                             " FROM charges WHERE id = 302"),
              "302|3|31,32|error|CARD_DECLINED|Card declined.|2|0|24.00|2026-01-01 00:00:00|"
              "2026-03-02 09:00:00|2026-03-02 10:00:00\n");
}

// max_retries_reached on a subscription's row and on a charge's: whether any of its versions
// reached max retries, not only the latest (a later update need not repeat it: a charge's
// flag may come from its charge/max_retries_reached topic alone).
TEST(ChurnStore, MaxRetriesReachedStaysOnTheRowsAfterALaterVersionWithout) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, {{"subscription/created", subscription_json({.id = 41, .customer_id = 4, .updated_at = iso(1, 1),
                                                          .created_at = iso(1, 1)})},
              {"subscription/updated", subscription_json({.id = 41, .customer_id = 4, .updated_at = iso(2, 2),
                                                          .created_at = iso(1, 1), .max_retries_reached = true})},
              {"subscription/cancelled", subscription_json({.id = 41, .customer_id = 4, .status = "cancelled",
                                                            .updated_at = iso(2, 3), .created_at = iso(1, 1),
                                                            .cancelled_at = iso(2, 3)})},
              {"charge/max_retries_reached",
               charge_json({.id = 401, .customer_id = 4, .status = "error", .updated_at = iso(2, 1),
                            .error_type = "CARD_DECLINED", .subscription_ids = {41}, .attempts = 7})},
              {"charge/updated",
               charge_json({.id = 401, .customer_id = 4, .status = "error", .updated_at = iso(2, 4),
                            .error_type = "CARD_DECLINED", .subscription_ids = {41}, .attempts = 7})}});
    EXPECT_EQ(query_rows(db, "SELECT id, max_retries_reached FROM subscriptions"), "41|1\n");
    EXPECT_EQ(query_rows(db, "SELECT id, max_retries_reached FROM charges"), "401|1\n");
}

// A listener that fails when told of a churn (here the first time) fails that delivery's
// rules: the projection rolls the delivery back and quarantines it, and what it counted goes
// with it, though the transaction around it commits.
class FailsOnTheFirstChurn : public EpisodeListener {
public:
    void on_churned(sql::Database&, int64_t, const CustomerOutcome&, const ChurnEpisode&) override {
        if (!failed_) {
            failed_ = true;
            throw std::runtime_error("listener failed");
        }
    }
    void on_reactivated(sql::Database&, int64_t, const CustomerOutcome&, const ChurnEpisode&) override {}

private:
    bool failed_ = false;
};

TEST(ChurnStore, ADeliveryWhoseRulesFailCountsNothing) {
    TempDir dir;
    std::string db = dir.file("a.db");
    Metrics metrics;
    {
        ChurnStore churn(RulesPolicy{}, &metrics);
        FailsOnTheFirstChurn listener;
        churn.set_listener(&listener);
        Writer writer(db, WriterOptions{}, &churn);
        for (const auto& td : churns({7, 8})) {
            std::promise<void> done;
            ASSERT_TRUE(writer.submit(make_delivery(td), [&](const WriteResult&) { done.set_value(); }));
            done.get_future().wait();
        }
        writer.stop();
    }
    EXPECT_EQ(query_rows(db, "SELECT customer_id FROM churn_events"), "8\n");
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM deliveries WHERE status = 'quarantined'"), 1);
    EXPECT_EQ(metrics.value("churnwatch_churn_events_total", {{"reason", "cancelled"}, {"category", "voluntary"}}), 1);
}

// The listener hears of a stored episode's change only when a delivery changed it: a later
// delivery that leaves the episode as stored (here a charge paid before the cancel) calls
// nothing, since on_changed rewrites unsent alerts with a fresh timestamp. The earlier
// version of the end arriving late changes the episode's delivery and is told.
class CountsChanges : public EpisodeListener {
public:
    void on_churned(sql::Database&, int64_t, const CustomerOutcome&, const ChurnEpisode&) override { ++churned; }
    void on_reactivated(sql::Database&, int64_t, const CustomerOutcome&, const ChurnEpisode&) override {}
    void on_changed(sql::Database&, int64_t, const CustomerOutcome&, const ChurnEpisode&,
                    const ChurnEpisode&) override {
        ++changed;
    }
    int churned = 0;
    int changed = 0;
};

TEST(ChurnStore, OnlyADeliveryThatChangesAStoredEpisodeIsToldAsAChange) {
    TempDir dir;
    std::string db = dir.file("a.db");
    auto cancelled = [](const std::string& topic, const std::string& at) {
        return TestDelivery{topic, subscription_json({.id = 70, .customer_id = 7, .status = "cancelled", .updated_at = at,
                                                      .created_at = iso(1, 1), .cancelled_at = iso(3, 1)})};
    };
    const std::vector<std::vector<TestDelivery>> batches = {
        {{"subscription/created",
          subscription_json({.id = 70, .customer_id = 7, .updated_at = iso(1, 1), .created_at = iso(1, 1)})},
         cancelled("subscription/updated", iso(3, 2))},
        {{"charge/paid", charge_json({.id = 700, .customer_id = 7, .updated_at = iso(2, 1), .subscription_ids = {70}})}},
        {cancelled("subscription/cancelled", iso(3, 1))}};
    ChurnStore churn(RulesPolicy{});
    CountsChanges listener;
    churn.set_listener(&listener);
    std::vector<int> changed_after;
    for (const auto& batch : batches) {
        Writer writer(db, WriterOptions{}, &churn);  // stop() projects what it stored
        for (const auto& td : batch) {
            std::promise<void> done;
            ASSERT_TRUE(writer.submit(make_delivery(td), [&](const WriteResult&) { done.set_value(); }));
            done.get_future().wait();
        }
        writer.stop();
        changed_after.push_back(listener.changed);
    }
    EXPECT_EQ(listener.churned, 1);
    EXPECT_EQ(changed_after, (std::vector<int>{0, 0, 1}));
}

}  // namespace

namespace {

// The optional auto-churn policy: a customer still active N days after an unresolved
// max-retries charge is churned even though no further delivery arrives for them.
std::vector<TestDelivery> unpaid_customer() {
    return {{"subscription/created",
             subscription_json({.id = 901, .customer_id = 90, .updated_at = "2026-05-01T00:00:00+00:00",
                                .created_at = "2026-05-01T00:00:00+00:00"})},
            {"charge/max_retries_reached",
             charge_json({.id = 9001, .customer_id = 90, .status = "error",
                          .updated_at = "2026-06-01T00:00:00+00:00",
                          .error_type = "CLOSED_MAX_RETRIES_REACHED", .subscription_ids = {901}})}};
}

Micros june(int day) { return *parse_time("2026-06-" + std::string(day < 10 ? "0" : "") + std::to_string(day) + "T00:00:00Z"); }

TEST(ChurnStoreMaintenance, AutoChurnIsRecordedWhenItsTimeComesWithoutANewDelivery) {
    TempDir dir;
    std::string db = dir.file("a.db");
    std::atomic<Micros> now{june(2)};
    RulesPolicy policy;
    policy.auto_churn_after_max_retries_days = 7;
    {
        ChurnStore churn(policy, nullptr, [&] { return now.load(); });
        WriterOptions options;
        options.maintenance_interval = std::chrono::milliseconds(20);
        Writer writer(db, options, &churn);
        for (const auto& td : unpaid_customer()) {
            std::promise<void> done;
            ASSERT_TRUE(writer.submit(make_delivery(td), [&](const WriteResult&) { done.set_value(); }));
            done.get_future().wait();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // several maintenance passes
        EXPECT_EQ(query_int(db, "SELECT count(*) FROM churn_events"), 0) << "not due before day 8";
        now = june(9);
        for (int i = 0; i < 200 && query_int(db, "SELECT count(*) FROM churn_events") == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        writer.stop();
    }
    EXPECT_EQ(events(db), "90|2026-06-08 00:00:00|max_retries|involuntary|901|9001|NULL\n");
    EXPECT_EQ(query_text(db, "SELECT status FROM customers WHERE id = 90"), "churned");
}

// A customer who paid again after a max-retries charge stays active with that charge for
// good. Every pass used to recompute every such customer (after scanning all of
// charge_versions), every 10 minutes, in a write transaction ingest waits for: a pause that
// grew with the months. A pass now takes only the charges that became due since the last.
TEST(ChurnStoreMaintenance, APassRecomputesOnlyTheChargesThatBecameDueSinceTheLast) {
    TempDir dir;
    std::string db = dir.file("a.db");
    auto deliveries = unpaid_customer();  // customer 90: max retries June 1, due June 8
    // Customer 91: the same failure, then paid again on June 3: active, never due.
    deliveries.push_back({"subscription/created",
                          subscription_json({.id = 911, .customer_id = 91, .updated_at = "2026-05-01T00:00:00+00:00",
                                             .created_at = "2026-05-01T00:00:00+00:00"})});
    deliveries.push_back({"charge/max_retries_reached",
                          charge_json({.id = 9101, .customer_id = 91, .status = "error",
                                       .updated_at = "2026-06-01T00:00:00+00:00",
                                       .error_type = "CLOSED_MAX_RETRIES_REACHED", .subscription_ids = {911}})});
    deliveries.push_back({"charge/paid", charge_json({.id = 9102, .customer_id = 91,
                                                      .updated_at = "2026-06-03T00:00:00+00:00",
                                                      .subscription_ids = {911}})});
    // Customer 92: max retries June 5, due June 12.
    deliveries.push_back({"subscription/created",
                          subscription_json({.id = 921, .customer_id = 92, .updated_at = "2026-05-01T00:00:00+00:00",
                                             .created_at = "2026-05-01T00:00:00+00:00"})});
    deliveries.push_back({"charge/max_retries_reached",
                          charge_json({.id = 9201, .customer_id = 92, .status = "error",
                                       .updated_at = "2026-06-05T00:00:00+00:00",
                                       .error_type = "CLOSED_MAX_RETRIES_REACHED", .subscription_ids = {921}})});
    feed(db, deliveries);

    sql::Database conn(db);
    // Customers recomputed: each reads its subscription versions once (load_history).
    int recomputed = 0;
    sqlite3_trace_v2(
        conn.handle(), SQLITE_TRACE_STMT,
        [](unsigned, void* ctx, void*, void* x) {
            if (std::string_view(static_cast<const char*>(x)).starts_with("SELECT subscription_id, customer_id"))
                ++*static_cast<int*>(ctx);
            return 0;
        },
        &recomputed);
    RulesPolicy policy;
    policy.auto_churn_after_max_retries_days = 7;
    auto pass = [&](Micros now) {
        ChurnStore churn(policy, nullptr, [now] { return now; });  // a new one each time, as after a restart
        recomputed = 0;
        sql::Transaction txn(conn);
        churn.maintain(conn);
        txn.commit();
        return recomputed;
    };
    const Micros ten_minutes = 600 * kMicrosPerSecond;
    EXPECT_EQ(pass(june(9)), 2) << "the first pass takes every max-retries charge due (90, 91)";
    EXPECT_EQ(query_text(db, "SELECT group_concat(id || ':' || status, ' ') FROM (SELECT * FROM customers ORDER BY id)"),
              "90:churned 91:active 92:active");
    EXPECT_EQ(pass(june(9) + ten_minutes), 0) << "nothing became due since the last pass";
    EXPECT_EQ(pass(june(12) + ten_minutes), 1) << "92's charge became due";
    EXPECT_EQ(query_text(db, "SELECT status FROM customers WHERE id = 92"), "churned");
    EXPECT_EQ(pass(june(12) + 2 * ten_minutes), 0);
    EXPECT_EQ(events(db), "90|2026-06-08 00:00:00|max_retries|involuntary|901|9001|NULL\n"
                          "92|2026-06-12 00:00:00|max_retries|involuntary|921|9201|NULL\n");
    // Under another auto-churn-days, what the last passes skipped as not yet due may be due:
    // the next pass takes every charge again, once (91, still active).
    policy.auto_churn_after_max_retries_days = 1;
    EXPECT_EQ(pass(june(12) + 3 * ten_minutes), 1);
    EXPECT_EQ(pass(june(12) + 4 * ten_minutes), 0);
    sql::Statement plan(conn,
                        "EXPLAIN QUERY PLAN SELECT customer_id FROM charge_versions"
                        " WHERE max_retries_reached = 1 AND updated_at_us > 0 AND updated_at_us <= 1");
    ASSERT_TRUE(plan.step());
    EXPECT_NE(plan.column_text(3).find("charge_versions_max_retries"), std::string::npos) << plan.column_text(3);
}

// The last pass's mark says which charges were judged under that auto-churn-days; whatever
// judged customers without the policy since (a rebuild without it, serve without it) must
// not leave it in place, or the next pass with the policy skips every charge due before it
// and those customers stay active until their next delivery.
TEST(ChurnStoreMaintenance, AJudgementWithoutThePolicyMakesTheNextPassTakeEveryChargeAgain) {
    RulesPolicy policy;
    policy.auto_churn_after_max_retries_days = 7;
    const Micros ten_minutes = 600 * kMicrosPerSecond;
    auto pass = [](const std::string& db, const RulesPolicy& p, Micros now) {
        sql::Database conn(db);
        ChurnStore churn(p, nullptr, [now] { return now; });
        sql::Transaction txn(conn);
        churn.maintain(conn);
        txn.commit();
    };
    auto status = [](const std::string& db) { return query_text(db, "SELECT status FROM customers WHERE id = 90"); };
    {
        // A rebuild run without --auto-churn-days.
        TempDir dir;
        std::string db = dir.file("a.db");
        feed(db, unpaid_customer());  // customer 90: max retries June 1, due June 8
        pass(db, policy, june(9));
        ASSERT_EQ(status(db), "churned");
        rebuild_db(db);
        ASSERT_EQ(status(db), "active");
        pass(db, policy, june(9) + ten_minutes);
        EXPECT_EQ(status(db), "churned") << "after a rebuild without the policy";
        // A rebuild with it leaves a mark its passes go on from.
        auto mark = [&] { return query_text(db, "SELECT value FROM service_state WHERE key = 'auto_churn_checked_at'"); };
        const std::string before = mark();
        rebuild_db(db, policy);
        EXPECT_NE(mark(), before);
        EXPECT_TRUE(mark().ends_with("/7")) << mark();
    }
    {
        // serve without the policy for a while: a delivery recomputes 90 without it.
        TempDir dir;
        std::string db = dir.file("a.db");
        feed(db, unpaid_customer());
        pass(db, policy, june(9));
        ASSERT_EQ(status(db), "churned");
        pass(db, RulesPolicy{}, june(9) + ten_minutes);
        feed(db, {{"charge/max_retries_reached",
                   charge_json({.id = 9001, .customer_id = 90, .status = "error",
                                .updated_at = "2026-06-01T12:00:00+00:00",
                                .error_type = "CLOSED_MAX_RETRIES_REACHED", .subscription_ids = {901}})}});
        ASSERT_EQ(status(db), "active");
        pass(db, policy, june(9) + 2 * ten_minutes);
        EXPECT_EQ(status(db), "churned") << "after serving without the policy";
    }
}

// A mark that is not exactly "<time>/<days>" as set_auto_churn_mark writes it says nothing:
// the next pass takes every charge again (recomputing is harmless) rather than trusting a
// time read off a damaged value, which would skip every charge due before it for good.
TEST(ChurnStoreMaintenance, AMalformedMarkMakesThePassTakeEveryChargeAgain) {
    RulesPolicy policy;
    policy.auto_churn_after_max_retries_days = 7;
    const Micros ten_minutes = 600 * kMicrosPerSecond;
    for (const std::string suffix : {"", "junk", " 12"}) {
        TempDir dir;
        std::string db = dir.file("a.db");
        feed(db, unpaid_customer());  // customer 90: max retries June 1, due June 8
        {
            sql::Database conn(db);
            ChurnStore churn(policy, nullptr, [] { return june(9); });
            sql::Transaction txn(conn);
            churn.maintain(conn);
            txn.commit();
        }
        ASSERT_EQ(query_text(db, "SELECT status FROM customers WHERE id = 90"), "churned");
        // The charge again, projected without the policy: 90 is active, the mark stays.
        feed(db, {{"charge/max_retries_reached",
                   charge_json({.id = 9001, .customer_id = 90, .status = "error",
                                .updated_at = "2026-06-01T12:00:00+00:00",
                                .error_type = "CLOSED_MAX_RETRIES_REACHED", .subscription_ids = {901}})}});
        ASSERT_EQ(query_text(db, "SELECT status FROM customers WHERE id = 90"), "active");
        {
            sql::Database conn(db);
            sql::Statement set(conn, "UPDATE service_state SET value = ? WHERE key = 'auto_churn_checked_at'");
            set.bind(1, std::to_string(june(9)) + "/7" + suffix).run();
        }
        {
            sql::Database conn(db);
            ChurnStore churn(policy, nullptr, [&] { return june(9) + ten_minutes; });
            sql::Transaction txn(conn);
            churn.maintain(conn);
            txn.commit();
        }
        EXPECT_EQ(query_text(db, "SELECT status FROM customers WHERE id = 90"), suffix.empty() ? "active" : "churned")
            << "mark '" << suffix << "': a whole mark skips the charge judged before it, a malformed one does not";
    }
}

TEST(ChurnStoreMaintenance, WithoutThePolicyMaintenanceChangesNothing) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, unpaid_customer());
    sql::Database conn(db);
    ChurnStore churn(RulesPolicy{}, nullptr, [] { return june(30); });
    sql::Transaction txn(conn);
    churn.maintain(conn);
    txn.commit();
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM churn_events"), 0);
}

// A pass judges the charges due by its time, that time included (the rules churn at the
// charge's time plus the days): the next pass starts after it, so a charge due exactly at a
// pass and left out by it would never be judged.
TEST(ChurnStoreMaintenance, AChargeDueExactlyAtThePassIsJudgedByIt) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, unpaid_customer());  // customer 90: max retries June 1, due June 8 00:00
    RulesPolicy policy;
    policy.auto_churn_after_max_retries_days = 7;
    for (Micros now : {june(8), june(8) + 600 * kMicrosPerSecond}) {
        sql::Database conn(db);
        ChurnStore churn(policy, nullptr, [now] { return now; });
        sql::Transaction txn(conn);
        churn.maintain(conn);
        txn.commit();
    }
    EXPECT_EQ(events(db), "90|2026-06-08 00:00:00|max_retries|involuntary|901|9001|NULL\n");
}

// The auto-churn-days the tables were derived under (rebuild reads it): service_state
// 'auto_churn_days' when it holds a setting serve takes (a whole number of days, 1 to 3650;
// "0" is off), else none; without it, the days of serve's last pass mark when the mark is
// whole ("<time>/<days>").
TEST(ChurnStoreMaintenance, TheStoredAutoChurnDaysAreOnlyWellFormedSettings) {
    sql::Database conn(":memory:");
    apply_migrations(conn);
    auto stored = [&](const char* key, const std::string& value) {
        conn.exec("DELETE FROM service_state WHERE key IN ('auto_churn_days', 'auto_churn_checked_at')");
        sql::Statement set(conn, "INSERT INTO service_state (key, value) VALUES (?, ?)");
        set.bind(1, key).bind(2, value).run();
        return stored_auto_churn_days(conn);
    };
    EXPECT_EQ(stored("auto_churn_days", "1"), 1);
    EXPECT_EQ(stored("auto_churn_days", "3650"), 3650);
    for (const char* off : {"0", "3651", "99999", "1a", "-1", ""})
        EXPECT_FALSE(stored("auto_churn_days", off).has_value()) << "'" << off << "'";
    const std::string at = std::to_string(june(9));
    EXPECT_EQ(stored("auto_churn_checked_at", at + "/30"), 30);
    for (const std::string& bad : std::vector<std::string>{at + "x/30", "/30", at, at + "/0"})
        EXPECT_FALSE(stored("auto_churn_checked_at", bad).has_value()) << "'" << bad << "'";
}

// A pass without the policy drops the mark once its transaction commits: one rolled back
// drops nothing, and the next pass must drop it again.
TEST(ChurnStoreMaintenance, APassWithoutThePolicyRolledBackDropsTheMarkAtTheNext) {
    TempDir dir;
    std::string db = dir.file("a.db");
    feed(db, unpaid_customer());
    sql::Database conn(db);
    {
        RulesPolicy policy;
        policy.auto_churn_after_max_retries_days = 7;
        ChurnStore churn(policy, nullptr, [] { return june(9); });
        sql::Transaction txn(conn);
        churn.maintain(conn);
        txn.commit();
    }
    auto marks = [&] { return query_int(db, "SELECT count(*) FROM service_state WHERE key = 'auto_churn_checked_at'"); };
    ASSERT_EQ(marks(), 1);
    ChurnStore churn(RulesPolicy{}, nullptr, [] { return june(10); });
    {
        sql::Transaction txn(conn);
        churn.maintain(conn);
    }  // rolled back, as after SQLITE_BUSY
    churn.finished(false);
    EXPECT_EQ(marks(), 1);
    {
        sql::Transaction txn(conn);  // another transaction (the projection's) commits
        txn.commit();
    }
    churn.finished(true);
    {
        sql::Transaction txn(conn);
        churn.maintain(conn);
        txn.commit();
    }
    churn.finished(true);
    EXPECT_EQ(marks(), 0);
}

}  // namespace
