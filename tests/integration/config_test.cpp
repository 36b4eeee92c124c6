// `churnwatch config check [FILE]`: the effective configuration with its sources and masked
// secrets; errors (unknown key, bad number, anything `serve` would refuse) exit 2 naming the
// line or option, with the message `serve` gives; precedence is flags > environment > file.
// Also: deploy/churnwatch.conf.example and the docs' config examples are valid, and the
// example documents every option.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "test_support.h"

using namespace churnwatch::test;

namespace {

const std::string kSourceDir = std::string(CHURNWATCH_TEST_DATA) + "/../..";
const std::string kLongSecret = "shjk_live_secret_abcdefghijklmnopqrstuvwxyz";  // 43 chars

// Environment for each run: CHURNWATCH_* from the test's own environment are cleared so the
// results do not depend on where the suite runs.
std::map<std::string, std::string> clean_env(std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env;
    for (const char* name :
         {"CHURNWATCH_CONFIG", "CHURNWATCH_DB", "CHURNWATCH_LISTEN", "CHURNWATCH_SECRETS",
          "CHURNWATCH_THREADS", "CHURNWATCH_MAX_BATCH", "CHURNWATCH_LOG_LEVEL",
          "CHURNWATCH_STOP_GRACE"}) {
        env[name] = "";
    }
    for (auto& [k, v] : extra) env[k] = v;
    return env;
}

CommandResult check(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {"config", "check"});
    auto r = run_churnwatch(args, clean_env(std::move(env)));
    EXPECT_EQ(sanitizer_report(r.err), "");
    return r;
}

// The line describing one option ("threads = 4   # file"), or "".
std::string line_for(const std::string& out, const std::string& key) {
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key + " =", 0) == 0) return line;
    return "";
}

class ConfigCheck : public ::testing::Test {
protected:
    TempDir dir;
    std::string good() {
        std::string path = dir.file("good.conf");
        write_file(path,
                   "# churnwatch test configuration\n"
                   "db = /var/lib/churnwatch/churnwatch.db\n"
                   "listen = 0.0.0.0:9090\n"
                   "\n"
                   "secret = " +
                       kLongSecret +
                       "\n"
                       "secret = shjk_old_secret_0123456789\n"
                       "threads = 4\n"
                       "   log-level   =   debug   \n");
        return path;
    }
};

