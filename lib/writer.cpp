#include "writer.h"

#include <pthread.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <stdexcept>
#include <tuple>

#include <sqlite3.h>

#include "schema.h"
#include "time_util.h"

namespace churnwatch {

namespace {

// How long stop() keeps projecting what is still pending before it leaves it to the next start.
constexpr std::chrono::seconds kStopProjectionTime{5};

Micros now_micros() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

Writer::Writer(const std::string& db_path, WriterOptions options, DeliveryApplier* applier,
               WriterObserver* observer)
    : path_(db_path), options_(options), applier_(applier), observer_(observer),
      dedupe_(options.dedupe) {
    db_ = std::make_unique<sql::Database>(db_path);
    configure_connection(*db_);
    // Before the migrations, whose failure would not say why: a database it can read but not
    // write would otherwise start, answer 503 to everything, and never recover.
    db_->check_writable();
    apply_migrations(*db_);
    // Checkpoints run on their own thread and connection (checkpoint_loop): inside COMMIT
    // they caused multi-millisecond stalls on the ack path.
    db_->exec("PRAGMA wal_autocheckpoint=0");
    // Every delivery inserts into the dedupe index at a random place: with SQLite's default
    // 2 MB cache most of those inserts first read the page back from the OS. 16 MB keeps
    // the hot part of the indexes (and the churn tables the projection rewrites) in memory.
    db_->exec("PRAGMA cache_size=-16000");
    // The writer's temporary files (each savepoint's statement journal, sorts) stay in
    // memory: they are small, and a full or unwritable temporary directory (TMPDIR,
    // SQLITE_TMPDIR; /tmp under systemd's PrivateTmp) then cannot stall the churn tables.
    db_->exec("PRAGMA temp_store=MEMORY");
    sqlite3_wal_hook(db_->handle(), &Writer::on_wal_commit, this);
    insert_ = std::make_unique<sql::Statement>(
        *db_,
        "INSERT INTO deliveries (received_at, topic, topic_source, signature_scheme, key_index,"
        " dedupe_key, body, status, reason, api_version, id, signature_note)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    // Ids are never used twice, even after the newest rows were deleted by hand: SQLite
    // would hand out max(id) + 1 again, below the projection's watermark (never projected)
    // and onto the fingerprints of the deleted rows (every insert refused). The high-water
    // mark is kept in service_state with each batch.
    high_water_ = std::make_unique<sql::Statement>(
        *db_,
        "INSERT INTO service_state (key, value) VALUES ('last_delivery_id', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    {
        sql::Statement last(*db_,
                            "SELECT max(coalesce((SELECT max(id) FROM deliveries), 0),"
                            " coalesce((SELECT max(delivery_id) FROM delivery_fingerprints), 0),"
                            " coalesce((SELECT CAST(value AS INTEGER) FROM service_state"
                            "           WHERE key = 'projected_through'), 0),"
                            " coalesce((SELECT CAST(value AS INTEGER) FROM service_state"
                            "           WHERE key = 'last_delivery_id'), 0))");
        if (last.step()) next_id_ = last.column_int(0) + 1;
    }
    store_savepoint_ = std::make_unique<sql::PreparedSavepoint>(*db_, "store_one");
    fingerprint_ = std::make_unique<sql::Statement>(
        *db_, "INSERT INTO delivery_fingerprints (delivery_id, fingerprint, received_at_us) VALUES (?, ?, ?)");
    stored_key_ = std::make_unique<sql::Statement>(*db_, "SELECT dedupe_key FROM deliveries WHERE id = ?");
    load_fingerprints();
    probe_ = std::make_unique<sql::Statement>(
        *db_,
        "INSERT INTO service_state (key, value) VALUES ('last_ready_probe', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    if (applier_) {
        applier_->prepare(*db_);
        projector_ = std::make_unique<Projector>(*db_, *applier_, options_.projection);
    }
    {
        sql::Statement last(*db_, "SELECT coalesce(max(id), 0) FROM deliveries WHERE status = 'accepted'");
        if (last.step()) last_accepted_id_ = last.column_int(0);
    }
    update_lag();
    identity_ = std::make_unique<sql::FileIdentity>(*db_, path_);
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "cw-writer");  // visible in top -H, perf, gdb
        run();
    });
    checkpointer_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "cw-checkpoint");
        checkpoint_loop();
    });
    stall_watch_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "cw-stall-watch");
        stall_watch_loop();
    });
}

Writer::~Writer() { stop(); }

