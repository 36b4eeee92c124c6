// The command table behind `churnwatch help` (cli.h): each command's help names its usage and
// exactly the options it reads, and the table itself names only real options.
#include "cli.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "config.h"

using namespace churnwatch;

namespace {

TEST(CommandTable, NamesOnlyRealOptionsAndEveryOptionHasACommand) {
    std::set<std::string> read_by_some;
    std::set<std::string> names;
    for (const auto& c : command_specs()) {
        EXPECT_TRUE(names.insert(c.name).second) << c.name << " listed twice";
        EXPECT_EQ(first_usage(c).rfind(std::string("churnwatch ") + c.name, 0), 0u) << c.name;
        for (const char* o : c.options) {
            EXPECT_NE(find_option(o), nullptr) << c.name << " lists unknown option " << o;
            read_by_some.insert(o);
        }
    }
    // config check reads them all; every one is also some other command's.
    for (const auto& o : option_specs())
        EXPECT_TRUE(read_by_some.count(o.name)) << "--" << o.name << " belongs to no command";
    EXPECT_EQ(find_command("frobnicate"), nullptr);
    ASSERT_NE(find_command("send-test"), nullptr);
    EXPECT_STREQ(find_command("send-test")->name, "send-test");
}

TEST(CommandHelp, UsageLinesDetailsAndTheCommandsOptionsOnly) {
    std::string help = command_help(*find_command("alerts"));
    EXPECT_EQ(help.rfind("usage: churnwatch alerts list [--db PATH] [--status pending|sent|dead|disabled|retracted]\n"
                         "       churnwatch alerts retry ID... [--db PATH]\n"
                         "       churnwatch alerts retry --all-dead [--db PATH]\n\n",
                         0),
              0u)
        << help;
    EXPECT_NE(help.find("  --status STATUS"), std::string::npos) << help;
    EXPECT_NE(help.find("  --all-dead "), std::string::npos) << help;
    EXPECT_NE(help.find("(env CHURNWATCH_DB)"), std::string::npos) << help;
    EXPECT_EQ(help.find("  --listen"), std::string::npos) << help;
    EXPECT_EQ(help.find("  --format"), std::string::npos) << help;
    // Options in option_specs() order, with default and environment variable as in the
    // general help.
    std::string serve = command_help(*find_command("serve"));
    std::string general = general_help();
    for (const char* line : {"  --db PATH", "  --secret SECRET", "  --log-level LEVEL", "  --stop-grace SECONDS"}) {
        auto at = serve.find(line);
        ASSERT_NE(at, std::string::npos) << line;
        std::string full = serve.substr(at, serve.find('\n', at) - at + 1);
        EXPECT_NE(general.find(full), std::string::npos) << full;
    }
    EXPECT_LT(serve.find("  --db "), serve.find("  --log-level "));
    EXPECT_NE(serve.find("(env CHURNWATCH_SECRETS)"), std::string::npos);
    EXPECT_EQ(command_help(*find_command("version")).find("Options"), std::string::npos);
}

TEST(GeneralHelp, ListsEveryCommandAndEveryOption) {
    std::string help = general_help();
    for (const auto& c : command_specs())
        EXPECT_NE(help.find(std::string("\n  ") + c.label + " "), std::string::npos) << c.label;
    for (const auto& o : option_specs())
        EXPECT_NE(help.find(std::string("\n  --") + o.name + " "), std::string::npos) << o.name;
    EXPECT_NE(help.find("\n  config check   validate configuration"), std::string::npos) << help;
}

}  // namespace
