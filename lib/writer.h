// The single writer: one thread owns the database's write connection and commits deliveries
// in groups. Everything queued when a commit starts goes into one transaction (WAL,
// synchronous=FULL), so durability costs one fsync per group, not per request. Each caller
// gets its result through a callback after the commit — the 2xx goes out only then.
//
// The churn rules are not on that path: between group commits the same thread projects
// the stored deliveries into churn state (projector.h) in larger transactions. Ingest goes
// first; the projection takes the time left over, and a bounded share of the thread while
// it is more than `projection_max_lag` deliveries behind.
//
// A second thread checkpoints the WAL on its own connection, so COMMIT never pays for it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <optional>
#include <thread>
#include <vector>

#include "dedupe_index.h"
#include "delivery.h"
#include "projector.h"
#include "sqlite.h"

namespace churnwatch {

// Called on the writer thread by the projection, inside its transaction, for each stored
// accepted delivery in id order. Applies the churn rules; may throw (the delivery is then
// quarantined with the reason and its derived writes are rolled back, the row itself stays).
class DeliveryApplier {
public:
    virtual ~DeliveryApplier() = default;
    virtual void prepare(sql::Database& db) = 0;  // once, on the writer thread, before use
    virtual void apply(sql::Database& db, int64_t delivery_id, const Delivery& d) = 0;
    // True when what apply() writes must be durable before anyone acts on it (e.g. alerts
    // that a dispatcher sends): projections then commit with synchronous=FULL, else NORMAL
    // (a projection lost with the OS is redone from the raw rows at the next start).
    virtual bool durable_projection() const { return false; }
    // Periodic work that depends on the passage of time rather than on a delivery (e.g. a
    // policy that churns a customer N days after an event). Runs on the writer thread in its
    // own transaction every WriterOptions::maintenance_interval.
    virtual void maintain(sql::Database& db) {}
    // After each transaction that apply() or maintain() ran in: committed, or not (rolled
    // back; its deliveries are applied again later). What they did outside the database
    // (counters) takes effect only when committed, or a retried transaction counts twice.
    virtual void finished(bool committed) {}
};

// Observes commits (metrics); called on the writer thread.
class WriterObserver {
public:
    virtual ~WriterObserver() = default;
    virtual void on_commit(std::size_t batch_size, double seconds, bool ok) = 0;
    // After each projection transaction (ok=false: it failed and will be retried).
    virtual void on_projected(const ProjectionResult& result, double seconds, bool ok) {}
    // After each checkpoint, on the checkpointer thread: frames in the WAL, and of those the
    // frames copied into the database. A gap that stays large means a reader elsewhere holds
    // an old snapshot, and the WAL grows with every commit until it lets go.
    virtual void on_checkpoint(int wal_frames, int copied_frames) {}
    // Every checkpoint interval on the checkpointer thread, whatever became of the checkpoint
    // (none succeeds once the disk is full): for periodic checks that must not depend on it.
    virtual void on_checkpoint_interval() {}
    // On the stall watch's thread: the writer has been inside one piece of work for `busy`,
    // and `answered` requests waiting on it were just answered Failed (storage_stalled()).
    virtual void on_stall(std::chrono::steady_clock::duration busy, std::size_t answered) {}
};

// "storage not responding: the database has not finished a write for 6.2 s (…)": the answer
// to a request that a write which does not finish keeps waiting (Writer, RequestHandler).
// With `waited` (how long the request answered with it waited in all) when that is longer:
// "... waited 4.5 s; the database has not finished a write for 0.3 s ...".
std::string storage_stalled(std::chrono::steady_clock::duration busy,
                            std::chrono::steady_clock::duration waited = {});

// Whether the writer's stall watch answers a waiting request now: the writer has been inside
// one piece of work for at least kStallFloor (it looks four times a second), and the request
// has waited `limit`, since it was queued or because that piece of work has lasted so long.
inline constexpr std::chrono::milliseconds kStallFloor{250};
bool stall_answers(std::chrono::steady_clock::duration busy, std::chrono::steady_clock::duration waited,
                   std::chrono::milliseconds limit);

// Runs on the writer thread right after the commit: keep it short (post the answer away).
using WriteCallback = std::function<void(const WriteResult&)>;

struct WriterOptions {
    std::size_t queue_capacity = 10000;  // submit() refuses beyond this (caller answers 503)
    std::size_t max_batch = 1000;        // deliveries per transaction at most
    // While another process holds the write lock (a `churnwatch rebuild`, an analyst's
    // write), a batch waits for it only until its oldest item has been queued this long,
    // then fails (the caller answers 503): Recharge gives up on an answer after 5 s.
    std::chrono::milliseconds answer_within{4500};
    // A commit or projection step unfinished for this long means the disk does not answer
    // (frozen, a dead network mount): every delivery waiting on it, queued or in the batch
    // being committed, is answered Failed (storage_stalled) once it has waited this long in
    // all — counted from when it was queued, since it may have queued behind the step —
    // readiness probes after probe_stall: an answer within Recharge's 5 s, not after it
    // (stall_answers). A delivery whose commit completes later is stored all the same; its
    // sender's retry is then a duplicate.
    std::chrono::milliseconds stall_answer{4500};
    std::chrono::milliseconds probe_stall{2000};
    std::chrono::milliseconds checkpoint_interval{500};
    int checkpoint_frames = 1000;  // and sooner, whenever the WAL has grown by this many frames
    // When the WAL holds more frames than this after a commit, the writer finishes the
    // checkpoint itself between two batches, so the next transaction can restart the WAL.
    int wal_restart_frames = 3000;
    std::chrono::milliseconds maintenance_interval{std::chrono::minutes(10)};
    std::size_t projection_batch = 1000;        // deliveries per projection transaction
    // An idle-time projection transaction ends after this long even if no delivery waits:
    // its COMMIT writes every page it dirtied, and a delivery arriving meanwhile waits for
    // that (a 1000-delivery transaction's commit took 5-10 ms on a slow disk).
    std::chrono::microseconds projection_slice{2000};
    std::size_t projection_max_lag = 100000;    // beyond this, projection keeps pace with ingest
    // While keeping pace: at least this many deliveries per projection transaction. Each
    // transaction's commit writes every page it dirtied, b-tree interior pages included, so
    // a few large ones cost less than one per ingest batch: under sustained overload
    // (8 s runs) 30.4-30.9k webhooks/s with 16, 33.1-35.9k/s with 256. Past the memory
    // window the projector reads deliveries back 64 at a time, one chunk per transaction,
    // so that is what the 256 amounted to there (a loop to 256 per transaction was tried
    // in the sixth session: no faster, 30.2-31.2k/s against 31.0-32.6k/s).
    std::size_t projection_pace_batch = 256;
    ProjectorOptions projection;                // memory bound, JSON limits for read-backs
    DedupeOptions dedupe;                       // how long / how many deliveries are remembered
};

class Writer {
public:
    // Opens (creating if needed) and migrates the database; throws sql::Error if unusable.
    Writer(const std::string& db_path, WriterOptions options, DeliveryApplier* applier = nullptr,
           WriterObserver* observer = nullptr);
    ~Writer();  // stop()
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // Queues a delivery. False when the queue is full or stopping: then neither argument has
    // been moved from, and the callback will not be called.
    bool submit(Delivery&& d, WriteCallback&& done);
    // Queues a readiness probe: a real write of service_state in the next group commit.
    bool submit_probe(WriteCallback&& done);
    // Commits everything queued, stops both threads and closes the database. Idempotent.
    void stop();

