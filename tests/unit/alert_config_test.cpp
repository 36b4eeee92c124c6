// Reading the alert options (alert_config.h): targets, their secrets and events, and the
// errors that name what is wrong without ever echoing a secret.
#include "alert_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "test_support.h"

using namespace churnwatch;

namespace {

// The Standard Webhooks specification's example secret, and one more.
const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kOtherSecret = "whsec_PcNNCFLEJ6rL9kwQag9HPl4uTGb3FgUp";

// Runs with no CHURNWATCH_* alert settings from the test's environment.
class AlertConfig : public ::testing::Test {
protected:
    void SetUp() override {
        for (const char* name : {"CHURNWATCH_CONFIG", "CHURNWATCH_ALERT_URL", "CHURNWATCH_ALERT_SECRET",
                                 "CHURNWATCH_ALERT_EVENTS", "CHURNWATCH_ALERT_TARGET",
                                 "CHURNWATCH_ALERT_COMMAND", "CHURNWATCH_ALERT_RETENTION_DAYS"}) {
            if (const char* v = std::getenv(name)) saved_.emplace_back(name, v);
            ::unsetenv(name);
        }
    }
    void TearDown() override {
        for (const auto& [name, value] : saved_) ::setenv(name.c_str(), value.c_str(), 1);
    }
    // read_alert_settings on these flags: the settings, or nullopt with error set.
    std::optional<AlertSettings> read(const std::vector<std::string>& args, std::string& error) {
        auto config = Config::load(args, error);
        if (!config) return std::nullopt;
        AlertSettings s;
        if (!read_alert_settings(*config, s, error)) return std::nullopt;
        return s;
    }
    // Each pair, as an alert-url and an alert-target, is refused as one target twice.
    // Two alert-urls for one endpoint: refused, and the error says why they are the same.
    void expect_twice_because(const std::string& a, const std::string& b, const std::string& error_text) {
        std::string error;
        EXPECT_FALSE(read({"--alert-secret", kSecret, "--alert-url", a, "--alert-url", b}, error)) << a << " " << b;
        EXPECT_EQ(error, error_text);
    }
    void expect_configured_twice(const std::vector<std::pair<std::string, std::string>>& same) {
        for (const auto& [a, b] : same) {
            std::string error;
            EXPECT_FALSE(read({"--alert-secret", kSecret, "--alert-url", a, "--alert-target", b}, error))
                << a << " and " << b;
            EXPECT_NE(error.find("is configured twice"), std::string::npos) << a << " and " << b << ": " << error;
        }
    }

private:
    std::vector<std::pair<std::string, std::string>> saved_;
};

// The secret's base64 part: what must never appear in a message.
std::string key_of(const std::string& secret) { return secret.substr(6); }

TEST_F(AlertConfig, TargetWithItsOwnSecretAndEvents) {
    std::string error;
    auto s = read({"--alert-target", "https://crm.example.com/hooks | " + kSecret + " | customer.churned"}, error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->targets.size(), 1u);
    EXPECT_EQ(s->targets[0].url, "https://crm.example.com/hooks");
    EXPECT_EQ(s->targets[0].secret, kSecret);
    EXPECT_TRUE(s->targets[0].churned);
    EXPECT_FALSE(s->targets[0].reactivated);
}

// alert-retention-days: whole days, 30 by default, 0 (keep every alert) to 3650, as a flag,
// in the environment or in the file; anything else refused naming the option.
TEST_F(AlertConfig, RetentionIsWholeDaysThirtyByDefaultZeroKeepsEveryAlert) {
    std::string error;
    auto s = read({}, error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->retention, 30 * 86400 * kMicrosPerSecond);
    s = read({"--alert-retention-days", "0"}, error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->retention, 0);
    s = read({"--alert-retention-days", "3650"}, error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->retention, 3650 * 86400 * kMicrosPerSecond);
    ::setenv("CHURNWATCH_ALERT_RETENTION_DAYS", "7", 1);
    s = read({}, error);
    ::unsetenv("CHURNWATCH_ALERT_RETENTION_DAYS");
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->retention, 7 * 86400 * kMicrosPerSecond);
    for (const char* bad : {"-1", "3651", "1.5", "30d", ""}) {
        EXPECT_FALSE(read({"--alert-retention-days", bad}, error)) << bad;
        EXPECT_EQ(error, "--alert-retention-days must be a whole number from 0 to 3650 (got '" +
                             std::string(bad) + "')");
    }
}

