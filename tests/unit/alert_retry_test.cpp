// What `alerts retry` sends (alert_retry.h): the recorded body while it still tells the
// episode as it is, the episode as it is now after a late delivery changed it, nothing when
// the alert would tell what the facts no longer show.
#include "alert_retry.h"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include "alert_outbox.h"
#include "schema.h"
#include "sqlite.h"
#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

constexpr Micros kRecorded = 1772704801500000;  // 2026-03-05T10:00:01.5Z
constexpr Micros kRetried = 1773000000000000;

// A migrated database with customer 1 (a@example.com) and its episode 7 as given.
class AlertRetry : public ::testing::Test {
protected:
    void SetUp() override {
        db_.emplace(dir_.file("a.db"));
        configure_connection(*db_);
        apply_migrations(*db_);
        db_->exec("INSERT INTO customers (id, email, status, active_subscriptions) VALUES (1, 'a@example.com', 'churned', 0)");
        episode_.churned_at = 1772704800000000;  // 2026-03-05 10:00:00
        episode_.subscription_id = 12;
        episode_.delivery_id = 42;
        store(episode_);
    }
    void store(const ChurnEpisode& e) {
        sql::Statement q(*db_,
                         "INSERT OR REPLACE INTO churn_events (id, customer_id, churned_at, reason, category,"
                         " subscription_id, charge_id, delivery_id, reactivated_at) VALUES (7, 1, ?, ?, ?, ?, ?, ?, ?)");
        q.bind(1, format_time(e.churned_at)).bind(2, to_string(e.reason)).bind(3, to_string(e.category));
        q.bind(4, e.subscription_id).bind(5, e.charge_id).bind(6, e.delivery_id);
        q.bind(7, e.reactivated_at ? std::optional<std::string>(format_time(*e.reactivated_at)) : std::nullopt);
        q.run();
    }
    // The body of an alert of this type about episode `e`, made at `when`.
    static std::string body(std::string_view type, const ChurnEpisode& e, Micros when = kRecorded,
                            std::optional<std::string> email = "a@example.com") {
        CustomerOutcome c;
        c.customer_id = 1;
        return alert_payload_json(AlertEvent{type, 7, &c, &e, std::move(email)}, when);
    }
    AlertRetryBody retry(std::string_view type, const std::string& recorded) {
        return alert_body_for_retry(*db_, type, 7, 1, recorded, kRetried);
    }
    std::string refusal(std::string_view type, const std::string& recorded) {
        auto r = retry(type, recorded);
        EXPECT_FALSE(r.rewritten);
        return r.refused.value_or("(not refused)");
    }

    TempDir dir_;
    std::optional<sql::Database> db_;
    ChurnEpisode episode_;
};

// A body that does not parse, or lacks the field, fails the test here (and gives a value no
// expectation matches) rather than aborting the binary on a RapidJSON assertion.
std::string field(const std::string& body, const char* key) {
    rapidjson::Document d;
    d.Parse(body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("data") || !d["data"].IsObject() ||
        !d["data"].HasMember(key)) {
        ADD_FAILURE() << "no data." << key << " in the body: " << body;
        return "(not in the body)";
    }
    const auto& v = d["data"][key];
    return v.IsNull() ? "null" : v.IsString() ? v.GetString() : v.IsInt64() ? std::to_string(v.GetInt64()) : "(other)";
}

TEST_F(AlertRetry, AnAlertThatStillTellsTheEpisodeIsSentAsRecorded) {
    for (auto type : {kCustomerChurned, kCustomerChurnUpdated}) {
        auto r = retry(type, body(type, episode_));
        EXPECT_FALSE(r.refused) << type << ": " << r.refused.value_or("");
        EXPECT_FALSE(r.rewritten) << type;
    }
    // A retraction is about an erased episode as it was stored: sent as recorded, with no
    // churn_events row left.
    db_->exec("DELETE FROM churn_events");
    auto r = retry(kCustomerChurnRetracted, body(kCustomerChurnRetracted, episode_));
    EXPECT_FALSE(r.refused);
    EXPECT_FALSE(r.rewritten);
}

