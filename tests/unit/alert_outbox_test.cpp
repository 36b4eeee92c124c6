// The alert outbox through the real Writer and ChurnStore: one row per episode change per
// interested target, written in the churn's own transaction, with a fixed payload and id.
#include "alert_outbox.h"

#include <gtest/gtest.h>

#include <new>

#include <functional>
#include <future>
#include <set>
#include <string_view>

#include <rapidjson/document.h>

#include "churn_scenario.h"
#include "churn_store.h"
#include "crypto.h"
#include "json.h"
#include "payload.h"
#include "schema.h"
#include "test_support.h"
#include "writer.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {


// Feeds deliveries through Writer + ChurnStore with the outbox as listener; returns the
// write statuses.
std::vector<DeliveryStatus> feed(const std::string& db, const std::vector<TestDelivery>& deliveries,
                                 AlertOutbox& outbox) {
    ChurnStore churn(RulesPolicy{});
    churn.set_listener(&outbox);
    Writer writer(db, WriterOptions{}, &churn);
    std::vector<std::future<WriteResult>> results;
    for (const auto& td : deliveries) {
        auto p = std::make_shared<std::promise<WriteResult>>();
        results.push_back(p->get_future());
        EXPECT_TRUE(writer.submit(make_delivery(td), [p](const WriteResult& r) { p->set_value(r); }));
    }
    std::vector<DeliveryStatus> statuses;
    for (auto& f : results) {
        WriteResult r = f.get();
        EXPECT_NE(r.outcome, WriteOutcome::Failed) << r.error;
        statuses.push_back(r.status);
    }
    writer.stop();
    return statuses;
}

TestDelivery sub(const std::string& action, SubscriptionSpec s) {
    return TestDelivery{"subscription/" + action, subscription_json(s)};
}

// The customer's only subscription (id customer * 10 + 1), created 2026-01-05 and cancelled
// 2026-03-01: one churn.
std::vector<TestDelivery> one_churn(int64_t customer) {
    return {sub("created", {.id = customer * 10 + 1, .customer_id = customer,
                            .updated_at = "2026-01-05T10:00:00+00:00",
                            .created_at = "2026-01-05T10:00:00+00:00"}),
            sub("cancelled", {.id = customer * 10 + 1, .customer_id = customer, .status = "cancelled",
                              .updated_at = "2026-03-01T10:00:00+00:00",
                              .created_at = "2026-01-05T10:00:00+00:00",
                              .cancelled_at = "2026-03-01T10:00:00+00:00"})};
}

// A field of an alert payload, as text: a string as it is, a number in decimal, null as
// "null". `key` is a member of "data", or "type". A payload that does not parse, or lacks the
// field, fails the test here and gives "(not in the payload)", so that the caller's
// expectation fails too, cleanly: RapidJSON would abort the whole binary on a missing member.
std::string payload_field(const std::string& payload, const char* key) {
    rapidjson::Document doc;
    doc.Parse(payload.c_str());
    const bool top = std::string_view(key) == "type";
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember(top ? "type" : "data") ||
        (!top && (!doc["data"].IsObject() || !doc["data"].HasMember(key)))) {
        ADD_FAILURE() << "no " << key << " in the payload: " << payload;
        return "(not in the payload)";
    }
    const auto& v = top ? doc["type"] : doc["data"][key];
    if (v.IsNull()) return "null";
    if (v.IsString()) return v.GetString();
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    return "(neither text, an integer nor null)";
}

const std::vector<AlertRoute> kRoutes = {
    {"http://a.example/hook", true, true},
    {"command:/bin/notify", true, false},
};

TEST(AlertOutbox, ScenarioGivesOneRowPerEpisodeChangePerInterestedTarget) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox(kRoutes);
    feed(db, rich_scenario(), outbox);
    // Five churn episodes, one reactivation (customer 1); the command target wants churns only.
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, count(*) FROM alerts_outbox"
                             " GROUP BY 1, 2 ORDER BY 1, 2"),
              "command:/bin/notify|customer.churned|5\n"
              "http://a.example/hook|customer.churned|5\n"
              "http://a.example/hook|customer.reactivated|1\n");
    EXPECT_EQ(query_rows(db, "SELECT DISTINCT status, attempts, last_error IS NULL,"
                             " next_attempt_us = created_us, retry_from_us = created_us"
                             " FROM alerts_outbox"),
              "pending|0|1|1|1\n");
    // Each row's episode and customer match churn_events.
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox o JOIN churn_events e"
                            " ON e.id = o.episode_id AND e.customer_id = o.customer_id"),
              11);
    // webhook ids: unique, msg_ + 32 hex digits.
    auto ids = query_rows(db, "SELECT webhook_id FROM alerts_outbox");
    std::set<std::string> unique;
    auto msg_and_32_hex = [](const std::string& id) {
        return id.size() == 36 && id.rfind("msg_", 0) == 0 &&
               id.find_first_not_of("0123456789abcdef", 4) == std::string::npos;
    };
    std::size_t start = 0;
    for (std::size_t nl; (nl = ids.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string id = ids.substr(start, nl - start);
        EXPECT_TRUE(msg_and_32_hex(id)) << id;
        unique.insert(id);
    }
    EXPECT_EQ(unique.size(), 11u);
    // Both targets of one event get the very same payload bytes.
    EXPECT_EQ(query_int(db, "SELECT count(DISTINCT payload) FROM alerts_outbox"
                            " WHERE event_type = 'customer.churned'"),
              5);
    EXPECT_TRUE(outbox.take_inserted());
    EXPECT_FALSE(outbox.take_inserted());
}

TEST(AlertOutbox, PayloadCarriesTheEpisode) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox(kRoutes, [] { return Micros{1772704801500000}; });  // 2026-03-05T10:00:01.5Z
    feed(db, rich_scenario(), outbox);
    std::string payload = query_text(db, "SELECT payload FROM alerts_outbox WHERE customer_id = 2"
                                         " AND target LIKE 'http%'");
    int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 2");
    int64_t delivery = query_int(db, "SELECT delivery_id FROM churn_events WHERE customer_id = 2");
    EXPECT_EQ(payload,
              "{\"type\":\"customer.churned\",\"timestamp\":\"2026-03-05T10:00:01.500000Z\","
              "\"data\":{\"episode_id\":" + std::to_string(episode) +
                  ",\"customer_id\":2,\"email\":\"someone@example.com\",\"reason\":\"max_retries\","
                  "\"category\":\"involuntary\",\"churned_at\":\"2026-04-10T04:05:00Z\","
                  "\"reactivated_at\":null,\"subscription_id\":21,\"charge_id\":201,"
                  "\"delivery_id\":" + std::to_string(delivery) + "}}");
    // The reactivation of customer 1 (no email known: subscriptions carry none).
    std::string back = query_text(db, "SELECT payload FROM alerts_outbox"
                                      " WHERE event_type = 'customer.reactivated'");
    EXPECT_EQ(payload_field(back, "type"), "customer.reactivated");
    EXPECT_EQ(payload_field(back, "email"), "null");
    EXPECT_EQ(payload_field(back, "churned_at"), "2026-03-05T10:00:00Z");
    EXPECT_EQ(payload_field(back, "reactivated_at"), "2026-04-01T10:00:00Z");
    EXPECT_EQ(payload_field(back, "customer_id"), "1");
}

// A late delivery erases an announced churn (a subscription created before the cancellation,
// delivered after it): the targets told of the churn (or whose churn alert is on its way:
// an attempt began) are told it is retracted, with the episode as it was announced; a
// target never told of it, or not wanting retractions, is not. A churn alert never
// attempted is withdrawn (nobody heard of it), and one that will never be sent (dead here)
// is marked retracted, so no `alerts retry` sends it later.
TEST(AlertOutbox, AnErasedEpisodeIsRetractedToTheTargetsThatWereToldOfIt) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::vector<AlertRoute> routes = {
        {"http://a.example/hook", true, true, true},
        {"http://reactivations.example/hook", false, true, true},  // never told of churns
        {"command:/bin/notify", true, false, false},               // no retractions wanted
        {"http://dead.example/hook", true, true, true},            // its churn alert went dead
        {"http://queued.example/hook", true, true, true},          // not attempted yet
        {"http://trying.example/hook", true, true, true},          // an attempt failed, retrying
    };
    AlertOutbox outbox(routes, [] { return Micros{1772704801500000}; });
    feed(db, one_churn(7), outbox);
    {
        sql::Database conn(db);
        conn.exec("UPDATE alerts_outbox SET status = 'sent', last_attempt_us = 1 WHERE target = 'http://a.example/hook';"
                  "UPDATE alerts_outbox SET status = 'dead', last_attempt_us = 1 WHERE target = 'http://dead.example/hook';"
                  "UPDATE alerts_outbox SET attempts = 1, last_attempt_us = 1 WHERE target = 'http://trying.example/hook'");
    }
    // Late: this subscription was active all along, so customer 7 never churned.
    feed(db, {sub("created", {.id = 72, .customer_id = 7, .updated_at = "2026-02-01T10:00:00+00:00",
                              .created_at = "2026-02-01T10:00:00+00:00"})},
         outbox);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM churn_events"), 0);
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              "http://a.example/hook|customer.churned|sent\n"
              "command:/bin/notify|customer.churned|retracted\n"
              "http://dead.example/hook|customer.churned|retracted\n"
              "http://queued.example/hook|customer.churned|retracted\n"
              "http://trying.example/hook|customer.churned|pending\n"
              "http://a.example/hook|customer.churn_retracted|pending\n"
              "http://trying.example/hook|customer.churn_retracted|pending\n");
    EXPECT_EQ(query_text(db, "SELECT last_error FROM alerts_outbox WHERE target = 'http://queued.example/hook'"),
              "a later delivery erased this churn before it was sent: not sent");
    // What the targets were told of the episode went with it (its id is never given out again).
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alert_told"), 0);
    EXPECT_EQ(query_int(db, "SELECT count(DISTINCT episode_id) FROM alerts_outbox"), 1);
    std::string payload = query_text(db, "SELECT payload FROM alerts_outbox"
                                         " WHERE event_type = 'customer.churn_retracted'");
    EXPECT_EQ(payload_field(payload, "type"), "customer.churn_retracted");
    EXPECT_EQ(payload_field(payload, "churned_at"), "2026-03-01T10:00:00Z");
    EXPECT_EQ(payload_field(payload, "reason"), "cancelled");
    EXPECT_EQ(payload_field(payload, "category"), "voluntary");
    EXPECT_EQ(payload_field(payload, "subscription_id"), "71");
    EXPECT_EQ(payload_field(payload, "customer_id"), "7");
}