// customer.churn_updated is opt-in: not in the default events, given by name per target or
// in alert-events; routes carry it to the outbox.
TEST_F(AlertConfig, ChurnUpdatesAreSentOnlyWhenAskedFor) {
    std::string error;
    auto s = read({"--alert-secret", kSecret, "--alert-url", "https://a.example/hook", "--alert-target",
                   "https://b.example/hook | | customer.churned customer.churn_updated"},
                  error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->targets.size(), 2u);
    EXPECT_FALSE(s->targets[0].updated);
    EXPECT_TRUE(s->targets[0].retracted);
    EXPECT_TRUE(s->targets[1].updated);
    EXPECT_FALSE(s->targets[1].retracted);
    auto routes = alert_routes(s->targets);
    EXPECT_FALSE(routes[0].updated);
    EXPECT_TRUE(routes[1].updated);
    auto all = read({"--alert-secret", kSecret, "--alert-url", "https://a.example/hook", "--alert-events",
                     "customer.churned,customer.churn_updated"},
                    error);
    ASSERT_TRUE(all) << error;
    EXPECT_TRUE(all->targets[0].updated);
    EXPECT_FALSE(all->targets[0].reactivated);
    EXPECT_FALSE(read({"--alert-secret", kSecret, "--alert-url", "https://a.example/hook", "--alert-events",
                       "customer.churn_update"},
                      error));
    EXPECT_EQ(error, "--alert-events: unknown alert event 'customer.churn_update' (known: customer.churned, "
                     "customer.reactivated, customer.churn_retracted, customer.churn_updated)");
}

// `URL | customer.churned | whsec_…` used to be refused with "unknown alert event
// 'whsec_…'": the secret in full, on stderr and in the journal. Each way of getting the
// order wrong is named, the order given, and the secret never shown.
TEST_F(AlertConfig, SwappedTargetFieldsAreNamedWithoutEchoingTheSecret) {
    const std::string url = "https://crm.example.com/hooks?token=QUERYTOKEN123";
    for (const std::string& spec : {url + " | customer.churned | " + kSecret,
                                   url + " | " + kOtherSecret + " | " + kSecret,
                                   url + " | | customer.churned " + kSecret,
                                   kSecret + " | " + url + " | customer.churned",
                                   url + " | customer.churned",
                                   "customer.churned | " + kSecret + " | " + url}) {
        std::string error;
        EXPECT_FALSE(read({"--alert-target", spec}, error)) << spec;
        EXPECT_NE(error.find("--alert-target https://crm.example.com/hooks: the fields look swapped"),
                  std::string::npos)
            << spec << "\n" << error;
        EXPECT_NE(error.find("the order is URL | SECRET | EVENTS"), std::string::npos) << error;
        for (const auto& secret : {kSecret, kOtherSecret})
            EXPECT_EQ(error.find(key_of(secret)), std::string::npos) << "secret echoed: " << error;
        EXPECT_EQ(error.find("QUERYTOKEN123"), std::string::npos) << error;
    }
    std::string error;
    EXPECT_FALSE(read({"--alert-target", url + " | customer.churned | " + kSecret}, error));
    EXPECT_NE(error.find("the secret field holds alert events and the events field holds what "
                         "looks like a signing secret, whse…(38 chars)"),
              std::string::npos)
        << error;
}

TEST_F(AlertConfig, AnUnknownEventThatLooksLikeASecretIsMasked) {
    std::string error;
    EXPECT_FALSE(read({"--alert-events", "customer.churned," + kSecret}, error));
    EXPECT_NE(error.find("--alert-events: unknown alert event whse…(38 chars): that looks like a "
                         "signing secret"),
              std::string::npos)
        << error;
    EXPECT_EQ(error.find(key_of(kSecret)), std::string::npos) << error;
    // Upper case is still a secret.
    EXPECT_FALSE(read({"--alert-events", "WHSEC_" + key_of(kSecret)}, error));
    EXPECT_EQ(error.find(key_of(kSecret)), std::string::npos) << error;
    // Any other unknown word is named as it is.
    EXPECT_FALSE(read({"--alert-target", "https://crm.example.com/ | " + kSecret + " | customer.born"}, error));
    EXPECT_NE(error.find("unknown alert event 'customer.born'"), std::string::npos) << error;
    EXPECT_EQ(error.find(key_of(kSecret)), std::string::npos) << error;
}

