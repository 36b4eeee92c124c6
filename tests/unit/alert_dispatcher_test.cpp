// The alert dispatcher and its commit notifier, without the real binary (which
// tests/integration/alerts_test.cpp starts).
#include "alert_dispatcher.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "http_receiver.h"
#include "schema.h"
#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;
using namespace std::chrono_literals;

namespace {

Micros now_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// A new database in `dir`, migrated as serve leaves it before the dispatcher starts.
std::string migrated_db(const TempDir& dir) {
    const std::string db = dir.file("a.db");
    sql::Database conn(db);
    configure_connection(conn);
    apply_migrations(conn);
    return db;
}

// One webhook target posting to `rx`.
AlertSettings settings_for(const HttpReceiver& rx) {
    AlertSettings settings;
    AlertTarget target;
    target.name = target.url = rx.url("/hook");
    target.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    settings.targets.push_back(target);
    return settings;
}

// The dispatcher's log lines, in a file of `dir` the test reads back.
class LogFile {
public:
    explicit LogFile(const TempDir& dir)
        : path_(dir.file("log")), fd_(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600)) {}
    ~LogFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    LogFile(const LogFile&) = delete;
    LogFile& operator=(const LogFile&) = delete;
    int fd() const { return fd_; }
    std::string text() const { return read_all(path_); }

private:
    std::string path_;
    int fd_;
};

// A pending customer.churned alert for `target`, recorded at `at` (due then).
void add_pending(const std::string& db, const std::string& target, const std::string& webhook_id, Micros at) {
    sql::Database conn(db);
    sql::Statement add(conn,
                       "INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id,"
                       " webhook_id, payload, created_us, next_attempt_us, retry_from_us)"
                       " VALUES (?1, 'customer.churned', 1, 1, ?2, '{}', ?3, ?3, ?3)");
    add.bind(1, target).bind(2, webhook_id).bind(3, at).run();
}

// The system clock moved back while serving (a clock 30 days ahead corrected): alerts it
// stamped meanwhile would wait for it to catch up. A worker looks for its target's such rows
// every clock check interval (a minute; shortened here) and sends them at once, saying so.
TEST(AlertDispatcher, AlertsStampedByAClockAheadWhileServingAreSentAtTheNextLook) {
    TempDir dir;
    const std::string db = migrated_db(dir);
    HttpReceiver rx;
    const AlertSettings settings = settings_for(rx);
    const AlertTarget& target = settings.targets.front();
    LogFile log_file(dir);
    ASSERT_GE(log_file.fd(), 0);
    {
        Logger logger(log_file.fd());
        AlertDispatcher dispatcher(db, settings, nullptr, logger);
        dispatcher.set_clock_check_interval(100ms);
        dispatcher.start();
        // Recorded after start (its look has passed) by a clock 30 days ahead.
        add_pending(db, target.name, "msg_ahead", now_us() + 30 * 86400 * kMicrosPerSecond);
        dispatcher.notify();
        EXPECT_TRUE(rx.wait_for(1, 5s)) << log_file.text();
        // Received is not yet recorded: a stop before the answer is read leaves it pending
        // (sent again at the next start).
        EXPECT_TRUE(eventually([&] { return query_text(db, "SELECT status FROM alerts_outbox") == "sent"; }));
        dispatcher.stop();
    }
    ASSERT_EQ(rx.count(), 1u);
    EXPECT_EQ(rx.requests()[0].header("webhook-id"), "msg_ahead");
    const std::string log = log_file.text();
    EXPECT_NE(log.find("\"event\":\"alerts_rescheduled\",\"target\":\"" + target.name + "\",\"alerts\":1,"),
              std::string::npos)
        << log;
    EXPECT_EQ(query_text(db, "SELECT status FROM alerts_outbox"), "sent");
}