// A late max-retries charge changed the reason after a churn alert went dead: the retry
// carries the episode as it is now, stamped with the retry's time (a target never sent the
// churn is sent no correction, so the old reason would have stayed with it for good).
TEST_F(AlertRetry, AChurnALateDeliveryChangedIsRewrittenToTheEpisodeAsItIsNow) {
    const std::string recorded = body(kCustomerChurned, episode_);
    ChurnEpisode now = episode_;
    now.reason = ChurnReason::MaxRetries;
    now.category = ChurnCategory::Involuntary;
    now.charge_id = 40;
    store(now);
    auto r = retry(kCustomerChurned, recorded);
    ASSERT_FALSE(r.refused) << *r.refused;
    ASSERT_TRUE(r.rewritten);
    EXPECT_EQ(*r.rewritten, body(kCustomerChurned, now, kRetried));
    EXPECT_EQ(field(*r.rewritten, "reason"), "max_retries");
    EXPECT_EQ(field(*r.rewritten, "charge_id"), "40");
    // A correction likewise says where the episode stands now.
    auto u = retry(kCustomerChurnUpdated, body(kCustomerChurnUpdated, episode_));
    ASSERT_TRUE(u.rewritten);
    EXPECT_EQ(*u.rewritten, body(kCustomerChurnUpdated, now, kRetried));
    // The customer's email counts too: the alert names the customer as it is now.
    store(episode_);
    db_->exec("UPDATE customers SET email = 'new@example.com' WHERE id = 1");
    auto e = retry(kCustomerChurned, recorded);
    ASSERT_TRUE(e.rewritten);
    EXPECT_EQ(field(*e.rewritten, "email"), "new@example.com");
}

// Erased episodes and undone returns, as before; and a churn whose customer came back since:
// the churn it announces is over (a win-back flow must not start after the return).
TEST_F(AlertRetry, AnAlertTheFactsNoLongerShowIsRefusedSayingWhy) {
    ChurnEpisode back = episode_;
    back.reactivated_at = 1772791200000000;  // 2026-03-06 10:00:00
    store(back);
    EXPECT_EQ(refusal(kCustomerChurned, body(kCustomerChurned, episode_)),
              "the customer came back since (reactivated at 2026-03-06 10:00:00 UTC): the churn it announces is over");
    // A correction after the return is not refused: it says "back since".
    auto u = retry(kCustomerChurnUpdated, body(kCustomerChurnUpdated, episode_));
    EXPECT_FALSE(u.refused);
    ASSERT_TRUE(u.rewritten);
    EXPECT_EQ(field(*u.rewritten, "reactivated_at"), "2026-03-06T10:00:00Z");
    // A return whose time a late delivery moved is rewritten; one undone is refused.
    ChurnEpisode earlier = back;
    earlier.reactivated_at = *back.reactivated_at - 3600 * kMicrosPerSecond;
    auto moved = retry(kCustomerReactivated, body(kCustomerReactivated, earlier));
    ASSERT_TRUE(moved.rewritten);
    EXPECT_EQ(*moved.rewritten, body(kCustomerReactivated, back, kRetried));
    EXPECT_FALSE(retry(kCustomerReactivated, body(kCustomerReactivated, back)).rewritten);
    store(episode_);
    EXPECT_EQ(refusal(kCustomerReactivated, body(kCustomerReactivated, back)),
              "a later delivery undid this return: the customer is churned again");
    db_->exec("DELETE FROM churn_events");
    EXPECT_EQ(refusal(kCustomerChurned, body(kCustomerChurned, episode_)),
              "a later delivery erased the churn it announced");
    EXPECT_EQ(refusal(kCustomerChurnUpdated, body(kCustomerChurnUpdated, episode_)),
              "a later delivery erased the churn it announced");
    EXPECT_EQ(refusal(kCustomerReactivated, body(kCustomerReactivated, back)),
              "a later delivery erased the churn whose end it announced");
}

// The episode is matched on the customer too (before migration 0010 an erased episode's id
// could be given to another customer's).
TEST_F(AlertRetry, AnotherCustomersEpisodeWithTheIdIsNotThisOne) {
    auto r = alert_body_for_retry(*db_, kCustomerChurned, 7, 2, body(kCustomerChurned, episode_), kRetried);
    EXPECT_EQ(r.refused.value_or(""), "a later delivery erased the churn it announced");
}

}  // namespace
