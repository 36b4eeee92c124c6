// deploy/: the systemd unit passes `systemd-analyze verify` (with ExecStart pointed at the
// built binary, since verify insists the binary exists) and keeps its hardening; the
// Dockerfile keeps its shape (docker itself cannot run here).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

#include "child_process.h"
#include "config.h"
#include "test_support.h"

using namespace churnwatch::test;

namespace {

const std::string kSourceDir = std::string(CHURNWATCH_TEST_DATA) + "/../..";

std::string find_program(const std::string& name) {
    for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin"}) {
        std::string p = std::string(dir) + "/" + name;
        if (::access(p.c_str(), X_OK) == 0) return p;
    }
    return "";
}

struct Run {
    int code = -1;
    std::string output;  // stdout and stderr together
};

Run run(const std::vector<std::string>& argv, const std::string& dir) {
    std::string out = dir + "/run.out";
    const ExecImage image(argv);  // before the fork (child_process.h)
    pid_t pid = ::fork();
    if (pid == 0) {
        int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        image.exec();
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, read_file(out)};
}

// [Service] (etc.) key → values, in order; "X=" lines keep an empty value.
std::multimap<std::string, std::string> directives(const std::string& unit) {
    std::multimap<std::string, std::string> out;
    std::istringstream in(unit);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        out.emplace(line.substr(0, eq), line.substr(eq + 1));
    }
    return out;
}

std::string one(const std::multimap<std::string, std::string>& d, const std::string& key) {
    auto [b, e] = d.equal_range(key);
    if (b == e) return "<missing>";
    std::string v = b->second;
    for (auto it = std::next(b); it != e; ++it) v += "\n" + it->second;
    return v;
}

std::string unit_text() {
    return read_file(kSourceDir + "/deploy/churnwatch.service");
}

// Run by hand under the usual umask 022 (scripts/serve.sh, a shell), the database and its WAL
// and shared memory were created 0644: every raw delivery, customers' emails included,
// readable by every user of the machine. churnwatch now clears the umask's bits for others.
TEST(Files, TheDatabaseIsNotReadableByOtherUsers) {
    TempDir dir;
    const mode_t saved = ::umask(022);
    ServerProcess server(dir);
    ::umask(saved);
    ASSERT_EQ(post_webhook(server.port(), "/webhooks/recharge/customer/deactivated",
                           example_payload("customer_deactivated.2021-11.json")).status, 200);
    for (const std::string& file : {server.db(), server.db() + "-wal", server.db() + "-shm"}) {
        struct stat st {};
        ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
        EXPECT_EQ(st.st_mode & 0007, 0u) << file << " mode " << std::oct << (st.st_mode & 0777);
        EXPECT_EQ(st.st_mode & 0060, 0040u) << file << ": the group keeps what the umask gives it";
    }
    EXPECT_EQ(server.stop(), 0);
}

TEST(SystemdUnit, PassesSystemdAnalyzeVerify) {
    std::string analyze = find_program("systemd-analyze");
    if (analyze.empty())
        GTEST_SKIP() << "systemd-analyze is not installed (Debian package systemd)";
    std::string unit = unit_text();
    auto d = directives(unit);
    std::string exec = one(d, "ExecStart");
    std::string binary = exec.substr(0, exec.find(' '));
    ASSERT_EQ(binary, "/usr/local/bin/churnwatch");
    // verify refuses a unit whose ExecStart binary does not exist: point it at the built one.
    std::string copy = unit;
    for (std::size_t at; (at = copy.find("ExecStart=" + binary)) != std::string::npos;)
        copy.replace(at, 10 + binary.size(), std::string("ExecStart=") + CHURNWATCH_BIN);
    TempDir dir;
    write_file(dir.file("churnwatch.service"), copy);
    auto r = run({analyze, "verify", "--man=no", dir.file("churnwatch.service")}, dir.path());
    EXPECT_EQ(r.code, 0) << r.output;
    // verify only warns (exit 0) on unknown keys and unparsable values: any line about our
    // unit is a failure.
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
        EXPECT_EQ(line.find("churnwatch"), std::string::npos) << line;
    }
    // And the check has teeth: a misspelt directive is reported.
    write_file(dir.file("churnwatch.service"), copy + "\n[Service]\nProtectSystm=strict\n");
    auto bad = run({analyze, "verify", "--man=no", dir.file("churnwatch.service")}, dir.path());
    EXPECT_NE(bad.output.find("ProtectSystm"), std::string::npos) << bad.output;
}

