// Rebuild benchmark: fills a database with N synthetic deliveries (default 1,000,000) for
// ~N/10 customers, then times `churnwatch rebuild`. Prints last:
// rebuild events_per_s=N
//
// Usage: bench_rebuild --bin build/release/churnwatch [--deliveries 1000000] [--keep 1]
// --keep 1 leaves the filled database in place (its path is printed) for profiling.
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "bench_util.h"

using namespace churnwatch::bench;

namespace {

std::string arg(int argc, char** argv, const std::string& name, const std::string& def) {
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == "--" + name) return argv[i + 1];
    return def;
}

int run(std::vector<std::string> args) {
    std::vector<char*> argv;  // before the fork: the child makes only async-signal-safe calls
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::execv(argv[0], argv.data());
        std::_Exit(127);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

int main(int argc, char** argv) {
    std::string bin = arg(argc, argv, "bin", "build/release/churnwatch");
    uint64_t n = std::strtoull(arg(argc, argv, "deliveries", "1000000").c_str(), nullptr, 10);
    std::string dir = std::filesystem::temp_directory_path().string() + "/churnwatch-rebuild-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    std::string db = dir + "/rebuild.db";

    // An empty rebuild migrates the database: rebuild refuses a path where there is nothing,
    // but an empty file is an empty database.
    std::ofstream(db).close();
    if (run({bin, "rebuild", "--db", db}) != 0) return 1;
    sqlite3* h = nullptr;
    sqlite3_open(db.c_str(), &h);
    sqlite3_exec(h, "PRAGMA synchronous=OFF; BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* ins = nullptr;
    sqlite3_prepare_v2(h,
                       "INSERT INTO deliveries (received_at, topic, topic_source, signature_scheme, key_index,"
                       " dedupe_key, body, status) VALUES ('2026-11-23 00:00:00', ?, 'path', 'legacy', 0, ?, ?, 'accepted')",
                       -1, &ins, nullptr);
    auto fill_start = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; ++i) {
        std::string topic;
        std::string body = synthetic_delivery(i, n / 10 ? n / 10 : 1, topic);
        std::string key = "sha256:bench-" + std::to_string(i);
        sqlite3_bind_text(ins, 1, topic.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, key.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(ins, 3, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_exec(h, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(h);
    // The fill ran unsynced to be quick; a real database's deliveries have long been on disk.
    // Write them back now, so the timed rebuild does not pay for writing the fill.
    int fd = ::open(db.c_str(), O_RDONLY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
    double fill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();
    std::printf("filled %llu deliveries in %.1f s\n", (unsigned long long)n, fill_s);

    auto start = std::chrono::steady_clock::now();
    int rc = run({bin, "rebuild", "--db", db});
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (arg(argc, argv, "keep", "0") == "1") std::printf("kept %s\n", db.c_str());
    else std::filesystem::remove_all(dir);
    if (rc != 0) return 1;
    std::printf("rebuild took %.1f s\n", s);
    std::printf("rebuild events_per_s=%.0f\n", n / s);
    return 0;
}
