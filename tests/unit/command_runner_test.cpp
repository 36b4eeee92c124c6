// The command alert hook's process runner: stdin, exit status, stderr tail, timeout (the
// whole process group killed), environment scrubbing, and a program that never reads.
#include "command_runner.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;
using namespace std::chrono_literals;

namespace {

std::string script(const TempDir& dir, const std::string& name, const std::string& body) {
    std::string path = dir.file(name);
    write_file(path, "#!/bin/sh\n" + body);
    ::chmod(path.c_str(), 0755);
    return path;
}

TEST(CommandRunner, FeedsStdinAndReportsSuccess) {
    TempDir dir;
    std::string out = dir.file("got");
    auto prog = script(dir, "ok.sh", "cat > " + out + "\necho to-stdout\n");
    std::string input = "{\"type\":\"customer.churned\"}" + std::string(200000, ' ');  // > a pipe buffer
    auto r = run_program(prog, input, {}, 10s);
    EXPECT_TRUE(r.started);
    EXPECT_TRUE(r.success()) << r.error;
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(r.error.empty());
    EXPECT_EQ(read_file(out), input);
}

TEST(CommandRunner, NonZeroExitKeepsStderrTail) {
    TempDir dir;
    auto prog = script(dir, "fail.sh", "cat >/dev/null\necho 'receiver said no' >&2\nexit 3\n");
    auto r = run_program(prog, "x", {}, 10s);
    EXPECT_TRUE(r.exited);
    EXPECT_FALSE(r.success());
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.error, "exited with status 3");
    EXPECT_EQ(r.stderr_tail, "receiver said no\n");
}

// Only the last 1 KiB of stderr is kept. Cut at a byte count, it began in the middle of a
// UTF-8 character when the program wrote non-ASCII text: the stray bytes showed up in
// last_error and the log as garbage.
TEST(CommandRunner, StderrTailStartsAtACharacter) {
    TempDir dir;
    std::string ellipses;
    for (int i = 0; i < 400; ++i) ellipses += "\xe2\x80\xa6";  // 1200 bytes: 1024 falls inside one
    auto prog = script(dir, "chatty.sh", "cat >/dev/null\nprintf '%s' '" + ellipses + "' >&2\n");
    auto r = run_program(prog, "x", {}, 10s);
    EXPECT_TRUE(r.success()) << r.error;
    ASSERT_FALSE(r.stderr_tail.empty());
    EXPECT_LE(r.stderr_tail.size(), 1024u);
    EXPECT_GE(r.stderr_tail.size(), 1022u);
    EXPECT_EQ(r.stderr_tail.size() % 3, 0u) << "starts inside a character";
    EXPECT_EQ(r.stderr_tail, ellipses.substr(ellipses.size() - r.stderr_tail.size()));
}

TEST(CommandRunner, TimeoutKillsTheProcessGroup) {
    TempDir dir;
    std::string marker = dir.file("late");
    // The child starts a grandchild that would write the marker later: both must die.
    auto prog = script(dir, "slow.sh", "(sleep 2; touch " + marker + ") &\nsleep 30\n");
    auto started = std::chrono::steady_clock::now();
    auto r = run_program(prog, "", {}, 300ms);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    EXPECT_TRUE(r.timed_out);
    EXPECT_FALSE(r.success());
    EXPECT_NE(r.error.find("killed after 300 ms"), std::string::npos) << r.error;
    ::sleep(3);
    EXPECT_FALSE(::access(marker.c_str(), F_OK) == 0) << "the grandchild survived the timeout";
}

TEST(CommandRunner, EnvironmentHasNoChurnwatchSecretsButTheAlertVariables) {
    TempDir dir;
    std::string out = dir.file("env");
    auto prog = script(dir, "env.sh", "env > " + out + "\n");
    ::setenv("CHURNWATCH_ALERT_SECRET", "whsec_c2VjcmV0", 1);
    ::setenv("CHURNWATCH_TEST_VISIBLE_OTHER", "no", 1);
    ::setenv("SOME_OTHER_VAR", "kept", 1);
    auto r = run_program(prog, "", {{"CHURNWATCH_ALERT_ID", "msg_1"}}, 10s);
    ::unsetenv("CHURNWATCH_ALERT_SECRET");
    ::unsetenv("CHURNWATCH_TEST_VISIBLE_OTHER");
    ::unsetenv("SOME_OTHER_VAR");
    ASSERT_TRUE(r.success()) << r.error;
    std::string env = read_file(out);
    EXPECT_EQ(env.find("whsec_"), std::string::npos) << env;
    EXPECT_EQ(env.find("CHURNWATCH_TEST_VISIBLE_OTHER"), std::string::npos);
    EXPECT_NE(env.find("SOME_OTHER_VAR=kept"), std::string::npos);
    EXPECT_NE(env.find("CHURNWATCH_ALERT_ID=msg_1"), std::string::npos);
}

// A descriptor of ours without close-on-exec (Asio's sockets are like that: the listening
// socket, client connections) must not reach the program, nor anything it leaves running.
TEST(CommandRunner, TheProgramGetsNoDescriptorOfOursButItsPipes) {
    TempDir dir;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);  // inheritable
    auto prog = script(dir, "fds.sh", "cat >/dev/null\nls /proc/self/fd >&2\nexit 1\n");
    auto r = run_program(prog, "x", {}, 10s);
    ::close(fds[0]);
    ::close(fds[1]);
    ASSERT_TRUE(r.started) << r.error;
    // ls lists 0, 1, 2 and the descriptor it reads /proc/self/fd with (3).
    EXPECT_EQ(r.stderr_tail, "0\n1\n2\n3\n");
}

TEST(CommandRunner, ProgramThatIgnoresStdinDoesNotHurtUs) {
    TempDir dir;
    auto prog = script(dir, "deaf.sh", "exit 0\n");
    // Far more than a pipe holds: our write hits EPIPE (and SIGPIPE, which must not kill us).
    auto r = run_program(prog, std::string(1 << 20, 'x'), {}, 10s);
    EXPECT_TRUE(r.success()) << r.error;
}

TEST(CommandRunner, MissingProgramIsAnError) {
    auto r = run_program("/nonexistent/churnwatch-hook", "x", {}, 1s);
    EXPECT_FALSE(r.started);
    EXPECT_FALSE(r.success());
    EXPECT_NE(r.error.find("cannot run"), std::string::npos) << r.error;
}

TEST(CommandRunner, CancellationKillsItPromptly) {
    TempDir dir;
    auto prog = script(dir, "forever.sh", "sleep 30\n");
    auto started = std::chrono::steady_clock::now();
    auto r = run_program(prog, "", {}, 30s, [&] { return std::chrono::steady_clock::now() - started > 200ms; });
    EXPECT_TRUE(r.cancelled);
    EXPECT_FALSE(r.success());
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

}  // namespace