// README: "each target may have its own secret and events". One without its own secret was
// refused even with alert-secret set — while the error said to set alert-secret. Like its
// events, its secret now defaults to the shared one.
TEST_F(AlertConfig, TargetWithoutItsOwnSecretUsesAlertSecret) {
    std::string error;
    auto s = read({"--alert-secret", kSecret, "--alert-events", "customer.reactivated",
                   "--alert-target", "https://a.example/hook",
                   "--alert-target", "https://b.example/hook | | customer.churned",
                   "--alert-target", "https://c.example/hook | " + kOtherSecret},
                  error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->targets.size(), 3u);
    EXPECT_EQ(s->targets[0].secret, kSecret);
    EXPECT_FALSE(s->targets[0].churned);
    EXPECT_TRUE(s->targets[0].reactivated);
    EXPECT_EQ(s->targets[1].secret, kSecret);
    EXPECT_TRUE(s->targets[1].churned);
    EXPECT_FALSE(s->targets[1].reactivated);
    EXPECT_EQ(s->targets[2].secret, kOtherSecret);  // its own wins
    EXPECT_FALSE(s->targets[2].churned);
    EXPECT_TRUE(s->targets[2].reactivated);
}

// Only the environment's list is split at commas. A config-file line (or a flag) without
// '|' was still glued onto the previous target as one of its events.
TEST_F(AlertConfig, EachFileLineIsOneTargetButTheEnvironmentListIsRejoined) {
    test::TempDir dir;
    std::string path = dir.file("alerts.conf");
    test::write_file(path, "alert-secret = " + kSecret + "\n"
                           "alert-target = https://a.example/hook | " + kOtherSecret + " | customer.churned\n"
                           "alert-target = https://b.example/hook\n");
    std::string error;
    auto s = read({"--config", path}, error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->targets.size(), 2u);
    EXPECT_EQ(s->targets[1].url, "https://b.example/hook");
    s = read({"--alert-secret", kSecret, "--alert-target", "https://a.example/hook | | customer.churned",
              "--alert-target", "https://b.example/hook"},
             error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->targets.size(), 2u);
    // CHURNWATCH_ALERT_TARGET="URL | SECRET | customer.churned, customer.reactivated,URL2 |"
    ::setenv("CHURNWATCH_ALERT_TARGET",
             ("https://a.example/hook | " + kOtherSecret +
              " | customer.churned, customer.reactivated,https://b.example/hook |").c_str(), 1);
    s = read({"--alert-secret", kSecret}, error);
    ::unsetenv("CHURNWATCH_ALERT_TARGET");
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->targets.size(), 2u);
    EXPECT_TRUE(s->targets[0].churned);
    EXPECT_TRUE(s->targets[0].reactivated);
    EXPECT_EQ(s->targets[1].url, "https://b.example/hook");
    EXPECT_EQ(s->targets[1].secret, kSecret);
}

TEST_F(AlertConfig, TargetWithNoSecretAnywhereSaysHowToGiveOne) {
    std::string error;
    EXPECT_FALSE(read({"--alert-target", "https://a.example/hook?t=QUERYTOKEN | | customer.churned"}, error));
    EXPECT_EQ(error,
              "--alert-target https://a.example/hook has no signing secret: alerts must be "
              "verifiable. Set CHURNWATCH_ALERT_SECRET (or alert-secret) to a whsec_<base64> secret, "
              "or give it as 'URL | whsec_… | EVENTS'");
    // A bad secret says whose it is, without showing it.
    EXPECT_FALSE(read({"--alert-secret", "whsec_not_base64!", "--alert-target", "https://a.example/hook"}, error));
    EXPECT_NE(error.find("the signing secret for https://a.example/hook (alert-secret) is not a valid"),
              std::string::npos)
        << error;
    EXPECT_FALSE(read({"--alert-secret", kSecret, "--alert-target", "https://a.example/hook | whsec_not_base64!"}, error));
    EXPECT_NE(error.find("the signing secret for https://a.example/hook (its own, in alert-target) is not a valid"),
              std::string::npos)
        << error;
    EXPECT_EQ(error.find("not_base64!"), std::string::npos) << error;
    // In a rotation's list, any bad one is refused, and none is shown.
    EXPECT_FALSE(read({"--alert-secret", kSecret + ",whsec_bad!", "--alert-url", "https://a.example/hook"}, error));
    EXPECT_EQ(error, "one of the signing secrets for https://a.example/hook (alert-secret) is not a valid "
                     "whsec_<base64> secret (the prefix whsec_, then standard base64, padded, non-empty)");
}