// A database from before migration 0010 may have given an erased episode's id to another
// customer's episode: a retraction is only for the target told of this customer's churn.
TEST(AlertOutbox, ARetractionMatchesTheCustomerNotOnlyTheEpisodeId) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox({{"http://a.example/hook", true, true, true}});
    feed(db, {}, outbox);  // migrated, empty
    {
        sql::Database conn(db);
        // Episode 1 was customer 6's (announced), then customer 7's under the old numbering.
        conn.exec("INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id,"
                  " payload, created_us, status, next_attempt_us, retry_from_us)"
                  " VALUES ('http://a.example/hook', 'customer.churned', 1, 6, 'msg_old', '{}', 1, 'sent', 1, 1),"
                  " ('http://b.example/hook', 'customer.churned', 1, 6, 'msg_old_dead', '{}', 1, 'dead', 1, 1)");
    }
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode e;
    sql::Database conn(db);
    sql::Transaction txn(conn);
    outbox.on_retracted(conn, 1, c, e);
    txn.commit();
    // Nothing is sent, and the other customer's dead churn alert is not this erasure's to retract.
    EXPECT_EQ(first_text(conn, "SELECT group_concat(webhook_id || ':' || status, ' ') FROM alerts_outbox"),
              "msg_old:sent msg_old_dead:dead");
}

// A cancellation, then (a minute later) a new subscription: a churn of one minute.
std::vector<TestDelivery> brief_churn(int64_t customer) {
    std::vector<TestDelivery> d = one_churn(customer);
    d.push_back(sub("created", {.id = customer * 10 + 2, .customer_id = customer,
                                .updated_at = "2026-03-01T10:01:00+00:00",
                                .created_at = "2026-03-01T10:01:00+00:00"}));
    return d;
}

constexpr Micros kNow = 1772704801500000;  // 2026-03-05T10:00:01.5Z
constexpr Micros kHold = 900 * kMicrosPerSecond;

// alert-hold: a churn alert is first due once the hold has passed (its retry budget counts
// from then). Customer 1 of the scenario is back within it (the clock stands still here):
// its churn alerts are withdrawn, for the command target too, and no return is announced.
TEST(AlertOutbox, AHeldChurnAlertIsDueAfterTheHold) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox(kRoutes, [] { return kNow; });
    outbox.set_hold(kHold);
    feed(db, rich_scenario(), outbox);
    EXPECT_EQ(query_rows(db, "SELECT event_type, status, customer_id = 1, next_attempt_us - created_us,"
                             " retry_from_us - created_us, count(*) FROM alerts_outbox"
                             " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2"),
              "customer.churned|pending|0|900000000|900000000|8\n"
              "customer.churned|retracted|1|900000000|900000000|2\n");
}

// A churn undone while its alert is held: that target hears nothing of the episode, neither
// the churn nor the return; the episode stays in churn_events for analysts. A target that
// only wants reactivations has no churn alert to compare with and is told as always.
TEST(AlertOutbox, AReturnWithinTheHoldWithdrawsTheChurnAlertAndSaysNothing) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::vector<AlertRoute> routes = {
        {"http://a.example/hook", true, true, true},
        {"http://reactivations.example/hook", false, true, true},
    };
    Micros now = kNow;
    AlertOutbox outbox(routes, [&now] { return now; });
    outbox.set_hold(kHold);
    feed(db, brief_churn(7), outbox);
    EXPECT_EQ(query_rows(db, "SELECT reactivated_at IS NOT NULL FROM churn_events"), "1\n");
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status, last_error FROM alerts_outbox ORDER BY id"),
              "http://a.example/hook|customer.churned|retracted|the customer was back within alert-hold"
              " (900 s): neither the churn nor the return is announced\n"
              "http://reactivations.example/hook|customer.reactivated|pending|NULL\n");

    // A late delivery undoes that return (the episode is open again): the churn is announced
    // to the target whose alert was withdrawn, held again, and the return not yet sent to the
    // other is withdrawn. A newer return within that hold withdraws the churn again, and no
    // return is announced to the first target.
    {
        sql::Database conn(db);
        CustomerOutcome c;
        c.customer_id = 7;
        ChurnEpisode e;
        e.churned_at = kNow - kHold;
        const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
        now = kNow + 60 * kMicrosPerSecond;
        ChurnEpisode before = e;
        before.reactivated_at = kNow;
        sql::Transaction txn(conn);
        outbox.on_changed(conn, episode, c, e, before);
        txn.commit();
        EXPECT_EQ(query_rows(db, "SELECT target, event_type, status, next_attempt_us - created_us,"
                                 " created_us = " + std::to_string(now) + " FROM alerts_outbox ORDER BY id"),
                  "http://a.example/hook|customer.churned|retracted|900000000|0\n"
                  "http://reactivations.example/hook|customer.reactivated|retracted|0|0\n"
                  "http://a.example/hook|customer.churned|pending|900000000|1\n");
        e.reactivated_at = now;
        sql::Transaction again(conn);
        outbox.on_reactivated(conn, episode, c, e);
        again.commit();
        EXPECT_EQ(first_text(conn, "SELECT group_concat(status) FROM alerts_outbox WHERE target = 'http://a.example/hook'"),
                  "retracted,retracted");
    }

    // The same after the hold has run out (the churn alert was due): both are sent.
    now = kNow;
    auto two = brief_churn(8);
    feed(db, {two[0], two[1]}, outbox);
    now = kNow + kHold;
    feed(db, {two[2]}, outbox);
    EXPECT_EQ(query_rows(db, "SELECT event_type, status, next_attempt_us - created_us FROM alerts_outbox"
                             " WHERE customer_id = 8 AND target = 'http://a.example/hook' ORDER BY id"),
              "customer.churned|pending|900000000\ncustomer.reactivated|pending|0\n");

    // Within the hold, but the dispatcher had begun sending it: the return follows.
    now = kNow;
    auto three = brief_churn(9);
    feed(db, {three[0], three[1]}, outbox);
    {
        sql::Database conn(db);
        int64_t id = query_int(db, "SELECT id FROM alerts_outbox WHERE customer_id = 9");
        EXPECT_TRUE(claim_alert(conn, id, kNow + 1));
    }
    feed(db, {three[2]}, outbox);
    EXPECT_EQ(query_rows(db, "SELECT event_type, status FROM alerts_outbox WHERE customer_id = 9"
                             " AND target = 'http://a.example/hook' ORDER BY id"),
              "customer.churned|pending\ncustomer.reactivated|pending\n");
}

// Without a hold a return is announced after the churn, even one never attempted yet.
TEST(AlertOutbox, WithoutAHoldAReturnFollowsTheChurn) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox({{"http://a.example/hook", true, true, true}}, [] { return kNow; });
    feed(db, brief_churn(7), outbox);
    EXPECT_EQ(query_rows(db, "SELECT event_type, status FROM alerts_outbox ORDER BY id"),
              "customer.churned|pending\ncustomer.reactivated|pending\n");
}

// The dispatcher's claim before a churn alert's first attempt: refused once the outbox has
// withdrawn the row, so a withdrawn alert is never sent.
TEST(AlertOutbox, AClaimFailsOnAWithdrawnAlert) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox({{"http://a.example/hook", true, true, true}}, [] { return kNow; });
    outbox.set_hold(kHold);
    feed(db, brief_churn(7), outbox);
    sql::Database conn(db);
    int64_t id = query_int(db, "SELECT id FROM alerts_outbox");
    EXPECT_FALSE(claim_alert(conn, id, kNow));
    EXPECT_EQ(first_text(conn, "SELECT last_attempt_us IS NULL FROM alerts_outbox"), "1");
}

// A connection opened at the address of one closed before (as the allocator may hand out)
// gets statements of its own. It used to find the closed one's: its alert rows went through
// that connection, outside this one's transaction (waiting on its lock: SQLITE_BUSY), and
// the tests that fed one outbox through several writers failed now and then.
TEST(AlertOutbox, AConnectionAtAClosedOnesAddressGetsStatementsOfItsOwn) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox({{"http://a.example/hook", true, true, true}}, [] { return kNow; });
    feed(db, brief_churn(7), outbox);
    const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
    const int64_t rows = query_int(db, "SELECT count(*) FROM alerts_outbox");
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode e;
    e.churned_at = kNow;
    alignas(sql::Database) unsigned char storage[sizeof(sql::Database)];
    for (int round = 0; round < 2; ++round) {
        auto* conn = new (storage) sql::Database(db, sql::OpenMode::ReadWrite, 200);
        {
            sql::Transaction txn(*conn);
            EXPECT_NO_THROW(outbox.on_churned(*conn, episode, c, e)) << "round " << round;
            EXPECT_EQ(first_text(*conn, "SELECT count(*) FROM alerts_outbox"), std::to_string(rows + 1))
                << "round " << round;
        }  // rolled back: the row goes with the transaction it was written in
        conn->~Database();
        EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), rows) << "round " << round;
    }
}

// The reactivated_at in an alert's payload ("null" when absent).
std::string reactivated_in(const std::string& payload) { return payload_field(payload, "reactivated_at"); }

// A return that a late delivery undoes (the episode churned again). Its customer.reactivated
// that no attempt has begun on is withdrawn, so no target hears of a return the facts no
// longer show; a target that was sent it, or is being sent it, and asks for
// customer.churn_updated is told the customer is churned again. While the customer is still
// back, an unattempted return alert carries the return as it is now, like a churn alert.
TEST(AlertOutbox, AReturnUndoneIsWithdrawnUnsentAndCorrectedToTargetsThatHeardIt) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::vector<AlertRoute> routes = {
        {"http://updates.example/hook", true, true, true, true},
        {"http://plain.example/hook", true, true, true, false},
        {"http://queued.example/hook", true, true, true, true},
    };
    Micros now = kNow;
    AlertOutbox outbox(routes, [&now] { return now; });
    feed(db, brief_churn(7), outbox);
    const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
    auto return_of = [&](const std::string& target) {
        return query_int(db, "SELECT id FROM alerts_outbox WHERE event_type = 'customer.reactivated'"
                             " AND target = '" + target + "'");
    };
    sql::Database conn(db);
    // The updates and plain targets' returns are on their way; the queued target's waits.
    ASSERT_TRUE(claim_alert(conn, return_of("http://updates.example/hook"), kNow));
    ASSERT_TRUE(claim_alert(conn, return_of("http://plain.example/hook"), kNow));
    const std::string claimed = query_rows(db, "SELECT payload FROM alerts_outbox WHERE id = " +
                                                   std::to_string(return_of("http://plain.example/hook")));

    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode before;
    before.churned_at = kNow - kHold;
    before.reactivated_at = kNow;
    // The return moves (a late delivery dates it a minute later): the waiting alert says so.
    ChurnEpisode later = before;
    later.reactivated_at = kNow + 60 * kMicrosPerSecond;
    {
        sql::Transaction txn(conn);
        outbox.on_changed(conn, episode, c, later, before);
        txn.commit();
    }
    // Not a change to what the churn said: no update.
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox WHERE event_type = 'customer.churn_updated'"), 0);
    EXPECT_EQ(reactivated_in(query_rows(db, "SELECT payload FROM alerts_outbox WHERE id = " +
                                                std::to_string(return_of("http://queued.example/hook")))),
              "2026-03-05T10:01:01.500000Z");
    EXPECT_EQ(query_rows(db, "SELECT payload FROM alerts_outbox WHERE id = " +
                                 std::to_string(return_of("http://plain.example/hook"))),
              claimed);

    // Then a late delivery undoes the return.
    ChurnEpisode again = later;
    again.reactivated_at.reset();
    now = kNow + 120 * kMicrosPerSecond;
    {
        sql::Transaction txn(conn);
        outbox.on_changed(conn, episode, c, again, later);
        txn.commit();
    }
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status, last_error FROM alerts_outbox"
                             " WHERE event_type <> 'customer.churned' ORDER BY id"),
              "http://updates.example/hook|customer.reactivated|pending|NULL\n"
              "http://plain.example/hook|customer.reactivated|pending|NULL\n"
              "http://queued.example/hook|customer.reactivated|retracted|a later delivery undid this return"
              " before it was delivered: it will not be sent\n"
              "http://updates.example/hook|customer.churn_updated|pending|NULL\n");
    const std::string update = query_rows(db, "SELECT payload FROM alerts_outbox"
                                              " WHERE event_type = 'customer.churn_updated'");
    EXPECT_EQ(reactivated_in(update), "null");
    EXPECT_FALSE(claim_alert(conn, return_of("http://queued.example/hook"), now));
}

