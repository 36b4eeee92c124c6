#include "config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fstream>

#include "alert_config.h"
#include "http_client.h"

extern char** environ;

namespace churnwatch {

const std::vector<OptionSpec>& option_specs() {
    static const std::vector<OptionSpec> specs = {
        {"config", "PATH", nullptr, "configuration file (key = value lines)"},
        {"db", "PATH", "./churnwatch.db", "SQLite database file (created if missing)"},
        {"listen", "HOST:PORT", "127.0.0.1:8080",
         "address to listen on; port 0 picks a free port (printed as 'listening on HOST:PORT')"},
        {"secret", "SECRET", nullptr,
         "Recharge API client secret used to verify signatures; repeat for rotation "
         "(in the environment: comma-separated)",
         true, true, "CHURNWATCH_SECRETS"},
        {"threads", "N", "2", "I/O threads"},
        {"tls-cert", "PATH", nullptr,
         "PEM certificate chain: serve HTTPS (TLS 1.2+) instead of HTTP; SIGHUP reloads it"},
        {"tls-key", "PATH", nullptr, "PEM private key for --tls-cert"},
        {"max-body", "BYTES", "1048576", "largest request body accepted (larger: 413)"},
        {"max-header", "BYTES", "16384", "largest request header block (larger: 431), and request line (longer: 414)"},
        {"max-connections", "N", "1024", "open connections at most; then a new one closes the connection idle the longest, else one whose request or answer has been stuck for 2 s, else waits"},
        {"request-timeout", "SECONDS", "15", "a whole request must arrive within this"},
        {"queue-capacity", "N", "10000", "deliveries waiting for commit at most (then 503)"},
        {"max-batch", "N", "1000", "deliveries per group commit at most"},
        {"json-depth", "N", "64", "deepest JSON nesting accepted (deeper: quarantined)"},
        {"signature-window", "SECONDS", "180000",
         "timestamped signatures older or newer than this are stale (50 h: Recharge retries "
         "for 48 h); a stale one is refused unless the legacy hash beside it verifies"},
        {"id-header", "NAME", "X-Recharge-Webhook-Id",
         "header whose value identifies a delivery for deduplication (if present)"},
        {"dedupe-days", "DAYS", "7",
         "a repeated delivery is recognised for this long (Recharge retries for 48 hours)"},
        {"projection-max-lag", "N", "100000",
         "stored deliveries the churn tables may fall behind under load before the rules "
         "take an equal share of the writer"},
        {"stop-grace", "SECONDS", "15",
         "after SIGTERM's drain (10 s at most), the database's last writes get this long; past "
         "it (a disk not answering) serve logs a forced shutdown and exits 1. Keep 10 + this "
         "below the service manager's stop timeout (the unit's TimeoutStopSec=30)"},
        {"auto-churn-days", "DAYS", "0",
         "if > 0: churn a customer DAYS days after an unresolved max-retries charge"},
        {"report-timezone", "ZONE", "UTC",
         "the store's time zone (IANA name, e.g. America/New_York): the analyst views and report "
         "count its calendar months; serve and rebuild set it in the database"},
        {"log-level", "LEVEL", "info", "debug, info, warn or error"},
        {"alert-url", "URL", nullptr,
         "send churn alerts to this http(s) URL, signed (Standard Webhooks) with alert-secret; "
         "repeatable",
         true},
        {"alert-secret", "SECRET", nullptr,
         "signing secret (whsec_<base64>) for alert-url targets and alert-targets without their own; "
         "while rotating, new and old comma-separated: each request is signed with both",
         false, true, "CHURNWATCH_ALERT_SECRET"},
        {"alert-events", "EVENTS", "customer.churned,customer.reactivated,customer.churn_retracted",
         "alert events sent to alert-url, alert-chat and alert-command targets (and "
         "alert-targets without their own); add customer.churn_updated for corrections of "
         "announced churns"},
        {"alert-target", "URL|SECRET|EVENTS", nullptr,
         "an alert target with its own whsec_ secret and events (config-file form; without them: "
         "alert-secret, alert-events); repeatable",
         true, true},
        {"alert-chat", "URL", nullptr,
         "post each alert as one line of text ({\"text\": …}) to this chat incoming-webhook URL "
         "(Slack, Mattermost, Google Chat, Microsoft Teams, Discord's …/slack); unsigned; "
         "alert-events applies; repeatable",
         true},
        {"alert-command", "PATH", nullptr,
         "run this program for each alert, the event JSON on stdin (exit 0 = delivered)"},
        {"alert-hold", "SECONDS", "0",
         "hold each customer.churned alert this long before sending it; a churn undone meanwhile "
         "(the customer back, or erased by a late delivery) is never announced"},
        {"alert-timeout", "SECONDS", "10", "one alert attempt (HTTP exchange or command) at most"},
        {"alert-budget", "HOURS", "24", "retry an alert this long, then dead-letter it"},
        {"alert-backoff-base-ms", "MS", "1000",
         "first alert retry delay bound (doubles per attempt up to 10 min, full jitter)"},
        {"alert-retention-days", "DAYS", "30",
         "delete sent, dead, disabled and retracted alerts DAYS days after they finished (a dead "
         "one: after its last attempt); pending alerts stay. What a target was told of a churn "
         "or its return (its retraction depends on it) is kept apart, in alert_told and "
         "alert_told_return, while the churn is in churn_events; 0 keeps every alert"},
        {"status", "STATUS", nullptr, "alerts list: only pending, sent, dead, disabled or retracted alerts"},
        {"all-dead", "", nullptr, "alerts retry: every dead-lettered alert"},
        {"from", "YYYY-MM", nullptr, "report: first month"},
        {"to", "YYYY-MM", nullptr, "report: last month"},
        {"format", "FORMAT", "table", "report: table, csv or json"},
        {"url", "URL", nullptr,
         "send-test: where to POST (…/webhooks/recharge gets /TOPIC appended; "
         "default: http://<listen>/webhooks/recharge)"},
        {"topic", "TOPIC", nullptr, "send-test: the topic, e.g. subscription/cancelled"},
        {"file", "PATH", nullptr, "send-test: payload file (default: the built-in example for the topic)"},
        {"scheme", "SCHEME", "legacy", "send-test: signature scheme, legacy or timestamped"},
    };
    return specs;
}

const OptionSpec* find_option(const std::string& name) {
    for (const auto& s : option_specs())
        if (name == s.name) return &s;
    return nullptr;
}

std::string mask_secret(const std::string& s) {
    if (s.size() <= 8) return "****";
    return s.substr(0, 4) + "…(" + std::to_string(s.size()) + " chars)";
}

std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

std::string env_name(const OptionSpec& spec) {
    if (spec.env) return spec.env;
    std::string n = "CHURNWATCH_";
    for (const char* p = spec.name; *p; ++p)
        n += *p == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
    return n;
}

bool has_empty_entry(const std::string& s) {
    if (s.find(',') == std::string::npos) return false;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t comma = s.find(',', start);
        if (comma == std::string::npos) comma = s.size();
        if (trim(s.substr(start, comma - start)).empty()) return true;
        start = comma + 1;
    }
    return false;
}

