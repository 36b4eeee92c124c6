// `churnwatch config check [FILE]`: validate configuration and print the effective settings
// (secrets masked), so an operator sees exactly what `serve` would use. The validation is
// serve's own (read_settings), so the two cannot disagree. CHURNWATCH_* variables that name no
// setting are warned about, as serve does.
#include <cstdio>

#include "commands.h"
#include "settings.h"

namespace churnwatch {

int config_command(const std::vector<std::string>& args) {
    if (args.empty() || args[0] != "check") {
        if (!args.empty() && args[0].rfind("-", 0) != 0)
            std::fprintf(stderr, "churnwatch config: unknown action '%s'\n", args[0].c_str());
        std::fprintf(stderr, "usage: churnwatch config check [FILE] [OPTIONS]\n");
        return 2;
    }
    // A mistyped variable (CHURNWATCH_LOGLEVEL) has no effect: say so, once each, whatever
    // the verdict on the rest.
    for (const auto& v : unknown_environment_variables())
        std::fprintf(stderr, "config check: warning: %s\n", v.warning.c_str());
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (!rest.empty() && rest[0].rfind("--", 0) != 0) {
        // A second word right after FILE is no option's value: say so before reading FILE
        // (`config check a b` with no file a would otherwise only say a cannot be read).
        if (rest.size() > 1 && rest[1].rfind("-", 0) != 0) {
            std::fprintf(stderr,
                         "config check: unexpected argument '%s' (usage: churnwatch config check "
                         "[FILE] [OPTIONS])\n",
                         rest[1].c_str());
            return 2;
        }
        rest.insert(rest.begin(), "--config");
    }
    std::string error;
    auto config = Config::load(rest, error);
    if (!config) {
        std::fprintf(stderr, "config check: %s\n", error.c_str());
        return 2;
    }
    if (!config->positional().empty()) {
        std::fprintf(stderr,
                     "config check: unexpected argument '%s' (usage: churnwatch config check "
                     "[FILE] [OPTIONS])\n",
                     config->positional().front().c_str());
        return 2;
    }
    Settings settings;
    if (!read_settings(*config, settings, error)) {
        std::fprintf(stderr, "config check: %s\n", error.c_str());
        return 2;
    }
    if (settings.secrets.empty()) {
        std::fprintf(stderr, "config check: warning: no secret set; every delivery would be rejected\n");
    }
    for (const auto& w : settings.alerts.warnings)
        std::fprintf(stderr, "config check: warning: %s\n", w.c_str());
    std::fputs(config->describe().c_str(), stdout);
    // The labels logs and metrics will use: targets whose URLs differ only in the (hidden)
    // query are numbered, which the option lines above cannot show.
    if (!settings.alerts.targets.empty()) {
        std::printf("# alert targets, as logs and metrics label them:\n");
        for (const auto& t : settings.alerts.targets) std::printf("#   %s\n", t.label().c_str());
    }
    std::printf("# configuration OK\n");
    return 0;
}

}  // namespace churnwatch