void Writer::update_lag() {
    if (projector_) projection_lag_ = std::max<int64_t>(0, last_accepted_id_ - projector_->watermark());
}

bool Writer::submit(Delivery&& d, WriteCallback&& done) { return enqueue(&d, std::move(done)); }

bool Writer::submit_probe(WriteCallback&& done) { return enqueue(nullptr, std::move(done)); }

// Moves from the arguments only when the item is queued (null: a readiness probe).
bool Writer::enqueue(Delivery* delivery, WriteCallback&& done) {
    {
        std::lock_guard lock(mu_);
        if (stopping_ || queue_.size() >= options_.queue_capacity) return false;
        Item& item = queue_.emplace_back();
        if (delivery) item.delivery.emplace(std::move(*delivery));
        item.done = std::move(done);
        item.queued_at = std::chrono::steady_clock::now();
        queued_ = queue_.size();
    }
    cv_.notify_one();
    return true;
}

std::size_t Writer::queue_depth() const {
    std::lock_guard lock(mu_);
    return queue_.size();
}

void Writer::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    {
        std::lock_guard lock(ckpt_mu_);
        ckpt_stop_ = true;
    }
    ckpt_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    {
        std::lock_guard lock(stall_mu_);
        stall_stop_ = true;
    }
    stall_cv_.notify_all();
    if (stall_watch_.joinable()) stall_watch_.join();
    if (db_) {
        insert_.reset();
        store_savepoint_.reset();
        high_water_.reset();
        probe_.reset();
        projector_.reset();
        fingerprint_.reset();
        stored_key_.reset();
        try {
            db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
        } catch (const sql::Error&) {
            // Readers may hold the WAL; the next start checkpoints it.
        }
        db_.reset();
    }
}

