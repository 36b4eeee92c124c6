// Runs a local program with bytes on its stdin, bounded in time: the command alert hook.
// posix_spawn (safe in a threaded process), own process group (a timeout kills the whole
// group, grandchildren included), default signal dispositions, no descriptor of ours but
// stdin and stderr (a pipe each), stdout discarded, the tail
// of stderr kept for the outbox's last_error. The child's environment is ours minus every
// CHURNWATCH_* variable (they hold secrets), plus the variables the caller adds.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace churnwatch {

struct ProgramRun {
    bool started = false;   // the program was spawned
    bool exited = false;    // it exited by itself (exit_code valid)
    int exit_code = -1;
    int signal = 0;         // the signal that ended it (ours after a timeout: SIGKILL)
    bool timed_out = false;
    bool cancelled = false;
    std::string stderr_tail;  // its last stderr bytes (at most 1 KiB, from a UTF-8 character's start)
    std::string error;        // why it could not be run or did not finish cleanly
    bool success() const { return exited && exit_code == 0; }
};

ProgramRun run_program(const std::string& path, const std::string& input,
                       const std::vector<std::pair<std::string, std::string>>& extra_env,
                       std::chrono::milliseconds timeout,
                       const std::function<bool()>& cancelled = {});

}  // namespace churnwatch
