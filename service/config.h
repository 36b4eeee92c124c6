// Configuration for every command: flags > environment (CHURNWATCH_*) > config file.
// The file is `key = value` lines (keys are the flag names without "--"); a line whose first
// non-blank character is '#' is a comment. There are no comments after a value: a value with
// a '#' after white space (or at its start) is refused, file and line named, rather than kept
// with the would-be comment in it. A repeatable key (secret, alert-url) may appear on several
// lines.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace churnwatch {

struct OptionSpec {
    const char* name;        // flag name without "--"
    const char* value_name;  // "PATH", "N", … ("" for a boolean switch)
    const char* default_value;  // nullptr: no default
    const char* help;
    bool repeatable = false;
    bool secret = false;     // masked when printed
    const char* env = nullptr;  // environment variable; nullptr → CHURNWATCH_<NAME>
};

const std::vector<OptionSpec>& option_specs();

// Comma-separated text with an empty (or all-blank) part, as "a,,b", ",b" or "a, ": in a list
// of secrets or URLs, usually a variable that was unset when the list was put together.
bool has_empty_entry(const std::string& text);

class Config {
public:
    // Parses argv (after the subcommand), the environment and the file named by --config /
    // CHURNWATCH_CONFIG. Returns nullopt and sets error on any unknown key or bad syntax.
    static std::optional<Config> load(const std::vector<std::string>& args, std::string& error);
    // Same, from a given file only (for `config check FILE`), with env and flags on top.
    static std::optional<Config> load_file(const std::string& path, std::string& error);

    std::optional<std::string> get(const std::string& name) const;
    std::string get_or(const std::string& name) const;  // the spec's default, or ""
    std::vector<std::string> get_all(const std::string& name) const;
    bool flag(const std::string& name) const;  // boolean switch set
    // Parses a number; sets error (naming the option) when it is not a valid number in range.
    std::optional<long long> get_int(const std::string& name, long long min, long long max,
                                     std::string& error) const;
    std::string source(const std::string& name) const;  // "flag" "env" "file" "default"

    // The effective configuration, one "key = value  # source" line each, secrets masked and
    // alert URLs without query or user info.
    std::string describe() const;
    const std::vector<std::string>& positional() const { return positional_; }

private:
    struct Value {
        std::vector<std::string> values;
        std::string source;
    };
    bool parse_file(const std::string& path, std::string& error);
    bool load_env(std::string& error);
    bool parse_args(const std::vector<std::string>& args, std::string& error);
    std::map<std::string, Value> values_;
    std::vector<std::string> positional_;
};

// A CHURNWATCH_* environment variable churnwatch does not read: a typo such as
// CHURNWATCH_LOGLEVEL would otherwise have no effect and say nothing. serve logs each one,
// config check prints each one; neither refuses to run (an environment carries what it
// carries).
struct UnknownVariable {
    std::string name;
    std::string suggestion;  // the known variable it is obviously close to, or ""
    // "CHURNWATCH_LOGLEVEL is not a churnwatch setting and is ignored (did you mean
    // CHURNWATCH_LOG_LEVEL?)"
    std::string warning;
};
// Known: every option's variable (env_name: CHURNWATCH_DB, CHURNWATCH_SECRETS, …,
// CHURNWATCH_CONFIG) and the project's other ones, which churnwatch itself does not read:
// CHURNWATCH_ALERT_ID and CHURNWATCH_ALERT_TYPE (set for an alert-command program) and the
// test scripts' and test programs' (CHURNWATCH_TEST_STAGES, CHURNWATCH_FUZZ_SECONDS,
// CHURNWATCH_CRASH_ROUNDS, CHURNWATCH_CRASH_SEED, CHURNWATCH_CONCURRENCY_DELIVERIES).
bool known_environment_variable(const std::string& name);
// The known variable a CHURNWATCH_* name is obviously close to, or "": compared in upper case
// without '_' (CHURNWATCH_LOGLEVEL → CHURNWATCH_LOG_LEVEL), at most one edit away for a short
// name (DB), two for a longer one (CHURNWATCH_SECRET → CHURNWATCH_SECRETS), and only when
// one known variable is closest.
std::string closest_environment_variable(const std::string& name);
// Every CHURNWATCH_* variable in this process's environment that is not known, by name.
std::vector<UnknownVariable> unknown_environment_variables();

const OptionSpec* find_option(const std::string& name);
// The option's environment variable: spec.env, else CHURNWATCH_<NAME> ('-' → '_').
std::string env_name(const OptionSpec& spec);
std::string mask_secret(const std::string& s);  // "shjk…(40 chars)"
std::string trim(const std::string& s);         // without leading/trailing white space
// True when a value holds what reads as a comment: a '#' at its start or after white space.
bool looks_like_inline_comment(const std::string& value);

}  // namespace churnwatch