// An episode erased by a late delivery while its return is still queued: the return is never
// sent (a target would hear "back" from a churn that did not happen), nor is a dead one by a
// later `alerts retry`.
TEST(AlertOutbox, AnErasedEpisodesUnsentReturnIsWithdrawn) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::vector<AlertRoute> routes = {
        {"http://a.example/hook", true, true, true},
        {"http://reactivations.example/hook", false, true, true},
        {"http://dead.example/hook", false, true, true},
    };
    AlertOutbox outbox(routes, [] { return kNow; });
    feed(db, brief_churn(7), outbox);
    const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
    sql::Database conn(db);
    conn.exec("UPDATE alerts_outbox SET status = 'dead', last_attempt_us = 1 WHERE target = 'http://dead.example/hook'");
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode e;
    e.churned_at = kNow - kHold;
    e.reactivated_at = kNow;
    {
        sql::Transaction txn(conn);
        outbox.on_retracted(conn, episode, c, e);
        txn.commit();
    }
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              "http://a.example/hook|customer.churned|retracted\n"
              "http://a.example/hook|customer.reactivated|retracted\n"
              "http://reactivations.example/hook|customer.reactivated|retracted\n"
              "http://dead.example/hook|customer.reactivated|retracted\n");
}

// A cancellation, then (delivered late) an earlier version of the subscription that had
// reached max retries: the same episode, its reason now max_retries.
std::vector<TestDelivery> reason_changed_late(int64_t customer) {
    const int64_t id = customer * 10 + 1;
    return {sub("created", {.id = id, .customer_id = customer, .updated_at = "2026-01-05T10:00:00+00:00",
                            .created_at = "2026-01-05T10:00:00+00:00"}),
            sub("cancelled", {.id = id, .customer_id = customer, .status = "cancelled",
                              .updated_at = "2026-03-01T10:00:00+00:00",
                              .created_at = "2026-01-05T10:00:00+00:00",
                              .cancelled_at = "2026-03-01T10:00:00+00:00"}),
            sub("updated", {.id = id, .customer_id = customer, .updated_at = "2026-03-01T09:30:00+00:00",
                            .created_at = "2026-01-05T10:00:00+00:00", .max_retries_reached = true})};
}

std::string reason_in(const std::string& payload) { return payload_field(payload, "reason"); }

// A churn alert that no attempt has begun on announces the episode as the facts settle
// (the point of alert-hold); once claimed, its bytes stay, whatever a late delivery says.
TEST(AlertOutbox, AnUnclaimedChurnAlertCarriesTheEpisodeAsItIsNow) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox({{"http://a.example/hook", true, true, true}}, [] { return kNow; });
    outbox.set_hold(kHold);
    auto held = reason_changed_late(7);
    feed(db, {held[0], held[1]}, outbox);
    EXPECT_EQ(reason_in(query_rows(db, "SELECT payload FROM alerts_outbox")), "cancelled");
    const std::string id_before = query_rows(db, "SELECT webhook_id FROM alerts_outbox");
    feed(db, {held[2]}, outbox);
    EXPECT_EQ(query_rows(db, "SELECT reason, category FROM churn_events"), "max_retries|involuntary\n");
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 1);
    EXPECT_EQ(query_rows(db, "SELECT webhook_id FROM alerts_outbox"), id_before);
    {
        sql::Database conn(db);
        auto claimed = claim_alert(conn, query_int(db, "SELECT id FROM alerts_outbox"), kNow + 1);
        ASSERT_TRUE(claimed);
        EXPECT_EQ(reason_in(*claimed), "max_retries");
        EXPECT_EQ(*claimed + "\n", query_rows(db, "SELECT payload FROM alerts_outbox"));
    }

    // Claimed before the late delivery: the attempt's bytes are kept.
    auto sent = reason_changed_late(8);
    feed(db, {sent[0], sent[1]}, outbox);
    const std::string before = query_rows(db, "SELECT payload FROM alerts_outbox WHERE customer_id = 8");
    {
        sql::Database conn(db);
        ASSERT_TRUE(claim_alert(conn, query_int(db, "SELECT id FROM alerts_outbox WHERE customer_id = 8"), kNow));
    }
    feed(db, {sent[2]}, outbox);
    EXPECT_EQ(query_rows(db, "SELECT reason FROM churn_events WHERE customer_id = 8"), "max_retries\n");
    EXPECT_EQ(query_rows(db, "SELECT payload FROM alerts_outbox WHERE customer_id = 8"), before);
}

// customer.churn_updated (opt-in): a target that was sent the churn, or is being sent it,
// hears of a change to what it said; one whose churn alert no attempt has begun on gets the
// rewritten churn instead; a target that did not ask hears nothing more.
TEST(AlertOutbox, AChangedAnnouncedChurnIsSentAsAnUpdateToTargetsThatAskForIt) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::vector<AlertRoute> routes = {
        {"http://updates.example/hook", true, true, true, true},
        {"http://plain.example/hook", true, true, true, false},
    };
    AlertOutbox outbox(routes, [] { return kNow; });
    auto late = reason_changed_late(7);
    feed(db, {late[0], late[1]}, outbox);
    {
        sql::Database conn(db);
        for (int64_t id : {int64_t{1}, int64_t{2}}) ASSERT_TRUE(claim_alert(conn, id, kNow));
    }
    feed(db, {late[2]}, outbox);
    EXPECT_EQ(query_rows(db, "SELECT target, event_type FROM alerts_outbox ORDER BY id"),
              "http://updates.example/hook|customer.churned\n"
              "http://plain.example/hook|customer.churned\n"
              "http://updates.example/hook|customer.churn_updated\n");
    const std::string update = query_rows(db, "SELECT payload FROM alerts_outbox WHERE id = 3");
    EXPECT_EQ(reason_in(update), "max_retries");
    EXPECT_EQ(payload_field(update, "type"), "customer.churn_updated");
    EXPECT_EQ(payload_field(update, "episode_id"),
              std::to_string(query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7")));
    // The same delivery again changes nothing, and tells nothing.
    feed(db, {late[2]}, outbox);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 3);

    // Not yet attempted: rewritten, no update.
    auto unsent = reason_changed_late(8);
    feed(db, {unsent[0], unsent[1], unsent[2]}, outbox);
    EXPECT_EQ(query_rows(db, "SELECT event_type, count(*) FROM alerts_outbox WHERE customer_id = 8 GROUP BY 1"),
              "customer.churned|2\n");
}

TEST(AlertOutbox, RetriedDeliveriesAddNoAlerts) {
    auto deliveries = rich_scenario();
    auto twice = deliveries;
    twice.insert(twice.end(), deliveries.begin(), deliveries.end());
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox(kRoutes);
    feed(db, twice, outbox);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 11);
    // And a second run over the same database (a restart) with the same deliveries again.
    AlertOutbox again(kRoutes);
    feed(db, deliveries, again);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 11);
    EXPECT_FALSE(again.take_inserted());
}

TEST(AlertOutbox, NoChurnWithoutItsAlert) {
    // When the alert cannot be written, the churn is not recorded either: the delivery is
    // quarantined with the reason, and its derived rows are rolled back.
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox(kRoutes, {}, []() -> std::string { throw std::runtime_error("no ids today"); });
    auto statuses = feed(db, rich_scenario(), outbox);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM churn_events"), 0);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 0);
    EXPECT_GT(query_int(db, "SELECT count(*) FROM deliveries WHERE status = 'quarantined'"
                            " AND reason LIKE '%no ids today%'"),
              0);
}

TEST(AlertOutbox, DisabledTargetGetsRowsMarkedDisabled) {
    TempDir dir;
    std::string db = dir.file("a.db");
    {
        sql::Database conn(db);
        configure_connection(conn);
        apply_migrations(conn);
        conn.exec("INSERT INTO alert_targets_disabled VALUES ('http://a.example/hook', 1, 'HTTP 410')");
    }
    AlertOutbox outbox(kRoutes);
    feed(db, rich_scenario(), outbox);
    EXPECT_EQ(query_rows(db, "SELECT target, status, count(*) FROM alerts_outbox GROUP BY 1, 2 ORDER BY 1"),
              "command:/bin/notify|pending|5\nhttp://a.example/hook|disabled|6\n");
    // Why it was not sent, for `alerts` and whoever retries it.
    EXPECT_EQ(query_rows(db, "SELECT DISTINCT status, last_error FROM alerts_outbox ORDER BY 1"),
              "disabled|target disabled (it answered 410 Gone); not sent\npending|NULL\n");
}

TEST(AlertOutbox, NoRoutesNoRows) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox({{"http://only-reactivations.example/", false, true}});
    feed(db, rich_scenario(), outbox);
    EXPECT_EQ(query_rows(db, "SELECT event_type, count(*) FROM alerts_outbox GROUP BY 1"),
              "customer.reactivated|1\n");
}

