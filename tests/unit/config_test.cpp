// The configuration parser (Config): `key = value` lines, comment lines, precedence of flags
// over the environment over the file, and the errors that name file, line and key — above
// all, a '#' after a value is refused instead of silently becoming part of it.
#include "config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

class ConfigFile : public ::testing::Test {
protected:
    // The test's own environment must not leak into the results.
    ScopedEnv no_config{"CHURNWATCH_CONFIG", std::nullopt};
    ScopedEnv no_secrets{"CHURNWATCH_SECRETS", std::nullopt};
    ScopedEnv no_threads{"CHURNWATCH_THREADS", std::nullopt};
    ScopedEnv no_alert_command{"CHURNWATCH_ALERT_COMMAND", std::nullopt};
    TempDir dir;

    std::string write(const std::string& text) {
        std::string path = dir.file("churnwatch.conf");
        write_file(path, text);
        return path;
    }
    std::optional<Config> load(const std::string& text, std::string& error,
                               std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"--config", write(text)};
        args.insert(args.end(), extra.begin(), extra.end());
        return Config::load(args, error);
    }
};

TEST_F(ConfigFile, KeyValueLinesCommentLinesAndBlankLines) {
    std::string error;
    auto c = load("# a comment\n"
                  "   # an indented comment\n"
                  "\n"
                  "threads = 4\n"
                  "  log-level   =   debug  \n"
                  "secret = shjk_one\n"
                  "secret = shjk_two\n",
                  error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->get_or("threads"), "4");
    EXPECT_EQ(c->get_or("log-level"), "debug");
    EXPECT_EQ(c->get_all("secret"), (std::vector<std::string>{"shjk_one", "shjk_two"}));
    EXPECT_EQ(c->source("threads"), "file");
    EXPECT_EQ(c->source("max-batch"), "default");
    EXPECT_EQ(c->get_or("max-batch"), "1000");
}

TEST_F(ConfigFile, InlineCommentIsRefusedNamingFileLineAndKey) {
    std::string error;
    std::string path = dir.file("churnwatch.conf");
    auto c = load("listen = 0.0.0.0:8080\n"
                  "secret = shjk_current_client_secret      # repeat the key for rotation\n",
                  error);
    EXPECT_FALSE(c);
    EXPECT_EQ(error, path + ":2: 'secret': inline comments are not supported: put the comment "
                            "on its own line");
    // The value, possibly a secret, is not echoed.
    EXPECT_EQ(error.find("shjk_current"), std::string::npos) << error;
}

TEST_F(ConfigFile, EveryFormOfTrailingCommentIsRefused) {
    for (const std::string line :
         {"alert-timeout = 10    # seconds per attempt", "alert-timeout = 10\t# tab before",
          "alert-timeout = 10 #", "alert-command = /usr/local/bin/on-churn   # event JSON",
          "alert-events  = customer.churned,customer.reactivated   # for alert-url",
          "db = # not set yet", "db =#nothing"}) {
        std::string error;
        EXPECT_FALSE(load(line + "\n", error)) << line;
        EXPECT_NE(error.find(":1: '"), std::string::npos) << line << ": " << error;
        EXPECT_NE(error.find("inline comments are not supported"), std::string::npos)
            << line << ": " << error;
    }
}

TEST_F(ConfigFile, HashInsideAWordIsPartOfTheValue) {
    std::string error;
    auto c = load("alert-url = https://hooks.example.com/churn#section\nsecret = abc#def\n", error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->get_or("alert-url"), "https://hooks.example.com/churn#section");
    EXPECT_EQ(c->get_or("secret"), "abc#def");
}

TEST_F(ConfigFile, InlineCommentInTheEnvironmentIsRefused) {
    // systemd's EnvironmentFile and docker --env-file keep such a comment in the value too.
    ScopedEnv secrets("CHURNWATCH_SECRETS", "shjk_new,shjk_old   # rotation");
    std::string error;
    EXPECT_FALSE(load("threads = 2\n", error));
    EXPECT_EQ(error, "CHURNWATCH_SECRETS: inline comments are not supported: put the comment on "
                     "its own line");
}

