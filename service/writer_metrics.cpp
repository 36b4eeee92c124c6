#include "writer_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace churnwatch {

WriterMetrics::WriterMetrics(Metrics& metrics, Logger* logger) : metrics_(metrics), logger_(logger) {
    metrics_.describe_histogram("churnwatch_writer_commit_batch_size",
                                "Deliveries (and readiness probes) committed per group commit.",
                                {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000});
    metrics_.describe_histogram(
        "churnwatch_writer_commit_duration_seconds",
        "Duration of one group commit, BEGIN to COMMIT (fsync included).",
        {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
    metrics_.describe_counter(
        "churnwatch_writer_commits_total",
        "Group commits, by outcome (ok, failed: the batch was answered 503).");
    metrics_.describe_counter("churnwatch_projected_deliveries_total",
                              "Stored deliveries the churn rules were applied to, by outcome "
                              "(applied, quarantined: the rules failed or the body no longer decodes).");
    metrics_.describe_histogram("churnwatch_projection_duration_seconds",
                                "Duration of one projection transaction (rules for many deliveries).",
                                {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
    metrics_.describe_counter("churnwatch_projection_failures_total",
                              "Projection transactions that failed (retried; see the log).");
    metrics_.describe_gauge("churnwatch_wal_uncheckpointed_frames",
                            "WAL frames not yet copied into the database at the last checkpoint "
                            "(pages of ~4 KB); stays high while a reader holds an old snapshot.");
    metrics_.set("churnwatch_wal_uncheckpointed_frames", {}, 0);
    // Every series of a fixed label set exists from the start at 0: a series born at its first
    // failure hides that failure from rate() and increase(), which need two samples.
    for (const char* outcome : {"ok", "failed"})
        metrics_.inc("churnwatch_writer_commits_total", {{"outcome", outcome}}, 0);
    for (const char* outcome : {"applied", "quarantined"})
        metrics_.inc("churnwatch_projected_deliveries_total", {{"outcome", outcome}}, 0);
    metrics_.inc("churnwatch_projection_failures_total", {}, 0);
}

std::optional<DiskSpace> disk_space_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    struct statvfs v{};
    if (::statvfs(dir.c_str(), &v) != 0) return std::nullopt;
    return DiskSpace{static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize,
                     static_cast<std::uint64_t>(v.f_blocks) * v.f_frsize};
}

bool disk_space_low(const DiskSpace& space) {
    constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
    return space.available_bytes < std::min(kGiB, space.total_bytes / 20);
}

void WriterMetrics::on_stall(std::chrono::steady_clock::duration busy, std::size_t answered) {
    if (!logger_ || !stall_log_.due()) return;
    LogLine(*logger_, LogLevel::Error, "storage_stalled")
        .str("reason", storage_stalled(busy))
        .num("busy_ms", std::chrono::duration_cast<std::chrono::milliseconds>(busy).count())
        .num("answered_503", static_cast<int64_t>(answered))
        .num("answers_since_last_line", stall_log_.occurrences());
}

void WriterMetrics::on_checkpoint_interval() {
    if (!disk_probe_ || !logger_) return;
    auto space = disk_probe_();
    if (!space || !disk_space_low(*space) || !disk_log_.due()) return;
    LogLine(*logger_, LogLevel::Warn, "disk_low")
        .num("available_bytes", static_cast<int64_t>(space->available_bytes))
        .num("total_bytes", static_cast<int64_t>(space->total_bytes))
        .str("effect", "once the disk is full every delivery is answered 503 and nothing new is "
                       "stored (Recharge retries for 48 hours, then deletes the webhook): free "
                       "space or move the database to a larger disk");
}

void WriterMetrics::on_checkpoint(int wal_frames, int copied_frames) {
    const int waiting = wal_frames > copied_frames ? wal_frames - copied_frames : 0;
    metrics_.set("churnwatch_wal_uncheckpointed_frames", {}, waiting);
    if (!logger_ || waiting <= kWalGrowingFrames) return;
    std::lock_guard lock(wal_log_mu_);
    if (!wal_log_.due()) return;
    LogLine(*logger_, LogLevel::Warn, "wal_growing")
        .num("wal_frames", wal_frames)
        .num("uncheckpointed_frames", waiting)
        .str("cause", "a read transaction open elsewhere (an analyst's sqlite3 session, a backup "
                      "tool) keeps the checkpoint from copying the WAL; it grows with every "
                      "commit until that transaction ends, then shrinks back to 64 MB");
}

void WriterMetrics::on_projected(const ProjectionResult& result, double seconds, bool ok) {
    if (!ok) {
        metrics_.inc("churnwatch_projection_failures_total");
        // Retried every 200 ms while it lasts (a full disk): one line per 10 s is enough.
        if (logger_ && failure_log_.due()) {
            LogLine(*logger_, LogLevel::Warn, "projection_failed")
                .str("error", result.error)
                .num("failures", failure_log_.occurrences());
        }
        return;
    }
    if (logger_ && result.quarantined) {
        LogLine(*logger_, LogLevel::Warn, "projection_quarantined")
            .num("deliveries", static_cast<int64_t>(result.quarantined))
            .num("through_id", result.watermark);
    }
    metrics_.observe("churnwatch_projection_duration_seconds", seconds);
    auto applied = static_cast<double>(result.applied - result.quarantined);
    if (applied > 0) metrics_.inc("churnwatch_projected_deliveries_total", {{"outcome", "applied"}}, applied);
    if (result.quarantined)
        metrics_.inc("churnwatch_projected_deliveries_total", {{"outcome", "quarantined"}},
                     static_cast<double>(result.quarantined));
}

void WriterMetrics::on_commit(std::size_t batch_size, double seconds, bool ok) {
    metrics_.observe("churnwatch_writer_commit_batch_size", static_cast<double>(batch_size));
    metrics_.observe("churnwatch_writer_commit_duration_seconds", seconds);
    metrics_.inc("churnwatch_writer_commits_total", {{"outcome", ok ? "ok" : "failed"}});
}

namespace {

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

// The fields of /proc/self/stat after the command name (field 3 onwards), or empty.
std::vector<std::string> stat_fields() {
    std::ifstream in("/proc/self/stat");
    std::string line;
    if (!std::getline(in, line)) return {};
    auto close = line.rfind(')');  // the command name may contain spaces and parentheses
    if (close == std::string::npos) return {};
    std::istringstream rest(line.substr(close + 1));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;) fields.push_back(f);
    return fields;
}

// Field N of proc(5)'s numbering (1-based, N >= 3).
double stat_field(const std::vector<std::string>& fields, std::size_t n) {
    if (n < 3 || fields.size() < n - 2) return kUnknown;
    try {
        return std::stod(fields[n - 3]);
    } catch (...) {
        return kUnknown;
    }
}

double resident_bytes() {
    std::ifstream in("/proc/self/statm");
    double size = 0, resident = 0;
    if (!(in >> size >> resident)) return kUnknown;
    return resident * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double virtual_bytes() {
    std::ifstream in("/proc/self/statm");
    double size = 0;
    if (!(in >> size)) return kUnknown;
    return size * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

// The directory is opened once and read again at each scrape: opening it per scrape needs a
// free descriptor, so the gauge read NaN exactly when descriptors ran out, which is when
// OPERATIONS sends the operator to it.
double open_fds() {
    static std::mutex mu;
    static DIR* dir = ::opendir("/proc/self/fd");
    std::lock_guard lock(mu);
    if (!dir) return kUnknown;
    ::rewinddir(dir);
    double n = 0;
    while (const dirent* e = ::readdir(dir))
        if (e->d_name[0] != '.') ++n;
    return n - 1;  // the directory's own descriptor
}

double max_fds() {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return kUnknown;
    return static_cast<double>(r.rlim_cur);
}

double cpu_seconds() {
    auto f = stat_fields();
    return (stat_field(f, 14) + stat_field(f, 15)) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

void register_process_metrics(Metrics& metrics) {
    metrics.describe_gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
    metrics.gauge_fn("process_resident_memory_bytes", resident_bytes);
    metrics.describe_gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
    metrics.gauge_fn("process_virtual_memory_bytes", virtual_bytes);
    metrics.describe_gauge("process_open_fds", "Number of open file descriptors.");
    open_fds();  // opens the directory now, while descriptors are free
    metrics.gauge_fn("process_open_fds", open_fds);
    metrics.describe_gauge("process_max_fds", "Maximum number of open file descriptors.");
    metrics.gauge_fn("process_max_fds", max_fds);
    // A counter whose value is read at scrape time: describe_counter fixes the type.
    metrics.describe_counter("process_cpu_seconds_total",
                             "Total user and system CPU time spent in seconds.");
    metrics.gauge_fn("process_cpu_seconds_total", cpu_seconds);
    // Registered as serve starts, a few milliseconds after the process did; reading the boot
    // time from /proc/stat would fail under systemd's ProcSubset=pid.
    double start = std::floor(
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    metrics.describe_gauge("process_start_time_seconds",
                           "Start time of the process since unix epoch in seconds.");
    metrics.gauge_fn("process_start_time_seconds", [start] { return start; });
}

void register_storage_metrics(Metrics& metrics, const std::string& db_path) {
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    metrics.describe_gauge("churnwatch_database_bytes",
                           "Size of the database file and its WAL (every raw delivery is kept).");
    metrics.gauge_fn("churnwatch_database_bytes", [db_path, wal = db_path + "-wal"] {
        struct stat st{};
        if (::stat(db_path.c_str(), &st) != 0) return kNaN;
        double bytes = static_cast<double>(st.st_size);
        if (::stat(wal.c_str(), &st) == 0) bytes += static_cast<double>(st.st_size);
        return bytes;
    });
    metrics.describe_gauge("churnwatch_database_disk_available_bytes",
                           "Space available on the database's filesystem.");
    metrics.gauge_fn("churnwatch_database_disk_available_bytes", [db_path] {
        auto space = disk_space_of(db_path);
        return space ? static_cast<double>(space->available_bytes) : kNaN;
    });
}

}  // namespace churnwatch
