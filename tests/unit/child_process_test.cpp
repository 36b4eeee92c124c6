#include "child_process.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

using namespace churnwatch::test;

namespace {

// Runs the image with its stdout on a pipe; returns what it printed.
std::string output_of(const ExecImage& image) {
    int out[2];
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out[1], 1);
        image.exec();
    }
    ::close(out[1]);
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    ::close(out[0]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    return got;
}

}  // namespace

TEST(ExecImage, RunsTheProgramWithItsArgumentsAndTheEnvironmentPlusChanges) {
    ::setenv("CHURNWATCH_CHILD_TEST_KEPT", "kept", 1);
    ::setenv("CHURNWATCH_CHILD_TEST_REPLACED", "old", 1);
    const ExecImage image({"/usr/bin/env"}, {{"CHURNWATCH_CHILD_TEST_REPLACED", "new"},
                                             {"CHURNWATCH_CHILD_TEST_ADDED", "a b"}});
    const std::string env = output_of(image);
    EXPECT_NE(env.find("\nCHURNWATCH_CHILD_TEST_KEPT=kept\n"), std::string::npos) << env;
    EXPECT_NE(env.find("\nCHURNWATCH_CHILD_TEST_REPLACED=new\n"), std::string::npos) << env;
    EXPECT_EQ(env.find("CHURNWATCH_CHILD_TEST_REPLACED=old"), std::string::npos) << env;
    EXPECT_NE(env.find("\nCHURNWATCH_CHILD_TEST_ADDED=a b\n"), std::string::npos) << env;

    EXPECT_EQ(output_of(ExecImage({"/bin/echo", "one", "two words"})), "one two words\n");
}

TEST(ExecImage, AProgramThatCannotRunExits127) {
    const ExecImage image({"/nonexistent/program"});
    pid_t pid = ::fork();
    if (pid == 0) image.exec();
    int st = 0;
    ::waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 127);
}

TEST(DescribeStuckProcess, NamesTheProgramItsStateAndItsThreads) {
    const ExecImage image({"/bin/sleep", "30"});
    pid_t pid = ::fork();
    if (pid == 0) image.exec();
    // Once it runs sleep (not this test's copy of itself) and sleeps.
    const std::string sleep_exe = std::filesystem::canonical("/bin/sleep").string();
    const std::string proc = "/proc/" + std::to_string(pid);
    auto asleep = [&] {
        std::error_code ec;
        if (std::filesystem::read_symlink(proc + "/exe", ec).string() != sleep_exe) return false;
        std::ifstream stat(proc + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        const auto close = text.rfind(')');
        return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'S';
    };
    for (int i = 0; i < 500 && !asleep(); ++i) ::usleep(10000);
    const std::string text = describe_stuck_process(pid);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    EXPECT_NE(text.find("exe " + sleep_exe + ";"), std::string::npos) << text;
    EXPECT_NE(text.find("State:"), std::string::npos) << text;
    EXPECT_NE(text.find("threads: " + std::to_string(pid) + "(sleep, S"), std::string::npos) << text;
}
