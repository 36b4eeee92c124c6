#include "command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "utf8_text.h"

extern char** environ;

namespace churnwatch {

namespace {

constexpr std::size_t kStderrTail = 1024;

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
        if (std::strncmp(*e, "CHURNWATCH_", 11) == 0) continue;
        env.emplace_back(*e);
    }
    for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
    return env;
}

}  // namespace

ProgramRun run_program(const std::string& path, const std::string& input,
                       const std::vector<std::pair<std::string, std::string>>& extra_env,
                       std::chrono::milliseconds timeout, const std::function<bool()>& cancelled) {
    ProgramRun r;
    int in[2] = {-1, -1}, err[2] = {-1, -1};
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
        r.error = std::string("pipe: ") + std::strerror(errno);
        close_fd(in[0]), close_fd(in[1]), close_fd(err[0]), close_fd(err[1]);
        return r;
    }
    // Everything the child needs is built before spawning: nothing allocates in between.
    std::vector<std::string> env = child_environment(extra_env);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string prog = path;
    char* argv[] = {prog.data(), nullptr};

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    // Nothing else of ours: without this the child (and anything it leaves running) held the
    // listening socket and open client connections, which kept the port taken after we
    // stopped (a restart failed with "Address already in use"). Asio does not open sockets
    // close-on-exec, so this is the one place that guarantees it.
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, prog.c_str(), &fa, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close_fd(in[0]);
    close_fd(err[1]);
    if (rc != 0) {
        r.error = "cannot run " + path + ": " + std::strerror(rc);
        close_fd(in[1]);
        close_fd(err[0]);
        return r;
    }
    r.started = true;
    ::fcntl(in[1], F_SETFL, O_NONBLOCK);
    ::fcntl(err[0], F_SETFL, O_NONBLOCK);
    if (input.empty()) close_fd(in[1]);

    // A program that exits without reading its stdin makes our write fail with EPIPE and
    // raise SIGPIPE, which would kill the whole service: keep it blocked while we write and
    // discard it afterwards.
    sigset_t pipe_set, old_mask;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);

    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t written = 0;
    int status = 0;
    bool reaped = false;
    auto read_stderr = [&] {
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(err[0], buf, sizeof buf);
            if (n > 0) {
                r.stderr_tail.append(buf, static_cast<std::size_t>(n));
                // Cut at a character: the continuation bytes of one whose start was cut off
                // would read as garbage.
                if (r.stderr_tail.size() > kStderrTail)
                    r.stderr_tail = std::string(utf8::tail_bytes(r.stderr_tail, kStderrTail));
                continue;
            }
            if (n == 0) close_fd(err[0]);
            return;  // EOF, EAGAIN or an error: nothing more now
        }
    };
    while (!reaped) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            reaped = true;
            break;
        }
        bool cancel = cancelled && cancelled();
        if (cancel || std::chrono::steady_clock::now() >= deadline) {
            (cancel ? r.cancelled : r.timed_out) = true;
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            reaped = true;
            break;
        }
        pollfd fds[2];
        nfds_t n = 0;
        if (in[1] >= 0) fds[n++] = {in[1], POLLOUT, 0};
        if (err[0] >= 0) fds[n++] = {err[0], POLLIN, 0};
        ::poll(fds, n, 20);
        if (in[1] >= 0) {
            ssize_t w = ::write(in[1], input.data() + written, input.size() - written);
            if (w > 0) written += static_cast<std::size_t>(w);
            if (written == input.size() || (w < 0 && errno != EAGAIN && errno != EINTR)) close_fd(in[1]);
        }
        if (err[0] >= 0) read_stderr();
    }
    if (err[0] >= 0) read_stderr();  // what it wrote before exiting; never wait for more
    close_fd(in[1]);
    close_fd(err[0]);
    timespec zero{0, 0};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    if (r.timed_out) {
        r.error = "killed after " + std::to_string(timeout.count()) + " ms";
    } else if (r.cancelled) {
        r.error = "cancelled";
    } else if (WIFEXITED(status)) {
        r.exited = true;
        r.exit_code = WEXITSTATUS(status);
        if (r.exit_code != 0) r.error = "exited with status " + std::to_string(r.exit_code);
    } else {
        r.error = std::string("killed by signal ") + ::strsignal(r.signal);
    }
    return r;
}

}  // namespace churnwatch
