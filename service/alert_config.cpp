#include "alert_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "config.h"
#include "crypto.h"
#include "http_client.h"
#include "standard_webhooks.h"

namespace churnwatch {

namespace {

// own_secret: the target's secret is its own (alert-target's second field), not alert-secret.
bool check_http_target(AlertTarget& t, const std::string& option, bool own_secret,
                       std::vector<std::string>& warnings, std::string& error) {
    std::string why;
    if (!parse_http_url(t.url, why)) {
        error = "--" + option + " " + redact_url(t.url) + ": " + why;
        return false;
    }
    if (t.secret.empty()) {
        error = "--" + option + " " + redact_url(t.url) +
                " has no signing secret: alerts must be verifiable. Set CHURNWATCH_ALERT_SECRET "
                "(or alert-secret) to a whsec_<base64> secret" +
                (option == "alert-target" ? std::string(", or give it as 'URL | whsec_… | EVENTS'")
                                          : std::string());
        return false;
    }
    // The signer also takes bare base64 (as receivers' libraries do), but a configured secret
    // without the prefix is more likely something else pasted there (a Recharge secret is
    // valid base64 too) than a Standard Webhooks secret.
    // Several secrets (commas or spaces between them) sign with each: rotation.
    const auto secrets = split_webhook_secrets(t.secret);
    const std::string whose = " for " + redact_url(t.url) +
                              (own_secret ? " (its own, in alert-target)" : " (alert-secret)");
    if (has_empty_entry(t.secret)) {
        error = "the signing secrets" + whose +
                " have an empty entry (two commas together, or a comma at an end): is a "
                "variable in them unset? Remove the extra comma if not";
        return false;
    }
    // '<' and '>' are never base64: a placeholder such as the configuration example's
    // "whsec_<base64 of 24-64 random bytes>" pasted as it stands (its spaces would otherwise
    // make it read as several secrets, and the message would be about their number).
    if (t.secret.find_first_of("<>") != std::string::npos) {
        error = "the signing secret" + whose +
                " is a placeholder (it has < or >): make a secret with "
                "\"whsec_$(openssl rand -base64 32)\"";
        return false;
    }
    if (secrets.size() > StandardWebhookSigner::kMaxSecrets) {
        error = "more than " + std::to_string(StandardWebhookSigner::kMaxSecrets) +
                " signing secrets" + whose +
                " (commas or spaces separate secrets; two are enough for a rotation)";
        return false;
    }
    for (std::string_view secret : secrets) {
        // The specification asks for 24 to 64 random bytes; a shorter key still signs.
        if (auto key = crypto::base64_decode(secret.substr(std::min<std::size_t>(6, secret.size())));
            key && !key->empty() && key->size() < 24) {
            warnings.push_back("a signing secret" + whose + " is " + std::to_string(key->size()) +
                               " bytes; Standard Webhooks asks for 24 to 64 random bytes "
                               "(\"whsec_$(openssl rand -base64 32)\" makes one)");
        }
        if (!secret.starts_with("whsec_") || !StandardWebhookSigner::from_secret(secret)) {
            error = (secrets.size() > 1 ? "one of the signing secrets" : "the signing secret") + whose +
                    " is not a valid whsec_<base64> secret (the prefix whsec_, then standard base64, "
                    "padded, non-empty)";
            return false;
        }
    }
    t.name = t.url;
    return true;
}

// A word that reads as a signing secret: never echoed, and a sign of fields out of order.
bool looks_like_secret(const std::string& word) {
    static constexpr std::string_view kPrefix = "whsec_";
    if (word.size() < kPrefix.size()) return false;
    for (std::size_t i = 0; i < kPrefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(word[i])) != kPrefix[i]) return false;
    return true;
}

// The words of an events list (commas and/or white space between them).
std::vector<std::string> event_words(const std::string& text) {
    std::vector<std::string> words;
    std::string word;
    for (char c : text + " ") {
        if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
            if (!word.empty()) words.push_back(word);
            word.clear();
        } else {
            word += c;
        }
    }
    return words;
}

bool parses_as_url(const std::string& text) {
    std::string why;
    return parse_http_url(text, why).has_value();
}

