// Writer: group commit of raw deliveries and their deduplication by fingerprint.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "churn_scenario.h"
#include "churn_store.h"
#include "dedupe_index.h"
#include "schema.h"
#include "test_support.h"
#include "wal_batching_vfs.h"
#include "writer.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

WriteResult write(Writer& w, Delivery d) {
    std::promise<WriteResult> p;
    auto f = p.get_future();
    EXPECT_TRUE(w.submit(std::move(d), [&p](const WriteResult& r) { p.set_value(r); }));
    return f.get();
}

// Counted directly: query_int() would wait for a projection this writer (no rules) never does.
int64_t count(const std::string& path, const std::string& table) {
    sql::Database db(path);
    sql::Statement q(db, "SELECT count(*) FROM " + table);
    return q.step() ? q.column_int(0) : -1;
}

// Scenario delivery i, received now.
Delivery delivery(std::size_t i) { return make_delivery(rich_scenario().at(i)); }

// A full disk as checkpoints meet it: while `full` is set, every write to a database file
// fails with SQLITE_FULL. In WAL mode only checkpoints write the database file (commits go
// to the WAL, which stays writable here), so ingest goes on while no checkpoint succeeds.
// install() makes it SQLite's default VFS, over churnwatch's, for the connections opened
// after it, for the rest of the process; it changes nothing while `full` is clear.
struct FullDisk {
    static inline std::atomic<bool> full{false};
    static inline std::atomic<int> refused{0};  // writes failed

    static bool install() {
        static const bool installed = make_default();
        return installed;
    }
    FullDisk() { full = true; }
    ~FullDisk() { full = false; }

private:
    static inline sqlite3_vfs* inner = nullptr;
    static inline sqlite3_vfs vfs{};
    static inline const sqlite3_io_methods* database_methods = nullptr;  // the inner VFS's
    static inline sqlite3_io_methods failing{};                          // those, xWrite failing

    static bool make_default() {
        sql::register_wal_batching_vfs();
        inner = sqlite3_vfs_find(nullptr);
        vfs = *inner;
        vfs.zName = "churnwatch-test-full-disk";
        vfs.xOpen = open;
        return sqlite3_vfs_register(&vfs, 1) == SQLITE_OK;
    }
    // The file is the inner VFS's own; only its methods table is swapped, for one whose
    // xWrite can fail (the others are the inner ones, called on the same file).
    static int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out) {
        const int rc = inner->xOpen(inner, name, file, flags, out);
        if (rc != SQLITE_OK || !(flags & SQLITE_OPEN_MAIN_DB) || !file->pMethods) return rc;
        if (!database_methods) {
            database_methods = file->pMethods;
            failing = *file->pMethods;
            failing.xWrite = write;
        }
        if (file->pMethods == database_methods) file->pMethods = &failing;
        return rc;
    }
    static int write(sqlite3_file* file, const void* data, int n, sqlite3_int64 offset) {
        if (full) {
            ++refused;
            return SQLITE_FULL;
        }
        return database_methods->xWrite(file, data, n, offset);
    }
};

TEST(Writer, RepeatedDeliveryIsADuplicateWithinAndAcrossBatches) {
    TempDir dir;
    Writer w(dir.file("w.db"), WriterOptions{});
    WriteResult first = write(w, delivery(0));
    EXPECT_EQ(first.outcome, WriteOutcome::Stored);
    EXPECT_EQ(write(w, delivery(0)).outcome, WriteOutcome::Duplicate);
    EXPECT_EQ(write(w, delivery(1)).outcome, WriteOutcome::Stored);

    // Both in one batch: the second sees the first's uncommitted row.
    std::promise<WriteResult> a, b;
    auto fa = a.get_future(), fb = b.get_future();
    w.submit(delivery(2), [&a](const WriteResult& r) { a.set_value(r); });
    w.submit(delivery(2), [&b](const WriteResult& r) { b.set_value(r); });
    EXPECT_EQ(fa.get().outcome, WriteOutcome::Stored);
    EXPECT_EQ(fb.get().outcome, WriteOutcome::Duplicate);
    w.stop();
    EXPECT_EQ(count(dir.file("w.db"), "deliveries"), 3);
    EXPECT_EQ(count(dir.file("w.db"), "delivery_fingerprints"), 3);
}