// After a retryable failure a target rests until its alert's next attempt. A rest taken while
// the system clock was ahead (a clock 30 days fast, then corrected) would, by the corrected
// clock, last 30 days: every alert of the target waiting, silently. The worker's clock check
// ends such a rest (a rest or a due time beyond what the clock alone can schedule) and the
// alert goes out at once. The dispatcher's clock is the test's here, so it can move back.
TEST(AlertDispatcher, ARestTakenByAClockAheadEndsAtTheNextClockCheck) {
    TempDir dir;
    const std::string db = migrated_db(dir);
    HttpReceiver rx;
    rx.script({{.status = 503}});  // then 200
    const AlertSettings settings = settings_for(rx);
    const AlertTarget& target = settings.targets.front();
    constexpr Micros kAhead = 30 * 86400 * kMicrosPerSecond;
    std::atomic<Micros> ahead{kAhead};
    LogFile log_file(dir);
    ASSERT_GE(log_file.fd(), 0);
    {
        Logger logger(log_file.fd());
        AlertDispatcher dispatcher(db, settings, nullptr, logger);
        dispatcher.set_clock([&ahead] { return now_us() + ahead.load(); });
        dispatcher.set_clock_check_interval(100ms);
        dispatcher.start();
        add_pending(db, target.name, "msg_rested", now_us() + kAhead);  // as the outbox would have, then
        dispatcher.notify();
        ASSERT_TRUE(rx.wait_for(1, 5s)) << log_file.text();
        // The failure recorded (the clock still ahead): the target rests until its retry.
        ASSERT_TRUE(eventually([&] { return query_int(db, "SELECT attempts FROM alerts_outbox") == 1; }))
            << log_file.text();
        EXPECT_GT(query_int(db, "SELECT next_attempt_us FROM alerts_outbox"), now_us() + kAhead - 60 * kMicrosPerSecond);
        ahead = 0;  // the clock corrected: by it, the rest now ends 30 days from now
        EXPECT_TRUE(rx.wait_for(2, 5s)) << "the rest held the target\n" << log_file.text();
        dispatcher.stop();
    }
    ASSERT_EQ(rx.count(), 2u);
    EXPECT_EQ(rx.requests()[1].header("webhook-id"), "msg_rested");
    EXPECT_EQ(query_text(db, "SELECT status FROM alerts_outbox"), "sent");
    EXPECT_EQ(query_int(db, "SELECT attempts FROM alerts_outbox"), 2);
}

// A target's rest after a failure is in its rows (a pending alert attempted before, due
// later), not in the worker's memory: a dispatcher started on them (after a restart, or a
// worker that reopened its connection) sends nothing of that target until the rest ends,
// then the older alert first. Before, an alert due now (a retraction, say) went out at once,
// ahead of the churn it takes back.
TEST(AlertDispatcher, ATargetsRestHoldsAcrossARestartAndTheOldestAlertGoesFirst) {
    TempDir dir;
    const std::string db = migrated_db(dir);
    HttpReceiver rx;
    const AlertSettings settings = settings_for(rx);
    const AlertTarget& target = settings.targets.front();
    const Micros now = now_us();
    // As a run of serve left them: the churn failed once and waits 3 s; a retraction is due.
    add_pending(db, target.name, "msg_resting", now - 10 * kMicrosPerSecond);
    {
        sql::Database conn(db);
        sql::Statement rest(conn, "UPDATE alerts_outbox SET attempts = 1, last_attempt_us = ?1, next_attempt_us = ?2");
        rest.bind(1, now - kMicrosPerSecond).bind(2, now + 3 * kMicrosPerSecond).run();
    }
    add_pending(db, target.name, "msg_due", now);
    LogFile log_file(dir);
    ASSERT_GE(log_file.fd(), 0);
    {
        Logger logger(log_file.fd());
        AlertDispatcher dispatcher(db, settings, nullptr, logger);
        dispatcher.start();
        ASSERT_TRUE(rx.wait_for(2, 15s)) << log_file.text();
        dispatcher.stop();
    }
    ASSERT_EQ(rx.count(), 2u);
    EXPECT_EQ(rx.requests()[0].header("webhook-id"), "msg_resting") << "an alert overtook the one resting";
    EXPECT_EQ(rx.requests()[1].header("webhook-id"), "msg_due");
    EXPECT_GE(query_int(db, "SELECT min(sent_us) FROM alerts_outbox"), now + 3 * kMicrosPerSecond)
        << "the rest was cut short";
}