// Alerts written while the system clock was 30 days ahead (a wrong clock, corrected) waited
// for the real clock to catch up, silently: due in 30 days, a retry budget counting from
// then (never dead-lettered), newer alerts sent before them. Rows due beyond the horizon, or
// created or attempted after now, become due now; the rest, and rows no longer pending, stay.
TEST(AlertOutbox, AlertsStampedByAClockAheadAreMadeDueNow) {
    TempDir dir;
    sql::Database db(dir.file("a.db"));
    configure_connection(db);
    apply_migrations(db);
    constexpr Micros kNow = 1'800'000'000 * kMicrosPerSecond;
    constexpr Micros kDay = 86400 * kMicrosPerSecond;
    constexpr Micros kHorizon = kDay + 60 * kMicrosPerSecond;  // the default 24 h budget
    constexpr Micros kSlack = 60 * kMicrosPerSecond;
    auto add = [&](const std::string& name, const std::string& target, const std::string& status,
                   Micros created, Micros next, std::optional<Micros> last) {
        sql::Statement q(db,
                         "INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id,"
                         " webhook_id, payload, created_us, status, next_attempt_us, retry_from_us,"
                         " last_attempt_us) VALUES (?, 'customer.churned', 1, 1, ?, '{}', ?, ?, ?, ?, ?)");
        q.bind(1, target).bind(2, name).bind(3, created).bind(4, status).bind(5, next).bind(6, created);
        q.bind(7, last).run();
    };
    const std::string a = "http://a.example/hook", b = "http://b.example/hook";
    // From the clock 30 days ahead: attempted (retrying), and new, held by alert-hold.
    add("ahead_retrying", a, "pending", kNow + 30 * kDay, kNow + 30 * kDay + 600 * kMicrosPerSecond,
        kNow + 30 * kDay);
    add("ahead_held", a, "pending", kNow + 30 * kDay, kNow + 30 * kDay + 3600 * kMicrosPerSecond, std::nullopt);
    // An hour ahead: not beyond the horizon, but created later than now.
    add("ahead_an_hour", a, "pending", kNow + 3600 * kMicrosPerSecond, kNow + 3600 * kMicrosPerSecond,
        std::nullopt);
    // Created before now, last attempted by a clock ahead (a Retry-After within the budget).
    add("attempted_ahead", a, "pending", kNow - kDay, kNow + 3 * 3600 * kMicrosPerSecond,
        kNow + 2 * 3600 * kMicrosPerSecond);
    // Ordinary: a backoff of ten minutes, a Retry-After of 20 hours, a hold, a stamp within
    // the slack; and sent with future times (nothing waits on those).
    add("backoff", a, "pending", kNow - 60 * kMicrosPerSecond, kNow + 600 * kMicrosPerSecond, kNow);
    add("retry_after", a, "pending", kNow - kDay / 2, kNow + 20 * 3600 * kMicrosPerSecond, kNow);
    add("within_slack", a, "pending", kNow + 30 * kMicrosPerSecond, kNow + kDay, std::nullopt);
    add("sent_ahead", a, "sent", kNow + 30 * kDay, kNow + 30 * kDay, kNow + 30 * kDay);
    add("other_target", b, "pending", kNow + 30 * kDay, kNow + 30 * kDay, std::nullopt);
    const std::string rows_sql =
        "SELECT webhook_id, created_us - " + std::to_string(kNow) + ", next_attempt_us - " +
        std::to_string(kNow) + ", retry_from_us - " + std::to_string(kNow) + ", coalesce(last_attempt_us - " +
        std::to_string(kNow) + ", 'NULL') FROM alerts_outbox ORDER BY id";
    const std::string before = query_rows(db.path(), rows_sql);

    // Target a only (a worker's periodic look).
    auto r = reschedule_future_alerts(db, kNow, kHorizon, kSlack, &a);
    EXPECT_EQ(r.count, 4);
    EXPECT_EQ(r.furthest, 30 * kDay + 3600 * kMicrosPerSecond);
    EXPECT_EQ(query_rows(db.path(), rows_sql),
              "ahead_retrying|0|0|0|0\n"
              "ahead_held|0|0|0|NULL\n"
              "ahead_an_hour|0|0|0|NULL\n"
              "attempted_ahead|" + std::to_string(-kDay) + "|0|" + std::to_string(-kDay) + "|0\n"
              "backoff|" + std::to_string(-60 * kMicrosPerSecond) + "|" + std::to_string(600 * kMicrosPerSecond) +
                  "|" + std::to_string(-60 * kMicrosPerSecond) + "|0\n"
              "retry_after|" + std::to_string(-kDay / 2) + "|" + std::to_string(20 * 3600 * kMicrosPerSecond) +
                  "|" + std::to_string(-kDay / 2) + "|0\n"
              "within_slack|" + std::to_string(30 * kMicrosPerSecond) + "|" + std::to_string(kDay) + "|" +
                  std::to_string(30 * kMicrosPerSecond) + "|NULL\n"
              "sent_ahead|" + std::to_string(30 * kDay) + "|" + std::to_string(30 * kDay) + "|" +
                  std::to_string(30 * kDay) + "|" + std::to_string(30 * kDay) + "\n"
              "other_target|" + std::to_string(30 * kDay) + "|" + std::to_string(30 * kDay) + "|" +
                  std::to_string(30 * kDay) + "|NULL\n")
        << "before:\n" << before;
    // Done once: a second look finds nothing (and so writes and logs nothing).
    EXPECT_EQ(reschedule_future_alerts(db, kNow, kHorizon, kSlack, &a).count, 0);
    // Every target (the look at start).
    r = reschedule_future_alerts(db, kNow, kHorizon, kSlack);
    EXPECT_EQ(r.count, 1);
    EXPECT_EQ(query_text(db.path(), "SELECT next_attempt_us - " + std::to_string(kNow) +
                                        " FROM alerts_outbox WHERE webhook_id = 'other_target'"),
              "0");
}

// ---- Retention (alert-retention-days): AlertPruner -------------------------------------

constexpr Micros kDay = 86400 * kMicrosPerSecond;
constexpr Micros kRetention = 30 * kDay;


// One alerts_outbox row, times relative to kNow (nullopt: NULL).
void add_row(sql::Database& db, const std::string& name, const std::string& target, const std::string& event,
             int64_t episode, int64_t customer, const std::string& status, Micros created,
             std::optional<Micros> last_attempt = std::nullopt, std::optional<Micros> sent = std::nullopt) {
    sql::Statement q(db,
                     "INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id,"
                     " payload, created_us, status, next_attempt_us, retry_from_us, last_attempt_us, sent_us)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, '{}', ?6, ?7, ?6, ?6, ?8, ?9)");
    q.bind(1, target).bind(2, event).bind(3, episode).bind(4, customer).bind(5, name).bind(6, kNow + created);
    q.bind(7, status);
    q.bind(8, last_attempt ? std::optional<Micros>(kNow + *last_attempt) : std::nullopt);
    q.bind(9, sent ? std::optional<Micros>(kNow + *sent) : std::nullopt).run();
}

std::string names(const std::string& db) {
    return query_rows(db, "SELECT group_concat(webhook_id, ' ') FROM (SELECT webhook_id FROM alerts_outbox ORDER BY id)");
}

// Finished alerts go once they finished longer ago than the retention: a delivered one
// counted from its delivery, a dead one from the attempt that killed it (`alerts retry`
// brought it back and it died again: it is kept), one never attempted from its creation.
// Pending alerts stay, however old. Churn alerts as well as the rest: what AlertOutbox reads
// again of them is in alert_told (the tests below).
TEST(AlertRetention, FinishedAlertsAreDeletedOnceTheyFinishedBeforeTheCutoffPendingOnesNever) {
    TempDir dir;
    sql::Database db(dir.file("a.db"));
    configure_connection(db);
    apply_migrations(db);
    const std::string t = "http://a.example/hook";
    add_row(db, "sent_old", t, "customer.reactivated", 999, 9, "sent", -40 * kDay, -40 * kDay, -40 * kDay);
    add_row(db, "sent_10_days_ago", t, "customer.reactivated", 999, 9, "sent", -40 * kDay, -10 * kDay, -10 * kDay);
    add_row(db, "dead_old", t, "customer.reactivated", 999, 9, "dead", -41 * kDay, -40 * kDay);
    add_row(db, "died_20_days_ago", t, "customer.reactivated", 999, 9, "dead", -60 * kDay, -20 * kDay);
    add_row(db, "disabled_old", t, "customer.churned", 999, 9, "disabled", -40 * kDay);
    add_row(db, "pending_old", t, "customer.churned", 999, 9, "pending", -100 * kDay, -90 * kDay);
    add_row(db, "pending_never_tried", "http://gone.example/", "customer.churned", 999, 9, "pending", -100 * kDay);
    add_row(db, "withdrawn_old", t, "customer.churned", 999, 9, "retracted", -40 * kDay);
    add_row(db, "retraction_old", t, "customer.churn_retracted", 999, 9, "sent", -35 * kDay, -31 * kDay, -31 * kDay);
    add_row(db, "update_old", t, "customer.churn_updated", 999, 9, "sent", -31 * kDay, -31 * kDay, -31 * kDay);
    add_row(db, "sent_just_before", t, "customer.reactivated", 999, 9, "sent", -40 * kDay, -kRetention - 1, -kRetention - 1);
    add_row(db, "sent_at_cutoff", t, "customer.reactivated", 999, 9, "sent", -40 * kDay, -kRetention, -kRetention);

    PrunedAlerts pruned = prune_finished_alerts(db, kNow - kRetention);
    EXPECT_EQ(names(db.path()), "sent_10_days_ago died_20_days_ago pending_old pending_never_tried sent_at_cutoff\n");
    EXPECT_EQ(pruned.sent, 4);
    EXPECT_EQ(pruned.dead, 1);
    EXPECT_EQ(pruned.disabled, 1);
    EXPECT_EQ(pruned.retracted, 1);
    EXPECT_EQ(pruned.total(), 7);
    // Done: a second pass finds nothing. Ids are never given out again (AUTOINCREMENT).
    EXPECT_EQ(prune_finished_alerts(db, kNow - kRetention).total(), 0);
    add_row(db, "after", t, "customer.reactivated", 999, 9, "pending", 0);
    EXPECT_EQ(first_text(db, "SELECT id FROM alerts_outbox WHERE webhook_id = 'after'"), "13");
}

// The customer.churned of one target and episode, as alert_told (0021) holds it: the
// alert's name (webhook_id, when it is still in the outbox), status, and whether an attempt
// began.
std::string told(const std::string& db) {
    return query_rows(db, "SELECT t.episode_id, t.target, coalesce(o.webhook_id, '-'), t.status, t.attempted"
                          " FROM alert_told t LEFT JOIN alerts_outbox o ON o.id = t.alert_id ORDER BY 1, 2");
}

