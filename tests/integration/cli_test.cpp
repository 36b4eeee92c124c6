// The command line of the real binary: `help COMMAND` and `COMMAND --help` print that
// command's usage and options (not the general help), and an unknown command is exit 2; a
// positional argument a command does not take is refused, exit 2, naming it.
#include <gtest/gtest.h>

#include <algorithm>

#include <sys/stat.h>

#include <string>
#include <vector>

#include "sqlite.h"
#include "test_support.h"

using namespace churnwatch::test;

namespace {

const std::vector<std::string> kCommands = {"serve",     "rebuild",    "report", "alerts", "config",
                                            "send-test", "quarantine", "help",   "version"};

// churnwatch.db in `dir`, migrated by `churnwatch rebuild` and empty; "" if that failed.
std::string migrated_empty_db(const TempDir& dir) {
    std::string db = dir.file("churnwatch.db");
    write_file(db, "");  // an empty file is an empty database
    return run_churnwatch({"rebuild", "--db", db}).exit_code == 0 ? db : "";
}

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

// Commands without positional arguments used to ignore a stray one and go ahead.
TEST(Positional, CommandsWithoutPositionalArgumentsRefuseThemNamingTheArgument) {
    TempDir dir;
    std::string db = dir.file("churnwatch.db");
    write_file(db, "");  // an empty file is an empty database
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::string send = "churnwatch send-test: unexpected argument 'junk' (usage: churnwatch send-test [--url URL]";
    for (const Case& c : std::vector<Case>{
             {{"version", "extra"}, "churnwatch version: unexpected argument 'extra' (usage: churnwatch version)"},
             {{"version", "--db", db}, "churnwatch version: unexpected argument '--db'"},
             {{"report", "--db", db, "junk"},
              "churnwatch report: unexpected argument 'junk' (usage: churnwatch report [--db PATH]"},
             {{"report", "junk", "--db", db, "--format", "csv"}, "churnwatch report: unexpected argument 'junk'"},
             {{"rebuild", "--db", db, "now"}, "churnwatch rebuild: unexpected argument 'now'"},
             // A single dash is not an option: it is a word too.
             {{"rebuild", "-v", "--db", db}, "churnwatch rebuild: unexpected argument '-v'"},
             {{"send-test", "--url", "http://127.0.0.1:9/webhooks/recharge", "--secret", "s3cret_s3cret",
               "--topic", "subscription/cancelled", "junk"},
              send},
             // The database directory does not exist: without the check serve exits 1 there.
             {{"serve", "--listen", "127.0.0.1:0", "--db", dir.file("no/such/dir.db"), "junk"},
              "churnwatch serve: unexpected argument 'junk' (usage: churnwatch serve [OPTIONS])"},
             {{"serve", "--listen", "127.0.0.1:0", "--db", dir.file("no/such/dir.db"), "--all-dead", "junk"},
              "churnwatch serve: unexpected argument 'junk'"},
         }) {
        auto r = run_churnwatch(c.args);
        std::string what = c.args[0] + " … " + c.args.back();
        EXPECT_EQ(r.exit_code, 2) << what << "\n" << r.out << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << what << ": " << r.err;
        EXPECT_TRUE(r.out.empty()) << what << ": " << r.out;
        EXPECT_EQ(sanitizer_report(r.err), "");
    }
    // Refused before anything happened: rebuild did not migrate the empty file.
    struct stat st {};
    ASSERT_EQ(::stat(db.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 0) << "the database was touched";
}

TEST(Positional, CommandsWithActionsNameTheUnexpectedArgument) {
    TempDir dir;
    const std::string db = migrated_empty_db(dir);
    ASSERT_FALSE(db.empty());
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    for (const Case& c : std::vector<Case>{
             {{"alerts", "list", "junk"}, "churnwatch alerts list: unexpected argument 'junk'"},
             {{"alerts", "retry", "--all-dead", "5"}, "churnwatch alerts retry: unexpected argument '5'"},
             {{"alerts", "frobnicate"}, "churnwatch alerts: unknown action 'frobnicate'"},
             {{"quarantine", "list", "junk"}, "churnwatch quarantine: unexpected argument 'junk'"},
             {{"quarantine", "show", "1", "2"}, "churnwatch quarantine: unexpected argument '2'"},
             {{"quarantine", "replay", "all", "5"}, "churnwatch quarantine: unexpected argument '5'"},
             {{"quarantine", "replay", "5", "all"}, "churnwatch quarantine: unexpected argument 'all'"},
             {{"config", "frobnicate"}, "churnwatch config: unknown action 'frobnicate'"},
         }) {
        std::vector<std::string> args = c.args;
        if (args[0] != "config") args.insert(args.end(), {"--db", db});
        auto r = run_churnwatch(args);
        std::string what = c.args[0] + " " + c.args[1];
        EXPECT_EQ(r.exit_code, 2) << what << "\n" << r.out << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << what << ": " << r.err;
        EXPECT_NE(r.err.find("usage: churnwatch " + c.args[0]), std::string::npos) << what << ": " << r.err;
        EXPECT_TRUE(r.out.empty()) << what << ": " << r.out;
    }
    // A usage error is one whatever --db names: it is checked before the database is opened.
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"quarantine", "replay", "abc"}, {"quarantine", "replay", "5", "--json-depth", "1"}}) {
        std::vector<std::string> with_db = args;
        with_db.insert(with_db.end(), {"--db", dir.file("missing.db")});
        auto r = run_churnwatch(with_db);
        EXPECT_EQ(r.exit_code, 2) << args[2] << "\n" << r.err;
        EXPECT_NE(r.err.find("usage: churnwatch quarantine"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("missing.db"), std::string::npos) << r.err;
    }
    // The documented positional forms still work (ids that do not exist: exit 1, not 2).
    auto retry = run_churnwatch({"alerts", "retry", "7", "8", "--db", db});
    EXPECT_EQ(retry.exit_code, 1) << retry.err;
    EXPECT_NE(retry.err.find("alert 7: no such alert"), std::string::npos) << retry.err;
    EXPECT_EQ(run_churnwatch({"alerts", "retry", "--all-dead", "--db", db}).exit_code, 0);
    EXPECT_EQ(run_churnwatch({"alerts", "list", "--db", db}).exit_code, 0);
    EXPECT_EQ(run_churnwatch({"quarantine", "list", "--db", db}).exit_code, 0);
    EXPECT_EQ(run_churnwatch({"quarantine", "show", "7", "--db", db}).exit_code, 1);
    auto replay = run_churnwatch({"quarantine", "replay", "7", "8", "--db", db});
    EXPECT_EQ(replay.exit_code, 1) << replay.err;
    EXPECT_NE(replay.out.find("delivery 7: no such delivery"), std::string::npos) << replay.out;
    auto all = run_churnwatch({"quarantine", "replay", "all", "--db", db});
    EXPECT_EQ(all.exit_code, 0) << all.err;
    EXPECT_NE(all.out.find("no quarantined deliveries"), std::string::npos) << all.out;
}

