#include "cli.h"

#include <cstring>

#include "config.h"

namespace churnwatch {

namespace {

// serve reads every option but the other commands' own.
const std::vector<const char*> kServeOptions = {
    "config", "db", "listen", "secret", "threads", "tls-cert", "tls-key", "max-body",
    "max-header", "max-connections", "request-timeout", "queue-capacity", "max-batch",
    "json-depth", "signature-window", "id-header", "dedupe-days", "projection-max-lag", "stop-grace",
    "auto-churn-days", "report-timezone", "log-level", "alert-url", "alert-secret", "alert-events", "alert-target",
    "alert-chat", "alert-command", "alert-hold", "alert-timeout", "alert-budget", "alert-backoff-base-ms",
    "alert-retention-days"};

// "  --db PATH                    SQLite database file … [default: …] (env CHURNWATCH_DB)"
std::string option_line(const OptionSpec& o) {
    std::string flag = std::string("--") + o.name;
    if (*o.value_name) flag += std::string(" ") + o.value_name;
    std::string line = "  " + flag;
    if (flag.size() < 28) line += std::string(28 - flag.size(), ' ');
    line += std::string(" ") + o.help;
    if (o.default_value) line += std::string(" [default: ") + o.default_value + "]";
    return line + " (env " + env_name(o) + ")\n";
}

bool reads(const CommandSpec& c, const char* option) {
    if (c.every_option) return true;
    for (const char* o : c.options)
        if (std::strcmp(o, option) == 0) return true;
    return false;
}

}  // namespace

const std::vector<CommandSpec>& command_specs() {
    static const std::vector<CommandSpec> specs = {
        {"serve", "serve", "receive, verify and store webhooks; apply the churn rules",
         "churnwatch serve [OPTIONS]",
         "Receives Recharge webhooks on --listen, verifies their signatures, stores every\n"
         "authentic delivery in --db before answering 200 and keeps the churn tables up to date.\n"
         "Logs one JSON object per line on stderr (a warning for each CHURNWATCH_* variable that\n"
         "names no setting). SIGTERM or SIGINT drains and stops; SIGHUP reloads the TLS\n"
         "certificate. Exit 2: the configuration is refused (nothing created).",
         kServeOptions},
        {"rebuild", "rebuild", "recompute all churn tables from the stored deliveries",
         "churnwatch rebuild [--db PATH] [--json-depth N] [--auto-churn-days DAYS] [--report-timezone ZONE]",
         "Drops the churn tables and recomputes them from every accepted delivery, in one\n"
         "transaction. Without --auto-churn-days or --report-timezone (flag, environment or\n"
         "--config) it keeps those the tables were derived with. Never creates a database.\n"
         "It holds the write lock for its whole run: stop serve first.",
         {"config", "db", "json-depth", "auto-churn-days", "report-timezone"}},
        {"report", "report", "monthly churn, reasons, cohort retention and customers at risk",
         "churnwatch report [--db PATH] [--from YYYY-MM] [--to YYYY-MM] [--format table|csv|json]",
         "Prints churn_monthly, churn_by_reason and cohort_retention for the months from --from\n"
         "to --to (default: all), then how many active customers are at risk now, by signal\n"
         "(the view customers_at_risk). Never creates a database.",
         {"config", "db", "from", "to", "format", "report-timezone"}},
        {"alerts", "alerts", "list [--status S] | retry ID…|--all-dead: the alert outbox",
         "churnwatch alerts list [--db PATH] [--status pending|sent|dead|disabled|retracted]\n"
         "churnwatch alerts retry ID... [--db PATH]\n"
         "churnwatch alerts retry --all-dead [--db PATH]",
         "list: the alert outbox (the newest 1000, oldest first) and the disabled targets.\n"
         "retry: the given alerts (or every dead one) become pending again, due now, with a fresh\n"
         "retry budget; retrying an alert of a disabled target re-enables the target. Works\n"
         "beside a running server.",
         {"config", "db", "status", "all-dead"},
         false,
         {"list", "retry"}},
        {"config", "config check", "validate configuration and print the effective settings",
         "churnwatch config check [FILE] [OPTIONS]",
         "Runs serve's own validation of the configuration (FILE, else --config or\n"
         "CHURNWATCH_CONFIG; the environment; flags) and prints every setting with its source\n"
         "(flag, env, file, default), secrets masked. Exit 2 with serve's message on anything\n"
         "serve would refuse. Warns about CHURNWATCH_* variables that name no setting.",
         {},
         true,
         {"check"}},
        {"send-test", "send-test", "send one signed example delivery (--secret --topic [--url])",
         "churnwatch send-test [--url URL] --secret SECRET --topic TOPIC [--file PAYLOAD.json] "
         "[--scheme legacy|timestamped]",
         "Sends one correctly signed delivery (the built-in example for --topic, or --file) and\n"
         "prints the response; exit 0 on 2xx, 1 otherwise. Without --url it targets the local\n"
         "listen address. Run it without --topic to list the built-in examples.",
         {"config", "listen", "secret", "tls-cert", "url", "topic", "file", "scheme"}},
        {"quarantine", "quarantine",
         "list | show ID | replay ID…|all: inspect and replay quarantined deliveries",
         "churnwatch quarantine list [--db PATH]\n"
         "churnwatch quarantine show ID [--db PATH]\n"
         "churnwatch quarantine replay ID [ID…] | all [--db PATH] [--json-depth N] [--config FILE]",
         "Authentic deliveries that could not be used are stored quarantined. list and show\n"
         "inspect them; replay decodes them again with this binary and options: one that now\n"
         "succeeds becomes accepted and its churn effects (and alerts) apply; exit 1 if any\n"
         "still fails. Safe while serve runs. Alerts go to the alert targets configured here:\n"
         "give it serve's --config and alert secret (without any target, on a database that has\n"
         "alerts, it warns which churn it did not announce).",
         {"config", "db", "json-depth", "auto-churn-days", "alert-url", "alert-secret",
          "alert-events", "alert-target", "alert-chat", "alert-command", "alert-hold"},
         false,
         {"list", "show", "replay"}},
        {"help", "help [COMMAND]", "this text, or one command's usage and options",
         "churnwatch help [COMMAND]",
         "Without COMMAND: every command and every option. With one: its usage and the options\n"
         "it reads, as 'churnwatch COMMAND --help' prints them.",
         {}},
        {"version", "version", "the version", "churnwatch version", "Prints the version.", {}},
    };
    return specs;
}

const CommandSpec* find_command(const std::string& name) {
    for (const auto& c : command_specs())
        if (name == c.name) return &c;
    return nullptr;
}

std::string first_usage(const CommandSpec& spec) {
    std::string usage = spec.usage;
    return usage.substr(0, usage.find('\n'));
}

std::string general_help() {
    std::string out = std::string("churnwatch ") + CHURNWATCH_VERSION +
                      " — Recharge webhook consumer and churn detector\n\n"
                      "Usage: churnwatch COMMAND [OPTIONS]\n\n"
                      "Commands:\n";
    for (const auto& c : command_specs()) {
        std::string label = c.label;
        if (label.size() < 14) label += std::string(14 - label.size(), ' ');
        out += "  " + label + " " + c.summary + "\n";
    }
    out += "\n'churnwatch help COMMAND' (or 'churnwatch COMMAND --help'): one command's usage and "
           "options.\n\n"
           "Options (flags > environment > config file; every option can be a config key):\n";
    for (const auto& o : option_specs()) out += option_line(o);
    return out;
}

std::string command_help(const CommandSpec& spec) {
    std::string out;
    std::string usage = spec.usage;
    for (std::size_t start = 0, n = 0; start < usage.size(); ++n) {
        std::size_t end = usage.find('\n', start);
        if (end == std::string::npos) end = usage.size();
        out += (n == 0 ? "usage: " : "       ") + usage.substr(start, end - start) + "\n";
        start = end + 1;
    }
    out += std::string("\n") + spec.details + "\n";
    bool any = false;
    for (const auto& o : option_specs()) {
        if (!reads(spec, o.name)) continue;
        if (!any)
            out += "\nOptions (flags > environment > config file; every option can be a config "
                   "key):\n";
        any = true;
        out += option_line(o);
    }
    return out;
}

}  // namespace churnwatch