// CHURNWATCH_SECRETS="$NEW,$OLD" with $NEW unset would run with the old secret alone and
// answer 401 to every delivery signed with the new one, saying nothing at start.
TEST_F(ConfigFile, AnEmptyEntryInAnEnvironmentListIsRefused) {
    for (const char* value : {",shjk_old", "shjk_new,", "shjk_new,,shjk_old", "shjk_new, ,shjk_old"}) {
        ScopedEnv secrets("CHURNWATCH_SECRETS", value);
        std::string error;
        EXPECT_FALSE(load("threads = 2\n", error)) << value;
        EXPECT_EQ(error, "CHURNWATCH_SECRETS has an empty entry (two commas together, or a comma at an "
                         "end): is a variable in it unset? Remove the extra comma if not");
    }
    ScopedEnv urls("CHURNWATCH_ALERT_URL", "https://a.example/hook,");
    std::string error;
    EXPECT_FALSE(load("threads = 2\n", error));
    EXPECT_NE(error.find("CHURNWATCH_ALERT_URL has an empty entry"), std::string::npos) << error;
}

TEST_F(ConfigFile, SpacesAroundTheCommasOfAnEnvironmentListAreFine) {
    ScopedEnv secrets("CHURNWATCH_SECRETS", " shjk_new , shjk_old ");
    std::string error;
    auto c = load("threads = 2\n", error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->get_all("secret"), (std::vector<std::string>{"shjk_new", "shjk_old"}));
}

TEST_F(ConfigFile, UnknownRepeatedAndMalformedLinesNameTheLine) {
    std::string path = dir.file("churnwatch.conf");
    std::string error;
    EXPECT_FALSE(load("threads = 2\ncolour = blue\n", error));
    EXPECT_EQ(error, path + ":2: unknown key 'colour'");
    EXPECT_FALSE(load("threads = 2\nthreads = 3\n", error));
    EXPECT_EQ(error, path + ":2: 'threads' given twice");
    EXPECT_FALSE(load("threads 2\n", error));
    EXPECT_EQ(error, path + ":1: expected 'key = value'");
    EXPECT_FALSE(load("config = other.conf\n", error));
    EXPECT_EQ(error, path + ":1: unknown key 'config'");
    EXPECT_FALSE(Config::load({"--config", dir.file("missing.conf")}, error));
    EXPECT_EQ(error, "cannot read config file " + dir.file("missing.conf") + ": No such file or directory");
}

TEST_F(ConfigFile, FlagsOverrideTheEnvironmentWhichOverridesTheFile) {
    ScopedEnv threads("CHURNWATCH_THREADS", "8");
    std::string error;
    auto env_wins = load("threads = 4\nmax-batch = 50\n", error);
    ASSERT_TRUE(env_wins) << error;
    EXPECT_EQ(env_wins->get_or("threads"), "8");
    EXPECT_EQ(env_wins->source("threads"), "env");
    EXPECT_EQ(env_wins->get_or("max-batch"), "50");
    auto flag_wins = load("threads = 4\n", error, {"--threads", "16"});
    ASSERT_TRUE(flag_wins) << error;
    EXPECT_EQ(flag_wins->get_or("threads"), "16");
    EXPECT_EQ(flag_wins->source("threads"), "flag");
}

TEST_F(ConfigFile, GetIntNamesTheOptionAndRange) {
    std::string error;
    auto c = load("threads = lots\nmax-batch = 0\n", error);
    ASSERT_TRUE(c) << error;
    EXPECT_FALSE(c->get_int("threads", 1, 64, error));
    EXPECT_EQ(error, "--threads must be a whole number from 1 to 64 (got 'lots')");
    EXPECT_FALSE(c->get_int("max-batch", 1, 100000, error));
    EXPECT_EQ(error, "--max-batch must be a whole number from 1 to 100000 (got '0')");
    EXPECT_EQ(c->get_int("json-depth", 2, 10000, error), 64);  // the default
}

// A mistyped CHURNWATCH_* variable used to be ignored without a word.
TEST(EnvironmentVariables, EverySettingsVariableAndTheProjectsOwnAreKnown) {
    for (const auto& spec : option_specs())
        EXPECT_TRUE(known_environment_variable(env_name(spec))) << env_name(spec);
    for (const char* name :
         {"CHURNWATCH_CONFIG", "CHURNWATCH_SECRETS", "CHURNWATCH_ALERT_SECRET", "CHURNWATCH_LOG_LEVEL",
          "CHURNWATCH_ALERT_ID", "CHURNWATCH_ALERT_TYPE", "CHURNWATCH_TEST_STAGES",
          "CHURNWATCH_FUZZ_SECONDS", "CHURNWATCH_CRASH_ROUNDS", "CHURNWATCH_CRASH_SEED",
          "CHURNWATCH_CONCURRENCY_DELIVERIES"}) {
        EXPECT_TRUE(known_environment_variable(name)) << name;
    }
    for (const char* name : {"CHURNWATCH_LOGLEVEL", "CHURNWATCH_SECRET", "CHURNWATCH_", "CHURNWATCH_db",
                             "CHURNWATCH_CONFIG_FILE", "CHURNWATCH_TEST_VISIBLE_OTHER"}) {
        EXPECT_FALSE(known_environment_variable(name)) << name;
    }
}