TEST_F(ConfigCheck, GoodFileShowsEffectiveValuesSourcesAndMaskedSecrets) {
    auto r = check({good()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(line_for(r.out, "db"), "db = /var/lib/churnwatch/churnwatch.db   # file");
    EXPECT_EQ(line_for(r.out, "listen"), "listen = 0.0.0.0:9090   # file");
    EXPECT_EQ(line_for(r.out, "threads"), "threads = 4   # file");
    EXPECT_EQ(line_for(r.out, "log-level"), "log-level = debug   # file");
    EXPECT_EQ(line_for(r.out, "max-batch"), "max-batch = 1000   # default");
    // Both secrets listed, masked: a prefix and the length, never the value.
    EXPECT_NE(r.out.find("secret = shjk…(43 chars)   # file"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("secret = shjk…(26 chars)   # file"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find(kLongSecret), std::string::npos) << "secret leaked";
    EXPECT_EQ(r.err.find(kLongSecret), std::string::npos) << "secret leaked";
    EXPECT_NE(r.out.find("# configuration OK"), std::string::npos);
    // The same file named by CHURNWATCH_CONFIG instead of the argument.
    auto via_env = check({}, {{"CHURNWATCH_CONFIG", good()}});
    ASSERT_EQ(via_env.exit_code, 0) << via_env.err;
    EXPECT_EQ(line_for(via_env.out, "threads"), "threads = 4   # file");
}

// stop-grace (the shutdown watchdog's grace) as config check shows it, from each source, and
// refused out of range with serve's message.
TEST_F(ConfigCheck, StopGraceShowsItsSourceAndIsRefusedOutOfRange) {
    auto r = check({good()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(line_for(r.out, "stop-grace"), "stop-grace = 15   # default");
    std::string path = dir.file("grace.conf");
    write_file(path, "stop-grace = 5\n");
    r = check({path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(line_for(r.out, "stop-grace"), "stop-grace = 5   # file");
    r = check({path}, {{"CHURNWATCH_STOP_GRACE", "6"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(line_for(r.out, "stop-grace"), "stop-grace = 6   # env");
    r = check({path, "--stop-grace", "0"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--stop-grace must be a whole number from 1 to 3600 (got '0')"), std::string::npos)
        << r.err;
}

TEST_F(ConfigCheck, NoSecretIsAWarningNotAnError) {
    std::string path = dir.file("nosecret.conf");
    write_file(path, "threads = 3\n");
    auto r = check({path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("no secret"), std::string::npos) << r.err;
}

TEST_F(ConfigCheck, UnknownKeyIsExit2NamingFileAndLine) {
    std::string path = dir.file("bad.conf");
    write_file(path, "db = x.db\n# a comment\ncolour = blue\n");
    auto r = check({path});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find(path + ":3: unknown key 'colour'"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(ConfigCheck, BadNumberIsExit2NamingTheOptionAndValue) {
    std::string path = dir.file("badnum.conf");
    write_file(path, "max-batch = lots\n");
    auto r = check({path});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--max-batch"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'lots'"), std::string::npos) << r.err;
    write_file(path, "threads = 0\n");
    auto range = check({path});
    EXPECT_EQ(range.exit_code, 2);
    EXPECT_NE(range.err.find("--threads must be a whole number from 1 to 64 (got '0')"),
              std::string::npos)
        << range.err;
}

TEST_F(ConfigCheck, OtherFileErrorsAreExit2) {
    std::string path = dir.file("syntax.conf");
    write_file(path, "threads 4\n");
    auto syntax = check({path});
    EXPECT_EQ(syntax.exit_code, 2);
    EXPECT_NE(syntax.err.find(path + ":1: expected 'key = value'"), std::string::npos)
        << syntax.err;
    write_file(path, "threads = 4\nthreads = 5\n");
    auto twice = check({path});
    EXPECT_EQ(twice.exit_code, 2);
    EXPECT_NE(twice.err.find(path + ":2: 'threads' given twice"), std::string::npos) << twice.err;
    auto missing = check({dir.file("nope.conf")});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("cannot read config file"), std::string::npos) << missing.err;
}

TEST_F(ConfigCheck, InlineCommentIsExit2NamingFileLineAndKey) {
    // Kept as part of the value, the comment made the secret 61 characters long: every
    // delivery then failed its signature check while `config check` said OK.
    std::string path = dir.file("inline.conf");
    write_file(path, "listen = 127.0.0.1:8080\n"
                     "secret = shjk_current_client_secret      # repeat the key for rotation\n"
                     "secret = shjk_previous_client_secret\n");
    auto r = check({path});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find(path + ":2: 'secret': inline comments are not supported: put the "
                                "comment on its own line"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("shjk_current"), std::string::npos) << "secret leaked: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    // serve refuses the same file the same way, before creating anything.
    auto serve = run_churnwatch({"serve", "--listen", "127.0.0.1:0", "--db", dir.file("x.db")},
                                clean_env({{"CHURNWATCH_CONFIG", path}}));
    EXPECT_EQ(serve.exit_code, 2);
    EXPECT_NE(serve.err.find("inline comments are not supported"), std::string::npos) << serve.err;
    EXPECT_NE(::access(dir.file("x.db").c_str(), F_OK), 0);
}

// config check printed an alert-url's query string (where tokens live) in full, while it hid
// each alert-target completely ("http…(107 chars)"): now both show the URL as logs and
// metrics do (no query or user info), a target's secret masked and its events.
TEST_F(ConfigCheck, AlertUrlsAreShownWithoutQueryAndTargetsWithTheirEvents) {
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    std::string path = dir.file("alerts.conf");
    write_file(path,
               "alert-url = https://hooks.example.com/churn?token=QUERYTOKEN123\n"
               "alert-secret = whsec_PcNNCFLEJ6rL9kwQag9HPl4uTGb3FgUp\n"
               "alert-target = https://crm.example.com/hooks?key=QUERYTOKEN456 | " + secret + " | customer.churned\n"
               "alert-target = http://10.0.0.5:9000/win-back\n"
               "alert-target = https://hooks.example.com/churn?token=OTHERTOKEN789\n");
    auto r = check({path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The labels logs and metrics use: the second URL that differs only in its query is #2.
    EXPECT_NE(r.out.find("# alert targets, as logs and metrics label them:\n"
                         "#   https://hooks.example.com/churn\n"
                         "#   https://crm.example.com/hooks\n"
                         "#   http://10.0.0.5:9000/win-back\n"
                         "#   https://hooks.example.com/churn #2\n"
                         "# configuration OK\n"),
              std::string::npos) << r.out;
    EXPECT_NE(r.out.find("alert-url = https://hooks.example.com/churn   # file\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("alert-target = https://crm.example.com/hooks | whse…(38 chars) | customer.churned   # file\n"
                         "alert-target = http://10.0.0.5:9000/win-back | (alert-secret) | (alert-events)   # file\n"),
              std::string::npos)
        << r.out;
    for (const char* hidden : {"QUERYTOKEN", "OTHERTOKEN", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                               "PcNNCFLEJ6rL9kwQag9HPl4uTGb3FgUp"}) {
        EXPECT_EQ(r.out.find(hidden), std::string::npos) << hidden << " shown:\n" << r.out;
        EXPECT_EQ(r.err.find(hidden), std::string::npos) << hidden << " shown:\n" << r.err;
    }
    // From the environment, a target's events list (split at its commas) is one line again.
    auto env = check({}, {{"CHURNWATCH_ALERT_TARGET", "https://crm.example.com/hooks?key=QUERYTOKEN456 | " + secret +
                                                          " | customer.churned, customer.reactivated"}});
    ASSERT_EQ(env.exit_code, 0) << env.err;
    EXPECT_EQ(line_for(env.out, "alert-target"),
              "alert-target = https://crm.example.com/hooks | whse…(38 chars) | "
              "customer.churned,customer.reactivated   # env");
    EXPECT_EQ(env.out.find("QUERYTOKEN"), std::string::npos) << env.out;
}

// `alert-target = URL | customer.churned | whsec_…` (fields swapped) used to be refused by
// both with "unknown alert event 'whsec_…'": the secret in full on stderr, in the journal.
TEST_F(ConfigCheck, SwappedAlertTargetFieldsAreRefusedWithoutEchoingTheSecret) {
    const std::string key = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    std::string path = dir.file("alerts.conf");
    write_file(path, "alert-target = https://hooks.example.com/churn | customer.churned | whsec_" + key + "\n");
    const std::string message =
        "--alert-target https://hooks.example.com/churn: the fields look swapped: the secret field "
        "holds alert events and the events field holds what looks like a signing secret, "
        "whse…(38 chars) (the order is URL | SECRET | EVENTS)";
    auto r = check({path});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("config check: " + message), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(key), std::string::npos) << "secret leaked: " << r.err;
    EXPECT_EQ(r.out.find(key), std::string::npos) << "secret leaked: " << r.out;
    auto serve = run_churnwatch({"serve", "--listen", "127.0.0.1:0", "--db", dir.file("x.db")},
                                clean_env({{"CHURNWATCH_CONFIG", path}}));
    EXPECT_EQ(serve.exit_code, 2);
    EXPECT_NE(serve.err.find("churnwatch serve: " + message), std::string::npos) << serve.err;
    EXPECT_EQ(serve.err.find(key), std::string::npos) << "secret leaked: " << serve.err;
    EXPECT_NE(::access(dir.file("x.db").c_str(), F_OK), 0);
    EXPECT_EQ(sanitizer_report(serve.err), "");
}

// Settings `config check` used to call OK and `serve` then refused (or, for TLS files, exited
// 1 and was restarted every 2 s by systemd). Both now run the same validation: each case is
// refused by both, exit 2, with the same message, before serve creates anything.
struct Refused {
    std::vector<std::string> args;
    std::string message;
};

const std::vector<Refused>& refused_cases() {
    static const std::vector<Refused> cases = {
        {{"--log-level", "verbose"}, "--log-level must be debug, info, warn or error (got 'verbose')"},
        {{"--listen", "foo"}, "--listen must be HOST:PORT (got 'foo')"},
        {{"--listen", "127.0.0.1"}, "--listen must be HOST:PORT (got '127.0.0.1')"},
        {{"--listen", "127.0.0.1:99999"}, "--listen port must be 0..65535 (got '99999')"},
        {{"--listen", "127.0.0.1:-1"}, "--listen port must be 0..65535 (got '-1')"},
        {{"--listen", "foo:8080"}, "--listen host must be an IP address or localhost (got 'foo')"},
        {{"--dedupe-days", "0"}, "--dedupe-days must be a whole number from 1 to 3650 (got '0')"},
        {{"--dedupe-days", "5000"}, "--dedupe-days must be a whole number from 1 to 3650 (got '5000')"},
        {{"--max-header", "65536"}, "--max-header must be a whole number from 1024 to 65535 (got '65536')"},
        {{"--projection-max-lag", "-1"}, "--projection-max-lag must be a whole number from 0 to 100000000"},
        {{"--tls-cert", "/nonexistent/cert.pem"}, "--tls-cert and --tls-key go together"},
        {{"--tls-key", "/nonexistent/key.pem"}, "--tls-cert and --tls-key go together"},
        {{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"},
         "--tls-cert /nonexistent/cert.pem cannot be read: No such file or directory"},
        {{"--db="}, "--db must name a file"},
        {{"--alert-command", "/tmp"}, "--alert-command /tmp is not an executable file"},
        {{"--report-timezone", "America/Nowhere"},
         "report-timezone 'America/Nowhere' is not a time zone in /usr/share/zoneinfo"},
        // Options of other commands: a config file is shared, so they are validated too.
        {{"--format", "xml"}, "--format must be table, csv or json (got 'xml')"},
        {{"--from", "2026-13"}, "--from takes a month, YYYY-MM with MM from 01 to 12 (got '2026-13')"},
        {{"--to", "2026-00"}, "--to takes a month, YYYY-MM with MM from 01 to 12 (got '2026-00')"},
        {{"--scheme", "v2"}, "--scheme must be legacy or timestamped (got 'v2')"},
        {{"--status", "foo"}, "--status must be pending, sent, dead, disabled or retracted (got 'foo')"},
        {{"--all-dead=maybe"}, "--all-dead is a switch: true or false (got 'maybe')"},
        {{"--topic", "nonsense"}, "--topic must look like resource/action (got 'nonsense')"},
        {{"--url", "ftp://example.com/x"}, "--url: "},
    };
    return cases;
}

std::string joined(const std::vector<std::string>& args) {
    std::string out;
    for (const auto& a : args) out += (out.empty() ? "" : " ") + a;
    return out;
}

TEST_F(ConfigCheck, RefusesEverythingServeRefusesWithTheSameMessage) {
    for (const auto& c : refused_cases()) {
        std::vector<std::string> args{"--secret", kLongSecret};
        args.insert(args.end(), c.args.begin(), c.args.end());
        auto r = check(args);
        EXPECT_EQ(r.exit_code, 2) << joined(c.args) << "\n" << r.out << r.err;
        EXPECT_NE(r.err.find("config check: " + c.message), std::string::npos)
            << joined(c.args) << ": " << r.err;
        EXPECT_EQ(r.out.find("configuration OK"), std::string::npos) << joined(c.args);

        std::string db = dir.file("serve.db");
        std::vector<std::string> serve{"serve", "--listen", "127.0.0.1:0", "--db", db, "--secret", kLongSecret};
        serve.insert(serve.end(), c.args.begin(), c.args.end());
        auto s = run_churnwatch(serve, clean_env());
        EXPECT_EQ(s.exit_code, 2) << joined(c.args) << "\n" << s.err;
        EXPECT_NE(s.err.find("churnwatch serve: " + c.message), std::string::npos)
            << joined(c.args) << ": " << s.err;
        EXPECT_NE(::access(db.c_str(), F_OK), 0) << joined(c.args) << ": serve created the database";
        EXPECT_EQ(sanitizer_report(s.err), "");
    }
}

TEST_F(ConfigCheck, RefusesTheSameSettingsFromTheFileAndTheEnvironment) {
    std::string path = dir.file("serve.conf");
    write_file(path, "log-level = verbose\n");
    auto file = check({path});
    EXPECT_EQ(file.exit_code, 2);
    EXPECT_NE(file.err.find("--log-level must be debug, info, warn or error (got 'verbose')"),
              std::string::npos)
        << file.err;
    write_file(path, "tls-cert = " + dir.file("missing.pem") + "\ntls-key = " + dir.file("missing.pem") + "\n");
    auto tls = check({path});
    EXPECT_EQ(tls.exit_code, 2);
    EXPECT_NE(tls.err.find("--tls-cert " + dir.file("missing.pem") + " cannot be read"), std::string::npos)
        << tls.err;
    auto env = check({}, {{"CHURNWATCH_DEDUPE_DAYS", "0"}});
    EXPECT_EQ(env.exit_code, 2);
    EXPECT_NE(env.err.find("--dedupe-days must be a whole number from 1 to 3650 (got '0')"),
              std::string::npos)
        << env.err;
}

TEST_F(ConfigCheck, AcceptsValidCommandOptionsAndRefusesStrayArguments) {
    auto ok = check({good(), "--format", "csv", "--scheme", "timestamped", "--status", "dead",
                     "--all-dead", "--topic", "subscription/cancelled", "--url",
                     "https://example.com/webhooks/recharge", "--listen", "[::1]:0"});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_EQ(line_for(ok.out, "format"), "format = csv   # flag");
    // A second FILE (or a FILE after the options) was silently ignored.
    auto stray = check({good(), good()});
    EXPECT_EQ(stray.exit_code, 2);
    EXPECT_NE(stray.err.find("unexpected argument '" + good() + "'"), std::string::npos) << stray.err;
    // Also when the first FILE is not there: the stray word is what is wrong with the call.
    auto missing = check({"/nonexistent/a.conf", "b"});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("unexpected argument 'b'"), std::string::npos) << missing.err;
    auto late = check({"--threads", "4", good()});
    EXPECT_EQ(late.exit_code, 2);
    EXPECT_NE(late.err.find("unexpected argument"), std::string::npos) << late.err;
}

TEST_F(ConfigCheck, EnvironmentOverridesTheFile) {
    auto r = check({good()}, {{"CHURNWATCH_THREADS", "8"},
                              {"CHURNWATCH_SECRETS", "env_secret_one_123, env_secret_two_456"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(line_for(r.out, "threads"), "threads = 8   # env");
    EXPECT_EQ(line_for(r.out, "listen"), "listen = 0.0.0.0:9090   # file");
    // The environment's secrets replace the file's (comma-separated, trimmed).
    EXPECT_NE(r.out.find("secret = env_…(18 chars)   # env\nsecret = env_…(18 chars)   # env\n"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("shjk…(43 chars)"), std::string::npos) << r.out;
    // A bad value from the environment is caught the same way.
    auto bad = check({good()}, {{"CHURNWATCH_THREADS", "many"}});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("--threads"), std::string::npos) << bad.err;
}

TEST_F(ConfigCheck, FlagsOverrideEnvironmentAndFile) {
    auto r = check(
        {good(), "--threads", "16", "--listen=127.0.0.1:7000", "--secret", "flag_secret_abcdefgh"},
        {{"CHURNWATCH_THREADS", "8"}, {"CHURNWATCH_LISTEN", "127.0.0.1:6000"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(line_for(r.out, "threads"), "threads = 16   # flag");
    EXPECT_EQ(line_for(r.out, "listen"), "listen = 127.0.0.1:7000   # flag");
    EXPECT_EQ(line_for(r.out, "secret"), "secret = flag…(20 chars)   # flag");
    EXPECT_EQ(line_for(r.out, "db"), "db = /var/lib/churnwatch/churnwatch.db   # file");
    auto unknown = check({good(), "--colour", "blue"});
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("unknown option --colour"), std::string::npos) << unknown.err;
}

TEST_F(ConfigCheck, ServeUsesTheSamePrecedence) {
    // The file says one port, the environment another, the flag port 0: serve listens on a
    // free port, i.e. the flag won.
    std::string path = dir.file("serve.conf");
    write_file(path, "listen = 127.0.0.1:1\nthreads = 1\n");
    ServerProcess server(
        dir, {.env = {{"CHURNWATCH_CONFIG", path}, {"CHURNWATCH_LISTEN", "127.0.0.1:2"}}});
    EXPECT_NE(server.port(), 1);
    EXPECT_NE(server.port(), 2);
    EXPECT_EQ(http_request(server.port(), "GET", "/healthz").status, 200);
}

// A mistyped CHURNWATCH_* variable used to have no effect and say nothing.
TEST_F(ConfigCheck, WarnsAboutEachChurnwatchVariableThatNamesNoSetting) {
    auto r = check({good()}, {{"CHURNWATCH_LOGLEVEL", "warn"},
                              {"CHURNWATCH_SECRET", "shjk_typo_secret_1234"},
                              {"CHURNWATCH_BANANA", "1"},
                              {"CHURNWATCH_CRASH_ROUNDS", "2"},  // the crash test's: known
                              {"CHURNWATCH_ALERT_ID", "msg_1"},  // alert-command's: known
                              {"CHURNWATCH_THREADS", "3"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;  // a warning, not an error
    EXPECT_NE(r.err.find("config check: warning: CHURNWATCH_LOGLEVEL is not a churnwatch setting "
                         "and is ignored (did you mean CHURNWATCH_LOG_LEVEL?)\n"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("config check: warning: CHURNWATCH_SECRET is not a churnwatch setting "
                         "and is ignored (did you mean CHURNWATCH_SECRETS?)\n"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("config check: warning: CHURNWATCH_BANANA is not a churnwatch setting "
                         "and is ignored\n"),
              std::string::npos)
        << r.err;
    for (const char* known : {"CHURNWATCH_CRASH_ROUNDS is", "CHURNWATCH_ALERT_ID is",
                              "CHURNWATCH_THREADS is", "CHURNWATCH_CONFIG is"})
        EXPECT_EQ(r.err.find(known), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("shjk_typo"), std::string::npos) << "value leaked: " << r.err;
    // Indeed without effect: the file's log level and secrets, the environment's threads.
    EXPECT_EQ(line_for(r.out, "log-level"), "log-level = debug   # file");
    EXPECT_EQ(line_for(r.out, "threads"), "threads = 3   # env");
    EXPECT_EQ(r.out.find("secret = shjk…(21 chars)"), std::string::npos) << r.out;
    // Also said when the configuration is refused: it may be why.
    auto refused = check({good(), "--threads", "0"}, {{"CHURNWATCH_MAXBATCH", "5"}});
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.err.find("CHURNWATCH_MAXBATCH is not a churnwatch setting and is ignored "
                               "(did you mean CHURNWATCH_MAX_BATCH?)"),
              std::string::npos)
        << refused.err;
}

TEST(ServeEnvironment, LogsAConfigWarningForEachChurnwatchVariableThatNamesNoSetting) {
    TempDir dir;
    ServerProcess server(dir, {.env = {{"CHURNWATCH_LOGLEVEL", "debug"},
                                       {"CHURNWATCH_BANANA", "1"},
                                       {"CHURNWATCH_CRASH_ROUNDS", "2"},
                                       {"CHURNWATCH_LOG_LEVEL", "info"}}});
    EXPECT_EQ(http_request(server.port(), "GET", "/healthz").status, 200);  // not fatal
    std::string log = server.log();
    EXPECT_NE(log.find("\"level\":\"warn\",\"event\":\"config\",\"warning\":\"CHURNWATCH_LOGLEVEL "
                       "is not a churnwatch setting and is ignored (did you mean "
                       "CHURNWATCH_LOG_LEVEL?)\",\"variable\":\"CHURNWATCH_LOGLEVEL\","
                       "\"suggestion\":\"CHURNWATCH_LOG_LEVEL\"}"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("\"warning\":\"CHURNWATCH_BANANA is not a churnwatch setting and is "
                       "ignored\",\"variable\":\"CHURNWATCH_BANANA\"}"),
              std::string::npos)
        << log;
    // One line per variable; none for known ones.
    std::size_t lines = 0;
    for (auto at = log.find("is not a churnwatch setting"); at != std::string::npos;
         at = log.find("is not a churnwatch setting", at + 1)) {
        std::size_t start = log.rfind('\n', at) + 1;
        std::string line = log.substr(start, log.find('\n', at) - start);
        if (line.find("CHURNWATCH_LOGLEVEL") != std::string::npos ||
            line.find("CHURNWATCH_BANANA") != std::string::npos)
            ++lines;
        EXPECT_EQ(line.find("CHURNWATCH_CRASH_ROUNDS"), std::string::npos) << line;
        EXPECT_EQ(line.find("\"variable\":\"CHURNWATCH_LOG_LEVEL\""), std::string::npos) << line;
    }
    EXPECT_EQ(lines, 2u) << log;
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

// What the project itself sets or documents — the systemd unit, the Dockerfile, the example
// config, the docs, the scripts — is never warned about; the docs' example of a typo is.
TEST(ConfigDocs, NoChurnwatchVariableTheProjectSetsOrDocumentsIsWarnedAbout) {
    const std::set<std::string> typo_examples = {"CHURNWATCH_LOGLEVEL"};
    std::vector<std::string> files = {kSourceDir + "/README.md"};
    for (const char* sub : {"/deploy", "/scripts"})
        for (const auto& f : std::filesystem::directory_iterator(kSourceDir + sub))
            if (f.is_regular_file()) files.push_back(f.path().string());
    // CMake's -DCHURNWATCH_… cache options are not environment variables.
    const std::string prefix = "CHURNWATCH_";
    std::map<std::string, std::string> env;
    std::map<std::string, std::string> found_in;
    for (const auto& file : files) {
        std::string text = read_file(file);
        for (auto at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
            auto end = text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", at + prefix.size());
            std::string name = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
            if (name.size() == prefix.size() || (at >= 2 && text.compare(at - 2, 2, "-D") == 0)) continue;
            env[name] = "";  // empty: a setting's variable is then unset
            found_in.emplace(name, file);
        }
    }
    for (const char* expected : {"CHURNWATCH_CONFIG", "CHURNWATCH_DB", "CHURNWATCH_SECRETS",
                                 "CHURNWATCH_LISTEN", "CHURNWATCH_CRASH_ROUNDS", "CHURNWATCH_TEST_STAGES"})
        EXPECT_TRUE(env.count(expected)) << expected << " not found: the scan is broken";
    TempDir dir;
    std::string path = dir.file("min.conf");
    write_file(path, "secret = " + kLongSecret + "\n");
    auto r = check({path}, env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const auto& [name, file] : found_in) {
        bool warned = r.err.find("warning: " + name + " is not a churnwatch setting") != std::string::npos;
        EXPECT_EQ(warned, typo_examples.count(name) == 1) << name << " (" << file << ")\n" << r.err;
    }
}

// Every option `churnwatch help` lists, with its default ("" when none).
std::map<std::string, std::string> options_from_help() {
    auto help = run_churnwatch({"help"});
    std::map<std::string, std::string> options;
    std::istringstream in(help.out);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("  --", 0) != 0) continue;
        std::string name = line.substr(4, line.find(' ', 4) - 4);
        std::string def;
        if (auto at = line.find("[default: "); at != std::string::npos) {
            at += 10;
            def = line.substr(at, line.find(']', at) - at);
        }
        options[name] = def;
    }
    return options;
}

TEST(ConfigExample, DocumentsEveryOptionWithItsDefaultAndPassesCheck) {
    std::string path = kSourceDir + "/deploy/churnwatch.conf.example";
    std::string text = "\n" + read_file(path);
    auto options = options_from_help();
    ASSERT_GT(options.size(), 15u);
    for (const auto& [name, def] : options) {
        if (name == "config") continue;  // not a config-file key
        // Set ("name = v") or shown commented out ("# name = v").
        auto set = text.find("\n" + name + " =");
        auto shown = text.find("\n# " + name + " =");
        EXPECT_TRUE(set != std::string::npos || shown != std::string::npos)
            << "deploy/churnwatch.conf.example does not mention '" << name << "'";
        // A commented-out line with a default shows that default.
        if (shown != std::string::npos && set == std::string::npos && !def.empty()) {
            std::size_t from = shown + 4 + name.size() + 2;
            std::string value = text.substr(from, text.find('\n', from) - from);
            if (!value.empty() && value[0] == ' ') value.erase(0, 1);
            EXPECT_EQ(value, def) << "the example's default for '" << name << "'";
        }
    }
    auto r = check({path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

// The ```ini blocks of a Markdown file.
std::vector<std::string> ini_blocks(const std::string& markdown) {
    std::vector<std::string> blocks;
    std::istringstream in(markdown);
    std::string line, block;
    bool inside = false;
    while (std::getline(in, line)) {
        if (!inside && line == "```ini") {
            inside = true;
            block.clear();
        } else if (inside && line == "```") {
            inside = false;
            blocks.push_back(block);
        } else if (inside) {
            block += line + "\n";
        }
    }
    return blocks;
}

TEST(ConfigDocs, EveryConfigFileExampleInTheDocsPassesCheckAsWritten) {
    TempDir dir;
    std::size_t examples = 0;
    for (const char* doc : {"README.md", "deploy/OPERATIONS.md"}) {
        auto blocks = ini_blocks(read_file(kSourceDir + "/" + doc));
        for (std::size_t i = 0; i < blocks.size(); ++i, ++examples) {
            std::string path = dir.file("example" + std::to_string(examples) + ".conf");
            write_file(path, blocks[i]);
            auto r = check({path});
            EXPECT_EQ(r.exit_code, 0) << doc << ", config example " << i + 1 << ":\n"
                                      << blocks[i] << r.err;
        }
    }
    EXPECT_GE(examples, 2u) << "the README's config examples were not found";
}

}  // namespace