// Marks the writer thread busy for busy_for() from construction to destruction.
struct Writer::BusyMark {
    explicit BusyMark(std::atomic<int64_t>& since) : since_(since) {
        since_.store(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    ~BusyMark() { since_.store(0); }
    std::atomic<int64_t>& since_;
};

std::chrono::steady_clock::duration Writer::busy_for() const {
    const int64_t since = busy_since_ns_.load();
    if (since == 0) return {};
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    return std::max(now - std::chrono::steady_clock::duration(since), std::chrono::steady_clock::duration{});
}

void Writer::run() {
    std::deque<Item> batch;
    std::optional<std::chrono::steady_clock::time_point> stop_deadline;
    auto next_maintenance = std::chrono::steady_clock::now() + options_.maintenance_interval;
    for (;;) {
        if (std::chrono::steady_clock::now() >= next_maintenance) {
            BusyMark busy(busy_since_ns_);  // a disk that hangs here is answered for too
            maintain();
            next_maintenance = std::chrono::steady_clock::now() + options_.maintenance_interval;
        }
        // Nothing is projected from a file that is no longer the database (file_moved_).
        bool projecting = projector_ && projector_->pending() && file_moved_.empty();
        bool stopping = false;
        {
            std::unique_lock lock(mu_);
            if (!projecting) {
                bool ready = cv_.wait_until(lock, next_maintenance,
                                            [&] { return stopping_ || !queue_.empty(); });
                if (!ready) continue;  // time for maintenance
            }
            stopping = stopping_;
            if (queue_.empty() && stopping && !projecting) return;  // stopped and drained
            // Group commit: take everything queued now (up to max_batch) into one transaction.
            std::size_t n = std::min(queue_.size(), options_.max_batch);
            for (std::size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            if (n) inflight_ = &batch;  // until commit_batch has its results
            queued_ = queue_.size();
        }
        std::size_t ingested = batch.size();
        BusyMark busy(busy_since_ns_);
        if (ingested) {
            commit_batch(batch);
            batch.clear();
            restart_wal_if_large();
        }
        if (!projector_ || !projector_->pending() || !file_moved_.empty()) continue;
        // Ingest first: with requests waiting, the projection only runs while it is too far
        // behind, and then as many as were just stored, so the lag stops growing.
        if (ingested == 0 || stopping) {
            project(options_.projection_batch, /*yield_to_ingest=*/!stopping);
        } else if (projection_lag_.load() > static_cast<int64_t>(options_.projection_max_lag)) {
            project(std::max(ingested, options_.projection_pace_batch), /*yield_to_ingest=*/false);
        }
        if (stopping) {
            // Stopping: finish the projection, within bounds; the rest waits for the next start.
            if (!stop_deadline) stop_deadline = std::chrono::steady_clock::now() + kStopProjectionTime;
            std::lock_guard lock(mu_);
            if (queue_.empty() &&
                (!projector_->pending() || std::chrono::steady_clock::now() >= *stop_deadline))
                return;
        }
    }
}

void Writer::set_synchronous(bool full) {
    if (sync_full_ == full) return;
    db_->exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    sync_full_ = full;
}

void Writer::project(std::size_t max, bool yield_to_ingest) {
    // After a failure, not before its retry time: until then only deliveries end the wait,
    // and they are stored at once (the writer never makes them wait for a projection retry).
    // Without it a failing projection was retried after every batch under load, and in a
    // loop for the whole of a stop's last projection.
    if (std::chrono::steady_clock::now() < projection_retry_at_) {
        std::unique_lock lock(mu_);
        cv_.wait_until(lock, projection_retry_at_, [&] { return !queue_.empty(); });
        return;
    }
    auto started = std::chrono::steady_clock::now();
    ProjectionResult result;
    bool ok = true;
    bool busy = false;  // another connection held the write lock
    try {
        // Another process holding the write lock: do not wait for it here (deliveries would
        // queue behind the wait); try again shortly.
        if (db_->busy_timeout() != 0) db_->set_busy_timeout(0);
        // Ingest commits stay FULL; a projection is redone from the raw rows if the OS loses
        // it, unless what it writes is acted upon at once (alerts).
        set_synchronous(applier_->durable_projection());
        // Idle time only: the transaction ends as soon as a delivery waits to be stored,
        // or after a short slice (its commit is what a new delivery would wait for).
        auto slice_end = started + options_.projection_slice;
        result = yield_to_ingest
                     ? projector_->run(max,
                                       [this, slice_end] {
                                           return queued_.load() > 0 ||
                                                  std::chrono::steady_clock::now() >= slice_end;
                                       })
                     : projector_->run(max);
        set_synchronous(true);
    } catch (const std::exception& e) {
        ok = false;
        result = ProjectionResult{};
        result.error = e.what();
        // Another connection's short write transaction (the alert dispatcher claiming or
        // recording an alert, an analyst's UPDATE): not a failure, just not now.
        if (auto* sq = dynamic_cast<const sql::Error*>(&e); sq && sq->code() == SQLITE_BUSY) busy = true;
        try {
            set_synchronous(true);
        } catch (const std::exception&) {
        }
    }
    update_lag();
    const auto now = std::chrono::steady_clock::now();
    double seconds = std::chrono::duration<double>(now - started).count();
    // A lock taken for a moment is not a failure; one held for over a second (an analyst's
    // open write transaction) is, and is reported like any other.
    if (!busy) projection_busy_since_.reset();
    else if (!projection_busy_since_) projection_busy_since_ = now;
    const bool briefly_busy = busy && now - *projection_busy_since_ < kProjectionBusyGrace;
    if (observer_ && !briefly_busy) observer_->on_projected(result, seconds, ok);
    // Try again shortly rather than spin: after a few milliseconds while the lock was merely
    // taken, after 200 ms otherwise (disk full, I/O error: ingest answers 503 meanwhile).
    projection_retry_at_ =
        ok ? std::chrono::steady_clock::time_point{}
           : now + (briefly_busy ? std::chrono::milliseconds(5) : std::chrono::milliseconds(200));
}

void Writer::maintain() {
    try {
        // Fingerprints the dedupe index has forgotten are not needed at the next start.
        sql::Statement prune(*db_, "DELETE FROM delivery_fingerprints WHERE delivery_id < ?");
        prune.bind(1, dedupe_.first_id()).run();
    } catch (const std::exception&) {
        // Retried at the next interval.
    }
    if (!applier_) return;
    try {
        sql::Transaction txn(*db_);
        applier_->maintain(*db_);
        txn.commit();
        applier_->finished(true);
    } catch (const std::exception&) {
        applier_->finished(false);
        // Retried at the next interval; ingest is unaffected.
    }
}

void Writer::wake_checkpointer() {
    {
        std::lock_guard lock(ckpt_mu_);
        ckpt_wake_ = true;
    }
    ckpt_cv_.notify_one();
}

int Writer::on_wal_commit(void* self, sqlite3*, const char*, int frames) {
    auto* w = static_cast<Writer*>(self);
    // Wake the checkpointer early: small, frequent checkpoints keep up with the writer, so
    // the WAL restarts by itself and the writer rarely has to finish one (20-60 ms when it
    // had to copy thousands of frames).
    if (frames - w->wal_frames_at_wake_ >= w->options_.checkpoint_frames || frames < w->wal_frames_at_wake_) {
        w->wal_frames_at_wake_ = frames;
        w->wake_checkpointer();
    }
    w->wal_frames_ = frames;
    return SQLITE_OK;
}

// The checkpointer thread copies frames concurrently, but under continuous load it never
// catches up with the last commit, and SQLite only restarts the WAL from its beginning when
// a checkpoint has copied every frame: the WAL would grow without bound (hundreds of MB in
// seconds, slowing every lookup). So when the WAL is large, the writer — the only one
// appending — completes the checkpoint between batches. Most frames are already copied, so
// this costs little; the next transaction then writes from the start of the WAL again.
// Unless they are not: after a reader held the WAL back (an analyst's shell left open), the
// whole backlog is still to copy, and copying it here held every answer waiting on this
// thread for as long as that took (0.5 s after 550 MB, ~20 s after 13 GB). The checkpointer
// copies it on its own connection meanwhile; the writer finishes once little is left.
void Writer::restart_wal_if_large() {
    if (wal_frames_ < options_.wal_restart_frames) return;
    if (checkpointer_running_.load() &&
        wal_frames_ - checkpointed_frames_.load() > 4 * options_.wal_restart_frames) {
        wake_checkpointer();
        return;
    }
    int log = 0, done = 0;
    if (sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
        SQLITE_OK) {
        wal_frames_ = log > done ? log : 0;
    }
}

void Writer::commit_batch(std::deque<Item>& batch) {
    auto started = std::chrono::steady_clock::now();
    dedupe_.expire(now_micros());
    std::vector<WriteResult> results(batch.size());
    const int64_t first_id = next_id_;
    bool ok = true;
    std::string error;
    try {
        if (!file_moved_.empty()) throw std::runtime_error(file_moved_);
        // Wait for a lock held elsewhere only while the oldest item can still be answered
        // in time (the queue is in arrival order). Waits no longer stack up: a delivery
        // queued behind a failed batch gets what is left of its own time, not another 5 s.
        auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(started - batch.front().queued_at);
        int budget_ms = static_cast<int>(std::max<int64_t>(0, (options_.answer_within - waited).count()));
        if (db_->busy_timeout() != budget_ms) db_->set_busy_timeout(budget_ms);
        sql::Transaction txn(*db_);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            // One delivery's failure (a constraint, a trigger) is its own: the rest of the
            // batch still commits. When SQLite has rolled the whole transaction back (some
            // I/O errors do), the batch fails as a whole.
            sql::Savepoint sp(*store_savepoint_);
            try {
                store_one(batch[i], results[i]);
                sp.release();
            } catch (const sql::Error& e) {
                if (sqlite3_get_autocommit(db_->handle())) throw;
                sp.rollback();
                results[i] = WriteResult{WriteOutcome::Failed, 0, DeliveryStatus::Accepted, e.what()};
            }
        }
        if (next_id_ != first_id) {
            high_water_->reset();
            high_water_->bind(1, std::to_string(next_id_ - 1)).run();
        }
        txn.commit();
        // Committed into the file this connection has open: no answer may say so if that is
        // no longer the file at the path (deleted, or replaced by a restore, while running).
        // From then on nothing is acknowledged until a restart opens the file now there.
        if (std::string why = identity_->changed(); !why.empty()) {
            file_moved_ = why + ": deliveries are refused until churnwatch is restarted";
            throw std::runtime_error(file_moved_);
        }
    } catch (const std::exception& e) {
        ok = false;
        error = e.what();
        next_id_ = first_id;
        // Rolled back: forget what this batch added (its ids will be used again).
        for (auto it = batch_fingerprints_.rbegin(); it != batch_fingerprints_.rend(); ++it)
            dedupe_.remove(it->first, it->second);
    }
    batch_fingerprints_.clear();
    last_commit_ok_ = ok;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (observer_) observer_->on_commit(batch.size(), seconds, ok);
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!ok) {
            results[i] = WriteResult{WriteOutcome::Failed, 0, DeliveryStatus::Accepted, error};
            continue;
        }
        const WriteResult& r = results[i];
        if (r.outcome != WriteOutcome::Stored || r.status != DeliveryStatus::Accepted) continue;
        last_accepted_id_ = std::max(last_accepted_id_, r.delivery_id);
        if (projector_) projector_->stored(r.delivery_id, std::move(*batch[i].delivery));
    }
    update_lag();
    {
        // From here the batch's callbacks are this thread's alone; those the stall watch has
        // answered already are empty.
        std::lock_guard lock(mu_);
        inflight_ = nullptr;
    }
    auto complete = [batch = std::move(batch), results = std::move(results)]() mutable {
        for (std::size_t i = 0; i < batch.size(); ++i)
            if (batch[i].done) batch[i].done(results[i]);
    };
    batch = {};
    // One hand-over per batch: the callbacks then run on the executor's thread, so answering
    // N requests costs one cross-thread wake-up instead of N.
    if (completion_executor_) completion_executor_(std::move(complete));
    else complete();
}