namespace {

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t comma = s.find(',', start);
        if (comma == std::string::npos) comma = s.size();
        std::string part = trim(s.substr(start, comma - start));
        if (!part.empty()) out.push_back(part);
        start = comma + 1;
    }
    return out;
}

constexpr const char* kInlineComment =
    "inline comments are not supported: put the comment on its own line";

// CHURNWATCH_* variables that name no setting but are the project's own, documented where
// they are used: churnwatch ignores them without a warning.
constexpr const char* kOtherVariables[] = {
    "CHURNWATCH_ALERT_ID", "CHURNWATCH_ALERT_TYPE",      // set for an alert-command program
    "CHURNWATCH_TEST_STAGES", "CHURNWATCH_FUZZ_SECONDS",  // scripts/test.sh
    "CHURNWATCH_CRASH_ROUNDS", "CHURNWATCH_CRASH_SEED",   // it_crash_safety (README: Tests)
    "CHURNWATCH_CONCURRENCY_DELIVERIES",                  // it_concurrency (README: Tests)
};

constexpr const char kPrefix[] = "CHURNWATCH_";

// Upper case, without '_' and '-': CHURNWATCH_LOGLEVEL and CHURNWATCH_LOG_LEVEL compare equal.
std::string squeezed(const std::string& name) {
    std::string out;
    for (char ch : name)
        if (ch != '_' && ch != '-') out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return out;
}