// What a target was told of an episode — its latest customer.churned for it, which
// AlertOutbox::churn_row reads — is kept in alert_told, so retention deletes the alert
// itself like any other, however long the episode lives. A late delivery that changes the
// episode is still sent as customer.churn_updated, and one that erases it as
// customer.churn_retracted, to the target that was sent the churn, and only to it: not to
// the one whose churn alert died, nor to one never told of churns. Erased, the episode takes
// what its targets were told with it.
TEST(AlertRetention, ADeliveredChurnGoesAfterTheRetentionAndItsUpdateAndRetractionStillFollow) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::vector<AlertRoute> routes = {{"http://a.example/hook", true, true, true, true},
                                            {"http://dead.example/hook", true, true, true, true},
                                            {"http://reactivations.example/hook", false, true, true, true}};
    Micros now = kNow - 40 * kDay;
    AlertOutbox outbox(routes, [&now] { return now; });
    auto late = reason_changed_late(7);
    feed(db, {late[0], late[1]}, outbox);
    sql::Database conn(db);
    const std::string forty_days_ago = std::to_string(kNow - 40 * kDay);
    conn.exec("UPDATE alerts_outbox SET status = 'sent', attempts = 1, last_attempt_us = " + forty_days_ago +
              ", sent_us = " + forty_days_ago + " WHERE target = 'http://a.example/hook';"
              "UPDATE alerts_outbox SET status = 'dead', attempts = 9, last_attempt_us = " + forty_days_ago +
              " WHERE target = 'http://dead.example/hook'");
    const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
    PrunedAlerts pruned = prune_finished_alerts(conn, kNow - kRetention);
    EXPECT_EQ(pruned.sent, 1);
    EXPECT_EQ(pruned.dead, 1);
    EXPECT_EQ(pruned.total(), 2);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 0);
    const std::string e = std::to_string(episode);
    EXPECT_EQ(told(db), e + "|http://a.example/hook|-|sent|1\n" + e + "|http://dead.example/hook|-|dead|1\n");

    // Late: an earlier version of the subscription had reached max retries (the same
    // episode; its reason is max_retries now).
    now = kNow;
    feed(db, {late[2]}, outbox);
    EXPECT_EQ(query_rows(db, "SELECT reason FROM churn_events"), "max_retries\n");
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              "http://a.example/hook|customer.churn_updated|pending\n");
    // Late: this subscription was active all along, so customer 7 never churned.
    feed(db, {sub("created", {.id = 72, .customer_id = 7, .updated_at = "2026-02-01T10:00:00+00:00",
                              .created_at = "2026-02-01T10:00:00+00:00"})},
         outbox);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM churn_events"), 0);
    // The update not sent yet is withdrawn: the retraction says all there is to say.
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              "http://a.example/hook|customer.churn_updated|retracted\n"
              "http://a.example/hook|customer.churn_retracted|pending\n");
    EXPECT_EQ(told(db), "");
}

// A churn alert withdrawn because the customer was back within alert-hold (retracted, never
// attempted) is why that target hears nothing of the return, and why the churn is announced
// after all if a late delivery undoes the return. Deleted by retention with the return sent
// to another target, it still is: alert_told says so. A later churn alert that dies and is
// deleted in turn leaves the target as one whose latest churn alert died, not one withdrawn:
// it hears of the next return.
TEST(AlertRetention, AChurnWithdrawnWithinTheHoldGoesAfterTheRetentionAndTheTargetStillHearsNothingOfItsReturn) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::vector<AlertRoute> routes = {{"http://a.example/hook", true, true, true},
                                            {"http://reactivations.example/hook", false, true, true}};
    Micros now = kNow - 40 * kDay;
    AlertOutbox outbox(routes, [&now] { return now; });
    outbox.set_hold(kHold);
    feed(db, brief_churn(7), outbox);
    sql::Database conn(db);
    conn.exec("UPDATE alerts_outbox SET status = 'sent', attempts = 1, last_attempt_us = created_us,"
              " sent_us = created_us WHERE status = 'pending'");
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              "http://a.example/hook|customer.churned|retracted\n"
              "http://reactivations.example/hook|customer.reactivated|sent\n");
    PrunedAlerts pruned = prune_finished_alerts(conn, kNow - kRetention);
    EXPECT_EQ(pruned.sent, 1);
    EXPECT_EQ(pruned.retracted, 1);
    EXPECT_EQ(pruned.total(), 2);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 0);
    const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
    EXPECT_EQ(told(db), std::to_string(episode) + "|http://a.example/hook|-|retracted|0\n");

    auto in_txn = [&](const std::function<void()>& f) {
        sql::Transaction txn(conn);
        f();
        txn.commit();
    };
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode open;  // churned, not back
    ChurnEpisode back = open;
    back.reactivated_at = kNow - kDay;
    now = kNow;
    // A return again (a late delivery undid the first, a newer one came): not to the target
    // that never heard of the churn.
    in_txn([&] { outbox.on_reactivated(conn, episode, c, back); });
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              "http://reactivations.example/hook|customer.reactivated|pending\n");
    // A late delivery undoes that return: the churn is announced to that target after all
    // (and the return, not sent yet, is withdrawn).
    in_txn([&] { outbox.on_changed(conn, episode, c, open, back); });
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              "http://reactivations.example/hook|customer.reactivated|retracted\n"
              "http://a.example/hook|customer.churned|pending\n");
    // That one dies, long ago, and is deleted too: the next return is told to both.
    conn.exec("UPDATE alerts_outbox SET status = 'dead', attempts = 9, created_us = " +
              std::to_string(kNow - 41 * kDay) + ", last_attempt_us = " + std::to_string(kNow - 40 * kDay) +
              " WHERE event_type = 'customer.churned'");
    EXPECT_EQ(prune_finished_alerts(conn, kNow - kRetention).dead, 1);
    EXPECT_EQ(told(db), std::to_string(episode) + "|http://a.example/hook|-|dead|1\n");
    in_txn([&] { outbox.on_reactivated(conn, episode, c, back); });
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              "http://reactivations.example/hook|customer.reactivated|retracted\n"
              "http://a.example/hook|customer.reactivated|pending\n"
              "http://reactivations.example/hook|customer.reactivated|pending\n");
}

// alert_told follows the target's latest churn alert through every change the outbox's
// writers make, also after the alert itself is gone: the claim (an attempt began), `alerts
// retry`'s reset to pending, the dispatcher's 'sent', the clock catch-up's new creation
// time; an older churn alert of the same target and episode changes nothing there.
TEST(AlertTold, FollowsTheLatestChurnAlertOfEachTargetAndEpisode) {
    TempDir dir;
    sql::Database db(dir.file("a.db"));
    configure_connection(db);
    apply_migrations(db);
    const std::string a = "http://a.example/hook";
    add_row(db, "first", a, "customer.churned", 5, 1, "retracted", -10 * kDay);
    add_row(db, "back", a, "customer.reactivated", 5, 1, "pending", -10 * kDay);
    EXPECT_EQ(told(db.path()), "5|http://a.example/hook|first|retracted|0\n");
    add_row(db, "second", a, "customer.churned", 5, 1, "pending", -9 * kDay);
    EXPECT_EQ(told(db.path()), "5|http://a.example/hook|second|pending|0\n");
    const int64_t second = query_int(db.path(), "SELECT id FROM alerts_outbox WHERE webhook_id = 'second'");
    ASSERT_TRUE(claim_alert(db, second, kNow - 9 * kDay));
    EXPECT_EQ(told(db.path()), "5|http://a.example/hook|second|pending|1\n");
    db.exec("UPDATE alerts_outbox SET status = 'sent' WHERE webhook_id = 'second'");
    EXPECT_EQ(told(db.path()), "5|http://a.example/hook|second|sent|1\n");
    db.exec("UPDATE alerts_outbox SET status = 'dead' WHERE webhook_id = 'first'");  // not the latest
    EXPECT_EQ(told(db.path()), "5|http://a.example/hook|second|sent|1\n");
    db.exec("UPDATE alerts_outbox SET status = 'pending' WHERE webhook_id = 'second'");
    EXPECT_EQ(told(db.path()), "5|http://a.example/hook|second|pending|1\n");
    db.exec("UPDATE alerts_outbox SET created_us = 7 WHERE webhook_id = 'second'");
    EXPECT_EQ(query_int(db.path(), "SELECT created_us FROM alert_told"), 7);
    db.exec("UPDATE alerts_outbox SET status = 'sent' WHERE webhook_id = 'second'");
    db.exec("DELETE FROM alerts_outbox");
    EXPECT_EQ(told(db.path()), "5|http://a.example/hook|-|sent|1\n");
}

// Migration 0021 fills alert_told from the alerts an older churnwatch kept: each target's
// latest churn alert of each episode still in churn_events, not those of an erased episode,
// nor one whose id an older numbering (before 0010) gave another customer. Once retention
// deletes the alerts, the targets hear what they heard before: a return to the target whose
// latest churn alert died, not to the one whose was withdrawn; a retraction to the target
// that was sent the churn, and to the one whose churn alert is being sent.
TEST(AlertTold, AnUpgradedDatabaseFillsItFromTheAlertsItKept) {
    TempDir dir;
    const std::string path = dir.file("a.db");
    const std::string a = "http://a.example/hook", b = "http://b.example/hook";
    {
        sql::Database db(path);
        migrate_until(db, "0021");
        db.exec("INSERT INTO churn_events (id, customer_id, churned_at, reason, category) VALUES"
                " (5, 1, '2026-01-01 00:00:00', 'cancelled', 'voluntary'),"
                " (6, 2, '2026-01-02 00:00:00', 'cancelled', 'voluntary'),"
                " (8, 3, '2026-01-03 00:00:00', 'cancelled', 'voluntary')");
        add_row(db, "5a", a, "customer.churned", 5, 1, "sent", -50 * kDay, -49 * kDay, -49 * kDay);
        add_row(db, "5a_back", a, "customer.reactivated", 5, 1, "sent", -48 * kDay, -48 * kDay, -48 * kDay);
        add_row(db, "5b_other_customer", b, "customer.churned", 5, 9, "sent", -60 * kDay, -60 * kDay, -60 * kDay);
        add_row(db, "6a_withdrawn", a, "customer.churned", 6, 2, "retracted", -50 * kDay);
        add_row(db, "6b_withdrawn", b, "customer.churned", 6, 2, "retracted", -50 * kDay);
        add_row(db, "6a_dead", a, "customer.churned", 6, 2, "dead", -45 * kDay, -44 * kDay);
        add_row(db, "8a_trying", a, "customer.churned", 8, 3, "pending", -kDay, -kDay / 2);
        add_row(db, "9a_erased", a, "customer.churned", 9, 4, "sent", -50 * kDay, -49 * kDay, -49 * kDay);
    }
    {
        sql::Database db(path);
        configure_connection(db);
        const auto applied = apply_migrations(db);
        ASSERT_FALSE(applied.empty());
        EXPECT_EQ(applied[0], "0021_alert_told.sql");
        EXPECT_EQ(query_rows(path, "SELECT count(*) FROM alert_told t JOIN alerts_outbox o ON o.id = t.alert_id"
                                   " WHERE t.created_us = o.created_us"),
                  "4\n");
        EXPECT_EQ(told(path),
                  "5|http://a.example/hook|5a|sent|1\n"
                  "6|http://a.example/hook|6a_dead|dead|1\n"
                  "6|http://b.example/hook|6b_withdrawn|retracted|0\n"
                  "8|http://a.example/hook|8a_trying|pending|1\n");
        EXPECT_EQ(prune_finished_alerts(db, kNow - kRetention).total(), 7);
        EXPECT_EQ(names(path), "8a_trying\n");
    }
    AlertOutbox outbox({{a, true, true, true}, {b, true, true, true}}, [] { return kNow; });
    sql::Database conn(path);
    CustomerOutcome c;
    ChurnEpisode e;
    sql::Transaction txn(conn);
    c.customer_id = 2;
    e.reactivated_at = kNow;
    outbox.on_reactivated(conn, 6, c, e);
    c.customer_id = 1;
    outbox.on_retracted(conn, 5, c, e);
    c.customer_id = 3;
    outbox.on_retracted(conn, 8, c, e);
    txn.commit();
    EXPECT_EQ(query_rows(path, "SELECT target, event_type, episode_id, status FROM alerts_outbox ORDER BY id"),
              "http://a.example/hook|customer.churned|8|pending\n"
              "http://a.example/hook|customer.reactivated|6|pending\n"
              "http://a.example/hook|customer.churn_retracted|5|pending\n"
              "http://a.example/hook|customer.churn_retracted|8|pending\n");
}