TEST(Writer, RemembersDeliveriesAcrossARestart) {
    TempDir dir;
    {
        Writer w(dir.file("w.db"), WriterOptions{});
        EXPECT_EQ(write(w, delivery(0)).outcome, WriteOutcome::Stored);
    }
    Writer w(dir.file("w.db"), WriterOptions{});
    EXPECT_EQ(write(w, delivery(0)).outcome, WriteOutcome::Duplicate);
    EXPECT_EQ(write(w, delivery(1)).outcome, WriteOutcome::Stored);
}

// A database written before fingerprints were kept: the first start computes them from the
// stored keys, within the window.
TEST(Writer, ComputesFingerprintsOfDeliveriesStoredWithoutThem) {
    TempDir dir;
    {
        Writer w(dir.file("w.db"), WriterOptions{});
        EXPECT_EQ(write(w, delivery(0)).outcome, WriteOutcome::Stored);
        EXPECT_EQ(write(w, delivery(1)).outcome, WriteOutcome::Stored);
    }
    {
        sql::Database db(dir.file("w.db"));
        db.exec("DELETE FROM delivery_fingerprints");
    }
    Writer w(dir.file("w.db"), WriterOptions{});
    EXPECT_EQ(write(w, delivery(1)).outcome, WriteOutcome::Duplicate);
    EXPECT_EQ(write(w, delivery(0)).outcome, WriteOutcome::Duplicate);
    w.stop();
    EXPECT_EQ(count(dir.file("w.db"), "delivery_fingerprints"), 2);
}

// A fingerprint match is confirmed against the stored key: a collision (forged here by
// giving delivery 1's fingerprint to delivery 0's row) never drops a new delivery.
TEST(Writer, FingerprintCollisionIsNotADuplicate) {
    TempDir dir;
    {
        Writer w(dir.file("w.db"), WriterOptions{});
        EXPECT_EQ(write(w, delivery(0)).outcome, WriteOutcome::Stored);
    }
    {
        sql::Database db(dir.file("w.db"));
        sql::Statement forge(db, "UPDATE delivery_fingerprints SET fingerprint = ?");
        forge.bind(1, DedupeIndex::fingerprint(delivery(1).dedupe_key)).run();
    }
    Writer w(dir.file("w.db"), WriterOptions{});
    EXPECT_EQ(write(w, delivery(1)).outcome, WriteOutcome::Stored);
}

TEST(Writer, ForgetsDeliveriesOlderThanTheWindow) {
    TempDir dir;
    WriterOptions options;
    options.dedupe.window = 3600LL * kMicrosPerSecond;
    {
        Writer w(dir.file("w.db"), options);
        Delivery old = delivery(0);
        old.received_at -= 2 * 3600LL * kMicrosPerSecond;  // arrived two hours ago
        EXPECT_EQ(write(w, std::move(old)).outcome, WriteOutcome::Stored);
    }
    Writer w(dir.file("w.db"), options);
    EXPECT_EQ(write(w, delivery(0)).outcome, WriteOutcome::Stored) << "outside the window: stored again";
}

}  // namespace

// A refused submit leaves the delivery and the callback with the caller, who answers it.
// Deleting the newest deliveries by hand (a test customer's, say) must not give their ids
// to the next ones: those would land on the deleted rows' fingerprints, or below the
// projection's watermark.
TEST(Writer, NeverGivesADeletedDeliverysIdToAnother) {
    TempDir dir;
    const std::string path = dir.file("w.db");
    {
        Writer w(path, WriterOptions{});
        for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(write(w, delivery(i)).delivery_id, int64_t(i + 1));
        sql::Database other(path);
        other.exec("DELETE FROM deliveries WHERE id >= 2");  // the fingerprints stay
        WriteResult next = write(w, delivery(3));
        EXPECT_EQ(next.outcome, WriteOutcome::Stored) << next.error;
        EXPECT_EQ(next.delivery_id, 4);
        other.exec("DELETE FROM deliveries WHERE id >= 2");
    }
    {
        // Restarted: fingerprints of 2..4 remain, the table's highest id is 1.
        Writer w(path, WriterOptions{});
        WriteResult next = write(w, delivery(4));
        EXPECT_EQ(next.outcome, WriteOutcome::Stored) << next.error;
        EXPECT_EQ(next.delivery_id, 5);
    }
    {
        // Restarted again with the fingerprints gone too: the recorded high-water mark holds.
        sql::Database other(path);
        other.exec("DELETE FROM deliveries WHERE id >= 2; DELETE FROM delivery_fingerprints");
        Writer w(path, WriterOptions{});
        WriteResult next = write(w, delivery(5));
        EXPECT_EQ(next.outcome, WriteOutcome::Stored) << next.error;
        EXPECT_EQ(next.delivery_id, 6);
    }
}

