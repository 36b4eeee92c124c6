// Projector: stored deliveries → churn state behind the acknowledgement, with a watermark
// that advances in the same transaction as the rows it covers.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "churn_scenario.h"
#include "churn_store.h"
#include "projector.h"
#include "schema.h"
#include "test_support.h"
#include "writer.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

// Records what it was asked to apply, writes a marker row per delivery (to see rollbacks),
// and fails for the ids it is told to.
class RecordingApplier : public DeliveryApplier {
public:
    std::vector<int64_t> applied;
    std::vector<bool> had_payload;
    std::vector<bool> had_body;
    std::vector<bool> finished_with;  // DeliveryApplier::finished, in order
    std::set<int64_t> fail;
    // Fails as the machine would: SQLite gives up the whole transaction on a full disk (as
    // it may for SQLITE_FULL, IOERR, NOMEM), then the statement's error arrives.
    std::set<int64_t> disk_full;

    void prepare(sql::Database&) override {}
    void apply(sql::Database& db, int64_t id, const Delivery& d) override {
        sql::Statement mark(db, "INSERT OR REPLACE INTO service_state (key, value) VALUES (?, 'x')");
        mark.bind(1, "applied:" + std::to_string(id)).run();
        if (fail.count(id)) throw std::runtime_error("boom");
        if (disk_full.count(id)) {
            db.exec("ROLLBACK");
            throw sql::Error(SQLITE_FULL, SQLITE_FULL, "step failed: database or disk is full");
        }
        applied.push_back(id);
        had_payload.push_back(d.payload.has_value());
        had_body.push_back(!d.body.empty());
    }
    void finished(bool committed) override { finished_with.push_back(committed); }
};

// Stores the scenario's deliveries as raw rows only (a writer without rules), as if the
// service had stopped before projecting them. Returns the stored ids.
std::vector<int64_t> store_raw(const std::string& db, std::size_t n) {
    auto all = rich_scenario();
    Writer writer(db, WriterOptions{});
    std::vector<int64_t> ids;
    for (std::size_t i = 0; i < n && i < all.size(); ++i) {
        std::promise<WriteResult> p;
        auto f = p.get_future();
        EXPECT_TRUE(writer.submit(make_delivery(all[i]), [&p](const WriteResult& r) { p.set_value(r); }));
        WriteResult r = f.get();
        EXPECT_EQ(r.outcome, WriteOutcome::Stored) << r.error;
        ids.push_back(r.delivery_id);
    }
    writer.stop();
    return ids;
}

// Read directly: query_int() would first wait for the projection to catch up.
int64_t watermark(const std::string& path) {
    sql::Database db(path);
    sql::Statement q(db, "SELECT value FROM service_state WHERE key = 'projected_through'");
    return q.step() ? std::stoll(q.column_text(0)) : -1;
}

TEST(Projector, StartsFromTheTableAndAppliesInIdOrder) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 6);
    sql::Database db(path);
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    EXPECT_EQ(projector.watermark(), 0);
    EXPECT_TRUE(projector.pending());  // after a start it must look in the table

    ProjectionResult r = projector.run(4);
    EXPECT_EQ(r.applied, 4u);
    EXPECT_EQ(applier.applied, std::vector<int64_t>(ids.begin(), ids.begin() + 4));
    EXPECT_EQ(projector.watermark(), ids[3]);
    EXPECT_EQ(watermark(path), ids[3]);
    EXPECT_TRUE(projector.pending());

    r = projector.run(100);
    EXPECT_EQ(r.applied, 2u);
    EXPECT_EQ(applier.applied, ids);
    EXPECT_EQ(watermark(path), ids.back());
    EXPECT_FALSE(projector.pending());  // caught up: from now on it works from memory
    for (bool p : applier.had_payload) EXPECT_TRUE(p) << "bodies read back are decoded again";
}

