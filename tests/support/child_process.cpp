#include "child_process.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace churnwatch::test {

ExecImage::ExecImage(std::vector<std::string> args, const std::map<std::string, std::string>& env)
    : args_(std::move(args)) {
    for (char** e = environ; e && *e; ++e) {
        const std::string entry(*e);
        const std::string name = entry.substr(0, entry.find('='));
        if (!env.count(name)) env_.push_back(entry);
    }
    for (const auto& [k, v] : env) env_.push_back(k + "=" + v);
    for (auto& a : args_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
    for (auto& e : env_) envp_.push_back(e.data());
    envp_.push_back(nullptr);
}

void ExecImage::exec() const noexcept {
    ::execve(argv_[0], argv_.data(), envp_.data());
    static const char kFailed[] = "exec failed: the program could not be started\n";
    [[maybe_unused]] const ssize_t n = ::write(2, kFailed, sizeof kFailed - 1);
    ::_exit(127);
}

namespace {

std::string read_small(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string status_line(const std::string& status, const std::string& key) {
    std::istringstream in(status);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key + ":", 0) == 0) return line;
    return key + ": ?";
}

}  // namespace

std::string describe_stuck_process(pid_t pid) {
    namespace fs = std::filesystem;
    const std::string proc = "/proc/" + std::to_string(pid);
    std::ostringstream out;
    std::error_code ec;
    out << "pid " << pid << ": exe " << fs::read_symlink(proc + "/exe", ec).string() << "; "
        << status_line(read_small(proc + "/status"), "State") << "; wchan " << read_small(proc + "/wchan")
        << "\nthreads:";
    for (const auto& t : fs::directory_iterator(proc + "/task", ec)) {
        std::string comm = read_small(t.path().string() + "/comm");
        if (!comm.empty() && comm.back() == '\n') comm.pop_back();
        out << " " << t.path().filename().string() << "(" << comm << ", "
            << status_line(read_small(t.path().string() + "/status"), "State").substr(7) << ")";
    }
    out << "\n";
    if (::access("/usr/bin/gdb", X_OK) == 0) {
        const std::string cmd = "timeout 15 /usr/bin/gdb -p " + std::to_string(pid) +
                                " -batch -nx -ex 'thread apply all bt 30' 2>&1";
        if (std::FILE* p = ::popen(cmd.c_str(), "r")) {
            std::array<char, 4096> buf;
            std::string bt;
            while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) bt.append(buf.data(), n);
            ::pclose(p);
            if (bt.size() > 30000) bt = bt.substr(0, 30000) + "\n[cut]";
            out << "gdb:\n" << bt;
        }
    }
    return out.str();
}

}  // namespace churnwatch::test
