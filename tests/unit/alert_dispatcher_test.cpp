// The alert dispatcher and its commit notifier, without the real binary (which
// tests/integration/alerts_test.cpp starts).
#include "alert_dispatcher.h"

#include <gtest/gtest.h>

using namespace churnwatch;

namespace {

// serve's writer observer is the notifier, with the metrics behind it: an observation it
// does not pass on never reaches them (the disk_low check runs at each checkpoint interval).
TEST(AlertCommitNotifier, PassesEveryObservationOn) {
    struct Seen : WriterObserver {
        void on_commit(std::size_t, double, bool) override { ++commits; }
        void on_projected(const ProjectionResult&, double, bool) override { ++projections; }
        void on_checkpoint(int, int) override { ++checkpoints; }
        void on_checkpoint_interval() override { ++intervals; }
        int commits = 0, projections = 0, checkpoints = 0, intervals = 0;
    } seen;
    Logger logger;
    AlertOutbox outbox({});
    AlertDispatcher dispatcher("unused.db", AlertSettings{}, nullptr, logger);
    AlertCommitNotifier notifier(outbox, dispatcher, &seen);
    WriterObserver& observer = notifier;
    observer.on_commit(1, 0.001, true);
    observer.on_projected(ProjectionResult{}, 0.001, true);
    observer.on_checkpoint(10, 10);
    observer.on_checkpoint_interval();
    EXPECT_EQ(seen.commits, 1);
    EXPECT_EQ(seen.projections, 1);
    EXPECT_EQ(seen.checkpoints, 1);
    EXPECT_EQ(seen.intervals, 1);
}

}  // namespace