TEST(Projector, RuleFailureQuarantinesThatDeliveryAndRollsBackOnlyItsWrites) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 4);
    sql::Database db(path);
    // One was taken on the legacy hash beside a failed timestamped signature (0026): the
    // quarantine's reason keeps that note after its own.
    db.exec("UPDATE deliveries SET signature_note = 'stale; accepted on the legacy hash',"
            " reason = 'stale; accepted on the legacy hash' WHERE id = " + std::to_string(ids[3]));
    RecordingApplier applier;
    applier.fail = {ids[1], ids[3]};
    Projector projector(db, applier, ProjectorOptions{});
    ProjectionResult r = projector.run(10);
    EXPECT_EQ(r.applied, 4u);
    EXPECT_EQ(r.quarantined, 2u);
    EXPECT_EQ(applier.applied, (std::vector<int64_t>{ids[0], ids[2]}));
    EXPECT_EQ(watermark(path), ids[3]);
    EXPECT_EQ(query_rows(path, "SELECT id, status, reason FROM deliveries WHERE id IN (" + std::to_string(ids[1]) +
                                   ", " + std::to_string(ids[3]) + ") ORDER BY id"),
              std::to_string(ids[1]) + "|quarantined|rules failed: boom\n" + std::to_string(ids[3]) +
                  "|quarantined|rules failed: boom; stale; accepted on the legacy hash\n");
    EXPECT_EQ(query_int(path, "SELECT count(*) FROM service_state WHERE key LIKE 'applied:%'"), 2)
        << "the failed delivery's own writes are rolled back, the others kept";
}

int64_t quarantined(const std::string& path) {
    sql::Database db(path);
    sql::Statement q(db, "SELECT count(*) FROM deliveries WHERE status = 'quarantined'");
    return q.step() ? q.column_int(0) : -1;
}

// A failure of the machine is not the delivery's: nothing is quarantined, the transaction
// fails with the original error (not "no such savepoint", after SQLite gave it up), and the
// same deliveries are projected once the machine is well again.
TEST(Projector, AFailureOfTheMachineQuarantinesNothingAndIsRetried) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 3);
    sql::Database db(path);
    RecordingApplier applier;
    applier.disk_full = {ids[1]};
    Projector projector(db, applier, ProjectorOptions{});
    try {
        projector.run(10);
        ADD_FAILURE() << "the projection should have failed";
    } catch (const sql::Error& e) {
        EXPECT_EQ(e.code(), SQLITE_FULL);
        EXPECT_STREQ(e.what(), "step failed: database or disk is full");
    }
    EXPECT_EQ(watermark(path), 0);
    EXPECT_EQ(quarantined(path), 0);

    // Descriptors run out inside a statement: the same, without SQLite giving up first.
    applier.disk_full.clear();
    applier.applied.clear();
    struct NoDescriptors : RecordingApplier {
        int64_t bad = 0;
        void apply(sql::Database& db, int64_t id, const Delivery& d) override {
            if (id == bad) throw sql::Error(SQLITE_CANTOPEN, SQLITE_CANTOPEN, "unable to open database file");
            RecordingApplier::apply(db, id, d);
        }
    } no_fd;
    no_fd.bad = ids[2];
    Projector again(db, no_fd, ProjectorOptions{});
    EXPECT_THROW(again.run(10), sql::Error);
    EXPECT_EQ(watermark(path), 0);
    EXPECT_EQ(quarantined(path), 0);

    ProjectionResult r = projector.run(10);
    EXPECT_EQ(r.applied, 3u);
    EXPECT_EQ(r.quarantined, 0u);
    EXPECT_EQ(applier.applied, ids);
    EXPECT_EQ(watermark(path), ids.back());
}

TEST(Projector, KeepsDecodedDeliveriesInMemoryAndFallsBackToTheTableBeyondTheBound) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 6);
    sql::Database db(path);
    RecordingApplier applier;
    ProjectorOptions options;
    options.memory_items = 2;
    Projector projector(db, applier, options);
    projector.run(100);  // the table's backlog: the six stored rows
    ASSERT_FALSE(projector.pending());

    // Rows the writer would add now: insert copies of stored rows under new ids.
    auto add_row = [&](int64_t copy_of) {
        db.exec("INSERT INTO deliveries (received_at, topic, topic_source, signature_scheme, key_index,"
                " dedupe_key, body, status) SELECT received_at, topic, topic_source, signature_scheme,"
                " key_index, dedupe_key || '#" + std::to_string(db.last_insert_rowid() + 1) +
                "', body, status FROM deliveries WHERE id = " + std::to_string(copy_of));
        return db.last_insert_rowid();
    };
    auto scenario = rich_scenario();
    int64_t a = add_row(ids[0]);
    projector.stored(a, make_delivery(scenario[0]));
    int64_t b = add_row(ids[1]);
    projector.stored(b, make_delivery(scenario[1]));
    EXPECT_EQ(projector.backlog(), 2u);
    int64_t c = add_row(ids[2]);
    projector.stored(c, make_delivery(scenario[2]));  // over the bound: read back instead
    EXPECT_EQ(projector.backlog(), 0u);
    EXPECT_TRUE(projector.pending());

    applier.applied.clear();
    projector.run(100);
    EXPECT_EQ(applier.applied, (std::vector<int64_t>{a, b, c}));
    EXPECT_EQ(watermark(path), c);
    EXPECT_FALSE(projector.pending());
}