// The specification asks for 24 to 64 random bytes: a shorter key still signs (receivers'
// libraries accept it), so it is a warning, not a refusal, and the secret is not shown.
TEST_F(AlertConfig, AShortSecretIsAcceptedWithAWarning) {
    std::string error;
    const std::string short_secret = "whsec_c29tZSBvdGhlciBzZWNyZXQ=";  // 17 bytes
    auto s = read({"--alert-secret", short_secret, "--alert-url", "https://a.example/hook"}, error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->warnings.size(), 1u);
    EXPECT_EQ(s->warnings[0], "a signing secret for https://a.example/hook (alert-secret) is 17 bytes; Standard "
                              "Webhooks asks for 24 to 64 random bytes (\"whsec_$(openssl rand -base64 32)\" makes one)");
    auto fine = read({"--alert-secret", kSecret, "--alert-url", "https://a.example/hook"}, error);
    ASSERT_TRUE(fine) << error;
    EXPECT_TRUE(fine->warnings.empty());
}

// Retractions and corrections go only to a target that was sent the churn or the return they
// are about: a target asking for them alone is accepted (an upgrade must not stop the
// service) but warned about, by its label, whether its events are its own or alert-events.
TEST_F(AlertConfig, ATargetThatCanNeverBeSentAnythingIsWarnedAbout) {
    std::string error;
    auto s = read({"--alert-target",
                   "https://crm.example.com/fix?token=abc | " + kSecret + " | customer.churn_retracted customer.churn_updated",
                   "--alert-target", "https://crm.example.com/back | " + kSecret + " | customer.reactivated customer.churn_updated",
                   "--alert-target", "https://crm.example.com/all | " + kSecret + " | customer.churned"},
                  error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->warnings.size(), 1u);
    EXPECT_EQ(s->warnings[0],
              "alert target https://crm.example.com/fix will never be sent anything: customer.churn_retracted and "
              "customer.churn_updated go only to a target that was sent the churn (customer.churned) or the return "
              "(customer.reactivated) they are about; add one of those to its events");
    auto shared = read({"--alert-secret", kSecret, "--alert-events", "customer.churn_updated", "--alert-url",
                        "https://a.example/hook", "--alert-chat", "https://hooks.example.com/services/T/B/x"},
                       error);
    ASSERT_TRUE(shared) << error;
    ASSERT_EQ(shared->warnings.size(), 2u);
    EXPECT_NE(shared->warnings[0].find("alert target https://a.example/hook will never"), std::string::npos);
    EXPECT_NE(shared->warnings[1].find("alert target chat:https://hooks.example.com/… will never"), std::string::npos)
        << shared->warnings[1];
}

// Rotation: alert-secret (or a target's own secret field) may hold the new and the old secret.
TEST_F(AlertConfig, TwoSecretsForARotationAreAccepted) {
    std::string error;
    auto s = read({"--alert-secret", kSecret + "," + kOtherSecret, "--alert-url", "https://a.example/hook",
                   "--alert-target", "https://b.example/hook | " + kOtherSecret + " " + kSecret + " |"},
                  error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->targets.size(), 2u);
    EXPECT_EQ(s->targets[0].secret, kSecret + "," + kOtherSecret);
    EXPECT_EQ(s->targets[1].secret, kOtherSecret + " " + kSecret);
    EXPECT_EQ(describe_alert_target("https://b.example/hook | " + kOtherSecret + " " + kSecret),
              "https://b.example/hook | whse…(77 chars) | (alert-events)");
    std::string five = kSecret;
    for (int i = 0; i < 4; ++i) five += "," + kSecret;
    EXPECT_FALSE(read({"--alert-secret", five, "--alert-url", "https://a.example/hook"}, error));
    EXPECT_EQ(error, "more than 4 signing secrets for https://a.example/hook (alert-secret) (commas or spaces "
                     "separate secrets; two are enough for a rotation)");
    // The configuration example's placeholder pasted as it stands is named as such, not
    // counted as five secrets.
    for (const std::string& placeholder : {std::string("whsec_<base64 of 24-64 random bytes>"),
                                           std::string("whsec_<base64>")}) {
        EXPECT_FALSE(read({"--alert-secret", placeholder, "--alert-url", "https://a.example/hook"}, error));
        EXPECT_EQ(error, "the signing secret for https://a.example/hook (alert-secret) is a placeholder (it has "
                         "< or >): make a secret with \"whsec_$(openssl rand -base64 32)\"");
        EXPECT_FALSE(read({"--alert-target", "https://b.example/hook | " + placeholder + " |"}, error));
        EXPECT_NE(error.find("is a placeholder"), std::string::npos) << error;
    }
}