// A churn alert marked retracted (a later delivery erased the churn before it was delivered)
// is not sent again by `alerts retry`: it would announce a churn the facts no longer show.
TEST(AlertsRetry, ARetractedAlertIsNotSentAgain) {
    TempDir dir;
    const std::string db = migrated_empty_db(dir);
    ASSERT_FALSE(db.empty());
    {
        churnwatch::sql::Database conn(db);
        conn.exec("INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id,"
                  " payload, created_us, status, next_attempt_us, retry_from_us)"
                  " VALUES ('http://a.example/hook', 'customer.churned', 1, 6, 'msg_x', '{}', 1, 'retracted', 1, 1)");
    }
    auto r = run_churnwatch({"alerts", "retry", "1", "--db", db});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("alert 1: retracted, not sent"), std::string::npos) << r.err;
    churnwatch::sql::Database conn(db);
    EXPECT_EQ(first_text(conn, "SELECT status FROM alerts_outbox"), "retracted");
    auto list = run_churnwatch({"alerts", "list", "--status", "retracted", "--db", db});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("retracted"), std::string::npos) << list.out;
}

// The lines of `alerts list` output that show an alert (a churn alert: all these tests use).
std::vector<std::string> alert_lines(const std::string& out) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string line = out.substr(start, nl - start);
        if (line.find("customer.churned") != std::string::npos) lines.push_back(std::move(line));
    }
    return lines;
}