// One delivery that cannot be stored (here a trigger refuses it) fails alone: the others
// in its group commit are stored and answered as usual. It failed the whole batch.
TEST(Writer, ADeliveryThatFailsDoesNotFailItsBatch) {
    TempDir dir;
    const std::string path = dir.file("w.db");
    Writer w(path, WriterOptions{});
    Delivery poison = delivery(1);
    {
        sql::Database other(path);
        other.exec("CREATE TRIGGER poison BEFORE INSERT ON deliveries WHEN NEW.dedupe_key = '" +
                   poison.dedupe_key + "' BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END");
    }
    std::promise<WriteResult> a, b, c;
    {
        // Hold the write lock so that the last two queue up and are committed together.
        sql::Database other(path);
        other.exec("BEGIN IMMEDIATE");
        w.submit(delivery(0), [&a](const WriteResult& r) { a.set_value(r); });
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the writer waits for the lock
        w.submit(std::move(poison), [&b](const WriteResult& r) { b.set_value(r); });
        w.submit(delivery(2), [&c](const WriteResult& r) { c.set_value(r); });
        other.exec("COMMIT");
    }
    EXPECT_EQ(a.get_future().get().outcome, WriteOutcome::Stored);
    WriteResult rb = b.get_future().get(), rc = c.get_future().get();
    EXPECT_EQ(rb.outcome, WriteOutcome::Failed);
    EXPECT_NE(rb.error.find("refused by trigger"), std::string::npos) << rb.error;
    EXPECT_EQ(rc.outcome, WriteOutcome::Stored) << rc.error;
    w.stop();
    EXPECT_EQ(count(path, "deliveries"), 2);
    EXPECT_EQ(count(path, "delivery_fingerprints"), 2);
}