TEST(EnvironmentVariables, ObviousTyposGetASuggestion) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"CHURNWATCH_LOGLEVEL", "CHURNWATCH_LOG_LEVEL"},
        {"CHURNWATCH_SECRET", "CHURNWATCH_SECRETS"},       // the option is --secret
        {"CHURNWATCH_ALERT_SECRETS", "CHURNWATCH_ALERT_SECRET"},
        {"CHURNWATCH_TLS_CRT", "CHURNWATCH_TLS_CERT"},
        {"CHURNWATCH_MAXBODY", "CHURNWATCH_MAX_BODY"},
        {"CHURNWATCH_ALERT_URLS", "CHURNWATCH_ALERT_URL"},
        {"CHURNWATCH_LISTNE", "CHURNWATCH_LISTEN"},         // two letters swapped: one edit
        {"CHURNWATCH_db", "CHURNWATCH_DB"},
        {"CHURNWATCH_CRASH_ROUND", "CHURNWATCH_CRASH_ROUNDS"},
        // Nothing obviously close: no guess.
        {"CHURNWATCH_DATABASE", ""},
        {"CHURNWATCH_CONFIG_FILE", ""},
        {"CHURNWATCH_PORT", ""},
        {"CHURNWATCH_X", ""},
        {"CHURNWATCH_", ""},
        {"OTHER_LOGLEVEL", ""},
    };
    for (const auto& [typed, expected] : cases)
        EXPECT_EQ(closest_environment_variable(typed), expected) << typed;
}

TEST(EnvironmentVariables, UnknownOnesAreListedByNameWithOneWarningEach) {
    ScopedEnv typo("CHURNWATCH_LOGLEVEL", "debug");
    ScopedEnv secret("CHURNWATCH_SECRET", "shjk_abc");
    ScopedEnv other("CHURNWATCH_BANANA", "yes");
    ScopedEnv empty("CHURNWATCH_THREAD", "");  // empty, yet just as mistyped
    ScopedEnv known("CHURNWATCH_LOG_LEVEL", "debug");
    ScopedEnv config("CHURNWATCH_CONFIG", "/dev/null");
    ScopedEnv crash("CHURNWATCH_CRASH_ROUNDS", "5");
    ScopedEnv unrelated("LOGLEVEL", "debug");
    std::vector<UnknownVariable> mine;
    for (auto& v : unknown_environment_variables()) {
        EXPECT_FALSE(known_environment_variable(v.name)) << v.name;
        EXPECT_EQ(v.name.rfind("CHURNWATCH_", 0), 0u) << v.name;
        if (v.name == "CHURNWATCH_LOGLEVEL" || v.name == "CHURNWATCH_SECRET" ||
            v.name == "CHURNWATCH_BANANA" || v.name == "CHURNWATCH_THREAD")
            mine.push_back(v);
    }
    ASSERT_EQ(mine.size(), 4u);
    EXPECT_EQ(mine[0].name, "CHURNWATCH_BANANA");
    EXPECT_EQ(mine[0].suggestion, "");
    EXPECT_EQ(mine[0].warning, "CHURNWATCH_BANANA is not a churnwatch setting and is ignored");
    EXPECT_EQ(mine[1].name, "CHURNWATCH_LOGLEVEL");
    EXPECT_EQ(mine[1].warning, "CHURNWATCH_LOGLEVEL is not a churnwatch setting and is ignored "
                               "(did you mean CHURNWATCH_LOG_LEVEL?)");
    EXPECT_EQ(mine[2].name, "CHURNWATCH_SECRET");
    EXPECT_EQ(mine[2].suggestion, "CHURNWATCH_SECRETS");
    EXPECT_EQ(mine[3].name, "CHURNWATCH_THREAD");
    EXPECT_EQ(mine[3].suggestion, "CHURNWATCH_THREADS");
    // The value is never part of the warning (it may be a secret).
    EXPECT_EQ(mine[2].warning.find("shjk_abc"), std::string::npos);
}

}  // namespace
