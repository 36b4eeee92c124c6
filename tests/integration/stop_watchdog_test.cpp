// serve's shutdown watchdog (service/serve_command.cpp, StopWatchdog), from outside the real
// binary and with no test hook in it: a disk that stops answering while the writer makes its
// last commit or checkpoint would hold the exit for ever; after stop-grace the process must
// say so (`shutdown`, phase `forced`) and exit 1, every acknowledged delivery on disk.
//
// The frozen disk is played by ptrace: the writer thread (`cw-writer`, named in
// lib/writer.cpp) is stopped with PTRACE_SEIZE + PTRACE_INTERRUPT, which stops that thread
// only, as a thread blocked in the kernel on a frozen filesystem would be, while the rest of
// the process (the HTTP drain, the watchdog) runs on. The test process is the server's parent,
// so ptrace is allowed under Yama's default scope (1); where it is not (a seccomp profile,
// ptrace_scope 2 without CAP_SYS_PTRACE, or 3) the test skips, saying so.
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "payloads.h"
#include "test_support.h"

using namespace churnwatch::test;
using namespace std::chrono_literals;

namespace {

using SteadyClock = std::chrono::steady_clock;

// The thread of process `pid` whose name (/proc/PID/task/TID/comm) is `name`, or -1.
pid_t thread_named(pid_t pid, const std::string& name) {
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    DIR* dir = ::opendir(tasks.c_str());
    if (!dir) return -1;
    pid_t found = -1;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        std::string comm;
        try {
            comm = read_file(tasks + "/" + e->d_name + "/comm");
        } catch (...) {
            continue;  // the thread ended meanwhile
        }
        if (comm == name + "\n") {
            found = static_cast<pid_t>(std::stol(e->d_name));
            break;
        }
    }
    ::closedir(dir);
    return found;
}

// A thread's state letter from /proc/PID/task/TID/stat ('t': stopped by its tracer).
char thread_state(pid_t pid, pid_t tid) {
    try {
        std::string stat = read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat");
        auto paren = stat.rfind(')');
        return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
    } catch (...) {
        return '?';
    }
}

// One thread of a child process, stopped with ptrace. Whatever happens in the test, the
// process ends reaped: a traced thread's exit is reported to its tracer, and the process's
// exit to its parent only once that thread has been waited for, so the thread is reaped
// first (__WALL: it is not the process's main thread), then the process. Nothing is left
// behind, neither a stopped thread nor a zombie.
class StoppedThread {
public:
    StoppedThread(ServerProcess& server, pid_t tid) : server_(server), pid_(server.pid()), tid_(tid) {}
    ~StoppedThread() {
        if (!seized_ || process_reaped_) return;
        // The test ended early: SIGKILL ends a ptrace-stopped thread too.
        ::kill(pid_, SIGKILL);
        int st = 0;
        if (!thread_reaped_) ::waitpid(tid_, &st, __WALL);
        ::waitpid(pid_, &st, 0);
        server_.reaped();
    }
    StoppedThread(const StoppedThread&) = delete;
    StoppedThread& operator=(const StoppedThread&) = delete;

    // PTRACE_SEIZE (no stop yet); errno is kept for the caller to judge.
    bool seize(int& error) {
        if (::ptrace(PTRACE_SEIZE, tid_, nullptr, nullptr) != 0) {
            error = errno;
            return false;
        }
        seized_ = true;
        return true;
    }

    // PTRACE_INTERRUPT, and the stop it causes (PTRACE_EVENT_STOP) waited for.
    bool stop(std::string& why) {
        if (::ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0) {
            why = std::string("PTRACE_INTERRUPT: ") + std::strerror(errno);
            return false;
        }
        int st = 0;
        if (::waitpid(tid_, &st, __WALL) != tid_) {
            why = std::string("waitpid: ") + std::strerror(errno);
            return false;
        }
        if (!WIFSTOPPED(st) || (st >> 16) != PTRACE_EVENT_STOP) {
            why = "unexpected wait status " + std::to_string(st);
            return false;
        }
        return true;
    }

    // Waits until the process has exited (its thread reaped on the way); its wait status,
    // or nullopt when `deadline` passes first. The thread is never resumed: the process's
    // exit ends it.
    std::optional<int> wait_exit(SteadyClock::time_point deadline) {
        while (SteadyClock::now() < deadline) {
            int st = 0;
            if (!thread_reaped_) {
                pid_t r = ::waitpid(tid_, &st, __WALL | WNOHANG);
                if (r == tid_ && (WIFEXITED(st) || WIFSIGNALED(st))) thread_reaped_ = true;
                // A stop reported for it (a signal sent to it): it stays stopped.
            }
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                process_reaped_ = true;
                server_.reaped();
                return st;
            }
            std::this_thread::sleep_for(10ms);
        }
        return std::nullopt;
    }

    bool thread_reaped() const { return thread_reaped_; }

private:
    ServerProcess& server_;
    pid_t pid_;
    pid_t tid_;
    bool seized_ = false;
    bool thread_reaped_ = false;
    bool process_reaped_ = false;
};

// A subscription/created delivery for customer `i`, with a delivery id of its own.
struct Delivery {
    std::string id;
    std::string body;
};
Delivery delivery(int i) {
    return {"watchdog-" + std::to_string(i),
            subscription_json({.id = 5000 + i, .customer_id = 5000 + i, .status = "active",
                               .updated_at = "2026-03-01T10:00:00+00:00"})};
}