    // Where the callbacks of a committed batch run: by default on the writer thread; the
    // server passes its I/O executor so one post answers a whole batch. Set before use.
    void set_completion_executor(std::function<void(std::function<void()>)> executor) {
        completion_executor_ = std::move(executor);
    }

    std::size_t queue_depth() const;
    // Accepted deliveries not yet projected into churn state (by id).
    int64_t projection_lag() const { return projection_lag_.load(); }
    bool last_commit_ok() const { return last_commit_ok_.load(); }
    // How long the writer thread has been inside its current piece of database work (a group
    // commit, a projection step); zero while it waits for work. Seconds here mean the disk,
    // or a lock held elsewhere, is not answering: the server says so rather than queue
    // deliveries and readiness probes behind it without an answer.
    std::chrono::steady_clock::duration busy_for() const;
    const WriterOptions& options() const { return options_; }

private:
    struct Item {
        std::optional<Delivery> delivery;  // empty: a readiness probe
        WriteCallback done;
        std::chrono::steady_clock::time_point queued_at;
    };
    bool enqueue(Delivery* delivery, WriteCallback&& done);
    void run();
    void commit_batch(std::deque<Item>& batch);
    void store_one(Item& item, WriteResult& result);
    void checkpoint_loop();
    void checkpoint_once(sql::Statement& checkpoint);  // reports a checkpoint that succeeded
    void wake_checkpointer();  // run a checkpoint now rather than at the next interval
    void restart_wal_if_large();
    void maintain();
    void project(std::size_t max, bool yield_to_ingest);
    void set_synchronous(bool full);
    void update_lag();  // projection_lag_ from last_accepted_id_ and the watermark
    void load_fingerprints();
    bool is_duplicate(const Delivery& d, int64_t fp);
    static int on_wal_commit(void* self, struct sqlite3*, const char*, int frames);