std::string storage_stalled(std::chrono::steady_clock::duration busy, std::chrono::steady_clock::duration waited) {
    auto seconds = [](std::chrono::steady_clock::duration d) {
        const auto tenths = std::chrono::duration_cast<std::chrono::milliseconds>(d).count() / 100;
        return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
    };
    return "storage not responding: " + (waited > busy ? "waited " + seconds(waited) + "; " : std::string()) +
           "the database has not finished a write for " + seconds(busy) + " (disk hung, or a lock held elsewhere)";
}

bool stall_answers(std::chrono::steady_clock::duration busy, std::chrono::steady_clock::duration waited,
                   std::chrono::milliseconds limit) {
    return busy >= kStallFloor && std::max(busy, waited) >= limit;
}

// Four times a second: while the writer is stuck in one piece of work past the limits, the
// requests waiting on it are answered (Failed), through the completion executor like any
// answer. A thread of its own: the checkpointer may be stuck on the same disk.
void Writer::stall_watch_loop() {
    constexpr auto kLook = std::chrono::milliseconds(250);
    std::unique_lock lock(stall_mu_);
    while (!stall_cv_.wait_for(lock, kLook, [this] { return stall_stop_; })) {
        const auto busy = busy_for();
        if (busy < kStallFloor) continue;
        const auto now = std::chrono::steady_clock::now();
        std::vector<std::pair<WriteCallback, WriteResult>> due;
        {
            std::lock_guard queue_lock(mu_);
            auto take = [&](Item& item) {
                const auto limit = item.delivery ? options_.stall_answer : options_.probe_stall;
                const auto waited = now - item.queued_at;
                if (!item.done || !stall_answers(busy, waited, limit)) return;
                due.emplace_back(std::move(item.done), WriteResult{WriteOutcome::Failed, 0, DeliveryStatus::Accepted,
                                                                   storage_stalled(busy, waited)});
                item.done = nullptr;
            };
            if (inflight_ != nullptr)
                for (Item& item : *inflight_) take(item);
            for (Item& item : queue_) take(item);
        }
        if (due.empty()) continue;
        const std::size_t n = due.size();
        auto answer = [due = std::move(due)]() {
            for (const auto& [done, failed] : due) done(failed);
        };
        if (completion_executor_) completion_executor_(std::move(answer));
        else answer();
        if (observer_) observer_->on_stall(busy, n);
    }
}