// The writer is stopped for good after its deliveries were acknowledged (a disk that stops
// answering): SIGTERM drains, the writer's last writes never finish, and after stop-grace
// (1 s here) the watchdog ends the process, status 1, saying why. Without the watchdog the
// process would hang until a SIGKILL that says nothing.
TEST(StopWatchdog, AWriterThatNeverFinishesEndsTheProcessAfterTheGraceWithStatus1) {
    constexpr auto kGrace = 1s;
    TempDir dir;
    ServerProcess server(dir, {.args = {"--stop-grace", "1"}});
    constexpr int kDeliveries = 20;
    std::vector<Delivery> acked;
    {
        HttpConnection c(server.port());
        ASSERT_TRUE(c.connected());
        for (int i = 0; i < kDeliveries; ++i) {
            Delivery d = delivery(i);
            auto r = post_webhook_on(c, "/webhooks/recharge/subscription/created", d.body,
                                     {{"X-Recharge-Webhook-Id", d.id}});
            ASSERT_EQ(r.status, 200) << r.body << server.log();
            acked.push_back(d);
        }
    }
    // The writer idle (its projection caught up), waiting for work, when it is stopped.
    ASSERT_EQ(query_int(server.db(), "SELECT count(*) FROM subscriptions WHERE id >= 5000"), kDeliveries);

    const pid_t writer = thread_named(server.pid(), "cw-writer");
    ASSERT_GT(writer, 0) << "no thread named cw-writer in process " << server.pid();
    StoppedThread frozen(server, writer);
    int error = 0;
    if (!frozen.seize(error)) {
        if (error == EPERM)
            GTEST_SKIP() << "ptrace is not permitted here (PTRACE_SEIZE: EPERM: a seccomp profile, "
                            "or Yama ptrace_scope 2 without CAP_SYS_PTRACE, or 3): this test needs "
                            "it to stop the server's writer thread";
        FAIL() << "PTRACE_SEIZE: " << std::strerror(error);
    }
    std::string why;
    ASSERT_TRUE(frozen.stop(why)) << why;
    EXPECT_EQ(thread_state(server.pid(), writer), 't') << "the writer thread is stopped by its tracer";
    // Only that thread: the rest of the server still answers.
    EXPECT_EQ(http_request(server.port(), "GET", "/healthz").status, 200) << server.log();

    const auto began = SteadyClock::now();
    ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
    // The drain has nothing to wait for; then the grace. The margin is for a loaded machine
    // and the sanitizers, not a timing claim: without the watchdog this never ends.
    auto status = frozen.wait_exit(began + kGrace + 9s);
    const auto took = SteadyClock::now() - began;
    ASSERT_TRUE(status.has_value()) << "still running " << kGrace.count() + 9
                                    << " s after SIGTERM with its writer stopped:\n"
                                    << server.log();
    EXPECT_TRUE(frozen.thread_reaped());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << "wait status " << *status << "\n"
                                                                  << server.log();
    EXPECT_GE(took, kGrace) << "the watchdog waited out its grace first";
    // Nothing left of the process: no stopped thread, no zombie.
    EXPECT_NE(::access(("/proc/" + std::to_string(server.pid())).c_str(), F_OK), 0);

    const std::string log = server.log();
    EXPECT_TRUE(contains(log, "\"event\":\"shutdown\",\"phase\":\"forced\",\"reason\":\"the database did not "
                              "finish its last writes within 1 s of the drain"))
        << log;
    EXPECT_FALSE(contains(log, "\"event\":\"stopped\"")) << log;
    EXPECT_EQ(sanitizer_report(log), "");

    // Every acknowledged delivery is on disk, byte for byte, in a database that opens whole.
    EXPECT_EQ(query_text(server.db(), "PRAGMA integrity_check"), "ok");
    for (const auto& d : acked) {
        EXPECT_EQ(query_text(server.db(), "SELECT body FROM deliveries WHERE dedupe_key LIKE 'id:" + d.id + ":%'"),
                  d.body)
            << d.id;
    }
    // And the next start finds it as usual (the instance lock went with the process).
    ServerProcess again(dir, {.db = server.db()});
    EXPECT_EQ(http_request(again.port(), "GET", "/readyz").status, 200) << again.log();
    EXPECT_EQ(again.stop(), 0) << again.log();
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM deliveries WHERE dedupe_key LIKE 'id:watchdog-%'"),
              kDeliveries);
}

// The grace is for a writer that cannot finish: a short one does not cut an ordinary stop,
// which ends 0 with its `stopped` line and no `forced` one.
TEST(StopWatchdog, AShortGraceLetsAnOrdinaryStopFinish) {
    TempDir dir;
    ServerProcess server(dir, {.args = {"--stop-grace", "1"}});
    for (int i = 0; i < 5; ++i) {
        Delivery d = delivery(i);
        ASSERT_EQ(post_webhook(server.port(), "/webhooks/recharge/subscription/created", d.body,
                               {{"X-Recharge-Webhook-Id", d.id}})
                      .status,
                  200)
            << server.log();
    }
    const auto began = SteadyClock::now();
    EXPECT_EQ(server.stop(), 0) << server.log();
    EXPECT_LT(SteadyClock::now() - began, 5s) << "a bound, not a timing claim";
    const std::string log = server.log();
    EXPECT_TRUE(contains(log, "\"event\":\"stopped\"")) << log;
    EXPECT_FALSE(contains(log, "\"phase\":\"forced\"")) << log;
    EXPECT_EQ(sanitizer_report(log), "");
}

}  // namespace