// "whsec_${NEW},${OLD}" with one variable unset would sign with one secret fewer than meant,
// and a receiver that has only that one would reject every alert: refused at start instead.
TEST_F(AlertConfig, AnEmptyEntryInARotationListIsRefused) {
    std::string error;
    for (const std::string& list : {kSecret + ",," + kOtherSecret, "," + kOtherSecret, kSecret + " , ",
                                    kSecret + ", ," + kOtherSecret}) {
        EXPECT_FALSE(read({"--alert-secret", list, "--alert-url", "https://a.example/hook"}, error)) << list;
        EXPECT_EQ(error, "the signing secrets for https://a.example/hook (alert-secret) have an empty entry "
                         "(two commas together, or a comma at an end): is a variable in them unset? Remove "
                         "the extra comma if not");
    }
    EXPECT_FALSE(read({"--alert-secret", kSecret, "--alert-target",
                       "https://b.example/hook | " + kOtherSecret + ", |"},
                      error));
    EXPECT_NE(error.find("for https://b.example/hook (its own, in alert-target) have an empty entry"),
              std::string::npos)
        << error;
    // Commas and spaces between secrets, with white space around the commas, stay fine.
    EXPECT_TRUE(read({"--alert-secret", kSecret + " , " + kOtherSecret, "--alert-url", "https://a.example/hook"},
                     error))
        << error;
}

// https://example.com/x and https://EXAMPLE.com:443/x are one endpoint: configured both ways,
// every alert went to it twice, with different webhook-ids, so the receiver could not
// deduplicate them.
TEST_F(AlertConfig, TwoSpellingsOfOneUrlAreConfiguredTwice) {
    const std::vector<std::pair<std::string, std::string>> same = {
        {"https://example.com/x", "https://example.com/x"},
        {"https://example.com/x", "https://EXAMPLE.com:443/x"},
        {"https://example.com/x", "HTTPS://Example.Com/x"},
        {"http://example.com/x", "http://example.com:80/x"},
        {"http://[::ab]/x", "http://[::AB]:80/x"},
        {"https://example.com", "https://example.com:443/"},
        {"https://example.com/x?a=1", "https://example.com:443/x?a=1#part"},
    };
    expect_configured_twice(same);
    std::string error;
    EXPECT_FALSE(read({"--alert-secret", kSecret, "--alert-url", "https://example.com/x",
                       "--alert-url", "https://EXAMPLE.com:443/x"},
                      error));
    EXPECT_EQ(error, "alert target https://example.com/x is configured twice (host names ignore "
                     "case, and :443 of https or :80 of http is the default port)");
    // Different endpoints: another scheme, port, path (case matters there) or query.
    auto s = read({"--alert-secret", kSecret, "--alert-url", "https://EXAMPLE.com:443/x",
                   "--alert-url", "http://example.com/x", "--alert-url", "https://example.com:8443/x",
                   "--alert-url", "https://example.com/X", "--alert-url", "https://example.com/x?a=2"},
                  error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->targets.size(), 5u);
    // What is stored and sent to stays as configured.
    EXPECT_EQ(s->targets[0].name, "https://EXAMPLE.com:443/x");
    EXPECT_EQ(s->targets[0].url, "https://EXAMPLE.com:443/x");
}