// Edits (insert, delete, substitute, swap two neighbours) from a to b.
std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

std::vector<std::string> known_variables() {
    std::vector<std::string> names;
    for (const auto& spec : option_specs()) names.push_back(env_name(spec));  // CONFIG too
    for (const char* other : kOtherVariables) names.emplace_back(other);
    return names;
}

}  // namespace

bool known_environment_variable(const std::string& name) {
    for (const auto& known : known_variables())
        if (name == known) return true;
    return false;
}

std::string closest_environment_variable(const std::string& name) {
    if (name.rfind(kPrefix, 0) != 0) return "";
    const std::string typed = squeezed(name.substr(sizeof kPrefix - 1));
    std::string best;
    std::size_t best_distance = std::string::npos;
    bool tie = false;
    for (const auto& known : known_variables()) {
        const std::string k = squeezed(known.substr(sizeof kPrefix - 1));
        // Obvious: one edit for short names (DB), two for longer ones (LOG_LEVEL).
        const std::size_t limit = k.size() <= 4 ? 1 : 2;
        const std::size_t d = edit_distance(typed, k);
        if (d > limit || d > best_distance) continue;
        tie = d == best_distance;
        if (d < best_distance) {
            best = known;
            best_distance = d;
        }
    }
    return tie ? "" : best;
}

std::vector<UnknownVariable> unknown_environment_variables() {
    std::vector<UnknownVariable> out;
    for (char** e = environ; e && *e; ++e) {
        std::string entry = *e;
        std::string name = entry.substr(0, entry.find('='));
        if (name.rfind(kPrefix, 0) != 0 || known_environment_variable(name)) continue;
        UnknownVariable v;
        v.name = name;
        v.suggestion = closest_environment_variable(name);
        v.warning = name + " is not a churnwatch setting and is ignored";
        if (!v.suggestion.empty()) v.warning += " (did you mean " + v.suggestion + "?)";
        out.push_back(std::move(v));
    }
    std::sort(out.begin(), out.end(),
              [](const UnknownVariable& a, const UnknownVariable& b) { return a.name < b.name; });
    return out;
}

bool looks_like_inline_comment(const std::string& value) {
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '#' && (i == 0 || std::isspace(static_cast<unsigned char>(value[i - 1]))))
            return true;
    }
    return false;
}

bool Config::parse_file(const std::string& path, std::string& error) {
    std::ifstream in(path);
    if (!in) {
        // errno says why: a file not mounted, or not readable by this user (the container's
        // uid 10001, the unit's dynamic user).
        error = "cannot read config file " + path + ": " + std::strerror(errno);
        return false;
    }
    std::map<std::string, Value> found;
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        std::string t = trim(line);
        if (t.empty() || t[0] == '#') continue;
        auto eq = t.find('=');
        if (eq == std::string::npos) {
            error = path + ":" + std::to_string(lineno) + ": expected 'key = value'";
            return false;
        }
        std::string key = trim(t.substr(0, eq));
        std::string value = trim(t.substr(eq + 1));
        const OptionSpec* spec = find_option(key);
        if (!spec || key == "config") {
            error = path + ":" + std::to_string(lineno) + ": unknown key '" + key + "'";
            return false;
        }
        if (looks_like_inline_comment(value)) {
            // Taken as part of the value, such a comment would silently change it (a secret
            // that never matches); the value itself is not echoed (it may be a secret).
            error = path + ":" + std::to_string(lineno) + ": '" + key + "': " + kInlineComment;
            return false;
        }
        auto& v = found[key];
        if (!spec->repeatable && !v.values.empty()) {
            error = path + ":" + std::to_string(lineno) + ": '" + key + "' given twice";
            return false;
        }
        v.values.push_back(value);
        v.source = "file";
    }
    for (auto& [k, v] : found) values_[k] = std::move(v);
    return true;
}

