// One server per database: the lock is exclusive, names its holder, follows symbolic links,
// and is free again once its holder is gone.
#include "instance_lock.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

TEST(InstanceLock, ASecondHolderIsRefusedWithTheFirstOnesPid) {
    TempDir dir;
    const std::string db = dir.file("a.db");
    std::string error;
    auto first = InstanceLock::acquire(db, error);
    ASSERT_TRUE(first) << error;
    EXPECT_EQ(first->path(), std::filesystem::weakly_canonical(db).string() + ".lock");
    // flock belongs to the open file description: a second acquire in this process conflicts
    // like another process's would.
    EXPECT_FALSE(InstanceLock::acquire(db, error));
    EXPECT_EQ(error, "another churnwatch serve (pid " + std::to_string(::getpid()) + ") is running on " + db +
                         " (it holds " + first->path() + "): one server per database");
}

TEST(InstanceLock, ALinkToTheDatabaseIsTheSameDatabase) {
    TempDir dir;
    const std::string db = dir.file("a.db");
    std::ofstream(db) << "";
    std::filesystem::create_symlink(db, dir.file("link.db"));
    std::string error;
    auto first = InstanceLock::acquire(dir.file("link.db"), error);
    ASSERT_TRUE(first) << error;
    EXPECT_FALSE(InstanceLock::acquire(db, error));
    EXPECT_FALSE(InstanceLock::acquire(dir.file("./a.db"), error));
    EXPECT_TRUE(InstanceLock::acquire(dir.file("b.db"), error)) << error;
}

TEST(InstanceLock, ReleasedWhenItsHolderEndsOrDies) {
    TempDir dir;
    const std::string db = dir.file("a.db");
    std::string error;
    {
        auto first = InstanceLock::acquire(db, error);
        ASSERT_TRUE(first) << error;
        auto moved = std::move(*first);
        first.reset();  // the moved-from lock releases nothing
        EXPECT_FALSE(InstanceLock::acquire(db, error));
    }
    EXPECT_TRUE(InstanceLock::acquire(db, error)) << error;
    // A holder killed outright leaves its file, which locks nothing.
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::string e;
        auto held = InstanceLock::acquire(db, e);
        const char c = held ? '1' : '0';
        (void)!::write(ready[1], &c, 1);
        ::pause();
        ::_exit(0);
    }
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ASSERT_EQ(c, '1');
    EXPECT_FALSE(InstanceLock::acquire(db, error));
    EXPECT_NE(error.find("(pid " + std::to_string(child) + ")"), std::string::npos) << error;
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(ready[0]);
    ::close(ready[1]);
    EXPECT_TRUE(InstanceLock::acquire(db, error)) << error;
}

// The error InstanceLock::acquire gives uid/gid 65534 (nobody) for `db`, from a child
// process (root switches user there); "child failed" when it could not run.
std::string acquire_as_nobody(const std::string& db) {
    int out[2];
    if (::pipe(out) != 0) return "child failed";
    pid_t child = ::fork();
    if (child < 0) return "child failed";
    if (child == 0) {
        std::string e;
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
        (void)!InstanceLock::acquire(db, e);
        (void)!::write(out[1], e.data(), e.size());
        ::_exit(0);
    }
    ::close(out[1]);
    std::string got;
    char buf[512];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    ::close(out[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? got : "child failed";
}

// A lock file another user left (a run as root before the service's own user): the message
// says it exists and who must be able to write it, not that it could not be created.
TEST(InstanceLock, ALockFileThisUserCannotOpenSaysWhose) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to leave a file another user cannot open";
    TempDir dir;
    ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
    const std::string db = dir.file("a.db");
    std::string error;
    ASSERT_TRUE(InstanceLock::acquire(db, error)) << error;  // left behind, root's, 0640
    const std::string got = acquire_as_nobody(db);
    EXPECT_EQ(got, "cannot open the lock file " + std::filesystem::weakly_canonical(db).string() +
                       ".lock (it exists; it must be writable by uid 65534, which runs serve): Permission denied");
}

// A directory the service's user cannot write (a bind mount owned by root): the message names
// the directory and the uid that must be able to write it.
TEST(InstanceLock, ADirectoryThisUserCannotWriteSaysWhose) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to another user";
    TempDir dir;
    ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);  // root's, not writable by others
    const std::string db = dir.file("a.db");
    const std::string got = acquire_as_nobody(db);
    const std::string real = std::filesystem::weakly_canonical(db).string();
    EXPECT_EQ(got, "cannot create the lock file " + real + ".lock (directory " +
                       std::filesystem::path(real).parent_path().string() +
                       " is not writable by uid 65534, which runs serve; SQLite's -wal and -shm files go"
                       " there too): Permission denied");
}

TEST(InstanceLock, ADirectoryThatIsNotThereSaysSo) {
    TempDir dir;
    std::string error;
    EXPECT_FALSE(InstanceLock::acquire(dir.file("missing/a.db"), error));
    EXPECT_NE(error.find("cannot create the lock file "), std::string::npos) << error;
    EXPECT_NE(error.find("the directory " + dir.file("missing") + " does not exist"), std::string::npos)
        << error;
}

}  // namespace
