#include "instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace churnwatch {

std::string instance_lock_path(const std::string& db_path) {
    std::error_code ec;
    std::filesystem::path p = std::filesystem::weakly_canonical(db_path, ec);
    if (ec || p.empty()) p = db_path;
    return p.string() + ".lock";
}

std::optional<InstanceLock> InstanceLock::acquire(const std::string& db_path, std::string& error) {
    const std::string path = instance_lock_path(db_path);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        const int e = errno;
        // It stays after a stop: one left by another user (a run as root before the service's
        // own user) is refused to this one.
        const std::string dir = std::filesystem::path(path).parent_path().string();
        std::error_code ec;
        if (e == ENOENT && !dir.empty() && !std::filesystem::is_directory(dir, ec)) {
            // The first thing serve writes beside --db: say what is missing.
            error = "cannot create the lock file " + path + ": the directory " + dir +
                    " does not exist (create it, or choose another --db)";
            return std::nullopt;
        }
        error = ::access(path.c_str(), F_OK) == 0
                    ? "cannot open the lock file " + path + " (it exists; it must be writable by uid " +
                          std::to_string(::geteuid()) + ", which runs serve): " + std::strerror(e)
                    : e == EACCES || e == EPERM || e == EROFS
                    // The first file serve creates beside --db: the database's -wal and -shm
                    // files need the same (a bind mount owned by root, a read-only volume).
                    ? "cannot create the lock file " + path + " (directory " + dir +
                          " is not writable by uid " + std::to_string(::geteuid()) +
                          ", which runs serve; SQLite's -wal and -shm files go there too): " +
                          std::strerror(e)
                    : "cannot create the lock file " + path + ": " + std::strerror(e);
        return std::nullopt;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        std::string holder;
        char buf[32] = {};
        const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            std::string_view text(buf, static_cast<std::size_t>(n));
            while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
            if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos)
                holder = " (pid " + std::string(text) + ")";
        }
        ::close(fd);
        error = e == EWOULDBLOCK
                    ? "another churnwatch serve" + holder + " is running on " + db_path +
                          " (it holds " + path + "): one server per database"
                    : "cannot lock " + path + ": " + std::strerror(e);
        return std::nullopt;
    }
    // The holder's pid, for the refusal above and for an operator looking at the file.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // Only the message loses the pid; the lock holds.
    }
    return InstanceLock(fd, path);
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
}

InstanceLock::~InstanceLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace churnwatch
