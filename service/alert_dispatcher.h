// Sends the alerts the outbox recorded. One worker thread per target, each with its own
// SQLite connection (WAL lets it read and update rows beside the writer), so a slow or dead
// target delays neither ingest nor the other targets; no transaction is ever open while a
// request is in flight.
//
// A worker wakes on notify() (after a commit that added rows) or every 200 ms (rows reset by
// `churnwatch alerts retry` from another process), takes its target's due pending rows in id
// order, sends each (HTTP: Standard Webhooks headers, webhook-timestamp = now; command: the
// payload on stdin), applies lib/alert_policy.h and updates the row. After a retryable
// failure the whole target rests until that row's next attempt, so a down receiver gets
// one probe per backoff step rather than one per pending alert. The rest is read from the
// rows (a pending alert attempted before and due later), not kept in memory: it holds across
// a restart, and an alert due now (a retraction, a correction) never overtakes an older one
// waiting out its backoff. An `alerts retry` of one of the target's alerts ends the rest: it
// makes those rows due now too (see service/alerts_command.cpp), and counts itself in
// service_state (alert_retries_key) for an attempt under way meanwhile, whose failure would
// begin a rest after the retry looked: the worker compares that count before and after.
//
// Times in the outbox come from the system clock. Rows it stamped while it was ahead (then
// corrected back) would wait, unsent and silently, for the real clock to catch up: at start,
// and once a minute per target, such rows are made due now and a warning says so.
//
// Retention (alert-retention-days, unless 0): a thread of its own, on a connection of its
// own, deletes finished alerts that finished longer ago than that (AlertPruner: never a
// pending one; what the outbox reads again of a churn or return alert is in alert_told and
// alert_told_return), also when no target is configured (rows of earlier configurations age
// as well). Once at start and then
// every 10 minutes, a thousand rows per statement with a pause between statements, so ingest
// never waits long for the write lock. A pass looks at the rows that came of age since the
// last one; at start and once a day it looks at every finished row again (rows that finished
// without a new time: a pending one disabled, say, with its target). `alerts_pruned` logs
// each pass that deleted something; churnwatch_alerts_pruned_total{status} counts them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alert_config.h"
#include "alert_outbox.h"
#include "log.h"
#include "metrics.h"
#include "writer.h"

namespace churnwatch {

class AlertDispatcher {
public:
    AlertDispatcher(std::string db_path, AlertSettings settings, Metrics* metrics,
                    Logger& logger);
    ~AlertDispatcher();  // stop()
    AlertDispatcher(const AlertDispatcher&) = delete;
    AlertDispatcher& operator=(const AlertDispatcher&) = delete;

    // How often each worker looks for its target's alerts scheduled by a clock ahead of the
    // present one (the system clock moved back while serving). Tests shorten it; set it
    // before start().
    void set_clock_check_interval(std::chrono::milliseconds every) { clock_check_interval_ = every; }
    // The wall clock behind every outbox time the dispatcher reads or writes (due, rest,
    // attempt and signing times; not the steady-clock intervals): the system clock, unless
    // a test sets one it can move back. Set it before start(); it is called from every worker.
    using Clock = std::function<Micros()>;
    void set_clock(Clock clock) { clock_ = std::move(clock); }
    // How often finished alerts past alert-retention-days are looked for (10 minutes). Tests
    // shorten it; set it before start().
    void set_prune_interval(std::chrono::milliseconds every) { prune_interval_ = every; }

    // Starts the workers, and the pruning of finished alerts (first pass at once). The
    // database must exist and be migrated (start after the Writer). Pending alerts scheduled
    // by a clock ahead of the present one are made due first (`alerts_rescheduled`: see
    // reschedule_future_alerts).
    void start();
    // New rows were committed: wake every worker now. Cheap; callable from any thread.
    void notify();
    // Abandons in-flight requests (their rows stay pending and go out after the next start,
    // with the same webhook-id), ends a pruning pass after its current batch, and joins the
    // threads. Idempotent.
    void stop();

private:
    struct Worker;
    void run(Worker& w);
    void prune();
    // Waits `d`, or less when stop() is called: then true.
    bool wait_for_stop(std::chrono::milliseconds d);
    void log_targets();
    Micros now_us() const;  // clock_, else the system clock
    Micros schedule_horizon() const;
    int64_t catch_up_with_clock(sql::Database* db, const Worker* w = nullptr);

    std::string db_path_;
    AlertSettings settings_;
    Metrics* metrics_;
    Logger& logger_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::thread pruner_;

    std::mutex mu_;
    std::condition_variable cv_;
    uint64_t generation_ = 0;       // bumped by notify()
    std::chrono::milliseconds clock_check_interval_{std::chrono::minutes(1)};
    Clock clock_;
    std::chrono::milliseconds prune_interval_{std::chrono::minutes(10)};
    std::atomic<bool> stopping_{false};
};

// Wakes the dispatcher after each commit that inserted outbox rows. A WriterObserver (the
// writer needs no knowledge of alerts) that passes every commit on to `next` too.
class AlertCommitNotifier : public WriterObserver {
public:
    AlertCommitNotifier(AlertOutbox& outbox, AlertDispatcher& dispatcher,
                        WriterObserver* next = nullptr)
        : outbox_(outbox), dispatcher_(dispatcher), next_(next) {}
    void on_commit(std::size_t batch_size, double seconds, bool ok) override {
        if (next_) next_->on_commit(batch_size, seconds, ok);
        if (outbox_.take_inserted() && ok) dispatcher_.notify();
    }
    // Churn (and so alerts) is recorded by the projection, behind the ingest commits.
    void on_projected(const ProjectionResult& result, double seconds, bool ok) override {
        if (next_) next_->on_projected(result, seconds, ok);
        if (outbox_.take_inserted() && ok) dispatcher_.notify();
    }
    // Every other observation goes on unchanged (without this, serve never saw checkpoints).
    void on_checkpoint(int wal_frames, int copied_frames) override {
        if (next_) next_->on_checkpoint(wal_frames, copied_frames);
    }
    void on_checkpoint_interval() override {
        if (next_) next_->on_checkpoint_interval();
    }
    void on_stall(std::chrono::steady_clock::duration busy, std::size_t answered) override {
        if (next_) next_->on_stall(busy, answered);
    }

private:
    AlertOutbox& outbox_;
    AlertDispatcher& dispatcher_;
    WriterObserver* next_;
};

}  // namespace churnwatch
