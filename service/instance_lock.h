// One `churnwatch serve` per database. Two servers on one file each hand out delivery ids
// from their own memory: the first one's next insert then meets an id the second used, and
// it answered 503 to every delivery until restarted, while /readyz said ready and both sent
// every alert. `serve` holds an exclusive flock(2) on "<database>.lock" for its lifetime; a
// second one is refused at start with the first one's pid.
//
// A lock file of its own rather than the database file: SQLite's locks are POSIX record
// locks, which a process loses on the database file when it closes any descriptor of it.
// The lock goes with the process (crash, SIGKILL included): a stale file locks nothing.
// The other commands (rebuild, report, quarantine, alerts) work beside a running server and
// take no lock.
#pragma once

#include <optional>
#include <string>

namespace churnwatch {

class InstanceLock {
public:
    // The lock for the database at db_path (symbolic links resolved, so two paths to one
    // file share it). nullopt with error set when another process holds it, or the lock file
    // cannot be created (error says why).
    static std::optional<InstanceLock> acquire(const std::string& db_path, std::string& error);

    InstanceLock(InstanceLock&& other) noexcept;
    InstanceLock& operator=(InstanceLock&&) = delete;
    InstanceLock(const InstanceLock&) = delete;
    ~InstanceLock();  // releases it (the file stays: removing it would race a new holder)

    const std::string& path() const { return path_; }

private:
    InstanceLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_ = -1;
    std::string path_;
};

// "<database>.lock" for a database path, after resolving symbolic links where they exist.
std::string instance_lock_path(const std::string& db_path);

}  // namespace churnwatch
