// WriterMetrics: what the writer's commits, projections and checkpoints show an operator.
#include "writer_metrics.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace churnwatch {
namespace {

// Everything a logger wrote to a pipe, once it is gone.
std::string drain(int fd) {
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    return text;
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// A reader holding an old snapshot keeps checkpoints from copying the WAL, which then grows
// with every commit: the gauge shows the gap, and past ~100 MB a warning says why (once a
// minute at most).
TEST(WriterMetrics, AWalTheCheckpointCannotCopyIsAGaugeAndAWarning) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    Metrics metrics;
    {
        Logger logger(fds[1]);
        WriterMetrics wm(metrics, &logger);
        EXPECT_EQ(metrics.value("churnwatch_wal_uncheckpointed_frames"), 0);
        wm.on_checkpoint(3000, 2900);  // ordinary load: nothing to say
        EXPECT_EQ(metrics.value("churnwatch_wal_uncheckpointed_frames"), 100);
        wm.on_checkpoint(WriterMetrics::kWalGrowingFrames + 5000, 5000);  // at the threshold
        wm.on_checkpoint(40000, 1000);
        EXPECT_EQ(metrics.value("churnwatch_wal_uncheckpointed_frames"), 39000);
        wm.on_checkpoint(50000, 1000);  // within the minute: counted, not logged
        wm.on_checkpoint(120, 120);     // the reader let go
        EXPECT_EQ(metrics.value("churnwatch_wal_uncheckpointed_frames"), 0);
    }
    ::close(fds[1]);
    std::string text = drain(fds[0]);
    ::close(fds[0]);
    EXPECT_EQ(count(text, "\"event\":\"wal_growing\""), 1u) << text;
    EXPECT_NE(text.find("\"uncheckpointed_frames\":39000"), std::string::npos) << text;
    EXPECT_NE(text.find("read transaction open elsewhere"), std::string::npos) << text;
}

// Low: under 1 GiB or 5% of the filesystem, whichever is less.
TEST(DiskSpace, LowIsTheSmallerOfOneGibAndFivePercent) {
    constexpr std::uint64_t GiB = std::uint64_t{1} << 30;
    EXPECT_TRUE(disk_space_low({.available_bytes = GiB - 1, .total_bytes = 1000 * GiB}));
    EXPECT_FALSE(disk_space_low({.available_bytes = GiB, .total_bytes = 1000 * GiB}));
    EXPECT_FALSE(disk_space_low({.available_bytes = GiB / 2, .total_bytes = 4 * GiB}));  // 12.5%
    EXPECT_TRUE(disk_space_low({.available_bytes = GiB / 10, .total_bytes = 4 * GiB}));  // 2.5%
    EXPECT_FALSE(disk_space_low({.available_bytes = 0, .total_bytes = 0}));  // unknown size
}

// The database's disk nearly full: a warning at the next checkpoint interval (every half
// second, idle or not, whatever became of the checkpoint), not repeated for ten minutes;
// nothing while there is room. A checkpoint that succeeded is not needed: none does once
// the disk is full.
TEST(WriterMetrics, ALowDiskIsAWarning) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    Metrics metrics;
    constexpr std::uint64_t GiB = std::uint64_t{1} << 30;
    DiskSpace space{.available_bytes = 50 * GiB, .total_bytes = 100 * GiB};
    int probes = 0;
    {
        Logger logger(fds[1]);
        WriterMetrics wm(metrics, &logger);
        wm.watch_disk([&] {
            ++probes;
            return std::optional<DiskSpace>(space);
        });
        wm.on_checkpoint_interval();
        space.available_bytes = GiB / 2;
        wm.on_checkpoint_interval();
        wm.on_checkpoint_interval();  // within ten minutes: not again
    }
    ::close(fds[1]);
    std::string text = drain(fds[0]);
    ::close(fds[0]);
    EXPECT_EQ(probes, 3);
    EXPECT_EQ(count(text, "\"event\":\"disk_low\""), 1u) << text;
    EXPECT_NE(text.find("\"available_bytes\":536870912"), std::string::npos) << text;
    EXPECT_NE(text.find("answered 503"), std::string::npos) << text;
}

TEST(StorageMetrics, DatabaseSizeAndAvailableSpaceAreReadAtScrapeTime) {
    char dir[] = "/tmp/churnwatch-storage-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string db = std::string(dir) + "/x.db";
    Metrics metrics;
    register_storage_metrics(metrics, db);
    EXPECT_TRUE(std::isnan(metrics.value("churnwatch_database_bytes")));  // not created yet
    int fd = ::open(db.c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "0123456789", 10), 10);
    ::close(fd);
    EXPECT_EQ(metrics.value("churnwatch_database_bytes"), 10);
    auto space = disk_space_of(db);
    ASSERT_TRUE(space);
    EXPECT_GT(space->total_bytes, 0u);
    EXPECT_GT(metrics.value("churnwatch_database_disk_available_bytes"), 0);
    EXPECT_FALSE(disk_space_of("/nonexistent-dir/x.db"));
    ::unlink(db.c_str());
    ::rmdir(dir);
}

// OPERATIONS sends an operator to process_open_fds when descriptors run out: it must read a
// number then, not NaN (opening /proc/self/fd at each scrape needed a free descriptor).
TEST(ProcessMetrics, OpenDescriptorsAreCountedEvenWithNoneLeft) {
    Metrics metrics;
    register_process_metrics(metrics);
    const double before = metrics.value("process_open_fds");
    ASSERT_FALSE(std::isnan(before));
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(before) + 20;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    std::vector<int> held;
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) held.push_back(fd);
    const double full = metrics.value("process_open_fds");
    for (int fd : held) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &saved);
    ASSERT_FALSE(std::isnan(full));
    EXPECT_EQ(full, before + static_cast<double>(held.size()));
}

}  // namespace
}  // namespace churnwatch
