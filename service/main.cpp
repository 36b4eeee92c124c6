// churnwatch: a Recharge webhook consumer and churn detector. Dispatches subcommands.
#include <malloc.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "config.h"

using namespace churnwatch;

namespace {

void print_usage(std::FILE* out) {
    std::fprintf(out,
                 "churnwatch %s — Recharge webhook consumer and churn detector\n\n"
                 "Usage: churnwatch COMMAND [OPTIONS]\n\n"
                 "Commands:\n"
                 "  serve          receive, verify and store webhooks; apply the churn rules\n"
                 "  rebuild        recompute all churn tables from the stored deliveries\n"
                 "  report         monthly churn, reasons and cohort retention\n"
                 "  alerts         list [--status S] | retry ID…|--all-dead: the alert outbox\n"
                 "  config check   validate configuration and print the effective settings\n"
                 "  send-test      send one signed example delivery (--url --secret --topic)\n"
                 "  quarantine     list | show ID | replay ID…|all: inspect and replay quarantined deliveries\n"
                 "  help           this text\n"
                 "  version        the version\n\n"
                 "Options (flags > environment > config file; every option can be a config key):\n",
                 CHURNWATCH_VERSION);
    for (const auto& o : option_specs()) {
        std::string flag = std::string("--") + o.name;
        if (*o.value_name) flag += std::string(" ") + o.value_name;
        std::string env = o.env ? o.env : "";
        if (env.empty()) {
            env = "CHURNWATCH_";
            for (const char* p = o.name; *p; ++p) env += *p == '-' ? '_' : static_cast<char>(std::toupper(*p));
        }
        std::fprintf(out, "  %-28s %s", flag.c_str(), o.help);
        if (o.default_value) std::fprintf(out, " [default: %s]", o.default_value);
        std::fprintf(out, " (env %s)\n", env.c_str());
    }
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
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        print_usage(stderr);
        return 2;
    }
    std::string command = args.front();
    args.erase(args.begin());
    if (command == "help" || command == "--help" || command == "-h") {
        print_usage(stdout);
        return 0;
    }
    if (command == "version" || command == "--version") {
        std::printf("churnwatch %s\n", CHURNWATCH_VERSION);
        return 0;
    }
    for (const auto& a : args) {
        if (a == "--help" || a == "-h") {
            print_usage(stdout);
            return 0;
        }
    }
    if (command == "config") return config_command(args);

    std::string error;
    auto config = Config::load(args, error);
    if (!config) {
        std::fprintf(stderr, "churnwatch %s: %s\n", command.c_str(), error.c_str());
        return 2;
    }
    if (command == "serve") return serve_command(*config);
    if (command == "rebuild") return rebuild_command(*config);
    if (command == "report") return report_command(*config);
    if (command == "alerts") return alerts_command(*config);
    if (command == "send-test") return send_test_command(*config);
    if (command == "quarantine") return quarantine_command(*config);
    std::fprintf(stderr, "churnwatch: unknown command '%s' (try 'churnwatch help')\n", command.c_str());
    return 2;
}