// What a target was told of a return — its latest customer.reactivated for the episode, sent
// or on its way — is kept in alert_told_return (0022), so retention deletes the alert like
// any other and the target still hears what follows: a late delivery that undoes the return
// is sent as customer.churn_updated (reactivated_at null) to the target that asks for it,
// and one that erases the episode as customer.churn_retracted — also to a target that wants
// only returns (it heard of the episode that way), not to one whose return was never sent.
TEST(AlertToldReturn, ADeliveredReturnGoesAfterTheRetentionAndTheUndoAndTheErasureStillFollow) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::string updates = "http://updates.example/hook", returns = "http://returns.example/hook",
                      dead = "http://dead.example/hook";
    const std::vector<AlertRoute> routes = {{updates, true, true, true, true},
                                            {returns, false, true, true, false},
                                            {dead, false, true, true, false}};
    Micros now = kNow - 40 * kDay;
    AlertOutbox outbox(routes, [&now] { return now; });
    feed(db, brief_churn(7), outbox);
    const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
    sql::Database conn(db);
    const std::string forty_days_ago = std::to_string(kNow - 40 * kDay);
    conn.exec("UPDATE alerts_outbox SET status = 'sent', attempts = 1, last_attempt_us = " + forty_days_ago +
              ", sent_us = " + forty_days_ago + " WHERE target <> '" + dead + "';"
              "UPDATE alerts_outbox SET status = 'dead', attempts = 9, last_attempt_us = " + forty_days_ago +
              " WHERE target = '" + dead + "'");
    EXPECT_EQ(prune_finished_alerts(conn, kNow - kRetention).total(), 4);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 0);
    const std::string e = std::to_string(episode);
    EXPECT_EQ(query_rows(db, "SELECT episode_id, target, status, attempted FROM alert_told_return ORDER BY 2"),
              e + "|" + dead + "|dead|1\n" + e + "|" + returns + "|sent|1\n" + e + "|" + updates + "|sent|1\n");

    auto in_txn = [&](const std::function<void()>& f) {
        sql::Transaction txn(conn);
        f();
        txn.commit();
    };
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode back;
    back.churned_at = kNow - 40 * kDay - kHold;
    back.reactivated_at = kNow - 40 * kDay;
    ChurnEpisode again = back;
    again.reactivated_at.reset();
    now = kNow;
    // A late delivery undoes the return: the target that asks for updates is told.
    in_txn([&] { outbox.on_changed(conn, episode, c, again, back); });
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              updates + "|customer.churn_updated|pending\n");
    EXPECT_EQ(reactivated_in(query_rows(db, "SELECT payload FROM alerts_outbox")), "null");
    // Then one erases the episode: a retraction to the target told of the churn, and to the
    // one told only of the return; not to the one whose return died unsent.
    in_txn([&] { outbox.on_retracted(conn, episode, c, again); });
    // The update not sent yet is withdrawn: the retraction says all there is to say.
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              updates + "|customer.churn_updated|retracted\n" + updates + "|customer.churn_retracted|pending\n" +
                  returns + "|customer.churn_retracted|pending\n");
}

// Through the churn store: a late delivery that erases the episode retracts it to the target
// told only of its return, and takes what that target was told with the episode.
TEST(AlertToldReturn, AnErasedEpisodeTakesItsRowsAndIsRetractedToTheTargetToldOfItsReturn) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::string returns = "http://returns.example/hook";
    AlertOutbox outbox({{returns, false, true, true}}, [] { return kNow; });
    feed(db, brief_churn(7), outbox);
    {
        sql::Database conn(db);
        conn.exec("UPDATE alerts_outbox SET status = 'sent', attempts = 1, last_attempt_us = created_us,"
                  " sent_us = created_us");
    }
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alert_told_return WHERE status = 'sent' AND attempted = 1"), 1);
    // Late: another subscription was active all along, so customer 7 never churned.
    feed(db, {sub("created", {.id = 72, .customer_id = 7, .updated_at = "2026-02-01T10:00:00+00:00",
                              .created_at = "2026-02-01T10:00:00+00:00"})},
         outbox);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM churn_events"), 0);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alert_told_return"), 0);
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, status FROM alerts_outbox ORDER BY id"),
              returns + "|customer.reactivated|sent\n" + returns + "|customer.churn_retracted|pending\n");
}

// Migration 0022 fills alert_told_return from the return alerts an older churnwatch kept:
// each target's latest one of each episode still in churn_events (not an erased episode's).
TEST(AlertToldReturn, AnUpgradedDatabaseFillsItFromTheAlertsItKept) {
    TempDir dir;
    const std::string path = dir.file("a.db");
    const std::string a = "http://a.example/hook";
    {
        sql::Database db(path);
        migrate_until(db, "0022");
        db.exec("INSERT INTO churn_events (id, customer_id, churned_at, reason, category, reactivated_at) VALUES"
                " (5, 1, '2026-01-01 00:00:00', 'cancelled', 'voluntary', '2026-01-02 00:00:00')");
        add_row(db, "5a_first", a, "customer.reactivated", 5, 1, "sent", -50 * kDay, -49 * kDay, -49 * kDay);
        add_row(db, "5a_latest", a, "customer.reactivated", 5, 1, "pending", -kDay, -kDay / 2);
        add_row(db, "9a_erased", a, "customer.reactivated", 9, 4, "sent", -50 * kDay, -49 * kDay, -49 * kDay);
    }
    sql::Database db(path);
    configure_connection(db);
    const auto applied = apply_migrations(db);
    ASSERT_FALSE(applied.empty());
    EXPECT_EQ(applied[0], "0022_alert_told_return.sql");
    EXPECT_EQ(query_rows(path, "SELECT t.episode_id, o.webhook_id, t.status, t.attempted FROM alert_told_return t"
                               " JOIN alerts_outbox o ON o.id = t.alert_id"),
              "5|5a_latest|pending|1\n");
}

// `churnwatch rebuild` on db, in one transaction as the command runs it (no listener: it
// announces nothing).
void rebuild_db(const std::string& db) {
    sql::Database conn(db);
    configure_connection(conn);
    apply_migrations(conn);
    ChurnStore churn(RulesPolicy{});
    sql::Transaction txn(conn);
    churn.rebuild(conn, 64);
    txn.commit();
}

// A rebuild keeps the ids of the episodes it finds again, and with them what their targets
// were told: the delivered churn alert deleted by retention after it, a late delivery that
// erases the episode is still retracted to its target. An episode the rebuild does not find
// again is gone, and so is what was told of it.
TEST(AlertTold, ARebuildKeepsWhatTheTargetsWereToldOfTheEpisodesItFindsAgain) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox({{"http://a.example/hook", true, true, true}}, [] { return kNow - 40 * kDay; });
    feed(db, one_churn(7), outbox);
    const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
    {
        sql::Database conn(db);
        // An episode no delivery shows (in life: one an earlier rule found), announced.
        conn.exec("INSERT INTO churn_events (id, customer_id, churned_at, reason, category)"
                  " VALUES (50, 7, '2025-01-01 00:00:00', 'cancelled', 'voluntary')");
        add_row(conn, "ghost", "http://a.example/hook", "customer.churned", 50, 7, "sent", -41 * kDay);
        conn.exec("UPDATE alerts_outbox SET status = 'sent', attempts = 1, last_attempt_us = created_us,"
                  " sent_us = created_us");
    }
    const std::string e = std::to_string(episode);
    ASSERT_EQ(told(db), e + "|http://a.example/hook|" + query_text(db, "SELECT webhook_id FROM alerts_outbox WHERE id = 1") +
                            "|sent|1\n50|http://a.example/hook|ghost|sent|1\n");
    rebuild_db(db);
    EXPECT_EQ(query_rows(db, "SELECT id FROM churn_events"), e + "\n");
    {
        sql::Database conn(db);
        EXPECT_EQ(prune_finished_alerts(conn, kNow - kRetention).sent, 2);
    }
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 0);
    EXPECT_EQ(told(db), e + "|http://a.example/hook|-|sent|1\n");

    // Late: this subscription was active all along, so customer 7 never churned.
    feed(db, {sub("created", {.id = 72, .customer_id = 7, .updated_at = "2026-02-01T10:00:00+00:00",
                              .created_at = "2026-02-01T10:00:00+00:00"})},
         outbox);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM churn_events"), 0);
    EXPECT_EQ(query_rows(db, "SELECT target, event_type, episode_id, status FROM alerts_outbox"),
              "http://a.example/hook|customer.churn_retracted|" + e + "|pending\n");
    EXPECT_EQ(told(db), "");
}

