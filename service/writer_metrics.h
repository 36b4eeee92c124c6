// Metrics wiring for `serve` beyond the request path: the writer's group commits (a
// WriterObserver) and cheap process metrics read from /proc at scrape time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "log.h"
#include "metrics.h"
#include "writer.h"

namespace churnwatch {

// Records every group commit of the Writer:
//   churnwatch_writer_commit_batch_size      histogram, deliveries (and probes) per commit
//   churnwatch_writer_commit_duration_seconds histogram, BEGIN … COMMIT (the fsync included)
//   churnwatch_writer_commits_total{outcome="ok"|"failed"}
//   churnwatch_projected_deliveries_total{outcome="applied"|"quarantined"}
//   churnwatch_projection_duration_seconds histogram, one projection transaction
//   churnwatch_projection_failures_total
// With a logger, a failed projection transaction is also logged (`projection_failed`, warn,
// with SQLite's error; at most one line per 10 s, counting the failures in between), and so
// are deliveries the rules quarantined (`projection_quarantined`, with how many).
// Called on the writer thread; Metrics is thread-safe.
class WriterMetrics : public WriterObserver {
public:
    explicit WriterMetrics(Metrics& metrics, Logger* logger = nullptr);
    void on_commit(std::size_t batch_size, double seconds, bool ok) override;
    void on_projected(const ProjectionResult& result, double seconds, bool ok) override;
    // churnwatch_wal_uncheckpointed_frames (gauge), and with a logger `wal_growing` (warn, at
    // most once a minute) while more than kWalGrowingFrames frames wait to be copied.
    void on_checkpoint(int wal_frames, int copied_frames) override;

    // ~100 MB of 4 KB pages: ten times what the writer lets the WAL reach under load.
    static constexpr int kWalGrowingFrames = 25000;

private:
    Metrics& metrics_;
    Logger* logger_;
    LogThrottle failure_log_{std::chrono::seconds(10)};
    std::mutex wal_log_mu_;  // on_checkpoint runs on the checkpointer thread
    LogThrottle wal_log_{std::chrono::minutes(1)};
};

// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_cpu_seconds_total and process_start_time_seconds (the names the
// Prometheus client libraries use), read at scrape time from /proc/self (the start time is
// taken when this is called, at serve's start). Where /proc is unreadable they read NaN.
void register_process_metrics(Metrics& metrics);

}  // namespace churnwatch