bool Config::load_env(std::string& error) {
    for (const auto& spec : option_specs()) {
        if (std::string(spec.name) == "config") continue;
        const std::string name = env_name(spec);
        const char* e = std::getenv(name.c_str());
        if (!e || !*e) continue;
        // Environment files (systemd's EnvironmentFile, docker --env-file) keep a trailing
        // "# ..." as part of the value, just like this parser would.
        if (looks_like_inline_comment(trim(e))) {
            error = name + ": " + kInlineComment;
            return false;
        }
        // "$NEW,$OLD" with one variable unset reads as one secret or URL fewer: say so rather
        // than run without it.
        if (spec.repeatable && has_empty_entry(e)) {
            error = name + " has an empty entry (two commas together, or a comma at an end): is "
                           "a variable in it unset? Remove the extra comma if not";
            return false;
        }
        Value v;
        v.values = spec.repeatable ? split_commas(e) : std::vector<std::string>{e};
        v.source = "env";
        values_[spec.name] = std::move(v);
    }
    return true;
}

bool Config::parse_args(const std::vector<std::string>& args, std::string& error) {
    std::map<std::string, Value> found;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.rfind("--", 0) != 0 || a == "--") {
            positional_.push_back(a);
            continue;
        }
        std::string name = a.substr(2), value;
        bool inline_value = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            inline_value = true;
        }
        const OptionSpec* spec = find_option(name);
        if (!spec) {
            error = "unknown option --" + name;
            return false;
        }
        if (*spec->value_name == '\0') {
            value = inline_value ? value : "true";
        } else if (!inline_value) {
            if (i + 1 >= args.size()) {
                error = "--" + name + " needs a value (" + spec->value_name + ")";
                return false;
            }
            value = args[++i];
        }
        auto& v = found[name];
        if (!spec->repeatable) v.values.clear();
        v.values.push_back(value);
        v.source = "flag";
    }
    for (auto& [k, v] : found) values_[k] = std::move(v);
    return true;
}

std::optional<Config> Config::load(const std::vector<std::string>& args, std::string& error) {
    // The config file's path itself may come from a flag or the environment.
    Config probe;
    if (!probe.parse_args(args, error)) return std::nullopt;
    std::optional<std::string> file = probe.get("config");
    if (!file) {
        if (const char* e = std::getenv("CHURNWATCH_CONFIG"); e && *e) file = e;
    }
    Config c;
    if (file && !c.parse_file(*file, error)) return std::nullopt;
    if (!c.load_env(error)) return std::nullopt;
    if (!c.parse_args(args, error)) return std::nullopt;
    return c;
}

std::optional<Config> Config::load_file(const std::string& path, std::string& error) {
    Config c;
    if (!c.parse_file(path, error)) return std::nullopt;
    if (!c.load_env(error)) return std::nullopt;
    return c;
}

std::optional<std::string> Config::get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.values.empty()) return std::nullopt;
    return it->second.values.back();
}

std::string Config::get_or(const std::string& name) const {
    if (auto v = get(name)) return *v;
    const OptionSpec* spec = find_option(name);
    return spec && spec->default_value ? spec->default_value : "";
}

std::vector<std::string> Config::get_all(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second.values;
}

bool Config::flag(const std::string& name) const {
    auto v = get(name);
    return v && (*v == "true" || *v == "1" || *v == "yes");
}

std::optional<long long> Config::get_int(const std::string& name, long long min, long long max,
                                         std::string& error) const {
    std::string text = get_or(name);
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || errno != 0 || *end != '\0' || v < min || v > max) {
        error = "--" + name + " must be a whole number from " + std::to_string(min) + " to " +
                std::to_string(max) + " (got '" + text + "')";
        return std::nullopt;
    }
    return v;
}

std::string Config::source(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? "default" : it->second.source;
}

std::string Config::describe() const {
    std::string out;
    for (const auto& spec : option_specs()) {
        std::string name = spec.name;
        if (name == "config") continue;
        std::vector<std::string> vals =
            name == "alert-target" ? alert_target_values(*this) : get_all(name);
        if (vals.empty() && spec.default_value) vals.push_back(spec.default_value);
        if (vals.empty()) {
            out += name + " =   # unset\n";
            continue;
        }
        for (const auto& v : vals) {
            // Alert URLs as in the logs and metrics (no query or user info, where tokens
            // live), an alert-target's secret masked and its events shown.
            std::string shown = name == "alert-url"    ? redact_url(trim(v))
                                : name == "alert-chat"   ? redact_chat_url(trim(v))
                                : name == "alert-target" ? describe_alert_target(v)
                                : spec.secret            ? mask_secret(v)
                                                         : v;
            out += name + " = " + shown + "   # " + source(name) + "\n";
        }
    }
    return out;
}

}  // namespace churnwatch