// A pass reads the finished rows through alerts_outbox_finished, in (finished time, id)
// order, and goes on from its cursor: rows before it are not looked at.
TEST(AlertRetention, ThePassReadsTheFinishedIndexFromItsCursor) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox({{"http://a.example/hook", true, true, true}}, [] { return kNow - 50 * kDay; });
    feed(db, rich_scenario(), outbox);  // five churn announcements of living episodes
    sql::Database conn(db);
    {
        sql::Statement plan(conn, "EXPLAIN QUERY PLAN " + AlertPruner::find_sql());
        std::string steps;
        while (plan.step()) steps += plan.column_text(3) + "\n";
        EXPECT_NE(steps.find("USING INDEX alerts_outbox_finished"), std::string::npos) << steps;
        EXPECT_EQ(steps.find("TEMP B-TREE"), std::string::npos) << steps;
    }
    // The announcements (and the scenario's reactivation) finished 45 days ago; more
    // reactivations around them, one a day from 49 days ago on.
    conn.exec("UPDATE alerts_outbox SET status = 'sent', attempts = 1, last_attempt_us = " +
              std::to_string(kNow - 45 * kDay) + ", sent_us = " + std::to_string(kNow - 45 * kDay));
    for (int i = 0; i < 8; ++i) {
        const Micros at = -(49 - i) * kDay;
        add_row(conn, "r" + std::to_string(i), "http://a.example/hook", "customer.reactivated", 999, 9, "sent",
                at, at, at);
    }
    AlertPruner pruner(conn);
    AlertPruneCursor cursor{kNow - 47 * kDay, 0};  // r0 and r1 were looked at before
    PrunedAlerts pruned;
    int batches = 1;
    while (pruner.batch(kNow - kRetention, cursor, pruned, 5)) ++batches;
    EXPECT_EQ(pruned.sent, 12);  // r2 … r7, and the scenario's six
    EXPECT_EQ(batches, 3);       // 5 + 5 + 2
    EXPECT_EQ(query_rows(db, "SELECT group_concat(webhook_id, ' ') FROM alerts_outbox"), "r0 r1\n");
    EXPECT_EQ(cursor.finished, kNow - 42 * kDay);
    // What the targets were told of the five episodes stays.
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alert_told WHERE status = 'sent'"), 5);
}

// ---- What a mutation-testing pass found unpinned ---------------------------------------

void in_transaction(sql::Database& conn, const std::function<void()>& f) {
    sql::Transaction txn(conn);
    f();
    txn.commit();
}

// Without a hold nothing is withdrawn, also when the clock stepped back between the churn
// and the return (the churn alert then looks younger than a hold of zero).
TEST(AlertOutbox, WithoutAHoldAReturnFollowsTheChurnAlsoWhenTheClockSteppedBack) {
    TempDir dir;
    std::string db = dir.file("a.db");
    Micros now = kNow;
    AlertOutbox outbox({{"http://a.example/hook", true, true, true}}, [&now] { return now; });
    auto brief = brief_churn(7);
    feed(db, {brief[0], brief[1]}, outbox);
    now = kNow - 60 * kMicrosPerSecond;
    feed(db, {brief[2]}, outbox);
    EXPECT_EQ(query_rows(db, "SELECT event_type, status FROM alerts_outbox ORDER BY id"),
              "customer.churned|pending\ncustomer.reactivated|pending\n");
}

// The clock catch-up's bounds are strict: a row due exactly `horizon` from now, or stamped
// exactly `slack` after now, is left alone, and so is a row no longer pending (dead here),
// whatever its times. A row last attempted by a clock ahead but made due since (`alerts
// retry`) keeps its due time; its last attempt comes back to now, and counts in how far
// ahead the rows were.
TEST(AlertOutbox, TheClockCatchUpLeavesRowsAtItsBoundsAndFinishedRowsAlone) {
    TempDir dir;
    sql::Database db(dir.file("a.db"));
    configure_connection(db);
    apply_migrations(db);
    constexpr Micros kHorizon = kDay + 60 * kMicrosPerSecond;
    constexpr Micros kSlack = 60 * kMicrosPerSecond;
    constexpr Micros kHour = 3600 * kMicrosPerSecond;
    const std::string a = "http://a.example/hook";
    add_row(db, "created_at_slack", a, "customer.churned", 1, 1, "pending", kSlack);
    add_row(db, "attempted_at_slack", a, "customer.churned", 2, 1, "pending", -kHour, kSlack);
    add_row(db, "due_at_horizon", a, "customer.churned", 3, 1, "pending", -kHour);
    db.exec("UPDATE alerts_outbox SET next_attempt_us = " + std::to_string(kNow + kHorizon) +
            " WHERE webhook_id = 'due_at_horizon'");
    add_row(db, "dead_ahead", a, "customer.churned", 4, 1, "dead", 30 * kDay, 30 * kDay);
    EXPECT_EQ(reschedule_future_alerts(db, kNow, kHorizon, kSlack).count, 0);

    add_row(db, "retried", a, "customer.churned", 5, 1, "pending", -kHour, 2 * kDay);
    db.exec("UPDATE alerts_outbox SET next_attempt_us = " + std::to_string(kNow - 10 * kMicrosPerSecond) +
            " WHERE webhook_id = 'retried'");
    auto r = reschedule_future_alerts(db, kNow, kHorizon, kSlack);
    EXPECT_EQ(r.count, 1);
    EXPECT_EQ(r.furthest, 2 * kDay);
    EXPECT_EQ(query_rows(db.path(), "SELECT webhook_id, next_attempt_us - " + std::to_string(kNow) +
                                        ", coalesce(last_attempt_us - " + std::to_string(kNow) +
                                        ", 'NULL') FROM alerts_outbox ORDER BY id"),
              "created_at_slack|60000000|NULL\n"
              "attempted_at_slack|-3600000000|60000000\n"
              "due_at_horizon|86460000000|NULL\n"
              "dead_ahead|2592000000000|2592000000000\n"
              "retried|-10000000|0\n");
}

// The look is a read: with nothing ahead it writes nothing, so the frequent look takes no
// write lock (here: it works on a connection that cannot write at all).
TEST(AlertOutbox, TheClockCatchUpWritesNothingWhenNothingIsAhead) {
    TempDir dir;
    const std::string path = dir.file("a.db");
    {
        sql::Database db(path);
        configure_connection(db);
        apply_migrations(db);
        add_row(db, "due", "http://a.example/hook", "customer.churned", 1, 1, "pending", 0);
    }
    sql::Database ro(path, sql::OpenMode::ReadOnly);
    RescheduledAlerts r;
    EXPECT_NO_THROW(r = reschedule_future_alerts(ro, kNow, kDay, 60 * kMicrosPerSecond));
    EXPECT_EQ(r.count, 0);
}

// The cursor is the last row looked at: a pass goes on after it, also among rows that
// finished at the same time (their ids decide), and leaves it at the last row it deleted.
TEST(AlertRetention, APassGoesOnAfterTheCursorRowAmongRowsThatFinishedTogether) {
    TempDir dir;
    sql::Database db(dir.file("a.db"));
    configure_connection(db);
    apply_migrations(db);
    const std::string t = "http://a.example/hook";
    // The oldest row (lowest id) finished last: after the cursor, whatever its id.
    add_row(db, "late", t, "customer.reactivated", 999, 9, "sent", -41 * kDay, -38 * kDay, -38 * kDay);
    for (const char* name : {"r0", "r1", "r2"})
        add_row(db, name, t, "customer.reactivated", 999, 9, "sent", -41 * kDay, -40 * kDay, -40 * kDay);
    add_row(db, "r3", t, "customer.reactivated", 999, 9, "sent", -41 * kDay, -39 * kDay, -39 * kDay);
    const int64_t r1 = query_int(db.path(), "SELECT id FROM alerts_outbox WHERE webhook_id = 'r1'");
    const int64_t late = query_int(db.path(), "SELECT id FROM alerts_outbox WHERE webhook_id = 'late'");
    AlertPruner pruner(db);
    AlertPruneCursor cursor{kNow - 40 * kDay, r1};
    PrunedAlerts pruned;
    EXPECT_FALSE(pruner.batch(kNow - kRetention, cursor, pruned, 5));
    EXPECT_EQ(pruned.sent, 3);
    EXPECT_EQ(names(db.path()), "r0 r1\n");
    EXPECT_EQ(cursor.finished, kNow - 38 * kDay);
    EXPECT_EQ(cursor.id, late);
}

// Erased, an episode's alerts recorded while their target was disabled become 'retracted'
// like dead ones — churn, return and correction alike — so that the `alerts retry` that
// re-enables the target sends none of them.
TEST(AlertOutbox, AnErasedEpisodesAlertsForADisabledTargetAreRetracted) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::string a = "http://a.example/hook";
    {
        sql::Database conn(db);
        configure_connection(conn);
        apply_migrations(conn);
        conn.exec("INSERT INTO alert_targets_disabled VALUES ('" + a + "', 1, 'HTTP 410')");
    }
    AlertOutbox outbox({{a, true, true, true, true}}, [] { return kNow; });
    feed(db, brief_churn(7), outbox);
    const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
    sql::Database conn(db);
    add_row(conn, "update", a, "customer.churn_updated", episode, 7, "disabled", 0);
    EXPECT_EQ(query_rows(db, "SELECT event_type, status FROM alerts_outbox ORDER BY id"),
              "customer.churned|disabled\ncustomer.reactivated|disabled\ncustomer.churn_updated|disabled\n");
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode e;
    e.churned_at = kNow - kHold;
    e.reactivated_at = kNow;
    in_transaction(conn, [&] { outbox.on_retracted(conn, episode, c, e); });
    EXPECT_EQ(query_rows(db, "SELECT event_type, status, last_error FROM alerts_outbox ORDER BY id"),
              "customer.churned|retracted|a later delivery erased the churn it announced before it was delivered:"
              " it will not be sent\n"
              "customer.reactivated|retracted|a later delivery erased the churn it is about before it was delivered:"
              " it will not be sent\n"
              "customer.churn_updated|retracted|a later delivery erased the churn it is about before it was delivered:"
              " it will not be sent\n");
}

// An alert recorded while its target was disabled is sent by the `alerts retry` that
// re-enables the target: until an attempt begins it carries the episode as it is now, like
// a queued one — churn and return alike, with the customer's email as it is now.
TEST(AlertOutbox, ADisabledTargetsAlertsCarryTheEpisodeAsItIsNow) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::string a = "http://a.example/hook";
    {
        sql::Database conn(db);
        configure_connection(conn);
        apply_migrations(conn);
        conn.exec("INSERT INTO alert_targets_disabled VALUES ('" + a + "', 1, 'HTTP 410')");
    }
    AlertOutbox outbox({{a, true, true, true}}, [] { return kNow; });
    feed(db, brief_churn(7), outbox);
    const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
    sql::Database conn(db);
    conn.exec("UPDATE customers SET email = 'seven@example.com' WHERE id = 7");
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode before;
    before.churned_at = kNow - kHold;
    before.reactivated_at = kNow;
    ChurnEpisode later = before;
    later.reactivated_at = kNow + 60 * kMicrosPerSecond;  // the return moves
    in_transaction(conn, [&] { outbox.on_changed(conn, episode, c, later, before); });
    std::string got;
    for (int64_t id : {int64_t{1}, int64_t{2}}) {
        const std::string payload = query_text(db, "SELECT payload FROM alerts_outbox WHERE id = " + std::to_string(id));
        got += payload_field(payload, "type") + " " + payload_field(payload, "reactivated_at") + " " +
               payload_field(payload, "email") + "\n";
    }
    EXPECT_EQ(got,
              "customer.churned 2026-03-05T10:01:01.500000Z seven@example.com\n"
              "customer.reactivated 2026-03-05T10:01:01.500000Z seven@example.com\n");
    EXPECT_EQ(query_rows(db, "SELECT DISTINCT status FROM alerts_outbox"), "disabled\n");
}