// Why an alert-target's fields look out of order, or "" when they do not. The order is
// URL | SECRET | EVENTS. What stands in the secret's place is never shown, and a word that
// looks like a secret only masked.
std::string swapped_fields(const AlertTargetSpec& spec) {
    bool churned = false, reactivated = false, retracted = false;
    std::string ignored;
    const bool events_as_secret = !spec.secret.empty() && !looks_like_secret(spec.secret) &&
                                  parse_alert_events(spec.secret, churned, reactivated, retracted, ignored);
    for (const auto& word : event_words(spec.events)) {
        if (looks_like_secret(word)) {
            return std::string(events_as_secret ? "the secret field holds alert events and " : "") +
                   "the events field holds what looks like a signing secret, " + mask_secret(word);
        }
    }
    if (looks_like_secret(spec.url)) return "the URL field holds what looks like a signing secret";
    if (events_as_secret) return "the secret field holds alert events";
    if (!parses_as_url(spec.url) && (parses_as_url(spec.secret) || parses_as_url(spec.events)))
        return "the URL is not in the first field";
    return "";
}

// The target's URL for a message: the first field that is one (without query or user info).
std::string target_label(const AlertTargetSpec& spec) {
    for (const auto* field : {&spec.url, &spec.secret, &spec.events})
        if (parses_as_url(*field)) return redact_url(*field);
    return redact_url(spec.url);  // "<invalid url>"
}

// An IPv6 literal (the host of "http://[::1]/", without brackets) in its one canonical text
// form (RFC 5952: lower case, no leading zeros, the longest run of zero groups as "::"), so
// that [::1], [0:0:0:0:0:0:0:1] and [::0001], or [::FFFF:7f00:1] and [::ffff:127.0.0.1], are
// one host; nullopt for anything else (a host name, an IPv4 address, a literal inet_pton
// does not take).
std::optional<std::string> canonical_ipv6(const std::string& host) {
    if (host.find(':') == std::string::npos) return std::nullopt;
    in6_addr addr{};
    char text[INET6_ADDRSTRLEN];
    if (::inet_pton(AF_INET6, host.c_str(), &addr) != 1) return std::nullopt;
    if (!::inet_ntop(AF_INET6, &addr, text, sizeof text)) return std::nullopt;
    return std::string(text);
}

// An IPv4-mapped IPv6 literal ([::ffff:127.0.0.1], [::FFFF:7f00:1]) as the IPv4 address it
// maps ("127.0.0.1"): a connection to it is one to that address. nullopt for anything else,
// including the deprecated IPv4-compatible form [::127.0.0.1], which is another address.
std::optional<std::string> mapped_ipv4(const std::string& host) {
    if (host.find(':') == std::string::npos) return std::nullopt;
    in6_addr addr{};
    char text[INET_ADDRSTRLEN];
    if (::inet_pton(AF_INET6, host.c_str(), &addr) != 1 || !IN6_IS_ADDR_V4MAPPED(&addr)) return std::nullopt;
    if (!::inet_ntop(AF_INET, &addr.s6_addr[12], text, sizeof text)) return std::nullopt;
    return std::string(text);
}

// The host as compared: an IPv4-mapped IPv6 literal as its IPv4 address, any other IPv6
// literal canonical, anything else in lower case (host names ignore case).
std::string host_key(const std::string& host) {
    if (auto v4 = mapped_ipv4(host)) return *v4;
    if (auto v6 = canonical_ipv6(host)) return *v6;
    std::string out = host;
    for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return out;
}

// What makes two targets the same endpoint: for a URL, its scheme, host (host_key) and port
// (explicit, so that :443 of https:// is the default), then path and query as written (case
// matters there). For a command, its name. Only compared, never stored or sent: the outbox
// keeps the URL as configured, and requests go to it.
std::string endpoint_key(const AlertTarget& t) {
    if (t.is_command()) return t.name;
    std::string why;
    auto u = parse_http_url(t.url, why);  // validated before
    if (!u) return t.name;
    return (t.chat ? "chat:" : "") + u->scheme + "://[" + host_key(u->host) + "]:" +
           std::to_string(u->port) + u->target;
}

// Why two targets with one endpoint_key but different URLs are the same endpoint.
std::string same_endpoint_hint(const AlertTarget& a, const AlertTarget& b) {
    std::string why;
    auto ua = parse_http_url(a.url, why), ub = parse_http_url(b.url, why);
    if (ua && ub && host_key(ua->host) == host_key(ub->host)) {
        for (const auto& [mapped, v4] : {std::pair{ua->host, ub->host}, std::pair{ub->host, ua->host}})
            if (mapped_ipv4(mapped) && !canonical_ipv6(v4))
                return "[" + mapped + "] is the IPv4-mapped form of " + v4;
    }
    if (ua && ub && canonical_ipv6(ua->host) && host_key(ua->host) == host_key(ub->host)) {
        std::string ha = ua->host, hb = ub->host;
        for (auto* h : {&ha, &hb})
            for (auto& ch : *h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (ha != hb) return "[" + ua->host + "] and [" + ub->host + "] are the same IPv6 address";
    }
    return "host names ignore case, and :443 of https or :80 of http is the default port";
}

}  // namespace