// An IPv6 address has many spellings: leading zeros, "::" for a run of zero groups, hex in
// either case, an embedded IPv4 address. [::1] and [0:0:0:0:0:0:0:1] were two targets, and
// every alert went to that one receiver twice, with different webhook-ids.
TEST_F(AlertConfig, TwoSpellingsOfOneIpv6AddressAreConfiguredTwice) {
    const std::vector<std::pair<std::string, std::string>> same = {
        {"http://[::1]:9/x", "http://[0:0:0:0:0:0:0:1]:9/x"},
        {"http://[::1]:9/x", "http://[::0001]:9/x"},
        {"http://[::1]:9/x", "http://[0::1]:9/x"},
        {"http://[::FFFF:7f00:1]/x", "http://[::ffff:127.0.0.1]/x"},
        {"https://[2001:DB8:0:0:1:0:0:1]/x", "https://[2001:db8::1:0:0:1]:443/x"},
        {"https://[2001:db8:0:0:0:0:0:AB]/x?a=1", "https://[2001:0db8::ab]/x?a=1"},
    };
    expect_configured_twice(same);
    expect_twice_because("http://[::1]:9/x", "http://[0:0:0:0:0:0:0:1]:9/x",
                         "alert target http://[0:0:0:0:0:0:0:1]:9/x is configured twice ([::1] and "
                         "[0:0:0:0:0:0:0:1] are the same IPv6 address)");
    std::string error;
    // Other addresses, or an address and a host name, are other endpoints; what is stored and
    // sent to stays as configured.
    auto s = read({"--alert-secret", kSecret, "--alert-url", "http://[0:0:0:0:0:0:0:1]:9/x",
                   "--alert-url", "http://[::2]:9/x", "--alert-url", "http://[::ffff:127.0.0.2]:9/x",
                   "--alert-url", "http://127.0.0.1:9/x", "--alert-url", "http://localhost:9/x"},
                  error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->targets.size(), 5u);
    EXPECT_EQ(s->targets[0].name, "http://[0:0:0:0:0:0:0:1]:9/x");
    EXPECT_EQ(s->targets[0].url, "http://[0:0:0:0:0:0:0:1]:9/x");
    EXPECT_EQ(s->targets[0].label(), "http://[0:0:0:0:0:0:0:1]:9/x");
}

// Labels leave the query out (tokens live there), so two targets that differ only in it —
// two channels of one hook service — had one label: their churnwatch_alert_* series merged
// and their log lines could not be told apart. The second and later get " #N", in
// configuration order (alert-url, then alert-target), the same on every start.
TEST_F(AlertConfig, TargetsThatDifferOnlyInTheQueryGetDistinctLabels) {
    std::string error;
    auto s = read({"--alert-secret", kSecret,
                   "--alert-url", "https://hooks.example.com/in?token=AAA",
                   "--alert-url", "https://other.example.com/in?token=AAA",
                   "--alert-url", "https://HOOKS.example.com:443/in?token=BBB",
                   "--alert-target", "https://hooks.example.com/in?token=CCC | " + kOtherSecret,
                   "--alert-target", "https://hooks.example.com/in/more?token=DDD"},
                  error);
    ASSERT_TRUE(s) << error;
    std::vector<std::string> labels;
    for (const auto& t : s->targets) labels.push_back(t.label());
    EXPECT_EQ(labels, (std::vector<std::string>{"https://hooks.example.com/in",
                                                "https://other.example.com/in",
                                                "https://hooks.example.com/in #2",
                                                "https://hooks.example.com/in #3",
                                                "https://hooks.example.com/in/more"}));
    for (const auto& label : labels) {
        for (const char* token : {"AAA", "BBB", "CCC", "DDD", "?"})
            EXPECT_EQ(label.find(token), std::string::npos) << label;
    }
    // What is stored and sent to stays as configured.
    EXPECT_EQ(s->targets[2].name, "https://HOOKS.example.com:443/in?token=BBB");
    EXPECT_EQ(s->targets[2].url, "https://HOOKS.example.com:443/in?token=BBB");
    // Deterministic: the same configuration gives the same labels.
    auto again = read({"--alert-secret", kSecret,
                       "--alert-url", "https://hooks.example.com/in?token=AAA",
                       "--alert-url", "https://other.example.com/in?token=AAA",
                       "--alert-url", "https://HOOKS.example.com:443/in?token=BBB",
                       "--alert-target", "https://hooks.example.com/in?token=CCC | " + kOtherSecret,
                       "--alert-target", "https://hooks.example.com/in/more?token=DDD"},
                      error);
    ASSERT_TRUE(again) << error;
    for (std::size_t i = 0; i < labels.size(); ++i) EXPECT_EQ(again->targets[i].label(), labels[i]);
    // A lone target's label has no number.
    auto one = read({"--alert-secret", kSecret, "--alert-url", "https://hooks.example.com/in?token=AAA"}, error);
    ASSERT_TRUE(one) << error;
    EXPECT_EQ(one->targets[0].label(), "https://hooks.example.com/in");
}