// `alerts list` lines its columns up by characters, not bytes (a chat target's label has a
// "…", a receiver's error may be in any language), and cuts a long error between characters,
// so its output stays valid UTF-8.
TEST(AlertsList, ColumnsLineUpByCharactersAndALongErrorIsCutBetweenThem) {
    TempDir dir;
    const std::string db = migrated_empty_db(dir);
    ASSERT_FALSE(db.empty());
    std::string accented;
    for (int i = 0; i < 100; ++i) accented += "\u00e9";
    {
        churnwatch::sql::Database conn(db);
        churnwatch::sql::Statement q(conn,
                                     "INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id,"
                                     " payload, created_us, status, next_attempt_us, retry_from_us, last_error)"
                                     " VALUES (?, 'customer.churned', 1, 6, ?, '{}', 1, 'dead', 1, 1, ?)");
        q.bind(1, "http://a.example/hook").bind(2, "msg_1").bind(3, "HTTP 500: " + accented).run();
        q.reset();
        q.bind(1, "chat:https://hooks.example.com/services/T/B/x").bind(2, "msg_2").bind(3, "HTTP 500: x").run();
    }
    auto r = run_churnwatch({"alerts", "list", "--db", db});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string cut = "HTTP 500: ";
    for (int i = 0; i < 47; ++i) cut += "\u00e9";
    EXPECT_NE(r.out.find(cut + "...  "), std::string::npos) << r.out;
    // Where "customer.churned" begins, counted in characters, on both alert lines.
    std::vector<std::size_t> at;
    for (const std::string& line : alert_lines(r.out)) {
        auto event = line.find("customer.churned");
        at.push_back(static_cast<std::size_t>(std::count_if(line.begin(), line.begin() + static_cast<long>(event),
                                                            [](char c) { return (c & 0xC0) != 0x80; })));
    }
    ASSERT_EQ(at.size(), 2u) << r.out;
    EXPECT_EQ(at[0], at[1]) << r.out;
}

// A target resting after a failure sends nothing before that alert's next attempt: an alert
// of it due earlier shows that time as its next attempt, not a past one it will not keep.
// Another target's alert keeps its own time.
TEST(AlertsList, AnAlertBehindARestingTargetShowsWhenItCanGo) {
    TempDir dir;
    const std::string db = migrated_empty_db(dir);
    ASSERT_FALSE(db.empty());
    {
        churnwatch::sql::Database conn(db);
        conn.exec("INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id,"
                  " payload, created_us, status, next_attempt_us, retry_from_us, last_attempt_us) VALUES"
                  " ('http://a.example/hook', 'customer.churned', 1, 6, 'msg_1', '{}', 1, 'pending', 4102444800000000, 1, 1),"
                  " ('http://a.example/hook', 'customer.churned', 2, 7, 'msg_2', '{}', 1, 'pending', 1000000, 1, NULL),"
                  " ('http://b.example/hook', 'customer.churned', 2, 7, 'msg_3', '{}', 1, 'pending', 1000000, 1, NULL)");
    }
    auto r = run_churnwatch({"alerts", "list", "--db", db});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> next;  // the last column of each alert's line, in id order
    for (const std::string& line : alert_lines(r.out)) next.push_back(line.substr(line.size() - 19));
    ASSERT_EQ(next.size(), 3u) << r.out;
    EXPECT_EQ(next[0], "2100-01-01 00:00:00") << r.out;
    EXPECT_EQ(next[1], "2100-01-01 00:00:00") << r.out;
    EXPECT_EQ(next[2], "1970-01-01 00:00:01") << r.out;
}