// Four stored deliveries, projected once from the table, then handed to the projector again
// in memory (as the writer does after a commit) with the watermark reset to 0.
struct FedFromMemory {
    TempDir dir;
    std::string path = dir.file("p.db");
    std::vector<int64_t> ids = store_raw(path, 4);
    sql::Database db{path};
    RecordingApplier applier;
    Projector projector{db, applier, ProjectorOptions{}};

    FedFromMemory() {
        projector.run(100);
        set_watermark(0);
        auto scenario = rich_scenario();
        for (std::size_t i = 0; i < ids.size(); ++i) projector.stored(ids[i], make_delivery(scenario[i]));
        applier.applied.clear();
    }
    void set_watermark(int64_t id) {
        db.exec("UPDATE service_state SET value = '" + std::to_string(id) + "' WHERE key = 'projected_through'");
    }
};

// Makes stored deliveries fail decoding when read back (`id`, or all of them): received in
// 2001, their business times lie years after that, which decoding takes as implausible.
void make_undecodable_on_read_back(sql::Database& db, std::optional<int64_t> id = std::nullopt) {
    sql::Statement back(db, "UPDATE deliveries SET received_at = '2001-01-01 00:00:00' WHERE ?1 IS NULL OR id = ?1");
    back.bind(1, id).run();
}

// Read back from the table, a delivery is judged against when it was received, as at ingest:
// one whose business times lie years after that (stored by an older churnwatch) is quarantined.
TEST(Projector, DeliveriesReadBackAreJudgedAgainstTheirReceiveTime) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 3);
    sql::Database db(path);
    make_undecodable_on_read_back(db, ids[1]);
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    ProjectionResult r = projector.run(10);
    EXPECT_EQ(r.applied, 3u);
    EXPECT_EQ(r.quarantined, 1u);
    EXPECT_EQ(applier.applied, (std::vector<int64_t>{ids[0], ids[2]}));
    sql::Statement q(db, "SELECT status, reason FROM deliveries WHERE id = ?");
    q.bind(1, ids[1]);
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_text(0), "quarantined");
    EXPECT_EQ(q.column_text(1).rfind("could not decode: implausible time in ", 0), 0u) << q.column_text(1);
    EXPECT_NE(q.column_text(1).find("is more than a day after the delivery was received "
                                    "(2001-01-01 00:00:00)"), std::string::npos) << q.column_text(1);
}

// A delivery accepted under a larger depth limit (a quarantine replay with --json-depth) is
// read back under the service's smaller one: applied, not quarantined by depth again.
TEST(Projector, DeliveriesReadBackAreNotJudgedAgainByDepth) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 2);
    {
        // Nested 8 deep, like a body with deep analytics_data.
        sql::Database db(path);
        db.exec("UPDATE deliveries SET body = CAST(replace(CAST(body AS TEXT), '{', '{\"deep\":[[[[[[1]]]]]],')"
                " AS BLOB)");
    }
    sql::Database db(path);
    RecordingApplier applier;
    ProjectorOptions options;
    options.json.max_depth = 4;
    Projector projector(db, applier, options);
    ProjectionResult r = projector.run(10);
    EXPECT_EQ(r.applied, 2u);
    EXPECT_EQ(r.quarantined, 0u);
    EXPECT_EQ(applier.applied, ids);
    EXPECT_EQ(applier.had_payload, (std::vector<bool>{true, true}));
}

TEST(Projector, YieldEndsTheTransactionEarlyAndTheRestFollows) {
    FedFromMemory f;
    int asked = 0;
    ProjectionResult r = f.projector.run(100, [&] { return ++asked == 2; });
    EXPECT_EQ(r.applied, 2u);
    EXPECT_EQ(watermark(f.path), f.ids[1]);
    f.projector.run(100);
    EXPECT_EQ(f.applier.applied, f.ids);
}

TEST(Projector, SkipsWhatAnotherProcessAlreadyProjected) {
    FedFromMemory f;
    f.set_watermark(f.ids[2]);  // meanwhile `churnwatch rebuild` projected through ids[2]
    f.projector.run(100);
    EXPECT_EQ(f.applier.applied, std::vector<int64_t>{f.ids[3]});
}