void Writer::store_one(Item& item, WriteResult& result) {
    if (!item.delivery) {
        probe_->reset();
        probe_->bind(1, format_time(now_micros())).run();
        result.outcome = WriteOutcome::Probe;
        return;
    }
    const Delivery& d = *item.delivery;
    int64_t fp = DedupeIndex::fingerprint(d.dedupe_key);
    if (is_duplicate(d, fp)) {
        result.outcome = WriteOutcome::Duplicate;
        return;
    }
    auto& ins = *insert_;
    ins.reset();
    ins.bind(1, format_time(d.received_at));
    if (d.topic) ins.bind(2, d.topic->full());
    if (d.topic_source) ins.bind(3, to_string(*d.topic_source));
    ins.bind(4, to_string(d.scheme));
    ins.bind(5, static_cast<int64_t>(d.key_index));
    ins.bind(6, d.dedupe_key);
    ins.bind_blob(7, d.body);
    ins.bind(8, to_string(d.status));
    if (!d.reason.empty()) ins.bind(9, d.reason);
    if (d.payload && d.payload->version != ApiVersion::Unknown) ins.bind(10, to_string(d.payload->version));
    ins.bind(11, next_id_);
    if (!d.signature_note.empty()) ins.bind(12, d.signature_note);
    ins.run();
    result.outcome = WriteOutcome::Stored;
    result.delivery_id = next_id_++;
    result.status = d.status;
    fingerprint_->reset();
    fingerprint_->bind(1, result.delivery_id).bind(2, fp).bind(3, d.received_at).run();
    dedupe_.add(fp, result.delivery_id, d.received_at);
    batch_fingerprints_.emplace_back(fp, result.delivery_id);
}