// `alerts retry` also sends a delivered alert again, but not one that would now tell the
// target something the facts no longer show: a churn (or its update) whose episode a later
// delivery erased (the target was sent customer.churn_retracted after it), a return that
// a later delivery undid, or a churn the customer has come back from. The retraction is sent
// again as recorded; a still-standing churn whose recorded body no longer tells the episode
// as it is (here: '{}') carries the episode as it is now, with a new webhook-id.
TEST(AlertsRetry, ASentAlertOfAnErasedChurnOrAnUndoneReturnIsNotSentAgain) {
    TempDir dir;
    const std::string db = migrated_empty_db(dir);
    ASSERT_FALSE(db.empty());
    {
        churnwatch::sql::Database conn(db);
        // Episode 1 of customer 6 stands, churned again (its return undone); episode 2 is gone.
        conn.exec("INSERT INTO churn_events (id, customer_id, churned_at, reason, category)"
                  " VALUES (1, 6, '2026-03-01 10:00:00', 'cancelled', 'voluntary')");
        conn.exec("INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id,"
                  " payload, created_us, status, next_attempt_us, retry_from_us) VALUES"
                  " ('http://a.example/hook', 'customer.churned', 2, 6, 'msg_1', '{}', 1, 'sent', 1, 1),"
                  " ('http://a.example/hook', 'customer.churn_updated', 2, 6, 'msg_2', '{}', 1, 'sent', 1, 1),"
                  " ('http://a.example/hook', 'customer.churn_retracted', 2, 6, 'msg_3', '{}', 1, 'sent', 1, 1),"
                  " ('http://a.example/hook', 'customer.churned', 1, 6, 'msg_4', '{}', 1, 'sent', 1, 1),"
                  " ('http://a.example/hook', 'customer.reactivated', 1, 6, 'msg_5', '{}', 1, 'sent', 1, 1),"
                  " ('http://a.example/hook', 'customer.churned', 1, 7, 'msg_6', '{}', 1, 'dead', 1, 1),"
                  " ('http://a.example/hook', 'customer.churned', 3, 8, 'msg_7', '{}', 1, 'dead', 1, 1)");
        conn.exec("UPDATE alerts_outbox SET last_attempt_us = 1 WHERE status IN ('sent', 'dead')");
        // Episode 3 of customer 8 ended: the customer came back.
        conn.exec("INSERT INTO churn_events (id, customer_id, churned_at, reason, category, reactivated_at)"
                  " VALUES (3, 8, '2026-03-01 10:00:00', 'cancelled', 'voluntary', '2026-03-02 09:30:00')");
    }
    auto r = run_churnwatch({"alerts", "retry", "1", "2", "3", "4", "5", "6", "7", "--db", db});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("alert 1: not sent again: a later delivery erased the churn it announced"),
              std::string::npos) << r.err;
    EXPECT_NE(r.err.find("alert 2: not sent again: a later delivery erased the churn it announced"),
              std::string::npos) << r.err;
    EXPECT_NE(r.err.find("alert 5: not sent again: a later delivery undid this return"), std::string::npos)
        << r.err;
    // Episode 1 is customer 6's, not 7's: alert 6's churn was erased too.
    EXPECT_NE(r.err.find("alert 6: not sent again"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("alert 7: not sent again: the customer came back since (reactivated at 2026-03-02 09:30:00"
                         " UTC): the churn it announces is over"),
              std::string::npos) << r.err;
    EXPECT_NE(r.out.find("2 alerts queued for sending"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("alert 4 (http://a.example/hook, was sent): pending; a later delivery changed the episode"),
              std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("alert 3 (http://a.example/hook, was sent): pending;"), std::string::npos) << r.out;
    churnwatch::sql::Database conn(db);
    EXPECT_EQ(first_text(conn, "SELECT group_concat(status, ',') FROM (SELECT status FROM alerts_outbox ORDER BY id)"),
              "sent,sent,pending,pending,sent,dead,dead");
    EXPECT_EQ(first_text(conn, "SELECT webhook_id || ' ' || payload FROM alerts_outbox WHERE id = 3"), "msg_3 {}");
    EXPECT_NE(first_text(conn, "SELECT webhook_id FROM alerts_outbox WHERE id = 4"), "msg_4");
    EXPECT_NE(first_text(conn, "SELECT payload FROM alerts_outbox WHERE id = 4")
                  .find(R"("data":{"episode_id":1,"customer_id":6,"email":null,"reason":"cancelled")"),
              std::string::npos);
}

}  // namespace
