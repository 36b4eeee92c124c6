// churnwatch: a Recharge webhook consumer and churn detector. Dispatches subcommands.
#include <malloc.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"
#include "config.h"

using namespace churnwatch;

namespace {

int unexpected_argument(const CommandSpec& spec, const std::string& arg) {
    std::fprintf(stderr, "churnwatch %s: unexpected argument '%s' (usage: %s)\n", spec.name,
                 arg.c_str(), first_usage(spec).c_str());
    return 2;
}

// `churnwatch help [COMMAND]`; `help config check` (the command's name in the list) and
// `help alerts retry` name a command by its action too.
int help_command(const std::vector<std::string>& args) {
    for (const auto& a : args) {
        if (a == "--help" || a == "-h") {
            std::fputs(command_help(*find_command("help")).c_str(), stdout);
            return 0;
        }
    }
    if (args.empty()) {
        std::fputs(general_help().c_str(), stdout);
        return 0;
    }
    const CommandSpec* spec = find_command(args[0]);
    if (!spec) {
        std::fprintf(stderr, "churnwatch help: unknown command '%s' (try 'churnwatch help')\n",
                     args[0].c_str());
        return 2;
    }
    std::size_t used = 1;
    if (args.size() > 1) {
        for (const char* action : spec->actions)
            if (args[1] == action) used = 2;
    }
    if (args.size() > used) {
        return unexpected_argument(*find_command("help"), args[used]);
    }
    std::fputs(command_help(*spec).c_str(), stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // Keep freed memory in the process instead of trimming it back to the kernel after every
    // large free: on the writer thread each trim was an madvise with cross-CPU TLB
    // shootdowns and the next allocation page-faulted it back in — about a third of the
    // writer's time under load. The cost is a few MB of retained heap.
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 4 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    // The database holds every raw delivery, customers' emails among them: whatever the
    // caller's umask, files churnwatch creates (the database, its WAL and shared memory) are
    // not for other users. The group keeps what the umask gives it (analysts' sqlite3 as
    // the service's group; systemd's unit sets UMask=0027).
    const mode_t mask = ::umask(0);
    ::umask(mask | S_IRWXO);
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::fputs(general_help().c_str(), stderr);
        return 2;
    }
    std::string command = args.front();
    args.erase(args.begin());
    if (command == "help" || command == "--help" || command == "-h") return help_command(args);
    if (command == "--version") command = "version";
    const CommandSpec* spec = find_command(command);
    if (!spec) {
        std::fprintf(stderr, "churnwatch: unknown command '%s' (try 'churnwatch help')\n", command.c_str());
        return 2;
    }
    for (const auto& a : args) {
        if (a == "--help" || a == "-h") {
            std::fputs(command_help(*spec).c_str(), stdout);
            return 0;
        }
    }
    if (command == "version") {
        if (!args.empty()) return unexpected_argument(*spec, args.front());
        std::printf("churnwatch %s\n", CHURNWATCH_VERSION);
        return 0;
    }
    if (command == "config") return config_command(args);

    std::string error;
    auto config = Config::load(args, error);
    if (!config) {
        std::fprintf(stderr, "churnwatch %s: %s\n", command.c_str(), error.c_str());
        return 2;
    }
    // A stray word (`report --db X junk`, `serve -v`) used to be ignored. Commands with
    // actions (alerts, quarantine) check their own positional arguments.
    if (spec->actions.empty() && !config->positional().empty())
        return unexpected_argument(*spec, config->positional().front());
    if (command == "serve") return serve_command(*config);
    if (command == "rebuild") return rebuild_command(*config);
    if (command == "report") return report_command(*config);
    if (command == "alerts") return alerts_command(*config);
    if (command == "send-test") return send_test_command(*config);
    if (command == "quarantine") return quarantine_command(*config);
    std::fprintf(stderr, "churnwatch: unknown command '%s' (try 'churnwatch help')\n", command.c_str());
    return 2;
}