// serve's writer observer is the notifier, with the metrics behind it: an observation it
// does not pass on never reaches them (the disk_low check runs at each checkpoint interval).
TEST(AlertCommitNotifier, PassesEveryObservationOn) {
    struct Seen : WriterObserver {
        void on_commit(std::size_t, double, bool) override { ++commits; }
        void on_projected(const ProjectionResult&, double, bool) override { ++projections; }
        void on_checkpoint(int, int) override { ++checkpoints; }
        void on_checkpoint_interval() override { ++intervals; }
        void on_stall(std::chrono::steady_clock::duration, std::size_t) override { ++stalls; }
        int commits = 0, projections = 0, checkpoints = 0, intervals = 0, stalls = 0;
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
    observer.on_stall(std::chrono::seconds(6), 2);
    EXPECT_EQ(seen.stalls, 1);
    EXPECT_EQ(seen.commits, 1);
    EXPECT_EQ(seen.projections, 1);
    EXPECT_EQ(seen.checkpoints, 1);
    EXPECT_EQ(seen.intervals, 1);
}

// One finished (or pending) alert with its times: created, and last attempted and (when
// sent) delivered at `finished`.
void add_alert(const std::string& db, const std::string& name, const std::string& status, Micros created,
               Micros finished) {
    sql::Database conn(db);
    sql::Statement add(conn,
                       "INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id,"
                       " payload, created_us, status, next_attempt_us, retry_from_us, last_attempt_us, sent_us)"
                       " VALUES ('http://earlier.example/hook', 'customer.reactivated', 1, 1, ?1, '{}', ?2, ?3,"
                       " ?2, ?2, ?4, CASE WHEN ?3 = 'sent' THEN ?4 END)");
    add.bind(1, name).bind(2, created).bind(3, status).bind(4, finished).run();
}

// alert-retention-days: finished alerts that finished longer ago are deleted at start, also
// with no target configured (these are an earlier configuration's), and then, at each look,
// those that have come of age since; pending ones stay. A pass that deleted something says
// so in the log; the metric counts them by status.
TEST(AlertDispatcher, DeletesFinishedAlertsPastTheRetentionAtStartAndAsTheyComeOfAge) {
    TempDir dir;
    const std::string db = migrated_db(dir);
    constexpr Micros kDay = 86400 * kMicrosPerSecond;
    const Micros now = now_us();
    add_alert(db, "sent_40_days_ago", "sent", now - 41 * kDay, now - 40 * kDay);
    add_alert(db, "died_31_days_ago", "dead", now - 32 * kDay, now - 31 * kDay);
    add_alert(db, "pending_for_40_days", "pending", now - 40 * kDay, now - 40 * kDay);
    add_alert(db, "sent_30_days_ago_in_3_s", "sent", now - 31 * kDay, now - 30 * kDay + 3 * kMicrosPerSecond);
    add_alert(db, "sent_yesterday", "sent", now - 2 * kDay, now - kDay);
    AlertSettings settings;  // no target; the default retention, 30 days
    ASSERT_EQ(settings.retention, 30 * kDay);
    Metrics metrics;
    LogFile log_file(dir);
    ASSERT_GE(log_file.fd(), 0);
    {
        Logger logger(log_file.fd());
        AlertDispatcher dispatcher(db, settings, &metrics, logger);
        dispatcher.set_prune_interval(100ms);
        dispatcher.start();
        EXPECT_TRUE(eventually([&] {
            return query_rows(db, "SELECT webhook_id FROM alerts_outbox ORDER BY id") ==
                   "pending_for_40_days\nsent_yesterday\n";
        }, 15s)) << query_rows(db, "SELECT webhook_id FROM alerts_outbox ORDER BY id") << log_file.text();
        dispatcher.stop();
    }
    EXPECT_EQ(metrics.value("churnwatch_alerts_pruned_total", {{"status", "sent"}}), 2);
    EXPECT_EQ(metrics.value("churnwatch_alerts_pruned_total", {{"status", "dead"}}), 1);
    EXPECT_NE(metrics.render().find("churnwatch_alerts_pruned_total{status=\"disabled\"} 0"), std::string::npos);
    const std::string log = log_file.text();
    // The pass at start looks at every finished row; the later ones at those come of age.
    EXPECT_NE(log.find("\"event\":\"alerts_pruned\",\"alerts\":2,\"sent\":1,\"dead\":1,\"disabled\":0,"
                       "\"retracted\":0,\"retention_days\":30,\"full\":true,"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("\"event\":\"alerts_pruned\",\"alerts\":1,\"sent\":1,\"dead\":0,\"disabled\":0,"
                       "\"retracted\":0,\"retention_days\":30,\"full\":false,"),
              std::string::npos)
        << log;
}

// alert-retention-days = 0: every alert is kept.
TEST(AlertDispatcher, ARetentionOfZeroKeepsEveryAlert) {
    TempDir dir;
    const std::string db = migrated_db(dir);
    const Micros now = now_us();
    add_alert(db, "sent_10_years_ago", "sent", now - 3660 * 86400 * kMicrosPerSecond,
              now - 3650 * 86400 * kMicrosPerSecond);
    AlertSettings settings;
    settings.retention = 0;
    Logger logger;
    AlertDispatcher dispatcher(db, settings, nullptr, logger);
    dispatcher.set_prune_interval(20ms);
    dispatcher.start();
    std::this_thread::sleep_for(300ms);  // a pruner would have made 15 passes by now
    dispatcher.stop();
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 1);
}

}  // namespace