    std::string path_;
    WriterOptions options_;
    DeliveryApplier* applier_;
    WriterObserver* observer_;
    std::function<void(std::function<void()>)> completion_executor_;
    std::unique_ptr<sql::Database> db_;
    std::unique_ptr<sql::Statement> insert_;
    std::unique_ptr<sql::Statement> probe_;
    std::unique_ptr<sql::Statement> high_water_;  // service_state 'last_delivery_id'
    std::unique_ptr<sql::PreparedSavepoint> store_savepoint_;  // one per stored delivery
    int64_t next_id_ = 1;  // writer thread only: the next delivery's id, never one used before
    std::unique_ptr<sql::FileIdentity> identity_;  // the files opened, checked after each commit
    std::string file_moved_;  // writer thread only: why nothing can be acknowledged any more
    // Since when the projection has found the write lock taken by another connection (writer
    // thread only); under kProjectionBusyGrace that is retried quietly, not a failure.
    std::optional<std::chrono::steady_clock::time_point> projection_busy_since_;
    static constexpr auto kProjectionBusyGrace = std::chrono::seconds(1);
    std::unique_ptr<sql::Statement> fingerprint_;
    std::unique_ptr<sql::Statement> stored_key_;
    DedupeIndex dedupe_;
    std::vector<std::pair<int64_t, int64_t>> batch_fingerprints_;  // (fp, id) added this batch
    std::vector<int64_t> candidates_;
    std::unique_ptr<Projector> projector_;
    // The projection only sees accepted deliveries: the lag counts those beyond its
    // watermark (quarantined ones counted before, so the gauge never returned to 0).
    int64_t last_accepted_id_ = 0;  // writer thread only
    std::atomic<int64_t> projection_lag_{0};
    std::chrono::steady_clock::time_point projection_retry_at_{};  // after a failed projection
    std::atomic<int64_t> busy_since_ns_{0};  // steady clock, while busy_for() counts; else 0
    struct BusyMark;
    bool sync_full_ = true;       // the connection's current synchronous level

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Item> queue_;
    std::deque<Item>* inflight_ = nullptr;  // the batch being committed (its callbacks: under mu_)
    std::atomic<std::size_t> queued_{0};  // queue_.size(), readable without the lock
    bool stopping_ = false;
    std::atomic<bool> last_commit_ok_{true};
    int wal_frames_ = 0;  // writer thread only: frames in the WAL after the last commit

    std::mutex ckpt_mu_;
    std::condition_variable ckpt_cv_;
    bool ckpt_stop_ = false;
    bool ckpt_wake_ = false;     // the WAL grew by checkpoint_frames
    int wal_frames_at_wake_ = 0;  // writer thread only

    std::mutex stall_mu_;
    std::condition_variable stall_cv_;
    bool stall_stop_ = false;
    void stall_watch_loop();

    std::thread thread_;
    std::thread checkpointer_;
    std::thread stall_watch_;
    // The checkpointer's last count of frames copied, and whether it runs at all: the writer
    // leaves a large uncopied backlog to it (restart_wal_if_large).
    std::atomic<int> checkpointed_frames_{0};
    std::atomic<bool> checkpointer_running_{false};
};

}  // namespace churnwatch
