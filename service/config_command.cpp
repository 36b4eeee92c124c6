// `churnwatch config check [FILE]`: validate configuration and print the effective settings
// (secrets masked), so an operator sees exactly what `serve` would use.
#include <cstdio>
#include <tuple>

#include "alert_config.h"
#include "commands.h"

namespace churnwatch {

int config_command(const std::vector<std::string>& args) {
    if (args.empty() || args[0] != "check") {
        std::fprintf(stderr, "usage: churnwatch config check [FILE] [OPTIONS]\n");
        return 2;
    }
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (!rest.empty() && rest[0].rfind("--", 0) != 0) {
        rest.insert(rest.begin(), "--config");
    }
    std::string error;
    auto config = Config::load(rest, error);
    if (!config) {
        std::fprintf(stderr, "config check: %s\n", error.c_str());
        return 2;
    }
    for (const auto& [name, min, max] :
         std::vector<std::tuple<const char*, long long, long long>>{
             {"threads", 1, 64}, {"max-body", 1, 64LL << 20}, {"max-header", 1024, 1 << 20},
             {"max-connections", 1, 1 << 20}, {"request-timeout", 1, 3600},
             {"queue-capacity", 1, 10000000}, {"max-batch", 1, 100000},
             {"json-depth", 2, 10000}, {"signature-window", 1, 10LL * 365 * 86400},
             {"auto-churn-days", 0, 3650}}) {
        if (!config->get_int(name, min, max, error)) {
            std::fprintf(stderr, "config check: %s\n", error.c_str());
            return 2;
        }
    }
    AlertSettings alerts;
    if (!read_alert_settings(*config, alerts, error)) {
        std::fprintf(stderr, "config check: %s\n", error.c_str());
        return 2;
    }
    if (config->get_all("secret").empty()) {
        std::fprintf(stderr, "config check: warning: no secret set; every delivery would be rejected\n");
    }
    std::fputs(config->describe().c_str(), stdout);
    std::printf("# configuration OK\n");
    return 0;
}

}  // namespace churnwatch