// A change rewrites the episode's own unsent churn and return alerts only: not a queued
// correction (customer.churn_updated, which says what changed), nor the alerts of another
// customer's episode that an older numbering (before 0010) gave the same id. A return
// undone withdraws the episode's unsent return alerts, and nothing else.
TEST(AlertOutbox, AChangeTouchesOnlyTheEpisodesOwnChurnAndReturnAlerts) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::string a = "http://a.example/hook";
    AlertOutbox outbox({{a, true, true, true, true}}, [] { return kNow; });
    feed(db, {}, outbox);  // migrated, empty
    sql::Database conn(db);
    add_row(conn, "update", a, "customer.churn_updated", 1, 7, "pending", 0);
    add_row(conn, "other_customers_churn", a, "customer.churned", 1, 6, "pending", 0);
    add_row(conn, "other_customers_return", a, "customer.reactivated", 1, 6, "pending", 0);
    const std::string untouched = "update|pending|{}\nother_customers_churn|pending|{}\nother_customers_return|pending|{}\n";
    const std::string rows_sql = "SELECT webhook_id, status, payload FROM alerts_outbox ORDER BY id";
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode back;
    back.churned_at = kNow - kHold;
    back.reactivated_at = kNow;
    ChurnEpisode later = back;
    later.reactivated_at = kNow + 60 * kMicrosPerSecond;
    in_transaction(conn, [&] { outbox.on_changed(conn, 1, c, later, back); });  // the return moves
    EXPECT_EQ(query_rows(db, rows_sql), untouched);
    ChurnEpisode again = later;
    again.reactivated_at.reset();
    in_transaction(conn, [&] { outbox.on_changed(conn, 1, c, again, later); });  // it is undone
    EXPECT_EQ(query_rows(db, rows_sql), untouched);
}

// Each thing a churn alert says — churned_at, reason, category, subscription, charge — is a
// change that a target that was sent it, and asks for customer.churn_updated, hears of
// (also when a target told nothing of the churn comes before it); a return that moves, or
// another delivery behind the same facts, is not.
TEST(AlertOutbox, EachChangeToWhatTheChurnSaidIsSentAsAnUpdate) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::string returns = "http://returns.example/hook", a = "http://a.example/hook";
    AlertOutbox outbox({{returns, false, true, true, true}, {a, true, true, true, true}}, [] { return kNow; });
    feed(db, {}, outbox);  // migrated, empty
    sql::Database conn(db);
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode before;
    before.churned_at = kNow - kDay;
    before.subscription_id = 71;
    before.delivery_id = 3;
    std::vector<std::pair<std::string, ChurnEpisode>> changes;
    auto change = [&](const std::string& what, const std::function<void(ChurnEpisode&)>& f) {
        ChurnEpisode e = before;
        f(e);
        changes.emplace_back(what, e);
    };
    change("churned_at", [](ChurnEpisode& e) { e.churned_at -= kMicrosPerSecond; });
    change("reason", [](ChurnEpisode& e) { e.reason = ChurnReason::Deactivated; });  // voluntary still
    change("category", [](ChurnEpisode& e) { e.category = ChurnCategory::Natural; });
    change("subscription", [](ChurnEpisode& e) { e.subscription_id = 72; });
    change("charge", [](ChurnEpisode& e) { e.charge_id = 701; });
    change("another delivery", [](ChurnEpisode& e) { e.delivery_id = 4; });
    change("a return", [](ChurnEpisode& e) { e.reactivated_at = kNow; });
    std::string got;
    int64_t episode = 0;
    for (const auto& [what, e] : changes) {
        ++episode;
        add_row(conn, "churn_" + what, a, "customer.churned", episode, 7, "sent", -kDay, -kDay, -kDay);
        in_transaction(conn, [&] { outbox.on_changed(conn, episode, c, e, before); });
        got += what + ": " + query_text(db, "SELECT coalesce(group_concat(target), 'no update') FROM alerts_outbox"
                                             " WHERE event_type = 'customer.churn_updated' AND episode_id = " +
                                                 std::to_string(episode)) + "\n";
    }
    EXPECT_EQ(got,
              "churned_at: " + a + "\nreason: " + a + "\ncategory: " + a + "\nsubscription: " + a + "\ncharge: " + a +
                  "\nanother delivery: no update\na return: no update\n");
}

// A churn withdrawn within alert-hold is announced after all only when a late delivery
// undoes the return — not when the return merely moves (the customer is still back) — and
// only to a target that still wants churns (a restart may have changed what it wants).
TEST(AlertOutbox, AChurnWithdrawnWithinTheHoldIsAnnouncedOnlyOnceItsReturnIsUndone) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::string a = "http://a.example/hook", b = "http://b.example/hook";
    AlertOutbox outbox({{a, true, true, true}, {b, true, true, true}}, [] { return kNow; });
    outbox.set_hold(kHold);
    feed(db, brief_churn(7), outbox);
    const std::string withdrawn = a + "|customer.churned|retracted\n" + b + "|customer.churned|retracted\n";
    const std::string rows_sql = "SELECT target, event_type, status FROM alerts_outbox ORDER BY id";
    EXPECT_EQ(query_rows(db, rows_sql), withdrawn);
    const int64_t episode = query_int(db, "SELECT id FROM churn_events WHERE customer_id = 7");
    sql::Database conn(db);
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode back;
    back.churned_at = kNow - kHold;
    back.reactivated_at = kNow;
    ChurnEpisode later = back;
    later.reactivated_at = kNow + 60 * kMicrosPerSecond;
    in_transaction(conn, [&] { outbox.on_changed(conn, episode, c, later, back); });
    EXPECT_EQ(query_rows(db, rows_sql), withdrawn);
    AlertOutbox restarted({{a, true, true, true}, {b, false, true, true}}, [] { return kNow; });
    restarted.set_hold(kHold);
    ChurnEpisode again = later;
    again.reactivated_at.reset();
    in_transaction(conn, [&] { restarted.on_changed(conn, episode, c, again, later); });
    EXPECT_EQ(query_rows(db, rows_sql), withdrawn + a + "|customer.churned|pending\n");
}

// Absent values are null in a payload: also the delivery of an episode that has none (0).
TEST(AlertOutbox, APayloadWithoutADeliverySaysNull) {
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode e;
    e.churned_at = kNow;
    const std::string body = alert_payload_json(AlertEvent{kCustomerChurned, 5, &c, &e, std::nullopt}, kNow);
    EXPECT_EQ(payload_field(body, "delivery_id"), "null");
    EXPECT_EQ(payload_field(body, "subscription_id"), "null");
    EXPECT_EQ(payload_field(body, "charge_id"), "null");
    EXPECT_EQ(payload_field(body, "reactivated_at"), "null");
}

// Like a churn's, what a target was told of a return is matched on the customer too: an
// older numbering (before 0010) may have given another customer's episode the same id.
TEST(AlertOutbox, AReturnToldIsMatchedOnTheCustomerNotOnlyTheEpisodeId) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::string a = "http://a.example/hook";
    AlertOutbox outbox({{a, false, true, true, true}}, [] { return kNow; });
    feed(db, {}, outbox);  // migrated, empty
    sql::Database conn(db);
    add_row(conn, "other_customers_return", a, "customer.reactivated", 1, 6, "sent", -kDay, -kDay, -kDay);
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode e;
    in_transaction(conn, [&] { outbox.on_retracted(conn, 1, c, e); });
    ChurnEpisode back = e;
    back.reactivated_at = kNow;
    in_transaction(conn, [&] { outbox.on_changed(conn, 1, c, e, back); });
    EXPECT_EQ(first_text(conn, "SELECT group_concat(webhook_id) FROM alerts_outbox"), "other_customers_return");
}

// A return undone is told once: later changes to the episode while the customer stays churned
// bring the target that heard of the return (and of its undoing) an update only when what
// the churn says changed, like any other target.
TEST(AlertOutbox, AReturnUndoneIsToldOnceNotAgainWithEveryLaterChange) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::string returns = "http://returns.example/hook";
    AlertOutbox outbox({{returns, false, true, true, true}}, [] { return kNow; });
    feed(db, {}, outbox);  // migrated, empty
    sql::Database conn(db);
    add_row(conn, "back", returns, "customer.reactivated", 1, 7, "sent", -kDay, -kDay, -kDay);
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode back;
    back.churned_at = kNow - 2 * kDay;
    back.reactivated_at = kNow - kDay;
    back.delivery_id = 3;
    ChurnEpisode again = back;
    again.reactivated_at.reset();
    in_transaction(conn, [&] { outbox.on_changed(conn, 1, c, again, back); });
    const std::string rows_sql = "SELECT webhook_id = 'back', event_type FROM alerts_outbox ORDER BY id";
    EXPECT_EQ(query_rows(db, rows_sql), "1|customer.reactivated\n0|customer.churn_updated\n");
    ChurnEpisode redelivered = again;
    redelivered.delivery_id = 4;  // the same facts from another delivery
    in_transaction(conn, [&] { outbox.on_changed(conn, 1, c, redelivered, again); });
    EXPECT_EQ(query_rows(db, rows_sql), "1|customer.reactivated\n0|customer.churn_updated\n");
}

// A target that does not want retractions hears none, also of a churn it was sent.
TEST(AlertOutbox, ATargetThatWantsNoRetractionsIsSentNoneEvenOfAChurnItWasSent) {
    TempDir dir;
    std::string db = dir.file("a.db");
    const std::string a = "http://a.example/hook";
    AlertOutbox outbox({{a, true, true, false}}, [] { return kNow; });
    feed(db, {}, outbox);  // migrated, empty
    sql::Database conn(db);
    add_row(conn, "churn", a, "customer.churned", 1, 7, "sent", -kDay, -kDay, -kDay);
    CustomerOutcome c;
    c.customer_id = 7;
    ChurnEpisode e;
    in_transaction(conn, [&] { outbox.on_retracted(conn, 1, c, e); });
    EXPECT_EQ(first_text(conn, "SELECT group_concat(webhook_id || ':' || status) FROM alerts_outbox"), "churn:sent");
}

// take_inserted wakes the dispatcher: an episode change that no target wants inserts nothing,
// and says so.
TEST(AlertOutbox, AChurnNoTargetWantsInsertsNothingAndWakesNobody) {
    TempDir dir;
    std::string db = dir.file("a.db");
    AlertOutbox outbox({{"http://reactivations.example/hook", false, true, true}}, [] { return kNow; });
    feed(db, one_churn(7), outbox);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM churn_events"), 1);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM alerts_outbox"), 0);
    EXPECT_FALSE(outbox.take_inserted());
}

}  // namespace