TEST(SystemdUnit, IsHardened) {
    auto d = directives(unit_text());
    EXPECT_TRUE(one(d, "DynamicUser") == "yes" || one(d, "User") == "churnwatch");
    EXPECT_EQ(one(d, "StateDirectory"), "churnwatch");
    EXPECT_NE(one(d, "Environment").find("CHURNWATCH_DB=/var/lib/churnwatch/"), std::string::npos);
    EXPECT_EQ(one(d, "ProtectSystem"), "strict");
    EXPECT_EQ(one(d, "ProtectHome"), "yes");
    EXPECT_EQ(one(d, "PrivateTmp"), "yes");
    EXPECT_EQ(one(d, "NoNewPrivileges"), "yes");
    EXPECT_EQ(one(d, "CapabilityBoundingSet"), "");
    EXPECT_EQ(one(d, "RestrictAddressFamilies"), "AF_INET AF_INET6 AF_UNIX");
    EXPECT_EQ(one(d, "SystemCallFilter").substr(0, 15), "@system-service");
    EXPECT_EQ(one(d, "Restart"), "on-failure");
    EXPECT_NE(one(d, "EnvironmentFile"), "<missing>");
    EXPECT_EQ(one(d, "KillSignal"), "SIGTERM");
    // The server drains for up to 10 s (ServerOptions::drain_timeout), then gives its last
    // writes stop-grace before it exits 1 by itself: systemd must wait longer than both, or
    // its SIGKILL comes first and the `forced` line that says why never does.
    const churnwatch::OptionSpec* grace = churnwatch::find_option("stop-grace");
    ASSERT_NE(grace, nullptr);
    ASSERT_NE(grace->default_value, nullptr);
    EXPECT_GT(std::stoi(one(d, "TimeoutStopSec")), 10 + std::stoi(grace->default_value));
    EXPECT_EQ(one(d, "ExecStart").find("--secret"), std::string::npos)
        << "secrets belong in EnvironmentFile";
}

TEST(Dockerfile, IsMultiStageNonRootWithVolumeAndHealthcheck) {
    std::string f = read_file(kSourceDir + "/deploy/Dockerfile");
    std::size_t from = 0, at = 0;
    while ((at = f.find("\nFROM debian:12", at)) != std::string::npos) ++from, ++at;
    EXPECT_EQ(from, 2u) << "a build stage and a runtime stage, both on debian:12";
    EXPECT_NE(f.find("cmake --build"), std::string::npos);
    EXPECT_NE(f.find("COPY --from=build"), std::string::npos);
    EXPECT_NE(f.find("\nUSER "), std::string::npos);
    EXPECT_EQ(f.find("\nUSER root"), std::string::npos);
    EXPECT_NE(f.find("\nVOLUME "), std::string::npos);
    EXPECT_NE(f.find("\nHEALTHCHECK "), std::string::npos);
    EXPECT_NE(f.find("/healthz"), std::string::npos);
    EXPECT_NE(f.find("STOPSIGNAL SIGTERM"), std::string::npos);
}

}  // namespace

namespace {

std::string dockerfile() { return read_file(kSourceDir + "/deploy/Dockerfile"); }

// The lines of a file that are not comments or blank, trimmed.
std::vector<std::string> content_lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const auto b = line.find_first_not_of(" \t");
        if (b == std::string::npos || line[b] == '#') continue;
        const auto e = line.find_last_not_of(" \t\r");
        out.push_back(line.substr(b, e - b + 1));
    }
    return out;
}

}  // namespace

// Found running the image: with TLS, the plain-HTTP probe left the container unhealthy (and
// logged tls_handshake_failed every 30 s). The probe follows CHURNWATCH_LISTEN's port and
// CHURNWATCH_TLS_CERT's scheme.
TEST(Dockerfile, HealthCheckFollowsTheListenPortAndTls) {
    const std::string f = dockerfile();
    std::size_t at = f.find("\nHEALTHCHECK ");
    ASSERT_NE(at, std::string::npos);
    std::string check;  // the instruction with its continuation lines
    for (std::size_t pos = at + 1; pos < f.size();) {
        const std::size_t end = std::min(f.find('\n', pos), f.size());
        const std::string line = f.substr(pos, end - pos);
        check += line + "\n";
        if (line.empty() || line.back() != '\\') break;
        pos = end + 1;
    }
    EXPECT_NE(check.find("${CHURNWATCH_LISTEN##*:}"), std::string::npos) << check;
    EXPECT_NE(check.find("$CHURNWATCH_TLS_CERT"), std::string::npos) << check;
    EXPECT_NE(check.find("https"), std::string::npos) << check;
}

// The image has no .git: the commit comes from a build argument (else every image said
// "unknown", and two could not be told apart in a rollback).
TEST(Dockerfile, PassesTheCommitToCMake) {
    const std::string f = dockerfile();
    EXPECT_NE(f.find("\nARG BUILD_COMMIT"), std::string::npos);
    EXPECT_NE(f.find("-DCHURNWATCH_COMMIT=\"$BUILD_COMMIT\""), std::string::npos);
}

// The build context is what the build stage copies and nothing more: without .dockerignore
// a developer's checkout sent build/ (gigabytes) and .git to the daemon on every build.
TEST(Dockerfile, BuildContextIsWhatTheBuildStageCopies) {
    const auto ignore = content_lines(read_file(kSourceDir + "/.dockerignore"));
    ASSERT_FALSE(ignore.empty());
    EXPECT_EQ(ignore.front(), "*") << "everything excluded, then each source let through";
    std::vector<std::string> copied;
    for (const auto& line : content_lines(dockerfile())) {
        if (line.rfind("COPY ", 0) != 0 || line.rfind("COPY --", 0) == 0) continue;
        std::istringstream words(line.substr(5));
        std::string source;
        words >> source;
        copied.push_back(source);
        EXPECT_NE(std::find(ignore.begin(), ignore.end(), "!" + source), ignore.end())
            << source << " is copied but not let through by .dockerignore";
    }
    EXPECT_FALSE(copied.empty());
    EXPECT_EQ(ignore.size(), copied.size() + 1) << "only the copied sources are let through";
}
