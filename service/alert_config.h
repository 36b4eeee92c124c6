// Alert hook configuration: the targets (`alert-url` with `alert-secret`, `alert-target`,
// `alert-command`), the delivery policy (`alert-hold`, `alert-timeout`, `alert-budget`,
// `alert-backoff-base-ms`) and how long finished alerts are kept (`alert-retention-days`),
// validated up front so `serve` refuses to start with a target it
// could not sign for or reach.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "alert_outbox.h"
#include "alert_policy.h"
#include "config.h"

namespace churnwatch {

struct AlertTarget {
    std::string name;     // the outbox key: the URL, "chat:<URL>", or "command:<path>"
    std::string url;      // HTTP targets (signed) and chat targets
    std::string secret;   // signed HTTP targets: "whsec_<base64>" (validated)
    std::string command;  // command targets: the program's path
    bool chat = false;    // alert-chat: one line of text ({"text":…}, alert_chat.h), unsigned
    bool churned = true;
    bool reactivated = true;
    bool retracted = true;  // customer.churn_retracted, for churns this target was told of
    bool updated = false;   // customer.churn_updated, likewise; opt-in
    bool is_command() const { return !command.empty(); }
    // For logs and metric labels: the URL without user info or query, or the name, unique
    // within a configuration. Targets whose URLs differ only in what is left out (the query:
    // https://h/in?token=AAA and https://h/in?token=BBB) would share one, so the second,
    // third, … of them in configuration order (alert-url, then alert-target) get " #2",
    // " #3", … after it; the first keeps it bare. Such a suffix cannot be part of a URL label
    // (no spaces there, and a '#' starts the fragment, which is dropped).
    // A chat target's label is "chat:" and its URL without the path: a chat webhook's path is
    // its token (hooks.slack.com/services/T…/B…/SECRET).
    std::string label() const;
    int label_ordinal = 1;  // set by read_alert_settings: this target's N in " #N"
};

// A chat webhook URL fit to show: scheme://host[:port]/… (its path is the token).
std::string redact_chat_url(const std::string& url);
// The label of a target as stored in the outbox (alerts list, a target no longer configured):
// a command's name as it is, a chat target's as redact_chat_url shows it after "chat:", a URL
// without query or user info; with a 6-hex fingerprint of the whole stored name when
// something was left out, so two stored targets that differ only there look different.
std::string stored_target_label(const std::string& name);

struct AlertSettings {
    std::vector<AlertTarget> targets;
    AlertPolicy policy;
    std::chrono::milliseconds timeout{10000};  // per attempt (HTTP exchange or command run)
    Micros hold = 0;  // alert-hold: how long a churn alert waits before its first attempt
    // alert-retention-days: finished alerts are deleted this long after they finished (see
    // PrunedAlerts in alert_outbox.h); 0 keeps every alert.
    Micros retention = 30 * 86400 * kMicrosPerSecond;
    // Accepted but worth an operator's attention (serve logs each, config check prints them):
    // a signing secret shorter than the 24 bytes Standard Webhooks asks for. Never a secret.
    std::vector<std::string> warnings;
};

// Reads and validates the alert options. Errors name the option; never echo a secret. An
// alert-target without its own secret or events uses alert-secret and alert-events, as an
// alert-url does.
bool read_alert_settings(const Config& c, AlertSettings& out, std::string& error);

// What the outbox needs to know of the targets.
std::vector<AlertRoute> alert_routes(const std::vector<AlertTarget>& targets);

// The fields of an alert-target value "URL | SECRET | EVENTS" (trimmed; "" when absent).
struct AlertTargetSpec {
    std::string url, secret, events;
};
AlertTargetSpec split_alert_target(const std::string& spec);
// The alert-target values as configured. CHURNWATCH_ALERT_TARGET arrives split at every comma
// (the variable holds a list), so there a piece without '|' is put back onto the previous
// target's events; a config-file line or a flag is one target each, with or without '|'.
std::vector<std::string> alert_target_values(const Config& c);
// An alert-target value fit to print (config check): the URL without query or user info, the
// secret masked ("(alert-secret)" when it has none of its own), the events ("(alert-events)"
// when none; any word that looks like a secret masked).
std::string describe_alert_target(const std::string& spec);

// "customer.churned,customer.reactivated,customer.churn_retracted" (commas and/or spaces),
// and customer.churn_updated when named (it is not in the default) → the flags. An unknown word that looks like a signing secret (whsec_…) is masked in
// the error, never echoed.
bool parse_alert_events(const std::string& text, bool& churned, bool& reactivated,
                        bool& retracted, bool& updated, std::string& error);
// The same, for a caller that only tells an events list from a secret.
bool parse_alert_events(const std::string& text, bool& churned, bool& reactivated,
                        bool& retracted, std::string& error);

}  // namespace churnwatch
