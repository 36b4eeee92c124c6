// Metrics wiring for `serve` beyond the request path: the writer's group commits (a
// WriterObserver) and cheap process metrics read from /proc at scrape time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "log.h"
#include "metrics.h"
#include "writer.h"

namespace churnwatch {

// Space on the filesystem holding the database.
struct DiskSpace {
    std::uint64_t available_bytes = 0;  // to an unprivileged process (statvfs f_bavail)
    std::uint64_t total_bytes = 0;
};
// statvfs of the directory holding `path`; nothing when it cannot be read.
std::optional<DiskSpace> disk_space_of(const std::string& path);
// Low enough to warn: under 1 GiB or under 5% of the filesystem, whichever is less (a small
// disk is not "low" at 1 GiB free when that is a fifth of it; a large one not at 5%).
bool disk_space_low(const DiskSpace& space);

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
    // Once watch_disk gave a probe: `disk_low` (warn, at most once every 10 minutes) while
    // disk_space_low holds for the database's filesystem. The checkpointer calls this every
    // half second, idle or not, and whether or not its checkpoint succeeded: so the warning
    // comes without traffic, and while a filling disk already makes checkpoints fail.
    void on_checkpoint_interval() override;
    void watch_disk(std::function<std::optional<DiskSpace>()> probe) { disk_probe_ = std::move(probe); }
    // `storage_stalled` (error, at most once per 10 s): requests waiting on a write that does
    // not finish were answered 503.
    void on_stall(std::chrono::steady_clock::duration busy, std::size_t answered) override;

    // ~100 MB of 4 KB pages: ten times what the writer lets the WAL reach under load.
    static constexpr int kWalGrowingFrames = 25000;

private:
    Metrics& metrics_;
    Logger* logger_;
    LogThrottle failure_log_{std::chrono::seconds(10)};
    std::mutex wal_log_mu_;  // on_checkpoint runs on the checkpointer thread
    LogThrottle wal_log_{std::chrono::minutes(1)};
    std::function<std::optional<DiskSpace>()> disk_probe_;
    LogThrottle disk_log_{std::chrono::minutes(10)};  // on the checkpointer thread only
    LogThrottle stall_log_{std::chrono::seconds(10)};  // on the stall watch's thread only
};

// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_cpu_seconds_total and process_start_time_seconds (the names the
// Prometheus client libraries use), read at scrape time from /proc/self (the start time is
// taken when this is called, at serve's start). Where /proc is unreadable they read NaN.
void register_process_metrics(Metrics& metrics);

// churnwatch_database_bytes (the database file's size with its WAL's; it holds every raw
// delivery, so it only grows) and churnwatch_database_disk_available_bytes (DiskSpace::available_bytes of its
// filesystem), read at scrape time; NaN where unreadable.
void register_storage_metrics(Metrics& metrics, const std::string& db_path);

}  // namespace churnwatch