std::string redact_chat_url(const std::string& url) {
    std::string why;
    auto u = parse_http_url(url, why);
    if (!u) return "<invalid url>";
    return u->scheme + "://" + u->host_header() + (u->target == "/" ? "/" : "/…");
}

std::string stored_target_label(const std::string& name) {
    if (name.rfind("command:", 0) == 0) return name;
    const bool chat = name.rfind("chat:", 0) == 0;
    const std::string url = chat ? name.substr(5) : name;
    std::string label = chat ? "chat:" + redact_chat_url(url) : redact_url(url);
    if (label != name) label += " [" + crypto::to_hex(crypto::sha256(name)).substr(0, 6) + "]";
    return label;
}

std::string AlertTarget::label() const {
    std::string base = is_command() ? name : chat ? "chat:" + redact_chat_url(url) : redact_url(url);
    return label_ordinal > 1 ? base + " #" + std::to_string(label_ordinal) : base;
}

std::vector<std::string> alert_target_values(const Config& c) {
    std::vector<std::string> values = c.get_all("alert-target");
    if (c.source("alert-target") != "env") return values;  // one value per line or flag
    std::vector<std::string> out;
    for (const auto& v : values) {
        if (!out.empty() && v.find('|') == std::string::npos) out.back() += "," + v;
        else out.push_back(v);
    }
    return out;
}

std::string describe_alert_target(const std::string& spec) {
    AlertTargetSpec f = split_alert_target(spec);
    std::string events;
    for (const auto& word : event_words(f.events))
        events += (events.empty() ? "" : ",") + (looks_like_secret(word) ? mask_secret(word) : word);
    return redact_url(f.url) + " | " + (f.secret.empty() ? "(alert-secret)" : mask_secret(f.secret)) +
           " | " + (events.empty() ? "(alert-events)" : events);
}

AlertTargetSpec split_alert_target(const std::string& spec) {
    AlertTargetSpec out;
    auto bar1 = spec.find('|');
    auto bar2 = bar1 == std::string::npos ? bar1 : spec.find('|', bar1 + 1);
    out.url = trim(spec.substr(0, bar1));
    if (bar1 != std::string::npos) out.secret = trim(spec.substr(bar1 + 1, bar2 - bar1 - 1));
    if (bar2 != std::string::npos) out.events = trim(spec.substr(bar2 + 1));
    return out;
}

bool parse_alert_events(const std::string& text, bool& churned, bool& reactivated,
                        bool& retracted, std::string& error) {
    bool updated = false;
    return parse_alert_events(text, churned, reactivated, retracted, updated, error);
}

bool parse_alert_events(const std::string& text, bool& churned, bool& reactivated,
                        bool& retracted, bool& updated, std::string& error) {
    churned = reactivated = retracted = updated = false;
    for (const auto& word : event_words(text)) {
        if (word == kCustomerChurned) {
            churned = true;
        } else if (word == kCustomerReactivated) {
            reactivated = true;
        } else if (word == kCustomerChurnRetracted) {
            retracted = true;
        } else if (word == kCustomerChurnUpdated) {
            updated = true;
        } else if (looks_like_secret(word)) {
            error = "unknown alert event " + mask_secret(word) +
                    ": that looks like a signing secret (an alert-target is URL | SECRET | EVENTS, "
                    "in that order)";
            return false;
        } else {
            error = "unknown alert event '" + word +
                    "' (known: customer.churned, customer.reactivated, customer.churn_retracted, "
                    "customer.churn_updated)";
            return false;
        }
    }
    if (!churned && !reactivated && !retracted && !updated) {
        error = "no alert events given (customer.churned, customer.reactivated, customer.churn_retracted, "
                "customer.churn_updated)";
        return false;
    }
    return true;
}