// A database deleted (or replaced) while the writer has it open: what it commits goes into
// a file that vanishes with the process, so nothing is acknowledged from then on.
TEST(Writer, AcknowledgesNothingOnceItsDatabaseFileIsDeleted) {
    TempDir dir;
    const std::string path = dir.file("w.db");
    Writer w(path, WriterOptions{});
    EXPECT_EQ(write(w, delivery(0)).outcome, WriteOutcome::Stored);
    ASSERT_EQ(::unlink(path.c_str()), 0);
    WriteResult r = write(w, delivery(1));
    EXPECT_EQ(r.outcome, WriteOutcome::Failed);
    EXPECT_NE(r.error.find(path + " was deleted while churnwatch had it open"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("until churnwatch is restarted"), std::string::npos) << r.error;
    // Sticky: later deliveries and readiness probes fail the same way.
    EXPECT_EQ(write(w, delivery(2)).outcome, WriteOutcome::Failed);
    std::promise<WriteResult> probe;
    ASSERT_TRUE(w.submit_probe([&probe](const WriteResult& x) { probe.set_value(x); }));
    EXPECT_EQ(probe.get_future().get().outcome, WriteOutcome::Failed);
    EXPECT_FALSE(w.last_commit_ok());
}

// After a reader held the WAL back, the whole backlog is still to be copied into the
// database. The writer used to copy it itself before its next batch, holding every answer
// for as long as that took (0.5 s after 550 MB, ~20 s after 13 GB); it now wakes the
// checkpointer for a backlog that large (here it is never woken otherwise), which copies it
// on its own connection.
TEST(Writer, LeavesALargeUncopiedBacklogToTheCheckpointer) {
    struct Checkpoints : WriterObserver {
        void on_commit(std::size_t, double, bool) override {}
        void on_checkpoint(int, int copied_frames) override {
            std::lock_guard lock(mu);
            most_copied = std::max(most_copied, copied_frames);
        }
        // The checkpointer copied the backlog (the writer may finish what little it left,
        // and a later commit may add frames: neither is reported here).
        bool copied_backlog(int frames) {
            std::lock_guard lock(mu);
            return most_copied > frames;
        }
        std::mutex mu;
        int most_copied = 0;
    } checkpoints;
    TempDir dir;
    const std::string path = dir.file("w.db");
    WriterOptions options;
    options.wal_restart_frames = 20;
    options.checkpoint_frames = 1000000;
    options.checkpoint_interval = std::chrono::hours(1);
    Writer w(path, options, nullptr, &checkpoints);
    auto customer = [](int i) {
        return make_delivery({"customer/updated",
                              customer_json({.id = 9000 + i, .updated_at = "2026-05-01T00:00:00+00:00"})});
    };
    ASSERT_EQ(write(w, customer(0)).outcome, WriteOutcome::Stored);
    {
        sql::Database reader(path, sql::OpenMode::ReadOnly);
        reader.exec("BEGIN");
        ASSERT_EQ(first_text(reader, "SELECT count(*) FROM deliveries"), "1");  // a snapshot is held
        for (int i = 1; i <= 60; ++i) ASSERT_EQ(write(w, customer(i)).outcome, WriteOutcome::Stored);
        reader.exec("COMMIT");
    }
    // The writer looks at the WAL after each batch: by the second answer it has looked once
    // with the reader gone. Only the checkpointer reports checkpoints.
    ASSERT_EQ(write(w, customer(61)).outcome, WriteOutcome::Stored);
    ASSERT_EQ(write(w, customer(62)).outcome, WriteOutcome::Stored);
    EXPECT_TRUE(eventually([&] { return checkpoints.copied_backlog(4 * options.wal_restart_frames); }))
        << "the backlog was not left to the checkpointer (the writer copied it itself)";
    w.stop();
    EXPECT_EQ(count(path, "deliveries"), 63);
}

// Another connection's short write transaction (the alert dispatcher claiming or recording
// an alert) made the projection fail at once: each counted as a projection failure, logged
// as one, and the writer then slept 200 ms without waking for new deliveries (~200 ms ack
// stalls 30 times a minute in a soak with alert hooks). A lock taken for a moment is now
// retried quietly; one held over a second is still a failure.
TEST(Writer, AWriteLockTakenForAMomentIsNotAProjectionFailure) {
    // Holds the writer after its first group commit, before the projection that follows it
    // begins, until the test has taken the write lock elsewhere; records projection failures.
    struct Gate : WriterObserver {
        std::promise<void> committed, go;
        bool first = true;
        void on_commit(std::size_t, double, bool) override {
            if (!std::exchange(first, false)) return;
            committed.set_value();
            go.get_future().wait();
        }
        void on_projected(const ProjectionResult& r, double, bool ok) override {
            std::lock_guard lock(mu);
            if (!ok) errors.push_back(r.error);
        }
        std::vector<std::string> failures() {
            std::lock_guard lock(mu);
            return errors;
        }
        std::mutex mu;
        std::vector<std::string> errors;
    };
    TempDir dir;
    const std::string path = dir.file("w.db");
    auto project_under_lock = [&](std::size_t delivery_index, std::chrono::milliseconds hold, Gate& gate) {
        ChurnStore rules(RulesPolicy{});
        Writer w(path, WriterOptions{}, &rules, &gate);
        std::promise<WriteResult> stored;
        ASSERT_TRUE(w.submit(delivery(delivery_index), [&stored](const WriteResult& r) { stored.set_value(r); }));
        gate.committed.get_future().wait();
        sql::Database other(path);
        other.exec("BEGIN IMMEDIATE");
        gate.go.set_value();  // the projection begins, and meets the lock
        std::this_thread::sleep_for(hold);
        other.exec("COMMIT");
        EXPECT_EQ(stored.get_future().get().outcome, WriteOutcome::Stored);
        EXPECT_TRUE(eventually([&] { return w.projection_lag() == 0; })) << "the projection never finished";
        w.stop();
    };
    Gate brief;
    project_under_lock(0, std::chrono::milliseconds(300), brief);
    EXPECT_TRUE(brief.failures().empty()) << brief.failures().front();
    Gate held;
    project_under_lock(1, std::chrono::milliseconds(1500), held);
    ASSERT_FALSE(held.failures().empty()) << "a lock held over a second must be reported";
    EXPECT_NE(held.failures().front().find("locked"), std::string::npos) << held.failures().front();
}

// A filling disk made checkpoints fail, and the observer's periodic checks ran only after a
// checkpoint that succeeded: serve's disk_low warning came late or never, just when it
// mattered. They now run every checkpoint interval whatever became of the checkpoint.
TEST(Writer, TheCheckpointIntervalGoesOnWhileCheckpointsFail) {
    struct Intervals : WriterObserver {
        void on_commit(std::size_t, double, bool) override {}
        void on_checkpoint(int, int) override { ++checkpoints; }
        void on_checkpoint_interval() override { ++intervals; }
        std::atomic<int> checkpoints{0}, intervals{0};
    } observer;
    ASSERT_TRUE(FullDisk::install());
    TempDir dir;
    WriterOptions options;
    options.checkpoint_interval = std::chrono::milliseconds(20);
    Writer w(dir.file("w.db"), options, nullptr, &observer);
    ASSERT_EQ(write(w, delivery(0)).outcome, WriteOutcome::Stored);
    ASSERT_TRUE(eventually([&] { return observer.checkpoints > 0 && observer.intervals > 0; }));
    {
        FullDisk full;
        ASSERT_EQ(write(w, delivery(1)).outcome, WriteOutcome::Stored);  // into the WAL
        // The checkpoint of it fails, and goes on failing.
        ASSERT_TRUE(eventually([&] { return FullDisk::refused > 0; }));
        const int checkpoints = observer.checkpoints, intervals = observer.intervals;
        EXPECT_TRUE(eventually([&] { return observer.intervals >= intervals + 10; }))
            << "the checkpoint intervals stopped while checkpoints failed";
        EXPECT_EQ(observer.checkpoints, checkpoints) << "a checkpoint succeeded: the disk was not full";
    }
    // Room again: the WAL is copied.
    const int checkpoints = observer.checkpoints;
    EXPECT_TRUE(eventually([&] { return observer.checkpoints > checkpoints; }));
    w.stop();
    EXPECT_EQ(count(dir.file("w.db"), "deliveries"), 2);
}

TEST(Writer, RefusedSubmitLeavesDeliveryAndCallbackUntouched) {
    TempDir dir;
    Writer w(dir.file("w.db"), WriterOptions{});
    w.stop();
    Delivery d = delivery(0);
    const std::string body = d.body;
    bool called = false;
    WriteCallback done = [&called](const WriteResult&) { called = true; };
    EXPECT_FALSE(w.submit(std::move(d), std::move(done)));
    EXPECT_EQ(d.body, body);
    ASSERT_TRUE(done);
    EXPECT_FALSE(called);
    done(WriteResult{WriteOutcome::Refused});
    EXPECT_TRUE(called);
}

// A hung disk: the stall watch answers a delivery once it has waited stall_answer (4.5 s by
// default: within Recharge's 5 s) in all, also when most of that wait was in the queue behind
// the step that hung (counted from the step's start it was answered after 5 s), but never
// while the writer is moving (each step shorter than one look of the watch).
TEST(WriterStall, ARequestIsAnsweredOnceItHasWaitedTheLimitInAllWhileTheWriterIsStuck) {
    using namespace std::chrono;
    const milliseconds limit = WriterOptions{}.stall_answer;
    EXPECT_EQ(limit, milliseconds(4500));
    EXPECT_TRUE(stall_answers(milliseconds(300), milliseconds(4500), limit));   // queued behind the step
    EXPECT_FALSE(stall_answers(milliseconds(300), milliseconds(4400), limit));
    EXPECT_TRUE(stall_answers(milliseconds(4500), milliseconds(0), limit));     // the step alone
    EXPECT_FALSE(stall_answers(milliseconds(4400), milliseconds(4400), limit));
    EXPECT_FALSE(stall_answers(milliseconds(100), seconds(10), limit));         // the writer is moving
    EXPECT_TRUE(stall_answers(kStallFloor, seconds(10), limit));
    // The answer says how long the request waited, when that is longer than the step.
    EXPECT_EQ(storage_stalled(milliseconds(300), milliseconds(4500)),
              "storage not responding: waited 4.5 s; the database has not finished a write for 0.3 s "
              "(disk hung, or a lock held elsewhere)");
    EXPECT_EQ(storage_stalled(milliseconds(4600), milliseconds(4500)),
              "storage not responding: the database has not finished a write for 4.6 s "
              "(disk hung, or a lock held elsewhere)");
}

// A projection that fails for the machine's reasons (a full disk) is retried after 200 ms,
// not at once: under load it was retried after every batch (a failure counted, and a
// transaction thrown away, per delivery), and a stop's last projection retried it in a loop
// for its whole 5 s (a core spinning, ~140k failures). Deliveries are stored meanwhile.
TEST(Writer, AFailingProjectionIsRetriedAfterAPauseNotAfterEveryBatchOrInALoop) {
    struct DiskFull : DeliveryApplier {
        void prepare(sql::Database&) override {}
        void apply(sql::Database& db, int64_t, const Delivery&) override {
            db.exec("ROLLBACK");
            throw sql::Error(SQLITE_FULL, SQLITE_FULL, "step failed: database or disk is full");
        }
    } applier;
    struct Failures : WriterObserver {
        void on_commit(std::size_t, double, bool) override {}
        void on_projected(const ProjectionResult&, double, bool ok) override {
            if (!ok) ++failed;
        }
        std::atomic<int> failed{0};
    } observer;
    TempDir dir;
    WriterOptions options;
    options.projection_max_lag = 0;  // under load, the projection keeps pace with every batch
    Writer w(dir.file("w.db"), options, &applier, &observer);
    constexpr int kDeliveries = 30;
    // At most one failure per 200 ms, and one more at each end: bounds from the time taken,
    // so a slow machine does not fail the test (before: one per batch, thousands at the stop).
    auto at_most = [](std::chrono::steady_clock::time_point since) {
        return static_cast<int>((std::chrono::steady_clock::now() - since) / std::chrono::milliseconds(200)) + 2;
    };
    const auto writing = std::chrono::steady_clock::now();
    for (int i = 0; i < kDeliveries; ++i) {
        Delivery d = delivery(static_cast<std::size_t>(i) % 18);
        d.dedupe_key += "#" + std::to_string(i);  // distinct deliveries of the same facts
        ASSERT_EQ(write(w, std::move(d)).outcome, WriteOutcome::Stored);
    }
    const int under_load = observer.failed;
    EXPECT_GE(under_load, 1);
    EXPECT_LE(under_load, at_most(writing)) << "retried after (nearly) every batch";
    const auto stopping = std::chrono::steady_clock::now();
    w.stop();  // tries to finish the projection for up to 5 s
    EXPECT_LE(observer.failed - under_load, at_most(stopping)) << "the stop retried the projection in a loop";
    EXPECT_EQ(query_int(dir.file("w.db"), "SELECT count(*) FROM deliveries"), kDeliveries);
}

// A disk that hangs during the writer's periodic maintenance (pruning fingerprints, the
// rules' upkeep) is a hung disk too: the deliveries waiting behind it are answered within
// the limit, not left waiting until it returns.
TEST(WriterStall, ADeliveryWaitingOnAHungMaintenanceIsAnswered) {
    struct HangingUpkeep : DeliveryApplier {
        void prepare(sql::Database&) override {}
        void apply(sql::Database&, int64_t, const Delivery&) override {}
        void maintain(sql::Database&) override {
            entered.set_value();
            release.get_future().wait();
        }
        std::promise<void> entered, release;
    } applier;
    TempDir dir;
    WriterOptions options;
    options.maintenance_interval = std::chrono::milliseconds(50);
    options.stall_answer = std::chrono::milliseconds(400);
    Writer w(dir.file("w.db"), options, &applier);
    applier.entered.get_future().wait();  // the upkeep now hangs
    std::promise<WriteResult> p;
    auto answered = p.get_future();
    ASSERT_TRUE(w.submit(delivery(0), [&p](const WriteResult& r) { p.set_value(r); }));
    const bool in_time = answered.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    applier.release.set_value();
    ASSERT_TRUE(in_time) << "the delivery waited for the hung upkeep";
    const WriteResult r = answered.get();
    EXPECT_EQ(r.outcome, WriteOutcome::Failed);
    EXPECT_NE(r.error.find("storage not responding"), std::string::npos) << r.error;
    w.stop();
}
