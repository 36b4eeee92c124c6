// Starting the processes tests run (the churnwatch binary, a shell script), and saying where
// one that does not answer is stuck.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace churnwatch::test {

// A program, its arguments and its environment, made before fork(). Tests are
// multi-threaded (receivers, readers of a server's output): between fork() and exec the
// child may make only async-signal-safe calls, and a malloc there (setenv, building argv)
// can wait for ever on a lock another thread held at the fork. The child only calls exec().
class ExecImage {
public:
    // args[0] is the program's path. `env` is set in (or replaces entries of) this process's
    // environment as it is when the image is made.
    explicit ExecImage(std::vector<std::string> args, const std::map<std::string, std::string>& env = {});
    ExecImage(const ExecImage&) = delete;
    ExecImage& operator=(const ExecImage&) = delete;

    // In the child: execve(), or _exit(127) when that fails.
    [[noreturn]] void exec() const noexcept;

private:
    std::vector<std::string> args_, env_;
    std::vector<char*> argv_, envp_;
};

// For a child that did not do what a test waited for: its program, state, kernel wait
// channel and threads, and (where gdb is installed and may attach) every thread's stack.
// Bounded in time (gdb gets 15 s).
std::string describe_stuck_process(pid_t pid);

}  // namespace churnwatch::test