bool read_alert_settings(const Config& c, AlertSettings& out, std::string& error) {
    out = AlertSettings{};
    long long timeout_s = 0, budget_h = 0, base_ms = 0, hold_s = 0, retention_d = 0;
    auto num = [&](const char* name, long long min, long long max, long long& v) {
        auto got = c.get_int(name, min, max, error);
        if (got) v = *got;
        return got.has_value();
    };
    if (!num("alert-timeout", 1, 300, timeout_s) || !num("alert-budget", 1, 24 * 365, budget_h) ||
        !num("alert-backoff-base-ms", 1, 600000, base_ms) || !num("alert-hold", 0, 86400, hold_s) ||
        !num("alert-retention-days", 0, 3650, retention_d)) {
        return false;
    }
    out.hold = hold_s * kMicrosPerSecond;
    out.retention = retention_d * 86400 * kMicrosPerSecond;
    out.timeout = std::chrono::seconds(timeout_s);
    out.policy.budget = budget_h * 3600 * kMicrosPerSecond;
    out.policy.base_delay = base_ms * 1000;

    bool churned = true, reactivated = true, retracted = true, updated = false;
    if (!parse_alert_events(c.get_or("alert-events"), churned, reactivated, retracted, updated, error)) {
        error = "--alert-events: " + error;
        return false;
    }
    // A target with the shared alert-events.
    auto shared_events = [&] {
        AlertTarget t;
        t.churned = churned;
        t.reactivated = reactivated;
        t.retracted = retracted;
        t.updated = updated;
        return t;
    };
    std::string shared_secret = trim(c.get_or("alert-secret"));
    for (const auto& url : c.get_all("alert-url")) {
        AlertTarget t = shared_events();
        t.url = trim(url);
        t.secret = shared_secret;
        if (!check_http_target(t, "alert-url", false, out.warnings, error)) return false;
        out.targets.push_back(std::move(t));
    }
    for (const auto& url : c.get_all("alert-chat")) {
        AlertTarget t = shared_events();
        t.url = trim(url);
        t.chat = true;
        std::string why;
        if (!parse_http_url(t.url, why)) {
            error = "--alert-chat " + redact_chat_url(t.url) + ": " + why;
            return false;
        }
        t.name = "chat:" + t.url;
        out.targets.push_back(std::move(t));
    }
    for (const auto& spec : alert_target_values(c)) {
        AlertTargetSpec fields = split_alert_target(spec);
        if (std::string why = swapped_fields(fields); !why.empty()) {
            error = "--alert-target " + target_label(fields) + ": the fields look swapped: " + why +
                    " (the order is URL | SECRET | EVENTS)";
            return false;
        }
        AlertTarget t;
        t.url = fields.url;
        // "Each target may have its own secret and events": without them it uses alert-secret
        // and alert-events, like an alert-url.
        t.secret = fields.secret.empty() ? shared_secret : fields.secret;
        if (fields.events.empty()) {
            t.churned = churned;
            t.reactivated = reactivated;
            t.retracted = retracted;
            t.updated = updated;
        } else if (!parse_alert_events(fields.events, t.churned, t.reactivated, t.retracted, t.updated, error)) {
            error = "--alert-target " + redact_url(t.url) + ": " + error;
            return false;
        }
        if (!check_http_target(t, "alert-target", !fields.secret.empty(), out.warnings, error)) return false;
        out.targets.push_back(std::move(t));
    }
    if (auto cmd = c.get("alert-command"); cmd && !trim(*cmd).empty()) {
        AlertTarget t = shared_events();
        t.command = trim(*cmd);
        t.name = "command:" + t.command;
        // access(X_OK) alone also passes a directory (search permission), which then fails
        // every attempt for the whole retry budget.
        struct stat st {};
        if (::stat(t.command.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
            ::access(t.command.c_str(), X_OK) != 0) {
            error = "--alert-command " + t.command + " is not an executable file";
            return false;
        }
        out.targets.push_back(std::move(t));
    }
    // Two spellings of one URL would send every alert twice, with different webhook-ids.
    std::map<std::string, const AlertTarget*> seen;
    for (const auto& t : out.targets) {
        auto [it, inserted] = seen.emplace(endpoint_key(t), &t);
        if (!inserted) {
            error = "alert target " + t.label() + " is configured twice";
            if (it->second->name != t.name) error += " (" + same_endpoint_hint(*it->second, t) + ")";
            return false;
        }
    }
    // Distinct targets, but their labels may not be: number the second and later of each
    // label, in configuration order, so their metric series and log lines stay apart
    // without the query (where tokens live) showing.
    std::map<std::string, int> times_seen;
    for (auto& t : out.targets) t.label_ordinal = ++times_seen[t.label()];
    // Retractions and corrections follow what the target itself was sent (a churn, or a
    // return): a target that asks for neither is never sent anything.
    for (const auto& t : out.targets) {
        if (!t.churned && !t.reactivated) {
            out.warnings.push_back(
                "alert target " + t.label() +
                " will never be sent anything: customer.churn_retracted and customer.churn_updated go only "
                "to a target that was sent the churn (customer.churned) or the return (customer.reactivated) "
                "they are about; add one of those to its events");
        }
    }
    return true;
}

std::vector<AlertRoute> alert_routes(const std::vector<AlertTarget>& targets) {
    std::vector<AlertRoute> routes;
    for (const auto& t : targets) routes.push_back({t.name, t.churned, t.reactivated, t.retracted, t.updated});
    return routes;
}

}  // namespace churnwatch