// A copy of a stored row under a new id, as the writer would add it now.
int64_t copy_row(sql::Database& db, int64_t of) {
    db.exec("INSERT INTO deliveries (received_at, topic, topic_source, signature_scheme, key_index,"
            " dedupe_key, body, status) SELECT received_at, topic, topic_source, signature_scheme,"
            " key_index, dedupe_key || '#' || (SELECT max(id) + 1 FROM deliveries), body, status"
            " FROM deliveries WHERE id = " + std::to_string(of));
    return db.last_insert_rowid();
}

// Decoding a chunk delays a delivery that arrives meanwhile: one transaction reads back at
// most 64 (writer.h), however many it was allowed; the rest follow in the next.
TEST(Projector, ReadsBackAtMostOneChunkPerTransaction) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 1);
    sql::Database db(path);
    for (int i = 0; i < 69; ++i) ids.push_back(copy_row(db, ids[0]));
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    ProjectionResult r = projector.run(1000);
    EXPECT_EQ(r.applied, 64u);
    EXPECT_EQ(watermark(path), ids[63]);
    EXPECT_TRUE(projector.pending());
    r = projector.run(1000);
    EXPECT_EQ(r.applied, 6u);
    EXPECT_EQ(applier.applied, ids);
    EXPECT_FALSE(projector.pending());
}

// A delivery that no longer decodes is quarantined, and so projected: the watermark covers it
// even when it is the last one read back (else the lag stays above 0 with nothing to do).
TEST(Projector, TheWatermarkCoversAnUndecodableLastDelivery) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 3);
    sql::Database db(path);
    make_undecodable_on_read_back(db, ids[2]);
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    ProjectionResult r = projector.run(10);
    EXPECT_EQ(r.applied, 3u);
    EXPECT_EQ(r.quarantined, 1u);
    EXPECT_EQ(applier.applied, (std::vector<int64_t>{ids[0], ids[1]}));
    EXPECT_EQ(r.watermark, ids[2]);
    EXPECT_EQ(projector.watermark(), ids[2]);
    EXPECT_EQ(watermark(path), ids[2]);
    EXPECT_EQ(query_int(path, "SELECT deliveries_behind FROM projection_status"), 0);
}

// A delivery that no longer decodes is quarantined in its turn, like a rule failure: a
// transaction ended early stops the watermark at the last delivery it handled, and counts
// only the deliveries before that.
TEST(Projector, UndecodableDeliveriesAreQuarantinedInTheirTurn) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 5);
    sql::Database db(path);
    for (int64_t bad : {ids[1], ids[4]}) make_undecodable_on_read_back(db, bad);
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    std::vector<int64_t> marks;
    std::vector<std::size_t> quarantines;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        ProjectionResult r = projector.run(10, [] { return true; });  // one at a time
        EXPECT_EQ(r.applied, 1u) << i;
        quarantines.push_back(r.quarantined);
        marks.push_back(watermark(path));
    }
    EXPECT_EQ(marks, ids);
    EXPECT_EQ(quarantines, (std::vector<std::size_t>{0, 1, 0, 0, 1}));
    EXPECT_EQ(applier.applied, (std::vector<int64_t>{ids[0], ids[2], ids[3]}));
    EXPECT_EQ(quarantined(path), 2);
    EXPECT_EQ(projector.run(10).applied, 0u);
    EXPECT_FALSE(projector.pending());
}

TEST(Projector, DeliveriesQuarantinedAtIngestAreNotProjected) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 3);
    sql::Database db(path);
    db.exec("UPDATE deliveries SET status = 'quarantined', reason = 'x' WHERE id = " + std::to_string(ids[1]));
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    ProjectionResult r = projector.run(10);
    EXPECT_EQ(r.applied, 2u);
    EXPECT_EQ(applier.applied, (std::vector<int64_t>{ids[0], ids[2]}));
    EXPECT_EQ(watermark(path), ids[2]);
}

TEST(Projector, StartsAtTheStoredWatermark) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 3);
    sql::Database db(path);
    db.exec("UPDATE service_state SET value = '" + std::to_string(ids[1]) + "' WHERE key = 'projected_through'");
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    EXPECT_EQ(projector.watermark(), ids[1]) << "before any run (the writer's lag at a start)";
    projector.run(10);
    EXPECT_EQ(applier.applied, std::vector<int64_t>{ids[2]});
}