// An IPv4-mapped IPv6 literal is its IPv4 address: http://[::ffff:127.0.0.1]:9000/x and
// http://127.0.0.1:9000/x were two targets, and every alert went to that receiver twice.
TEST_F(AlertConfig, AnIpv4MappedIpv6AddressIsItsIpv4Address) {
    const std::vector<std::pair<std::string, std::string>> same = {
        {"http://[::ffff:127.0.0.1]:9000/x", "http://127.0.0.1:9000/x"},
        {"http://127.0.0.1:9000/x", "http://[::ffff:127.0.0.1]:9000/x"},
        {"http://[::FFFF:7f00:1]:9000/x", "http://127.0.0.1:9000/x"},
        {"https://[0:0:0:0:0:ffff:c000:201]/x", "https://192.0.2.1:443/x"},
    };
    expect_configured_twice(same);
    expect_twice_because("http://127.0.0.1:9000/x", "http://[::ffff:127.0.0.1]:9000/x",
                         "alert target http://[::ffff:127.0.0.1]:9000/x is configured twice "
                         "([::ffff:127.0.0.1] is the IPv4-mapped form of 127.0.0.1)");
    std::string error;
    // Other addresses stay other targets (the IPv4-compatible [::127.0.0.1] is not mapped),
    // and the URL stored and sent to is the one configured.
    auto s = read({"--alert-secret", kSecret, "--alert-url", "http://[::ffff:127.0.0.1]:9000/x",
                   "--alert-url", "http://127.0.0.2:9000/x", "--alert-url", "http://[::127.0.0.1]:9000/x",
                   "--alert-url", "http://[::ffff:127.0.0.1]:9001/x"},
                  error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->targets.size(), 4u);
    EXPECT_EQ(s->targets[0].url, "http://[::ffff:127.0.0.1]:9000/x");
    EXPECT_EQ(s->targets[0].label(), "http://[::ffff:127.0.0.1]:9000/x");
}

// A directory passed the "executable" check (search permission is X_OK too): accepted, it
// then failed every attempt for the whole retry budget.
TEST_F(AlertConfig, AlertCommandMustBeAnExecutableRegularFile) {
    test::TempDir dir;
    std::string script = dir.file("hook.sh"), plain = dir.file("notes.txt");
    test::write_file(script, "#!/bin/sh\ncat >/dev/null\n");
    ::chmod(script.c_str(), 0755);
    test::write_file(plain, "not a program\n");
    ::chmod(plain.c_str(), 0644);
    std::string error;
    auto s = read({"--alert-command", script}, error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->targets.size(), 1u);
    EXPECT_EQ(s->targets[0].name, "command:" + script);
    for (const std::string& bad : {dir.path(), std::string("/tmp"), plain, dir.file("missing")}) {
        EXPECT_FALSE(read({"--alert-command", bad}, error)) << bad;
        EXPECT_EQ(error, "--alert-command " + bad + " is not an executable file") << bad;
    }
}

TEST_F(AlertConfig, SplitAlertTargetTrimsEachField) {
    auto f = split_alert_target("  https://a.example/x |  whsec_abc | customer.churned  ");
    EXPECT_EQ(f.url, "https://a.example/x");
    EXPECT_EQ(f.secret, "whsec_abc");
    EXPECT_EQ(f.events, "customer.churned");
    auto bare = split_alert_target("https://a.example/x");
    EXPECT_EQ(bare.url, "https://a.example/x");
    EXPECT_EQ(bare.secret, "");
    EXPECT_EQ(bare.events, "");
}

}  // namespace