// A fingerprint match is only a candidate: the stored key decides.
bool Writer::is_duplicate(const Delivery& d, int64_t fp) {
    candidates_.clear();
    dedupe_.candidates(fp, candidates_);
    for (int64_t id : candidates_) {
        auto& q = *stored_key_;
        q.reset();
        q.bind(1, id);
        bool same = q.step() && q.column_text(0) == d.dedupe_key;
        q.reset();
        if (same) return true;
    }
    return false;
}

// Reloads the fingerprints of the deliveries stored within the dedupe window. Deliveries
// stored before fingerprints were kept (an upgraded database) get theirs computed once,
// newest first, back to the start of the window.
void Writer::load_fingerprints() {
    Micros cutoff = now_micros() - options_.dedupe.window;
    int64_t last_known = 0;
    {
        sql::Statement q(*db_,
                         "SELECT delivery_id, fingerprint, received_at_us FROM delivery_fingerprints"
                         " WHERE received_at_us >= ? ORDER BY delivery_id");
        q.bind(1, cutoff);
        while (q.step()) dedupe_.add(q.column_int(1), q.column_int(0), q.column_int(2));
        sql::Statement last(*db_, "SELECT coalesce(max(delivery_id), 0) FROM delivery_fingerprints");
        if (last.step()) last_known = last.column_int(0);
    }
    std::vector<std::tuple<int64_t, int64_t, Micros>> missing;
    {
        sql::Statement q(*db_, "SELECT id, received_at, dedupe_key FROM deliveries WHERE id > ? ORDER BY id DESC");
        q.bind(1, last_known);
        while (q.step()) {
            Micros at = parse_time(q.column_text(1)).value_or(0);
            if (at < cutoff) break;
            missing.emplace_back(q.column_int(0), DedupeIndex::fingerprint(q.column_text(2)), at);
        }
    }
    if (missing.empty()) return;
    std::reverse(missing.begin(), missing.end());
    sql::Transaction txn(*db_);
    for (const auto& [id, fp, at] : missing) {
        fingerprint_->reset();
        fingerprint_->bind(1, id).bind(2, fp).bind(3, at).run();
        dedupe_.add(fp, id, at);
    }
    txn.commit();
}

void Writer::checkpoint_loop() {
    // Without this connection the WAL only grows until the next start's checkpoint; the loop
    // runs all the same, for the observer's periodic checks.
    std::unique_ptr<sql::Database> db;
    // PASSIVE never blocks the writer; it copies what it can and leaves the rest.
    std::optional<sql::Statement> checkpoint;  // busy, log, checkpointed
    try {
        db = std::make_unique<sql::Database>(path_);
        checkpoint.emplace(*db, "PRAGMA wal_checkpoint(PASSIVE)");
        checkpointer_running_ = true;
    } catch (const sql::Error&) {
    }
    std::unique_lock lock(ckpt_mu_);
    auto next_interval = std::chrono::steady_clock::now() + options_.checkpoint_interval;
    while (!ckpt_stop_) {
        ckpt_cv_.wait_for(lock, options_.checkpoint_interval, [&] { return ckpt_stop_ || ckpt_wake_; });
        if (ckpt_stop_) break;
        ckpt_wake_ = false;
        lock.unlock();
        if (checkpoint) checkpoint_once(*checkpoint);
        // Every interval, also when the checkpoint failed (the disk is full) or the WAL's
        // growth woke it early: a disk_low warning waited for a checkpoint that succeeded.
        if (const auto now = std::chrono::steady_clock::now(); now >= next_interval) {
            next_interval = now + options_.checkpoint_interval;
            if (observer_) observer_->on_checkpoint_interval();
        }
        lock.lock();
    }
    checkpointer_running_ = false;
}

void Writer::checkpoint_once(sql::Statement& checkpoint) {
    try {
        checkpoint.reset();
        if (checkpoint.step()) {
            const auto log = static_cast<int>(checkpoint.column_int(1));
            const auto copied = static_cast<int>(checkpoint.column_int(2));
            checkpointed_frames_ = std::max(0, copied);
            if (observer_) observer_->on_checkpoint(log, copied);
        }
        checkpoint.reset();
    } catch (const sql::Error&) {
        // Tried again at the next interval (or wake).
    }
}

}  // namespace churnwatch
