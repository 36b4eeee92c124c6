// The command line of the real binary: `help COMMAND` and `COMMAND --help` print that
// command's usage and options (not the general help), and an unknown command is exit 2.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.h"

using namespace churnwatch::test;

namespace {

const std::vector<std::string> kCommands = {"serve",     "rebuild",    "report", "alerts", "config",
                                            "send-test", "quarantine", "help",   "version"};

TEST(Help, HelpCommandPrintsThatCommandsHelpLikeCommandDashDashHelp) {
    auto general = run_churnwatch({"help"});
    ASSERT_EQ(general.exit_code, 0) << general.err;
    for (const auto& command : kCommands) {
        // `help serve` used to print the general help.
        auto help = run_churnwatch({"help", command});
        EXPECT_EQ(help.exit_code, 0) << command << ": " << help.err;
        EXPECT_EQ(help.out.rfind("usage: churnwatch " + command, 0), 0u) << command << ":\n" << help.out;
        EXPECT_NE(help.out, general.out) << command;
        EXPECT_TRUE(help.err.empty()) << command << ": " << help.err;
        auto dash = run_churnwatch({command, "--help"});
        EXPECT_EQ(dash.exit_code, 0) << command << ": " << dash.err;
        EXPECT_EQ(dash.out, help.out) << command;
        EXPECT_EQ(run_churnwatch({command, "-h"}).out, help.out) << command;
    }
    // The command list's names with their action, and --help anywhere after the command.
    EXPECT_EQ(run_churnwatch({"help", "config", "check"}).out, run_churnwatch({"help", "config"}).out);
    EXPECT_EQ(run_churnwatch({"help", "alerts", "retry"}).out, run_churnwatch({"help", "alerts"}).out);
    EXPECT_EQ(run_churnwatch({"config", "check", "--help"}).out, run_churnwatch({"help", "config"}).out);
    EXPECT_EQ(run_churnwatch({"quarantine", "show", "12", "--help"}).out,
              run_churnwatch({"help", "quarantine"}).out);
    EXPECT_EQ(run_churnwatch({"--help", "report"}).out, run_churnwatch({"help", "report"}).out);
    EXPECT_EQ(run_churnwatch({"--help"}).out, general.out);
}

TEST(Help, CommandHelpListsTheOptionsTheCommandReads) {
    auto report = run_churnwatch({"help", "report"});
    EXPECT_NE(report.out.find("usage: churnwatch report [--db PATH] [--from YYYY-MM]"), std::string::npos)
        << report.out;
    for (const char* option : {"  --db PATH", "  --from YYYY-MM", "  --to YYYY-MM", "  --format FORMAT"})
        EXPECT_NE(report.out.find(option), std::string::npos) << option << "\n" << report.out;
    EXPECT_EQ(report.out.find("  --listen"), std::string::npos) << report.out;
    EXPECT_NE(report.out.find("(env CHURNWATCH_FORMAT)"), std::string::npos) << report.out;

    auto serve = run_churnwatch({"help", "serve"});
    for (const char* option : {"  --listen HOST:PORT", "  --secret SECRET", "  --alert-url URL"})
        EXPECT_NE(serve.out.find(option), std::string::npos) << option << "\n" << serve.out;
    EXPECT_EQ(serve.out.find("  --format"), std::string::npos) << serve.out;

    // Every usage line of a command with several forms.
    auto quarantine = run_churnwatch({"help", "quarantine"});
    for (const char* line : {"usage: churnwatch quarantine list", "       churnwatch quarantine show ID",
                             "       churnwatch quarantine replay ID"})
        EXPECT_NE(quarantine.out.find(line), std::string::npos) << line << "\n" << quarantine.out;

    // config check validates every option, so it lists every one.
    auto config = run_churnwatch({"help", "config"});
    auto general = run_churnwatch({"help"});
    for (const char* option : {"  --listen", "  --format", "  --scheme", "  --alert-target"}) {
        EXPECT_NE(config.out.find(option), std::string::npos) << option;
        EXPECT_NE(general.out.find(option), std::string::npos) << option;
    }
    EXPECT_NE(general.out.find("'churnwatch help COMMAND'"), std::string::npos) << general.out;
    // version takes no options at all.
    EXPECT_EQ(run_churnwatch({"help", "version"}).out.find("  --"), std::string::npos);
}

TEST(Help, UnknownCommandsAreExit2) {
    auto help = run_churnwatch({"help", "frobnicate"});
    EXPECT_EQ(help.exit_code, 2);
    EXPECT_NE(help.err.find("churnwatch help: unknown command 'frobnicate'"), std::string::npos) << help.err;
    EXPECT_TRUE(help.out.empty()) << help.out;
    auto extra = run_churnwatch({"help", "serve", "now"});
    EXPECT_EQ(extra.exit_code, 2);
    EXPECT_NE(extra.err.find("churnwatch help: unexpected argument 'now'"), std::string::npos) << extra.err;
    EXPECT_TRUE(extra.out.empty()) << extra.out;
    EXPECT_EQ(run_churnwatch({"help", "config", "list"}).exit_code, 2);
    auto unknown = run_churnwatch({"frobnicate", "--help"});
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("churnwatch: unknown command 'frobnicate'"), std::string::npos) << unknown.err;
    EXPECT_EQ(run_churnwatch({}).exit_code, 2);
}

}  // namespace