// Caught up, a run finds nothing: the watermark stays where it is, from the table or memory.
TEST(Projector, ARunWithNothingToDoLeavesTheWatermark) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 2);
    sql::Database db(path);
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    projector.run(1, [] { return true; });  // yielded: it looks in the table again
    projector.run(10);
    ASSERT_EQ(watermark(path), ids[1]);
    for (int i = 0; i < 2; ++i) {
        ProjectionResult r = projector.run(10);
        EXPECT_EQ(r.applied, 0u);
        EXPECT_EQ(r.watermark, ids[1]);
        EXPECT_EQ(projector.watermark(), ids[1]);
        EXPECT_EQ(watermark(path), ids[1]);
    }
}

TEST(Projector, AppliesAtMostMaxFromMemory) {
    FedFromMemory f;
    ProjectionResult r = f.projector.run(3);
    EXPECT_EQ(r.applied, 3u);
    EXPECT_EQ(f.applier.applied, std::vector<int64_t>(f.ids.begin(), f.ids.begin() + 3));
    EXPECT_EQ(watermark(f.path), f.ids[2]);
    EXPECT_EQ(f.projector.backlog(), 1u);
}

// Held in memory, a delivery is applied as it was decoded at ingest: its body is not
// decoded again (here it would no longer pass).
TEST(Projector, DeliveriesHeldInMemoryAreNotDecodedAgain) {
    FedFromMemory f;
    make_undecodable_on_read_back(f.db);
    ProjectionResult r = f.projector.run(100, [] { return true; });  // ended early: the rest
    EXPECT_EQ(r.quarantined, 0u);                                    // stays in memory
    r = f.projector.run(100);
    EXPECT_EQ(r.quarantined, 0u);
    EXPECT_EQ(f.applier.applied, f.ids);
}

TEST(Projector, ARuleFailureFromMemoryIsCountedAsQuarantined) {
    FedFromMemory f;
    f.applier.fail = {f.ids[1]};
    ProjectionResult r = f.projector.run(100);
    EXPECT_EQ(r.applied, 4u);
    EXPECT_EQ(r.quarantined, 1u);
    EXPECT_EQ(quarantined(f.path), 1);
}

// Until the table's backlog is read, a delivery just stored is read back with it, in order:
// nothing is held in memory meanwhile.
TEST(Projector, HoldsNothingInMemoryWhileReadingBack) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 2);
    sql::Database db(path);
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    projector.stored(ids[1], make_delivery(rich_scenario()[1]));
    EXPECT_EQ(projector.backlog(), 0u);
    projector.run(10);
    EXPECT_EQ(applier.applied, ids);
    EXPECT_EQ(projector.backlog(), 0u);
}

// `churnwatch rebuild` projected part of the backlog while this projector was waiting: it
// reads back from the rebuild's watermark, not its own.
TEST(Projector, ReadsBackFromTheWatermarkAnotherProcessLeft) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 4);
    sql::Database db(path);
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    db.exec("UPDATE service_state SET value = '" + std::to_string(ids[1]) + "' WHERE key = 'projected_through'");
    ProjectionResult r = projector.run(10);
    EXPECT_EQ(r.applied, 2u);
    EXPECT_EQ(applier.applied, (std::vector<int64_t>{ids[2], ids[3]}));
}

// A failed transaction loses what it took from memory: it is all read back from the table.
TEST(Projector, WhatAFailedTransactionTookFromMemoryIsReadBackFromTheTable) {
    FedFromMemory f;
    f.applier.disk_full = {f.ids[2]};
    EXPECT_THROW(f.projector.run(100), sql::Error);
    EXPECT_EQ(f.projector.backlog(), 0u);
    EXPECT_TRUE(f.projector.pending());
    f.applier.disk_full.clear();
    f.applier.applied.clear();
    f.projector.run(100);
    EXPECT_EQ(f.applier.applied, f.ids);
    EXPECT_EQ(watermark(f.path), f.ids.back());
}

// The applier's counters take effect only with a commit (DeliveryApplier::finished).
TEST(Projector, TellsTheApplierWhetherItsTransactionCommitted) {
    TempDir dir;
    std::string path = dir.file("p.db");
    auto ids = store_raw(path, 2);
    sql::Database db(path);
    RecordingApplier applier;
    Projector projector(db, applier, ProjectorOptions{});
    applier.disk_full = {ids[1]};
    EXPECT_THROW(projector.run(10), sql::Error);
    EXPECT_EQ(applier.finished_with, std::vector<bool>{false});
    applier.disk_full.clear();
    projector.run(10);
    EXPECT_EQ(applier.finished_with, (std::vector<bool>{false, true}));
}

