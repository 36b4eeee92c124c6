#include "writer.h"

#include <pthread.h>

#include <exception>

#include <sqlite3.h>

#include "schema.h"
#include "time_util.h"

namespace churnwatch {

namespace {

Micros now_micros() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

Writer::Writer(const std::string& db_path, WriterOptions options, DeliveryApplier* applier,
               WriterObserver* observer)
    : path_(db_path), options_(options), applier_(applier), observer_(observer) {
    db_ = std::make_unique<sql::Database>(db_path);
    configure_connection(*db_);
    apply_migrations(*db_);
    // Checkpoints run on their own thread and connection (checkpoint_loop): inside COMMIT
    // they caused multi-millisecond stalls on the ack path.
    db_->exec("PRAGMA wal_autocheckpoint=0");
    sqlite3_wal_hook(db_->handle(), &Writer::on_wal_commit, this);
    insert_ = std::make_unique<sql::Statement>(
        *db_,
        "INSERT INTO deliveries (received_at, topic, topic_source, signature_scheme, key_index,"
        " dedupe_key, body, status, reason, api_version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING");
    probe_ = std::make_unique<sql::Statement>(
        *db_,
        "INSERT INTO service_state (key, value) VALUES ('last_ready_probe', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    quarantine_ = std::make_unique<sql::Statement>(
        *db_, "UPDATE deliveries SET status = 'quarantined', reason = ? WHERE id = ?");
    if (applier_) applier_->prepare(*db_);
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "cw-writer");  // visible in top -H, perf, gdb
        run();
    });
    checkpointer_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "cw-checkpoint");
        checkpoint_loop();
    });
}

Writer::~Writer() { stop(); }

bool Writer::submit(Delivery&& d, WriteCallback done) {
    Item item;
    item.delivery.emplace(std::move(d));
    item.done = std::move(done);
    return enqueue(std::move(item));
}

bool Writer::submit_probe(WriteCallback done) {
    Item item;
    item.done = std::move(done);
    return enqueue(std::move(item));
}

bool Writer::enqueue(Item&& item) {
    {
        std::lock_guard lock(mu_);
        if (stopping_ || queue_.size() >= options_.queue_capacity) return false;
        queue_.push_back(std::move(item));
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
    if (db_) {
        insert_.reset();
        probe_.reset();
        quarantine_.reset();
        try {
            db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
        } catch (const sql::Error&) {
            // Readers may hold the WAL; the next start checkpoints it.
        }
        db_.reset();
    }
}

void Writer::run() {
    std::deque<Item> batch;
    auto next_maintenance = std::chrono::steady_clock::now() + options_.maintenance_interval;
    for (;;) {
        if (std::chrono::steady_clock::now() >= next_maintenance) {
            maintain();
            next_maintenance = std::chrono::steady_clock::now() + options_.maintenance_interval;
        }
        {
            std::unique_lock lock(mu_);
            bool ready = cv_.wait_until(lock, next_maintenance,
                                        [&] { return stopping_ || !queue_.empty(); });
            if (!ready) continue;  // time for maintenance
            if (queue_.empty()) return;  // stopping and drained
            // Group commit: take everything queued now (up to max_batch) into one transaction.
            std::size_t n = std::min(queue_.size(), options_.max_batch);
            for (std::size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        commit_batch(batch);
        batch.clear();
        restart_wal_if_large();
    }
}

void Writer::maintain() {
    if (!applier_) return;
    try {
        sql::Transaction txn(*db_);
        applier_->maintain(*db_);
        txn.commit();
    } catch (const std::exception&) {
        // Retried at the next interval; ingest is unaffected.
    }
}

int Writer::on_wal_commit(void* self, sqlite3*, const char*, int frames) {
    static_cast<Writer*>(self)->wal_frames_ = frames;
    return SQLITE_OK;
}

// The checkpointer thread copies frames concurrently, but under continuous load it never
// catches up with the last commit, and SQLite only restarts the WAL from its beginning when
// a checkpoint has copied every frame: the WAL would grow without bound (hundreds of MB in
// seconds, slowing every lookup). So when the WAL is large, the writer — the only one
// appending — completes the checkpoint between batches. Most frames are already copied, so
// this costs little; the next transaction then writes from the start of the WAL again.
void Writer::restart_wal_if_large() {
    if (wal_frames_ < options_.wal_restart_frames) return;
    int log = 0, done = 0;
    if (sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
        SQLITE_OK) {
        wal_frames_ = log > done ? log : 0;
    }
}

void Writer::commit_batch(std::deque<Item>& batch) {
    auto started = std::chrono::steady_clock::now();
    std::vector<WriteResult> results(batch.size());
    bool ok = true;
    std::string error;
    try {
        sql::Transaction txn(*db_);
        for (std::size_t i = 0; i < batch.size(); ++i) store_one(batch[i], results[i]);
        txn.commit();
    } catch (const std::exception& e) {
        ok = false;
        error = e.what();
    }
    last_commit_ok_ = ok;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (observer_) observer_->on_commit(batch.size(), seconds, ok);
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!ok) results[i] = WriteResult{WriteOutcome::Failed, 0, DeliveryStatus::Accepted, error};
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

void Writer::store_one(Item& item, WriteResult& result) {
    if (!item.delivery) {
        probe_->reset();
        probe_->bind(1, format_time(now_micros())).run();
        result.outcome = WriteOutcome::Probe;
        return;
    }
    const Delivery& d = *item.delivery;
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
    ins.run();
    if (db_->changes() == 0) {
        result.outcome = WriteOutcome::Duplicate;
        return;
    }
    result.outcome = WriteOutcome::Stored;
    result.delivery_id = db_->last_insert_rowid();
    result.status = d.status;
    if (d.status != DeliveryStatus::Accepted || !applier_) return;

    // The rules run inside the same transaction, behind a savepoint: a failure there must
    // not lose the delivery, only quarantine it with the reason.
    sql::Savepoint sp(*db_, "apply_rules");
    try {
        applier_->apply(*db_, result.delivery_id, d);
        sp.release();
    } catch (const std::exception& e) {
        sp.rollback();
        result.status = DeliveryStatus::Quarantined;
        result.error = std::string("rules failed: ") + e.what();
        quarantine_->reset();
        quarantine_->bind(1, result.error).bind(2, result.delivery_id).run();
    }
}

void Writer::checkpoint_loop() {
    std::unique_ptr<sql::Database> db;
    try {
        db = std::make_unique<sql::Database>(path_);
    } catch (const sql::Error&) {
        return;  // without it the WAL only grows until the next start's checkpoint
    }
    std::unique_lock lock(ckpt_mu_);
    while (!ckpt_stop_) {
        ckpt_cv_.wait_for(lock, options_.checkpoint_interval, [&] { return ckpt_stop_; });
        if (ckpt_stop_) break;
        lock.unlock();
        try {
            // PASSIVE never blocks the writer; it copies what it can and leaves the rest.
            db->exec("PRAGMA wal_checkpoint(PASSIVE)");
        } catch (const sql::Error&) {
        }
        lock.lock();
    }
}

}  // namespace churnwatch