// What is held for projection is the decoded form only: the memory bound counts
// deliveries, and a body may be megabytes.
TEST(Projector, HoldsNoBodies) {
    FedFromMemory f;  // projected once from the table
    f.projector.run(100);  // and once from memory
    EXPECT_EQ(f.applier.had_body, std::vector<bool>(2 * f.ids.size(), false));
}

// Through the Writer: deliveries stored but never projected (the process died in between)
// are projected at the next start, to the same churn tables as an uninterrupted run.
TEST(Projector, BacklogLeftByACrashIsProjectedAtTheNextStart) {
    TempDir dir;
    std::string crashed = dir.file("crashed.db"), straight = dir.file("straight.db");
    auto all = rich_scenario();
    store_raw(crashed, all.size());
    {
        ChurnStore churn(RulesPolicy{});
        Writer writer(crashed, WriterOptions{}, &churn);
        writer.stop();  // a start with nothing new: the backlog alone
    }
    {
        ChurnStore churn(RulesPolicy{});
        Writer writer(straight, WriterOptions{}, &churn);
        for (const auto& td : all) {
            std::promise<WriteResult> p;
            auto f = p.get_future();
            ASSERT_TRUE(writer.submit(make_delivery(td), [&p](const WriteResult& r) { p.set_value(r); }));
            f.get();
        }
        writer.stop();
    }
    EXPECT_EQ(query_int(crashed, "SELECT deliveries_behind FROM projection_status"), 0);
    EXPECT_EQ(churn_tables_dump(crashed), churn_tables_dump(straight));
    EXPECT_EQ(query_rows(crashed, "SELECT customer_id, reason FROM churn_events ORDER BY 1, 2"),
              query_rows(straight, "SELECT customer_id, reason FROM churn_events ORDER BY 1, 2"));
}

// Idle-time projection ends each transaction after WriterOptions::projection_slice, so a
// delivery arriving meanwhile never waits for a long one's commit. With a zero slice every
// idle transaction applies exactly one delivery; all of them are still applied, in order.
TEST(Projector, IdleTransactionsEndAfterTheirSlice) {
    struct Sizes : WriterObserver {
        std::mutex mu;
        std::vector<std::size_t> applied;
        void on_commit(std::size_t, double, bool) override {}
        void on_projected(const ProjectionResult& r, double, bool ok) override {
            std::lock_guard lock(mu);
            if (ok) applied.push_back(r.applied);
        }
    } sizes;
    TempDir dir;
    std::string db = dir.file("p.db");
    std::vector<int64_t> ids = store_raw(db, rich_scenario().size());
    RecordingApplier applier;
    WriterOptions o;
    o.projection_slice = std::chrono::microseconds(0);
    Writer writer(db, o, &applier, &sizes);
    for (int i = 0; i < 1000 && writer.projection_lag() > 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(writer.projection_lag(), 0);
    writer.stop();
    EXPECT_EQ(applier.applied, ids);
    std::lock_guard lock(sizes.mu);
    std::erase(sizes.applied, 0);  // a read-back that found nothing left
    EXPECT_EQ(sizes.applied, std::vector<std::size_t>(ids.size(), 1));
}

// The migration marks what an older churnwatch stored as projected: it applied the rules in
// the delivery's own transaction.
TEST(Projector, MigrationStartsTheWatermarkAtTheLastStoredDelivery) {
    TempDir dir;
    std::string path = dir.file("old.db");
    {
        sql::Database db(path);
        configure_connection(db);
        db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY,"
                " applied_at TEXT NOT NULL DEFAULT 'then')");
        for (const auto& f : embedded_schema()) {
            if (std::string(f.name) >= "0006") break;
            db.exec(f.sql);
            sql::Statement rec(db, "INSERT INTO schema_migrations (name) VALUES (?)");
            rec.bind(1, f.name).run();
        }
        db.exec("INSERT INTO deliveries (received_at, signature_scheme, key_index, dedupe_key, body, status)"
                " VALUES ('2026-01-01 00:00:00.000000', 'legacy', 0, 'k1', x'7b7d', 'accepted'),"
                " ('2026-01-01 00:00:00.000000', 'legacy', 0, 'k2', x'7b7d', 'accepted')");
        apply_migrations(db);
    }
    EXPECT_EQ(watermark(path), 2);
    EXPECT_EQ(query_int(path, "SELECT deliveries_behind FROM projection_status"), 0);
}

}  // namespace
