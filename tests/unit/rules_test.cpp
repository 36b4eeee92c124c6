#include "rules.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace churnwatch {
namespace {

constexpr Micros kSecond = kMicrosPerSecond;
constexpr Micros kMinute = 60 * kSecond;
constexpr Micros kHour = 60 * kMinute;
constexpr Micros kDay = 24 * kHour;

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm), so tests
// build business times without depending on time_util.cpp.
constexpr int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2 ? 1 : 0;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

// UTC wall-clock time → Micros.
constexpr Micros utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
    return days_from_civil(y, mo, d) * kDay + h * kHour + mi * kMinute + s * kSecond;
}

constexpr int64_t kCustomer = 71001;
constexpr int64_t kSubA = 501;
constexpr int64_t kSubB = 502;
constexpr int64_t kSubC = 503;
constexpr Micros kNow = utc(2030, 1, 1);

// Builds a customer's facts the way the store would hand them over: every fact gets its own
// delivery id and dedupe key; a subscription keeps the created_at of its first version.
class Facts {
public:
    Facts() { history_.customer_id = kCustomer; }

    SubscriptionFact& sub(int64_t id, SubscriptionStatus status, Micros at,
                          const std::string& action) {
        SubscriptionFact f;
        f.sub.id = id;
        f.sub.customer_id = kCustomer;
        f.sub.status = status;
        f.sub.updated_at = at;
        f.sub.created_at = created_.try_emplace(id, at).first->second;
        f.action = action;
        stamp(f);
        history_.subscriptions.push_back(f);
        return history_.subscriptions.back();
    }
    SubscriptionFact& created(int64_t id, Micros at) {
        return sub(id, SubscriptionStatus::Active, at, "created");
    }
    SubscriptionFact& activated(int64_t id, Micros at) {
        return sub(id, SubscriptionStatus::Active, at, "activated");
    }
    SubscriptionFact& cancelled(int64_t id, Micros at) {
        SubscriptionFact& f = sub(id, SubscriptionStatus::Cancelled, at, "cancelled");
        f.sub.cancelled_at = at;
        return f;
    }
    SubscriptionFact& expired(int64_t id, Micros at, const std::string& raw) {
        SubscriptionFact& f = sub(id, SubscriptionStatus::Expired, at, "updated");
        f.sub.status_raw = raw;
        f.sub.cancelled_at = at;
        return f;
    }

    ChargeFact& charge(int64_t id, ChargeStatus status, Micros at, std::vector<int64_t> subs,
                       const std::string& action) {
        ChargeFact f;
        f.charge.id = id;
        f.charge.customer_id = kCustomer;
        f.charge.status = status;
        f.charge.updated_at = at;
        f.charge.subscription_ids = std::move(subs);
        f.action = action;
        stamp(f);
        history_.charges.push_back(f);
        return history_.charges.back();
    }
    ChargeFact& max_retries(int64_t id, Micros at, std::vector<int64_t> subs) {
        ChargeFact& f = charge(id, ChargeStatus::Error, at, std::move(subs), "max_retries_reached");
        f.charge.error_type = "CLOSED_MAX_RETRIES_REACHED";
        f.charge.max_retries_reached = true;
        return f;
    }
    ChargeFact& paid(int64_t id, Micros at, std::vector<int64_t> subs) {
        return charge(id, ChargeStatus::Success, at, std::move(subs), "paid");
    }

    CustomerFact& customer(const std::string& action, Micros at,
                           CustomerStatus status = CustomerStatus::Unknown) {
        CustomerFact f;
        f.customer.id = kCustomer;
        f.customer.status = status;
        f.customer.updated_at = at;
        f.action = action;
        stamp(f);
        history_.customer.push_back(f);
        return history_.customer.back();
    }

    // A redelivery: the same fact (same dedupe key) stored again.
    void repeat_last_subscription() {
        history_.subscriptions.push_back(history_.subscriptions.back());
    }
    void repeat_last_charge() { history_.charges.push_back(history_.charges.back()); }
    void repeat_last_customer() { history_.customer.push_back(history_.customer.back()); }

    int64_t last_delivery() const { return next_delivery_ - 1; }
    const CustomerHistory& history() const { return history_; }

    CustomerOutcome evaluate(const RulesPolicy& policy = {}, Micros now = kNow) const {
        return evaluate_customer(history_, policy, now);
    }

private:
    template <class Fact>
    void stamp(Fact& f) {
        f.delivery_id = next_delivery_++;
        f.order_key = "dk-" + std::to_string(f.delivery_id);
    }

    CustomerHistory history_;
    std::map<int64_t, Micros> created_;
    int64_t next_delivery_ = 1;
};

RulesPolicy auto_churn_after(int64_t days) {
    RulesPolicy p;
    p.auto_churn_after_max_retries_days = days;
    return p;
}

// --- helpers' own sanity ---------------------------------------------------------------

// The test clock agrees with `date -u -d 2026-10-14T09:12:44Z +%s` = 1791969164.
TEST(RulesTestClock, MatchesKnownEpoch) {
    EXPECT_EQ(utc(1970, 1, 1), 0);
    EXPECT_EQ(utc(2026, 10, 14, 9, 12, 44), 1791969164LL * kSecond);
}

// --- names ------------------------------------------------------------------------------

// Every reason and category has its documented name; deactivated counts as voluntary.
TEST(Rules, NamesAndCategories) {
    EXPECT_EQ(to_string(ChurnReason::Cancelled), "cancelled");
    EXPECT_EQ(to_string(ChurnReason::MaxRetries), "max_retries");
    EXPECT_EQ(to_string(ChurnReason::Expired), "expired");
    EXPECT_EQ(to_string(ChurnReason::Deactivated), "deactivated");
    EXPECT_EQ(to_string(ChurnCategory::Voluntary), "voluntary");
    EXPECT_EQ(to_string(ChurnCategory::Involuntary), "involuntary");
    EXPECT_EQ(to_string(ChurnCategory::Natural), "natural");
    EXPECT_EQ(category_of(ChurnReason::Cancelled), ChurnCategory::Voluntary);
    EXPECT_EQ(category_of(ChurnReason::Deactivated), ChurnCategory::Voluntary);
    EXPECT_EQ(category_of(ChurnReason::MaxRetries), ChurnCategory::Involuntary);
    EXPECT_EQ(category_of(ChurnReason::Expired), ChurnCategory::Natural);
}

// No facts at all: nothing known, nothing churned.
TEST(Rules, EmptyHistory) {
    CustomerHistory h;
    h.customer_id = kCustomer;
    const CustomerOutcome out = evaluate_customer(h, {}, kNow);
    EXPECT_EQ(out.customer_id, kCustomer);
    EXPECT_FALSE(out.churned);
    EXPECT_TRUE(out.episodes.empty());
    EXPECT_FALSE(out.first_seen_at.has_value());
    EXPECT_FALSE(out.last_event_at.has_value());
}

// --- rule 1: cancellation ---------------------------------------------------------------

// Two subscriptions, one cancelled: the other keeps the customer active, no episode.
TEST(Rules, CancelOneOfTwoKeepsCustomerActive) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.created(kSubB, utc(2026, 2, 1));
    f.cancelled(kSubA, utc(2026, 3, 1));
    const CustomerOutcome out = f.evaluate();
    EXPECT_FALSE(out.churned);
    EXPECT_TRUE(out.episodes.empty());
    EXPECT_EQ(out.active_subscriptions, 1);
    ASSERT_EQ(out.subscriptions.size(), 2u);
    EXPECT_FALSE(out.subscriptions[0].active);
    EXPECT_TRUE(out.subscriptions[1].active);
}

// Two subscriptions, both cancelled: one episode, at the later cancel, decided by it.
TEST(Rules, CancelBothChurnsAtLaterCancel) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.created(kSubB, utc(2026, 2, 1));
    f.cancelled(kSubB, utc(2026, 4, 1));
    const int64_t later = f.last_delivery();
    f.cancelled(kSubA, utc(2026, 3, 1));
    const CustomerOutcome out = f.evaluate();
    EXPECT_TRUE(out.churned);
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 4, 1));
    EXPECT_EQ(out.episodes[0].subscription_id, kSubB);
    EXPECT_EQ(out.episodes[0].delivery_id, later);
    EXPECT_EQ(out.churned_at, utc(2026, 4, 1));
    EXPECT_EQ(out.active_subscriptions, 0);
}

// One subscription created then cancelled: cancelled / voluntary, outcome fields filled.
TEST(Rules, SingleCancelIsVoluntary) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 5, 1, 12));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    const ChurnEpisode& ep = out.episodes[0];
    EXPECT_EQ(ep.reason, ChurnReason::Cancelled);
    EXPECT_EQ(ep.category, ChurnCategory::Voluntary);
    EXPECT_EQ(ep.churned_at, utc(2026, 5, 1, 12));
    EXPECT_FALSE(ep.reactivated_at.has_value());
    EXPECT_EQ(ep.subscription_id, kSubA);
    EXPECT_FALSE(ep.charge_id.has_value());
    EXPECT_EQ(ep.delivery_id, f.last_delivery());
    EXPECT_TRUE(out.churned);
    EXPECT_EQ(out.first_seen_at, utc(2026, 1, 1));
    EXPECT_EQ(out.last_event_at, utc(2026, 5, 1, 12));
}

// A cancellation stamped with cancelled_at earlier than its updated_at: the churn is at
// cancelled_at (the business time of the cancel), not when the record was touched.
TEST(Rules, CancelledAtIsTheChurnTime) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 5, 1, 12)).sub.cancelled_at = utc(2026, 5, 1, 11);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 5, 1, 11));
}

// Only the cancel is known (created_at in the payload): active since creation, churned.
TEST(Rules, CancelSeenWithoutEarlierVersions) {
    Facts f;
    f.cancelled(kSubA, utc(2026, 5, 1)).sub.created_at = utc(2026, 1, 1);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_EQ(out.first_seen_at, utc(2026, 1, 1));
}

// subscription/deleted of an active subscription ends it like a cancellation.
TEST(Rules, DeletedActsAsCancelled) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 3, 1), "deleted");
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 1));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
}

// A deleted subscription comes as it was after its last change, which may be its creation:
// its paid charges show it was active until the latest of them was processed. Not later: a
// charge known only by an update after the deletion (a refund) counts at its processed_at.
TEST(Rules, ADeletionDatedByItsCreationEndsAtItsLatestPaidCharge) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 12, 10));
    f.paid(9001, utc(2026, 2, 12, 4), {kSubA});
    f.paid(9002, utc(2026, 4, 30), {kSubA}).charge.processed_at = utc(2026, 3, 12, 4);
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 1, 12, 10), "deleted");
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 12, 4));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_EQ(out.first_active_at, utc(2026, 1, 12, 10));
    // A cancellation is dated as it says, paid charges or not.
    Facts g;
    g.created(kSubA, utc(2026, 1, 12, 10));
    g.paid(9001, utc(2026, 2, 12, 4), {kSubA});
    g.cancelled(kSubA, utc(2026, 1, 20));
    ASSERT_EQ(g.evaluate().episodes.size(), 1u);
    EXPECT_EQ(g.evaluate().episodes[0].churned_at, utc(2026, 1, 20));
}

// The latest paid charge's versions disagree on when it was processed (a later update, a
// refund or a note, says another processed_at): the earliest a successful version says is
// when it was paid, and the deletion dated by its creation ends then, not at the later one.
TEST(Rules, ADeletionEndsWhenItsLatestPaidChargeWasFirstSaidProcessed) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 12, 10));
    f.paid(9001, utc(2026, 2, 12, 4), {kSubA}).charge.processed_at = utc(2026, 2, 12, 4);
    f.paid(9001, utc(2026, 2, 20), {kSubA}).charge.processed_at = utc(2026, 2, 15);
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 1, 12, 10), "deleted");
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 2, 12, 4));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
}

// --- rule 2: max retries ----------------------------------------------------------------

// Charge reaches max retries, the subscription is cancelled 5 minutes later (default
// setting): max_retries / involuntary, with the charge id.
TEST(Rules, MaxRetriesThenCancel) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.paid(9001, utc(2026, 2, 1), {kSubA});
    f.max_retries(9002, utc(2026, 3, 8, 4), {kSubA});
    f.cancelled(kSubA, utc(2026, 3, 8, 4, 5));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    const ChurnEpisode& ep = out.episodes[0];
    EXPECT_EQ(ep.reason, ChurnReason::MaxRetries);
    EXPECT_EQ(ep.category, ChurnCategory::Involuntary);
    EXPECT_EQ(ep.charge_id, 9002);
    EXPECT_EQ(ep.subscription_id, kSubA);
    EXPECT_EQ(ep.churned_at, utc(2026, 3, 8, 4, 5));
    EXPECT_EQ(ep.delivery_id, f.last_delivery());
}

// The charge's updated_at is 10 minutes AFTER the cancel (the two objects are saved
// separately): still within the grace, so max_retries.
TEST(Rules, MaxRetriesStampedAfterCancelWithinGrace) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 3, 8, 4));
    f.max_retries(9002, utc(2026, 3, 8, 4, 10), {kSubA});
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].charge_id, 9002);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 8, 4));
}

// A max-retries charge two hours after the cancel is beyond the one-hour grace: the
// cancellation was the customer's own.
TEST(Rules, MaxRetriesBeyondGraceIsCancelled) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 3, 8, 4));
    f.max_retries(9002, utc(2026, 3, 8, 6), {kSubA});
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
}

// The grace looks past an end only until the customer is back: a charge that fails for good
// after the subscription was reactivated belongs to the new period, not to the churn before
// it (a soak found such charges relabelling closed episodes as max_retries).
TEST(Rules, MaxRetriesAfterTheCustomerCameBackIsNotTheEarlierChurns) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 3, 8, 4));
    f.activated(kSubA, utc(2026, 3, 8, 4, 1));
    f.max_retries(9002, utc(2026, 3, 8, 4, 10), {kSubA});
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_FALSE(out.episodes[0].charge_id.has_value());
    EXPECT_EQ(out.episodes[0].reactivated_at, utc(2026, 3, 8, 4, 1));
    // The same with the store closing the new period out: that is its own churn.
    f.cancelled(kSubA, utc(2026, 3, 8, 4, 12));
    const CustomerOutcome again = f.evaluate();
    ASSERT_EQ(again.episodes.size(), 2u);
    EXPECT_EQ(again.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_EQ(again.episodes[1].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(again.episodes[1].charge_id, 9002);
}

// And looking back: another subscription closed out by max retries within the hour before
// the last end explains it (a store cancelling one by one), but not when the customer came
// back in between: the return starts a period of its own, whose end is its own.
TEST(Rules, AMaxRetriesEndBeforeTheCustomerCameBackDoesNotExplainTheNextChurn) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 3, 8, 9, 55), {kSubA});
    f.cancelled(kSubA, utc(2026, 3, 8, 10));
    f.created(kSubB, utc(2026, 3, 8, 10, 10));
    f.cancelled(kSubB, utc(2026, 3, 8, 10, 30));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 2u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].subscription_id, kSubA);
    EXPECT_EQ(out.episodes[0].reactivated_at, utc(2026, 3, 8, 10, 10));
    EXPECT_EQ(out.episodes[1].reason, ChurnReason::Cancelled);
    EXPECT_EQ(out.episodes[1].subscription_id, kSubB);
    EXPECT_FALSE(out.episodes[1].charge_id.has_value());
}

// The same for a deactivation: a charge failing for good after the customer was activated
// again does not explain it.
TEST(Rules, MaxRetriesAfterAReactivationDoesNotExplainTheDeactivationBeforeIt) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.customer("deactivated", utc(2026, 3, 8, 4), CustomerStatus::Inactive);
    f.customer("activated", utc(2026, 3, 8, 4, 1), CustomerStatus::Active);
    f.max_retries(9002, utc(2026, 3, 8, 4, 10), {kSubA});
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Deactivated);
    EXPECT_FALSE(out.episodes[0].charge_id.has_value());
    EXPECT_EQ(out.episodes[0].reactivated_at, utc(2026, 3, 8, 4, 1));
}

// A max-retries charge on another subscription does not explain this one's cancellation.
TEST(Rules, MaxRetriesOnOtherSubscriptionDoesNotCount) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 3, 8, 4), {kSubB});
    f.cancelled(kSubA, utc(2026, 3, 8, 4, 5));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
}

// The subscription version that cancels carries max_retries_reached = true (no charge fact
// seen): max_retries, without a charge id.
TEST(Rules, SubscriptionFlagMeansMaxRetries) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 3, 8)).sub.max_retries_reached = true;
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_FALSE(out.episodes[0].charge_id.has_value());
    EXPECT_EQ(out.episodes[0].subscription_id, kSubA);
}

// The flag shows up on a later terminal version (subscription/updated after the cancel):
// it still tells how that end happened.
TEST(Rules, FlagOnLaterTerminalVersionCounts) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 3, 8));
    f.cancelled(kSubA, utc(2026, 3, 9)).sub.max_retries_reached = true;
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 8));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
}

// The store closes out a subscription whose versions said max_retries_reached while it was
// still active; the cancelling version itself may no longer carry the flag.
TEST(Rules, FlagOnTheVersionBeforeTheCancelMeansMaxRetries) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 3, 8, 4), "updated").sub.max_retries_reached = true;
    f.cancelled(kSubA, utc(2026, 3, 8, 4, 10));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].category, ChurnCategory::Involuntary);
    EXPECT_FALSE(out.episodes[0].charge_id.has_value());
}

// …but not once it was cleared (a later version without it), nor once a charge was paid
// after it: then the cancellation is the customer's.
TEST(Rules, ClearedOrPaidPastFlagDoesNotExplainTheCancel) {
    {
        Facts f;
        f.created(kSubA, utc(2026, 1, 1));
        f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 3, 8), "updated").sub.max_retries_reached = true;
        f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 3, 20), "updated");
        f.cancelled(kSubA, utc(2026, 5, 1));
        const CustomerOutcome out = f.evaluate();
        ASSERT_EQ(out.episodes.size(), 1u);
        EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    }
    {
        Facts f;
        f.created(kSubA, utc(2026, 1, 1));
        f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 3, 8), "updated").sub.max_retries_reached = true;
        f.paid(9003, utc(2026, 4, 1), {kSubA});
        f.cancelled(kSubA, utc(2026, 5, 1));
        const CustomerOutcome out = f.evaluate();
        ASSERT_EQ(out.episodes.size(), 1u);
        EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    }
}

// Recharge's 2021-11 cancel: updated_at in whole seconds, cancelled_at with microseconds
// later within that second. churned_at is the cancelled_at (so it joins with the row).
TEST(Rules, CancelledAtWithinTheVersionsSecondIsTheEnd) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    SubscriptionFact& c = f.cancelled(kSubA, utc(2026, 10, 14, 9, 12, 44));
    c.sub.cancelled_at = utc(2026, 10, 14, 9, 12, 44) + 512301;
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 10, 14, 9, 12, 44) + 512301);
}

// A max-retries failure the customer paid past (a later successful charge) does not explain
// a voluntary cancellation months later.
TEST(Rules, ResolvedFailureDoesNotExplainLaterCancel) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1), {kSubA});
    f.paid(9003, utc(2026, 3, 1), {kSubA});
    f.cancelled(kSubA, utc(2026, 6, 1));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
}

// "Do nothing" setting: max-retries charge, the subscription stays active, Recharge
// deactivates the customer weeks later → max_retries, decided by the deactivation.
TEST(Rules, DoNothingThenDeactivationIsMaxRetries) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1), {kSubA});
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 2, 1), "updated")
        .sub.max_retries_reached = true;
    f.customer("deactivated", utc(2026, 3, 15), CustomerStatus::Inactive);
    const int64_t deactivation = f.last_delivery();
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    const ChurnEpisode& ep = out.episodes[0];
    EXPECT_EQ(ep.reason, ChurnReason::MaxRetries);
    EXPECT_EQ(ep.charge_id, 9002);
    EXPECT_EQ(ep.churned_at, utc(2026, 3, 15));
    EXPECT_EQ(ep.delivery_id, deactivation);
    EXPECT_TRUE(out.churned);
    EXPECT_EQ(out.active_subscriptions, 0);
    ASSERT_EQ(out.subscriptions.size(), 1u);
    EXPECT_FALSE(out.subscriptions[0].active);
}

// Same, but a successful charge came in between: the failure was resolved, so the later
// deactivation is just deactivated.
TEST(Rules, DoNothingPaidInBetweenIsDeactivated) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1), {kSubA});
    f.paid(9003, utc(2026, 2, 20), {kSubA});
    f.customer("deactivated", utc(2026, 3, 15), CustomerStatus::Inactive);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Deactivated);
    EXPECT_EQ(out.episodes[0].category, ChurnCategory::Voluntary);
    EXPECT_FALSE(out.episodes[0].charge_id.has_value());
}

// "Cancel all" setting: the max-retries charge covers A only; A and B are cancelled within
// a minute, B last, then the customer is deactivated → one max_retries episode at B's end.
TEST(Rules, CancelAllSettingIsMaxRetries) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.created(kSubB, utc(2026, 1, 2));
    f.max_retries(9002, utc(2026, 3, 1, 10), {kSubA});
    f.cancelled(kSubA, utc(2026, 3, 1, 10, 0, 20));
    f.cancelled(kSubB, utc(2026, 3, 1, 10, 0, 50));
    const int64_t last_cancel = f.last_delivery();
    f.customer("deactivated", utc(2026, 3, 1, 10, 0, 55), CustomerStatus::Inactive);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    const ChurnEpisode& ep = out.episodes[0];
    EXPECT_EQ(ep.churned_at, utc(2026, 3, 1, 10, 0, 50));
    EXPECT_EQ(ep.reason, ChurnReason::MaxRetries);
    EXPECT_EQ(ep.charge_id, 9002);
    EXPECT_EQ(ep.subscription_id, kSubA);     // the subscription the failure ended
    EXPECT_EQ(ep.delivery_id, last_cancel);   // the fact that set churned_at
}

// "Cancel all", with the customer record stamped a few seconds before B's cancel: the
// deactivation is the churn moment and the unresolved charge still explains it.
TEST(Rules, CancelAllDeactivationFirstIsMaxRetries) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.created(kSubB, utc(2026, 1, 2));
    f.max_retries(9002, utc(2026, 3, 1, 10), {kSubA});
    f.cancelled(kSubA, utc(2026, 3, 1, 10, 0, 20));
    f.customer("deactivated", utc(2026, 3, 1, 10, 0, 30), CustomerStatus::Inactive);
    f.cancelled(kSubB, utc(2026, 3, 1, 10, 0, 50));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 1, 10, 0, 30));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].charge_id, 9002);
}

// Max retries, the store deactivates the customer, and the subscription is cancelled ten
// minutes later: one episode at the deactivation, max_retries with the charge, and with the
// subscription whose end it merged with (as when nothing but the cancel explains it).
TEST(Rules, MaxRetriesDeactivationThenCancelTakesTheSubscription) {
    Facts f;
    f.created(kSubA, utc(2026, 6, 1, 10));
    f.max_retries(9002, utc(2026, 8, 20, 0, 30), {kSubA});
    f.customer("deactivated", utc(2026, 8, 20, 1), CustomerStatus::Inactive);
    const int64_t deactivation = f.last_delivery();
    f.cancelled(kSubA, utc(2026, 8, 20, 1, 10));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    const ChurnEpisode& ep = out.episodes[0];
    EXPECT_EQ(ep.churned_at, utc(2026, 8, 20, 1));
    EXPECT_EQ(ep.reason, ChurnReason::MaxRetries);
    EXPECT_EQ(ep.category, ChurnCategory::Involuntary);
    EXPECT_EQ(ep.charge_id, 9002);
    EXPECT_EQ(ep.subscription_id, kSubA);
    EXPECT_EQ(ep.delivery_id, deactivation);

    // "Cancel all" with the deactivation between the two cancels: the failed subscription.
    Facts all;
    all.created(kSubA, utc(2026, 1, 1));
    all.created(kSubB, utc(2026, 1, 2));
    all.max_retries(9002, utc(2026, 3, 1, 10), {kSubA});
    all.cancelled(kSubA, utc(2026, 3, 1, 10, 0, 20));
    all.customer("deactivated", utc(2026, 3, 1, 10, 0, 30), CustomerStatus::Inactive);
    all.cancelled(kSubB, utc(2026, 3, 1, 10, 0, 50));
    const CustomerOutcome both = all.evaluate();
    ASSERT_EQ(both.episodes.size(), 1u);
    EXPECT_EQ(both.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(both.episodes[0].charge_id, 9002);
    EXPECT_EQ(both.episodes[0].subscription_id, kSubA);

    // No end follows the deactivation ("Do nothing", the subscription left as it was): the
    // charge's subscription, as an auto-churn names it (rules version 8; before, none).
    Facts none;
    none.created(kSubA, utc(2026, 6, 1, 10));
    none.max_retries(9002, utc(2026, 8, 20, 0, 30), {kSubA});
    none.customer("deactivated", utc(2026, 8, 20, 1), CustomerStatus::Inactive);
    const CustomerOutcome open = none.evaluate();
    ASSERT_EQ(open.episodes.size(), 1u);
    EXPECT_EQ(open.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(open.episodes[0].charge_id, 9002);
    EXPECT_EQ(open.episodes[0].subscription_id, kSubA);
}

// --- customer deactivation --------------------------------------------------------------

// Active subscription, Recharge deactivates the customer, nothing explains it → deactivated;
// the subscription no longer counts as active.
TEST(Rules, DeactivationWithoutRule) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.customer("deactivated", utc(2026, 4, 1), CustomerStatus::Inactive);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Deactivated);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 4, 1));
    EXPECT_EQ(out.episodes[0].delivery_id, f.last_delivery());
    EXPECT_FALSE(out.episodes[0].subscription_id.has_value());
    EXPECT_TRUE(out.churned);
    EXPECT_EQ(out.active_subscriptions, 0);
}

// A 2021-01 customer/updated with status INACTIVE (no deactivated action) is a deactivation.
TEST(Rules, InactiveStatusIsDeactivation) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.customer("updated", utc(2026, 4, 1), CustomerStatus::Inactive);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Deactivated);
}

// Nothing but one customer/deactivated fact: Recharge says the customer churned, so one
// episode, whether or not the customer's created_at is known.
TEST(Rules, OnlyDeactivationFact) {
    Facts with_created;
    with_created.customer("deactivated", utc(2026, 4, 1), CustomerStatus::Inactive)
        .customer.created_at = utc(2025, 12, 1);
    Facts bare;
    bare.customer("deactivated", utc(2026, 4, 1));
    for (const Facts* f : {&with_created, &bare}) {
        const CustomerOutcome out = f->evaluate();
        ASSERT_EQ(out.episodes.size(), 1u);
        EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 4, 1));
        EXPECT_EQ(out.episodes[0].reason, ChurnReason::Deactivated);
        EXPECT_TRUE(out.churned);
        EXPECT_EQ(out.churned_at, utc(2026, 4, 1));
    }
    EXPECT_EQ(with_created.evaluate().first_seen_at, utc(2025, 12, 1));
}

// A customer first seen already INACTIVE by status only (customer/created before any
// subscription, or an update of a long-gone customer) was not seen churning: no episode.
// Its later subscription and cancellation give exactly one episode.
TEST(Rules, InactiveStatusWithoutPriorActivityIsNotAChurn) {
    Facts f;
    f.customer("created", utc(2026, 1, 1), CustomerStatus::Inactive);
    const CustomerOutcome before = f.evaluate();
    EXPECT_TRUE(before.episodes.empty());
    EXPECT_FALSE(before.churned);

    f.created(kSubA, utc(2026, 1, 1, 0, 1));
    f.cancelled(kSubA, utc(2026, 3, 1));
    const CustomerOutcome after = f.evaluate();
    ASSERT_EQ(after.episodes.size(), 1u);
    EXPECT_EQ(after.episodes[0].churned_at, utc(2026, 3, 1));
    EXPECT_EQ(after.episodes[0].reason, ChurnReason::Cancelled);
}

// A customer whose own record says it never had a subscription (2021-11
// subscriptions_total_count / 2021-01 number_subscriptions 0) is deactivated: a one-time
// buyer, or a customer record alone. Every churn cause concerns a subscription, so it was
// never active: no episode, first_active_at unset, whatever the API version and whether or
// not a customer/activated came first.
TEST(Rules, DeactivationOfCustomerWithoutSubscriptionsIsNotAChurn) {
    Facts one_time;
    one_time.paid(9001, utc(2026, 1, 20, 10), {});
    one_time.customer("deactivated", utc(2026, 2, 20, 10)).customer.total_subscriptions = 0;
    Facts record_only;
    Customer& record = record_only.customer("deactivated", utc(2026, 2, 21, 10)).customer;
    record.total_subscriptions = 0;
    record.created_at = utc(2026, 1, 5, 9);
    Facts activated_first;
    activated_first.customer("activated", utc(2026, 1, 5, 9), CustomerStatus::Active)
        .customer.total_subscriptions = 0;
    activated_first.customer("deactivated", utc(2026, 2, 21, 10), CustomerStatus::Inactive)
        .customer.total_subscriptions = 0;
    Facts count_only_later;  // the activation's version says nothing; the deactivation's does
    count_only_later.customer("activated", utc(2026, 1, 5, 9), CustomerStatus::Active);
    count_only_later.customer("deactivated", utc(2026, 2, 21, 10)).customer.total_subscriptions = 0;
    for (const Facts* f : {&one_time, &record_only, &activated_first, &count_only_later}) {
        const CustomerOutcome out = f->evaluate();
        EXPECT_TRUE(out.episodes.empty());
        EXPECT_FALSE(out.churned);
        EXPECT_FALSE(out.churned_at.has_value());
        EXPECT_FALSE(out.first_active_at.has_value());
        EXPECT_TRUE(out.first_seen_at.has_value());
    }
}

// The same deactivation of a subscriber still churns: a count of 1 (nothing else seen), or a
// stale count of 0 beside a subscription seen active before it.
TEST(Rules, DeactivationOfSubscriberStillChurnsWhateverTheCount) {
    Facts counted;
    counted.customer("deactivated", utc(2026, 4, 1)).customer.total_subscriptions = 1;
    Facts stale;
    stale.created(kSubA, utc(2026, 1, 1));
    stale.customer("deactivated", utc(2026, 4, 1)).customer.total_subscriptions = 0;
    for (const Facts* f : {&counted, &stale}) {
        const CustomerOutcome out = f->evaluate();
        ASSERT_EQ(out.episodes.size(), 1u);
        EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 4, 1));
        EXPECT_EQ(out.episodes[0].reason, ChurnReason::Deactivated);
        EXPECT_TRUE(out.churned);
        EXPECT_TRUE(out.first_active_at.has_value());
    }
}

// The last subscription was cancelled, then the customer is deactivated (Recharge's usual
// follow-up): no second episode, the reason stays cancelled.
TEST(Rules, DeactivationAfterLastCancelAddsNothing) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 4, 1, 10));
    const int64_t cancel = f.last_delivery();
    f.customer("deactivated", utc(2026, 4, 1, 10, 0, 2), CustomerStatus::Inactive);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 4, 1, 10));
    EXPECT_EQ(out.episodes[0].delivery_id, cancel);
}

// Same moment for both: the cancel explains the churn.
TEST(Rules, DeactivationAtCancelTimeIsCancelled) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 4, 1, 10));
    f.customer("deactivated", utc(2026, 4, 1, 10), CustomerStatus::Inactive);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
}

// The customer record is stamped 3 s before the last subscription's cancel (objects saved
// one after another): the cancel still explains it; the churn is at the deactivation.
TEST(Rules, DeactivationJustBeforeCancelIsCancelled) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.customer("deactivated", utc(2026, 4, 1, 9, 59, 57), CustomerStatus::Inactive);
    const int64_t deactivation = f.last_delivery();
    f.cancelled(kSubA, utc(2026, 4, 1, 10));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 4, 1, 9, 59, 57));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_EQ(out.episodes[0].subscription_id, kSubA);
    EXPECT_EQ(out.episodes[0].delivery_id, deactivation);
}

// --- rule 3: expiry ---------------------------------------------------------------------

// A subscription showing the expired status (2021-01 "EXPIRED", 2021-11 "expired") ended
// naturally.
TEST(Rules, ExpiredStatusIsNatural) {
    for (const char* raw : {"EXPIRED", "expired"}) {
        Facts f;
        f.created(kSubA, utc(2026, 3, 2));
        f.expired(kSubA, utc(2026, 9, 30, 4), raw).sub.expire_after_charges = 3;
        const CustomerOutcome out = f.evaluate();
        ASSERT_EQ(out.episodes.size(), 1u) << raw;
        EXPECT_EQ(out.episodes[0].reason, ChurnReason::Expired) << raw;
        EXPECT_EQ(out.episodes[0].category, ChurnCategory::Natural) << raw;
        ASSERT_EQ(out.subscriptions.size(), 1u);
        EXPECT_TRUE(out.subscriptions[0].expired);
    }
}

// Cancelled with expire_after 3 after 3 paid charges (one delivered twice) → expired.
TEST(Rules, ExpiryByChargeCount) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1)).sub.expire_after_charges = 3;
    f.paid(9001, utc(2026, 1, 1), {kSubA});
    f.paid(9002, utc(2026, 2, 1), {kSubA});
    f.repeat_last_charge();
    f.paid(9003, utc(2026, 3, 1), {kSubA});
    f.cancelled(kSubA, utc(2026, 3, 1, 0, 0, 5)).sub.expire_after_charges = 3;
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Expired);
    EXPECT_EQ(out.episodes[0].category, ChurnCategory::Natural);
    ASSERT_EQ(out.subscriptions.size(), 1u);
    EXPECT_EQ(out.subscriptions[0].charges_counted, 3);
    EXPECT_TRUE(out.subscriptions[0].expired);
}

// Cancelled with expire_after 3 after only 2 paid charges → the customer cancelled.
TEST(Rules, ExpiryCountNotReachedIsCancelled) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1)).sub.expire_after_charges = 3;
    f.paid(9001, utc(2026, 1, 1), {kSubA});
    f.paid(9002, utc(2026, 2, 1), {kSubA});
    f.cancelled(kSubA, utc(2026, 2, 15));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_EQ(out.subscriptions[0].charges_counted, 2);
    EXPECT_FALSE(out.subscriptions[0].expired);
}

// subscription/deleted, sent as it was (status active, dated by its last change), after the
// Nth paid charge: the subscription had run its course, as a cancel then would read; with a
// charge short of N the deletion is the merchant's cancel.
TEST(Rules, DeletionAfterTheNthPaidChargeIsAnExpiry) {
    for (const int paid : {2, 3}) {
        Facts f;
        f.created(kSubA, utc(2026, 1, 1)).sub.expire_after_charges = 3;
        for (int i = 0; i < paid; ++i) f.paid(9001 + i, utc(2026, 1 + i, 1), {kSubA});
        f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 1, 1), "deleted")
            .sub.expire_after_charges = 3;
        const CustomerOutcome out = f.evaluate();
        ASSERT_EQ(out.episodes.size(), 1u) << paid;
        EXPECT_EQ(out.episodes[0].reason, paid == 3 ? ChurnReason::Expired : ChurnReason::Cancelled)
            << paid;
        EXPECT_EQ(out.episodes[0].churned_at, utc(2026, paid, 1)) << paid;
        ASSERT_EQ(out.subscriptions.size(), 1u);
        EXPECT_EQ(out.subscriptions[0].expired, paid == 3) << paid;
    }
}

// Expired, reactivated, then cancelled with no charge paid since the reactivation: Recharge
// expires a subscription when it processes the Nth charge, so with none processed since, the
// second end is the customer's own cancel, although the count still reads N. Once a charge is
// paid after the reactivation, the count decides as for a first end.
TEST(Rules, ACancelAfterReactivatingAnExpiredSubscriptionIsAnExpiryOnlyAfterANewCharge) {
    for (const bool paid_since : {false, true}) {
        Facts f;
        f.created(kSubA, utc(2026, 1, 1)).sub.expire_after_charges = 2;
        f.paid(9001, utc(2026, 1, 1), {kSubA});
        f.paid(9002, utc(2026, 2, 1), {kSubA});
        f.expired(kSubA, utc(2026, 2, 1, 0, 1), "expired").sub.expire_after_charges = 2;
        f.activated(kSubA, utc(2026, 4, 1)).sub.expire_after_charges = 2;
        if (paid_since) f.paid(9003, utc(2026, 4, 1), {kSubA});
        f.cancelled(kSubA, utc(2026, 5, 1)).sub.expire_after_charges = 2;
        const CustomerOutcome out = f.evaluate();
        ASSERT_EQ(out.episodes.size(), 2u) << paid_since;
        EXPECT_EQ(out.episodes[0].reason, ChurnReason::Expired) << paid_since;
        EXPECT_EQ(out.episodes[1].reason, paid_since ? ChurnReason::Expired : ChurnReason::Cancelled)
            << paid_since;
        ASSERT_EQ(out.subscriptions.size(), 1u);
        EXPECT_EQ(out.subscriptions[0].expired, paid_since) << paid_since;
    }
}

// --- reactivation -----------------------------------------------------------------------

// Cancelled, reactivated (subscription/activated), cancelled again: two episodes, the first
// closed at the reactivation, the second open.
TEST(Rules, ReactivationThenSecondChurn) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 2, 1));
    f.activated(kSubA, utc(2026, 3, 1));
    f.cancelled(kSubA, utc(2026, 4, 1));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 2u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 2, 1));
    EXPECT_EQ(out.episodes[0].reactivated_at, utc(2026, 3, 1));
    EXPECT_EQ(out.episodes[1].churned_at, utc(2026, 4, 1));
    EXPECT_FALSE(out.episodes[1].reactivated_at.has_value());
    EXPECT_TRUE(out.churned);
    EXPECT_EQ(out.churned_at, utc(2026, 4, 1));
}

// customer/activated after a churn closes the episode; the customer is active again.
TEST(Rules, CustomerActivatedClosesEpisode) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 2, 1));
    f.customer("deactivated", utc(2026, 2, 1), CustomerStatus::Inactive);
    f.customer("activated", utc(2026, 3, 1), CustomerStatus::Active);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_EQ(out.episodes[0].reactivated_at, utc(2026, 3, 1));
    EXPECT_FALSE(out.churned);
    EXPECT_FALSE(out.churned_at.has_value());
}

// customer/deactivated while churnwatch never saw the subscription end (its cancellation was
// missed): churned at the deactivation. subscription/activated later says the customer came
// back, though the subscription's own interval never closed.
TEST(Rules, SubscriptionActivatedAfterADeactivationClosesEpisode) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.customer("deactivated", utc(2026, 3, 1, 10));
    f.activated(kSubA, utc(2026, 4, 1, 10));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 1, 10));
    EXPECT_EQ(out.episodes[0].reactivated_at, utc(2026, 4, 1, 10));
    EXPECT_FALSE(out.churned);
    EXPECT_EQ(out.active_subscriptions, 1);
    // A subscription/activated before the deactivation changes nothing.
    Facts before;
    before.created(kSubA, utc(2026, 1, 1));
    before.activated(kSubA, utc(2026, 2, 1));
    before.customer("deactivated", utc(2026, 3, 1, 10));
    const CustomerOutcome b = before.evaluate();
    ASSERT_EQ(b.episodes.size(), 1u);
    EXPECT_EQ(b.episodes[0].churned_at, utc(2026, 3, 1, 10));
    EXPECT_FALSE(b.episodes[0].reactivated_at.has_value());
    EXPECT_TRUE(b.churned);
}

// A 2021-01 customer/updated with status ACTIVE following an INACTIVE one is a reactivation.
TEST(Rules, ActiveStatusAfterInactiveIsActivation) {
    Facts f;
    f.customer("updated", utc(2026, 1, 1), CustomerStatus::Active);
    f.created(kSubA, utc(2026, 1, 1));
    f.customer("updated", utc(2026, 2, 1), CustomerStatus::Inactive);
    f.customer("updated", utc(2026, 3, 1), CustomerStatus::Active);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 2, 1));
    EXPECT_EQ(out.episodes[0].reactivated_at, utc(2026, 3, 1));
    EXPECT_FALSE(out.churned);
}

// A new subscription after a churn closes the episode, and lifts the deactivation.
TEST(Rules, NewSubscriptionClosesEpisode) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 2, 1));
    f.customer("deactivated", utc(2026, 2, 1, 0, 0, 1), CustomerStatus::Inactive);
    f.created(kSubB, utc(2026, 5, 1));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reactivated_at, utc(2026, 5, 1));
    EXPECT_FALSE(out.churned);
    EXPECT_EQ(out.active_subscriptions, 1);
}

// A customer/activated alone, whose own record counts no subscription ever
// (subscriptions_total_count / number_subscriptions 0): not a subscriber's activation, so
// never active and never churned. The same activation with a count of 1 makes the customer
// active from then on.
TEST(Rules, CustomerActivatedAloneWithNoSubscriptionsActivatesNoOne) {
    Facts none;
    none.customer("activated", utc(2026, 3, 1, 10), CustomerStatus::Active)
        .customer.total_subscriptions = 0;
    const CustomerOutcome out = none.evaluate();
    EXPECT_FALSE(out.first_active_at.has_value());
    EXPECT_FALSE(out.churned);
    EXPECT_TRUE(out.episodes.empty());
    Facts one;
    one.customer("activated", utc(2026, 3, 1, 10), CustomerStatus::Active)
        .customer.total_subscriptions = 1;
    EXPECT_EQ(one.evaluate().first_active_at, utc(2026, 3, 1, 10));
    EXPECT_FALSE(one.evaluate().churned);
}

// --- ordering and duplicates ------------------------------------------------------------

// An older "active" version arriving after the cancel (a stale update) does not reopen the
// subscription: versions are ordered by updated_at, not by arrival.
TEST(Rules, StaleActiveVersionDoesNotReopen) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 3, 1));
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 2, 1), "updated");
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 1));
    EXPECT_TRUE(out.churned);
    EXPECT_EQ(out.active_subscriptions, 0);
}

// The same deliveries stored again (retries) change nothing.
TEST(Rules, DuplicatesIgnored) {
    Facts once;
    once.created(kSubA, utc(2026, 1, 1));
    once.max_retries(9002, utc(2026, 3, 1), {kSubA});
    once.cancelled(kSubA, utc(2026, 3, 1, 0, 5));
    once.customer("deactivated", utc(2026, 3, 1, 0, 6), CustomerStatus::Inactive);
    Facts twice = once;
    twice.repeat_last_subscription();
    twice.repeat_last_subscription();
    twice.repeat_last_charge();
    twice.repeat_last_customer();
    const CustomerOutcome a = once.evaluate();
    const CustomerOutcome b = twice.evaluate();
    EXPECT_EQ(a, b);
    ASSERT_EQ(b.episodes.size(), 1u);
    EXPECT_EQ(b.episodes[0].reason, ChurnReason::MaxRetries);
}

// --- optional auto-churn policy ---------------------------------------------------------

// "Do nothing" setting, no later signal: the subscription stays active. Without the policy
// (the default) there is no episode.
TEST(Rules, AutoChurnOffByDefault) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1), {kSubA});
    const CustomerOutcome out = f.evaluate();
    EXPECT_TRUE(out.episodes.empty());
    EXPECT_FALSE(out.churned);
    EXPECT_EQ(out.active_subscriptions, 1);
}

// Same with N = 7 and `now` past charge + 7 days: churned (max_retries) at charge + 7 days.
TEST(Rules, AutoChurnAfterSevenDays) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1, 4), {kSubA});
    const CustomerOutcome out = f.evaluate(auto_churn_after(7), utc(2026, 2, 20));
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 2, 8, 4));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].charge_id, 9002);
    EXPECT_EQ(out.episodes[0].subscription_id, kSubA);  // the charge's line item, known here
    EXPECT_EQ(out.episodes[0].delivery_id, f.last_delivery());
    EXPECT_TRUE(out.churned);
    EXPECT_EQ(out.active_subscriptions, 0);
}

// The charge names a subscription churnwatch never saw: the episode names none.
TEST(Rules, AutoChurnNamesOnlyAKnownSubscription) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1, 4), {kSubA + 1000});
    const CustomerOutcome out = f.evaluate(auto_churn_after(7), utc(2026, 2, 20));
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].charge_id, 9002);
    EXPECT_EQ(out.episodes[0].subscription_id, std::nullopt);
}

// N = 7 but `now` is only 3 days after the charge: not yet.
TEST(Rules, AutoChurnNotBeforeNow) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1, 4), {kSubA});
    const CustomerOutcome out = f.evaluate(auto_churn_after(7), utc(2026, 2, 4));
    EXPECT_TRUE(out.episodes.empty());
    EXPECT_FALSE(out.churned);
}

// N = 7, a paid charge 2 days after the failure resolved it: no auto-churn.
TEST(Rules, AutoChurnResolvedByPayment) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1, 4), {kSubA});
    f.paid(9003, utc(2026, 2, 3), {kSubA});
    const CustomerOutcome out = f.evaluate(auto_churn_after(7), utc(2026, 3, 1));
    EXPECT_TRUE(out.episodes.empty());
    EXPECT_FALSE(out.churned);
}

// N = 7, the customer pays only after the 7 days: churned at charge + 7 days, reactivated
// when the payment resolved the failure.
TEST(Rules, AutoChurnLiftedByLatePayment) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1, 4), {kSubA});
    f.paid(9003, utc(2026, 2, 15), {kSubA});
    const CustomerOutcome out = f.evaluate(auto_churn_after(7), utc(2026, 3, 1));
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 2, 8, 4));
    EXPECT_EQ(out.episodes[0].reactivated_at, utc(2026, 2, 15));
    EXPECT_FALSE(out.churned);
}

// --- other statuses ---------------------------------------------------------------------

// A onetime item neither keeps a customer active nor churns one.
TEST(Rules, OnetimeStatusIgnored) {
    Facts only_onetime;
    only_onetime.sub(kSubC, SubscriptionStatus::Onetime, utc(2026, 1, 1), "created");
    const CustomerOutcome a = only_onetime.evaluate();
    EXPECT_TRUE(a.episodes.empty());
    EXPECT_FALSE(a.churned);
    EXPECT_EQ(a.active_subscriptions, 0);

    Facts mixed;
    mixed.created(kSubA, utc(2026, 1, 1));
    mixed.sub(kSubC, SubscriptionStatus::Onetime, utc(2026, 1, 5), "created");
    mixed.sub(kSubC, SubscriptionStatus::Onetime, utc(2026, 2, 5), "updated");
    mixed.cancelled(kSubA, utc(2026, 2, 1));
    const CustomerOutcome b = mixed.evaluate();
    ASSERT_EQ(b.episodes.size(), 1u);
    EXPECT_EQ(b.episodes[0].churned_at, utc(2026, 2, 1));
    EXPECT_TRUE(b.churned);
    ASSERT_EQ(b.subscriptions.size(), 2u);
    EXPECT_FALSE(b.subscriptions[1].active);
}

// --- order independence -----------------------------------------------------------------

// A rich history over three subscriptions:
//   A from Jan, B from Feb; paid charges; B's charge hits max retries in April and B is
//   cancelled (A keeps the customer active); a stale A update; A cancelled in May → churn 1
//   (cancelled), customer deactivated; C created in June → reactivation, customer/activated;
//   C expires after 2 paid charges in August → churn 2 (expired), customer deactivated.
//   Several facts are delivered twice; A's cancel was also stored under another delivery id
//   (same dedupe key), and the lower id must win whatever the order.
Facts rich_history() {
    Facts f;
    f.customer("created", utc(2026, 1, 1), CustomerStatus::Active).customer.created_at =
        utc(2026, 1, 1);
    f.created(kSubA, utc(2026, 1, 1));
    f.created(kSubB, utc(2026, 2, 1));
    f.paid(9001, utc(2026, 2, 1), {kSubA});
    f.paid(9002, utc(2026, 3, 1), {kSubA, kSubB});
    f.repeat_last_charge();
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 3, 2), "updated");
    f.max_retries(9003, utc(2026, 4, 1), {kSubB});
    f.cancelled(kSubB, utc(2026, 4, 1, 0, 5));
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 4, 15), "updated");
    f.cancelled(kSubA, utc(2026, 5, 1));
    f.repeat_last_subscription();
    f.customer("deactivated", utc(2026, 5, 1, 0, 0, 30), CustomerStatus::Inactive);
    f.repeat_last_customer();
    f.created(kSubC, utc(2026, 6, 1)).sub.expire_after_charges = 2;
    f.customer("activated", utc(2026, 6, 1, 0, 0, 10), CustomerStatus::Active);
    f.paid(9004, utc(2026, 7, 1), {kSubC});
    f.paid(9005, utc(2026, 8, 1), {kSubC});
    f.expired(kSubC, utc(2026, 8, 1, 0, 1), "expired").sub.expire_after_charges = 2;
    f.customer("deactivated", utc(2026, 8, 1, 0, 2), CustomerStatus::Inactive);
    return f;
}

template <class T>
void add_redelivery_with_new_id(std::vector<T>& facts, size_t index, int64_t delivery_id) {
    T copy = facts.at(index);
    copy.delivery_id = delivery_id;
    facts.push_back(copy);
}

TEST(Rules, OutcomeIndependentOfOrder) {
    CustomerHistory base = rich_history().history();
    const size_t a_cancel = 5;
    ASSERT_EQ(base.subscriptions.at(a_cancel).action, "cancelled");
    ASSERT_EQ(base.subscriptions.at(a_cancel).sub.id, kSubA);
    const int64_t a_cancel_delivery = base.subscriptions.at(a_cancel).delivery_id;
    add_redelivery_with_new_id(base.subscriptions, a_cancel, 9999);
    ASSERT_GE(base.subscriptions.size() + base.charges.size() + base.customer.size(), 12u);

    const CustomerOutcome expected = evaluate_customer(base, {}, kNow);
    ASSERT_EQ(expected.episodes.size(), 2u);
    EXPECT_EQ(expected.episodes[0].churned_at, utc(2026, 5, 1));
    EXPECT_EQ(expected.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_EQ(expected.episodes[0].reactivated_at, utc(2026, 6, 1));
    EXPECT_EQ(expected.episodes[0].delivery_id, a_cancel_delivery);
    EXPECT_EQ(expected.episodes[1].churned_at, utc(2026, 8, 1, 0, 1));
    EXPECT_EQ(expected.episodes[1].reason, ChurnReason::Expired);
    EXPECT_TRUE(expected.churned);
    ASSERT_EQ(expected.subscriptions.size(), 3u);
    EXPECT_EQ(expected.subscriptions[0].charges_counted, 2);
    EXPECT_EQ(expected.subscriptions[2].charges_counted, 2);

    CustomerHistory reversed = base;
    std::reverse(reversed.subscriptions.begin(), reversed.subscriptions.end());
    std::reverse(reversed.charges.begin(), reversed.charges.end());
    std::reverse(reversed.customer.begin(), reversed.customer.end());
    EXPECT_EQ(evaluate_customer(reversed, {}, kNow), expected);

    std::mt19937 rng(20260611);
    for (int i = 0; i < 250; ++i) {
        CustomerHistory shuffled = base;
        std::shuffle(shuffled.subscriptions.begin(), shuffled.subscriptions.end(), rng);
        std::shuffle(shuffled.charges.begin(), shuffled.charges.end(), rng);
        std::shuffle(shuffled.customer.begin(), shuffled.customer.end(), rng);
        ASSERT_EQ(evaluate_customer(shuffled, {}, kNow), expected) << "shuffle " << i;
    }
}


// --- mutation pass of lib/rules.cpp: ChargeBook and normalisation --------------------

// The same fact stored again under a higher delivery id never decides an episode, however
// many versions the subscription has: the tables must not depend on which copy came first.
TEST(Rules, RedeliveryUnderAHigherIdNeverDecidesTheEpisode) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    for (int i = 0; i < 40; ++i) {
        f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 1, 2) + i * kHour, "updated");
    }
    f.cancelled(kSubA, utc(2026, 3, 1));
    const int64_t cancel = f.last_delivery();
    CustomerHistory h = f.history();
    const size_t versions = h.subscriptions.size();
    for (size_t i = 0; i < versions; ++i) add_redelivery_with_new_id(h.subscriptions, i, 8000 + i);
    std::mt19937 rng(20260611);
    for (int i = 0; i < 20; ++i) {
        std::shuffle(h.subscriptions.begin(), h.subscriptions.end(), rng);
        const CustomerOutcome out = evaluate_customer(h, {}, kNow);
        ASSERT_EQ(out.episodes.size(), 1u);
        ASSERT_EQ(out.episodes[0].delivery_id, cancel) << "shuffle " << i;
    }
}

// charge/paid and its legacy name charge/success are payments whatever status the payload
// decoded to: the payment resolves the earlier failure, so the cancel is the customer's own.
TEST(Rules, PaidOrSuccessTopicIsAPaymentWhateverTheStatus) {
    for (const char* action : {"paid", "success"}) {
        Facts f;
        f.created(kSubA, utc(2026, 1, 1));
        f.max_retries(9002, utc(2026, 2, 1), {kSubA});
        f.charge(9003, ChargeStatus::Unknown, utc(2026, 3, 1), {kSubA}, action);
        f.cancelled(kSubA, utc(2026, 6, 1));
        const CustomerOutcome out = f.evaluate();
        ASSERT_EQ(out.episodes.size(), 1u) << action;
        EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled) << action;
        ASSERT_EQ(out.subscriptions.size(), 1u);
        EXPECT_EQ(out.subscriptions[0].charges_counted, 1) << action;
    }
}

// A charge failed for good when its first flagged version says so: a later update still
// carrying the flag does not move the failure out of the cancel's grace, nor delay (or
// re-date) an auto-churn.
TEST(Rules, MaxRetriesTimeIsTheChargesFirstFlaggedVersion) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 3, 8, 4), {kSubA});
    f.cancelled(kSubA, utc(2026, 3, 8, 4, 5));
    f.max_retries(9002, utc(2026, 3, 8, 9), {kSubA}).action = "updated";
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].charge_id, 9002);

    Facts g;
    g.created(kSubA, utc(2026, 1, 1));
    g.max_retries(9002, utc(2026, 2, 1, 4), {kSubA});
    const int64_t failure = g.last_delivery();
    g.max_retries(9002, utc(2026, 2, 3), {kSubA}).action = "updated";
    const CustomerOutcome later = g.evaluate(auto_churn_after(7), utc(2026, 3, 1));
    ASSERT_EQ(later.episodes.size(), 1u);
    EXPECT_EQ(later.episodes[0].churned_at, utc(2026, 2, 8, 4));
    EXPECT_EQ(later.episodes[0].delivery_id, failure);
}

// A charge was paid when its first successful version says so: a later update of the paid
// charge (a note, a refund after the cancel) does not make the payment late, so the failure
// it resolved still does not explain the cancellation.
TEST(Rules, PaymentTimeIsTheChargesFirstSuccessfulVersion) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1), {kSubA});
    f.paid(9003, utc(2026, 3, 1), {kSubA});
    f.cancelled(kSubA, utc(2026, 6, 1));
    f.paid(9003, utc(2026, 7, 1), {kSubA}).action = "updated";
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_FALSE(out.episodes[0].charge_id.has_value());
}

// processed_at counts only on a successful version: a failed attempt's earlier processed_at
// does not date the payment, so a deletion dated by its creation ends when it was paid.
TEST(Rules, ProcessedAtOfAFailedAttemptDoesNotDateThePayment) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 12, 10));
    f.charge(9001, ChargeStatus::Error, utc(2026, 2, 12, 4), {kSubA}, "failed")
        .charge.processed_at = utc(2026, 2, 12, 4);
    f.paid(9001, utc(2026, 2, 15), {kSubA}).charge.processed_at = utc(2026, 2, 15);
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 1, 12, 10), "deleted");
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 2, 15));
}

// Only a payment strictly after a failure resolves it: another charge paid in the very same
// instant (one batch, one card) leaves the max-retries charge unresolved.
TEST(Rules, PaymentAtTheFailuresInstantDoesNotResolveIt) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.created(kSubB, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 3, 8, 4), {kSubA});
    f.paid(9003, utc(2026, 3, 8, 4), {kSubB});
    f.cancelled(kSubB, utc(2026, 3, 8, 4, 1));
    f.cancelled(kSubA, utc(2026, 3, 8, 4, 5));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].charge_id, 9002);
}

// A payment at the very instant of the end counts as paid before it: the failure it
// resolved does not explain the cancel.
TEST(Rules, PaymentAtTheEndsInstantResolvesTheFailure) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1), {kSubA});
    f.paid(9003, utc(2026, 6, 1), {kSubA});
    f.cancelled(kSubA, utc(2026, 6, 1));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
}

// Several unresolved max-retries charges explain one end: the episode names the latest, and
// at the same time the largest id, so the charge named never depends on the storage order.
TEST(Rules, LatestUnresolvedFailureIsTheOneNamed) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 3, 1), {kSubA});
    f.max_retries(9003, utc(2026, 3, 5), {kSubA});
    f.cancelled(kSubA, utc(2026, 3, 5, 0, 5));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].charge_id, 9003);

    Facts g;
    g.created(kSubA, utc(2026, 1, 1));
    g.max_retries(9002, utc(2026, 3, 5), {kSubA});
    g.max_retries(9003, utc(2026, 3, 5), {kSubA});
    g.cancelled(kSubA, utc(2026, 3, 5, 0, 5));
    const CustomerOutcome tie = g.evaluate();
    ASSERT_EQ(tie.episodes.size(), 1u);
    EXPECT_EQ(tie.episodes[0].charge_id, 9003);
}

// The payment that resolves a failure is found by time, not by charge id: an earlier charge id
// paid later must not hide a later id paid earlier.
TEST(Rules, ResolvingPaymentIsFoundByTimeNotById) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.paid(9001, utc(2026, 7, 1), {kSubA});
    f.paid(9002, utc(2026, 2, 1), {kSubA});
    f.max_retries(9003, utc(2026, 1, 15), {kSubA});
    f.cancelled(kSubA, utc(2026, 3, 1));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
}

// --- mutation pass of lib/rules.cpp: subscription intervals and how they ended -------

// The grace is inclusive ("up to an hour after the end"): the Nth paid charge exactly an hour
// after the cancel makes it an expiry, and a max-retries charge exactly an hour after it
// explains it.
TEST(Rules, GraceAfterTheEndIncludesItsLastInstant) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1)).sub.expire_after_charges = 2;
    f.paid(9001, utc(2026, 1, 1), {kSubA});
    f.cancelled(kSubA, utc(2026, 3, 1)).sub.expire_after_charges = 2;
    f.paid(9002, utc(2026, 3, 1, 1), {kSubA});
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Expired);

    Facts g;
    g.created(kSubA, utc(2026, 1, 1));
    g.cancelled(kSubA, utc(2026, 3, 8, 4));
    g.max_retries(9002, utc(2026, 3, 8, 5), {kSubA});
    const CustomerOutcome mr = g.evaluate();
    ASSERT_EQ(mr.episodes.size(), 1u);
    EXPECT_EQ(mr.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(mr.episodes[0].charge_id, 9002);
}

// The active period includes its first instant: a charge failing for good at the very moment
// the subscription started explains its end.
TEST(Rules, MaxRetriesAtTheStartOfThePeriodCounts) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 1, 1), {kSubA});
    f.cancelled(kSubA, utc(2026, 1, 1, 0, 5));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].charge_id, 9002);
}

// A deletion that carries a plausible cancelled_at ends then, as a cancellation does: only a
// deletion dated by the subscription's last change is pushed out to its latest paid charge.
TEST(Rules, DeletionWithAPlausibleCancelledAtEndsThere) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 12, 10));
    f.paid(9001, utc(2026, 2, 12, 4), {kSubA});
    SubscriptionFact& del = f.sub(kSubA, SubscriptionStatus::Cancelled, utc(2026, 3, 1), "deleted");
    del.sub.cancelled_at = utc(2026, 1, 20);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 1, 20));
}

// Only the cancel is known, without a created_at: still a churn at the cancel (the customer
// had the subscription until then), not a subscription that was never active.
TEST(Rules, CancelSeenAloneWithoutCreatedAtStillChurns) {
    Facts f;
    f.cancelled(kSubA, utc(2026, 5, 1)).sub.created_at.reset();
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 5, 1));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    EXPECT_TRUE(out.churned);
    EXPECT_TRUE(out.first_active_at.has_value());
}

// A subscription cancelled at its very creation (cancelled_at = created_at) was active for no
// time whether or not its subscription/created was seen: neither history makes the customer a
// subscriber who churned (rules 9; with the creation seen it never did, alone it churned).
// A deletion's updated_at only bounds its end from below: alone, it still churns.
TEST(Rules, CancelledAtItsCreationIsNoSubscriberWhetherOrNotTheCreationWasSeen) {
    const Micros t = utc(2026, 3, 1, 10);
    Facts seen;
    seen.created(kSubA, t);
    seen.cancelled(kSubA, t + 10 * kMinute).sub.cancelled_at = t;
    Facts alone;
    SubscriptionFact& cancel = alone.cancelled(kSubA, t + 10 * kMinute);
    cancel.sub.cancelled_at = t;
    cancel.sub.created_at = t;
    for (Facts* f : {&seen, &alone}) {
        const CustomerOutcome out = f->evaluate();
        EXPECT_TRUE(out.episodes.empty()) << (f == &seen ? "seen" : "alone");
        EXPECT_FALSE(out.first_active_at.has_value()) << (f == &seen ? "seen" : "alone");
        EXPECT_FALSE(out.churned);
    }
    Facts deleted;
    deleted.sub(kSubA, SubscriptionStatus::Active, t, "deleted");
    const CustomerOutcome out = deleted.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, t);
}

// expire_after_specific_number_of_charges 0 sets no limit: a cancel is the customer's own,
// not an expiry reached with zero charges.
TEST(Rules, ExpireAfterZeroChargesIsNoLimit) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1)).sub.expire_after_charges = 0;
    f.cancelled(kSubA, utc(2026, 2, 15)).sub.expire_after_charges = 0;
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
    ASSERT_EQ(out.subscriptions.size(), 1u);
    EXPECT_FALSE(out.subscriptions[0].expired);
}

// A subscription flagged max_retries_reached is flagged since its first flagged version (as a
// charge fails at its first flagged version): a payment after that resolves it, even when a
// later version still carries the stale flag, so the cancel is the customer's own.
TEST(Rules, SubscriptionFlagCountsFromItsFirstFlaggedVersion) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 3, 8), "updated").sub.max_retries_reached = true;
    f.paid(9003, utc(2026, 3, 20), {kSubA});
    f.sub(kSubA, SubscriptionStatus::Active, utc(2026, 4, 1), "updated").sub.max_retries_reached = true;
    f.cancelled(kSubA, utc(2026, 5, 1));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Cancelled);
}

// A failure before a reactivation, never paid past, belongs to the earlier end: the next end
// is explained only by what happened in its own active period.
TEST(Rules, AFailureBeforeAReactivationDoesNotExplainTheNextEnd) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 1, 15), {kSubA});
    f.cancelled(kSubA, utc(2026, 2, 1));
    f.activated(kSubA, utc(2026, 3, 1));
    f.cancelled(kSubA, utc(2026, 4, 1));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 2u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[1].reason, ChurnReason::Cancelled);
    EXPECT_FALSE(out.episodes[1].charge_id.has_value());
}

// The Nth charge failing for good, then the subscription marked expired: max_retries wins
// (README: the last charge was never paid).
TEST(Rules, MaxRetriesWinsOverExpiry) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1)).sub.expire_after_charges = 3;
    f.paid(9001, utc(2026, 1, 1), {kSubA});
    f.paid(9002, utc(2026, 2, 1), {kSubA});
    f.max_retries(9003, utc(2026, 3, 1), {kSubA});
    f.expired(kSubA, utc(2026, 3, 1, 0, 5), "expired").sub.expire_after_charges = 3;
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].category, ChurnCategory::Involuntary);
    EXPECT_EQ(out.episodes[0].charge_id, 9003);
}

// A negative attribution grace (a bad setting) acts as none: a max-retries charge in the
// cancel's own instant still explains it, one two hours later does not.
TEST(Rules, NegativeGraceActsAsZero) {
    RulesPolicy p;
    p.attribution_grace = -kHour;
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 3, 8, 4), {kSubA});
    f.cancelled(kSubA, utc(2026, 3, 8, 4));
    const CustomerOutcome out = f.evaluate(p);
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    Facts g;
    g.created(kSubA, utc(2026, 1, 1));
    g.cancelled(kSubA, utc(2026, 3, 8, 4));
    g.max_retries(9002, utc(2026, 3, 8, 6), {kSubA});
    const CustomerOutcome later = g.evaluate(p);
    ASSERT_EQ(later.episodes.size(), 1u);
    EXPECT_EQ(later.episodes[0].reason, ChurnReason::Cancelled);
}

// --- mutation pass of lib/rules.cpp: customer signals, auto-churn points and the timeline ---

// A customer record merely showing status ACTIVE (customer/created before any subscription)
// is no activation: without a subscription the customer was never active.
TEST(Rules, ActiveCustomerStatusAloneIsNoActivation) {
    Facts f;
    f.customer("created", utc(2026, 1, 1), CustomerStatus::Active);
    f.customer("updated", utc(2026, 2, 1), CustomerStatus::Active);
    const CustomerOutcome out = f.evaluate();
    EXPECT_FALSE(out.first_active_at.has_value());
    EXPECT_FALSE(out.churned);
    EXPECT_TRUE(out.episodes.empty());
}

// A deactivation with nothing seen before it counts the customer active since its earliest
// known creation (the customer's versions may disagree on created_at).
TEST(Rules, ImplicitActivityStartsAtTheEarliestCustomerCreation) {
    Facts f;
    f.customer("updated", utc(2026, 3, 1), CustomerStatus::Unknown).customer.created_at =
        utc(2026, 1, 10);
    f.customer("deactivated", utc(2026, 4, 1), CustomerStatus::Inactive).customer.created_at =
        utc(2026, 2, 10);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.first_active_at, utc(2026, 1, 10));
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 4, 1));
}

// A status-only INACTIVE version and a customer/deactivated in the same instant act as one
// deactivation, and it is the announced one: the customer still churns then, dated by it.
TEST(Rules, SameInstantDeactivationsKeepTheAnnouncedOne) {
    Facts f;
    f.customer("updated", utc(2026, 4, 1), CustomerStatus::Inactive);
    f.customer("deactivated", utc(2026, 4, 1), CustomerStatus::Inactive);
    const int64_t announced = f.last_delivery();
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 4, 1));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Deactivated);
    EXPECT_EQ(out.episodes[0].delivery_id, announced);
}

// An auto-churn moment exactly at `now` is due ("not after now").
TEST(Rules, AutoChurnDueExactlyAtNow) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1, 4), {kSubA});
    const CustomerOutcome out = f.evaluate(auto_churn_after(7), utc(2026, 2, 8, 4));
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 2, 8, 4));
    EXPECT_TRUE(out.churned);
}

// A subscription/activated payload that still shows the subscription ended is no return: it
// does not lift a deactivation.
TEST(Rules, SubscriptionActivatedShowingAnEndedStatusIsNoReturn) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.customer("deactivated", utc(2026, 3, 1, 10));
    f.sub(kSubA, SubscriptionStatus::Cancelled, utc(2026, 4, 1, 10), "activated");
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 1, 10));
    EXPECT_FALSE(out.episodes[0].reactivated_at.has_value());
    EXPECT_TRUE(out.churned);
}

// A customer/activated in the instant the last subscription ends keeps the customer active:
// the activation is a sign of life after that end, not a stretch of the ended subscription.
TEST(Rules, ActivationInTheInstantTheLastSubscriptionEndsKeepsTheCustomerActive) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 3, 1, 10));
    f.customer("activated", utc(2026, 3, 1, 10), CustomerStatus::Active);
    const CustomerOutcome out = f.evaluate();
    EXPECT_TRUE(out.episodes.empty());
    EXPECT_FALSE(out.churned);
}

// A subscription created in the very instant of a customer/deactivated is not activity
// before it: the deactivation still counts the customer active until then, so it churns.
TEST(Rules, SubscriptionStartingAtTheDeactivationIsNotActivityBeforeIt) {
    Facts f;
    f.created(kSubA, utc(2026, 3, 1, 10));
    f.customer("deactivated", utc(2026, 3, 1, 10));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 1, 10));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Deactivated);
    EXPECT_TRUE(out.churned);
}

// Nor is a customer/activated in the deactivation's instant: a lone deactivation still dates
// a churn then.
TEST(Rules, ActivationAtTheDeactivationIsNotActivityBeforeIt) {
    Facts f;
    f.customer("deactivated", utc(2026, 3, 1, 10));
    f.customer("activated", utc(2026, 3, 1, 10));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 1, 10));
    EXPECT_TRUE(out.churned);
}

// --- mutation pass of lib/rules.cpp: attribution and the outcome ---------------------

// A customer activation in the very instant of its deactivation is activity the later
// subscription end does not explain: the churn stays "deactivated", without a subscription.
TEST(Rules, ActivationInTheDeactivationsInstantIsNotExplainedByALaterEnd) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.customer("deactivated", utc(2026, 3, 1, 10));
    f.customer("activated", utc(2026, 3, 1, 10));
    f.cancelled(kSubA, utc(2026, 3, 1, 10, 10));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 3, 1, 10));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::Deactivated);
    EXPECT_FALSE(out.episodes[0].subscription_id.has_value());
}

// After a return by customer/activated, a cancel and a deactivation in one instant are decided
// by the cancel (its delivery), as they are without the return.
TEST(Rules, CancelAndDeactivationInOneInstantAfterAReturnAreTheCancels) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.customer("deactivated", utc(2026, 2, 1), CustomerStatus::Inactive);
    f.customer("activated", utc(2026, 3, 1), CustomerStatus::Active);
    f.cancelled(kSubA, utc(2026, 4, 1));
    const int64_t cancel = f.last_delivery();
    f.customer("deactivated", utc(2026, 4, 1), CustomerStatus::Inactive);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 2u);
    EXPECT_EQ(out.episodes[1].churned_at, utc(2026, 4, 1));
    EXPECT_EQ(out.episodes[1].reason, ChurnReason::Cancelled);
    EXPECT_EQ(out.episodes[1].subscription_id, kSubA);
    EXPECT_EQ(out.episodes[1].delivery_id, cancel);
}

// Two last subscriptions ending in the same instant: the episode names the larger id, so the
// name never depends on the order the facts were stored in.
TEST(Rules, SimultaneousLastEndsNameTheLargestSubscription) {
    Facts f;
    f.created(kSubB, utc(2026, 1, 1));
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubB, utc(2026, 4, 1));
    f.cancelled(kSubA, utc(2026, 4, 1));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].subscription_id, kSubB);
}

// Another subscription closed out by max retries explains the last end from exactly an hour
// before it ("within the hour"), and in the very same instant it wins over a plain cancel of
// a larger id.
TEST(Rules, MaxRetriesEndExplainsTheLastEndAtBothEdgesOfTheHour) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.created(kSubB, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 3, 1, 10)).sub.max_retries_reached = true;
    f.cancelled(kSubB, utc(2026, 3, 1, 11));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].subscription_id, kSubA);

    Facts g;
    g.created(kSubA, utc(2026, 1, 1));
    g.created(kSubB, utc(2026, 1, 1));
    g.cancelled(kSubA, utc(2026, 3, 1, 10)).sub.max_retries_reached = true;
    g.cancelled(kSubB, utc(2026, 3, 1, 10));
    const CustomerOutcome same = g.evaluate();
    ASSERT_EQ(same.episodes.size(), 1u);
    EXPECT_EQ(same.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(same.episodes[0].subscription_id, kSubA);
}

// A max-retries charge from before the customer's return does not explain a deactivation in
// the new period, even unpaid: that failure belonged to the earlier churn.
TEST(Rules, FailureBeforeAReturnDoesNotExplainTheNextDeactivation) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 1, 15), {kSubA});
    f.customer("deactivated", utc(2026, 2, 1), CustomerStatus::Inactive);
    f.customer("activated", utc(2026, 3, 1), CustomerStatus::Active);
    f.customer("deactivated", utc(2026, 4, 1), CustomerStatus::Inactive);
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 2u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[1].reason, ChurnReason::Deactivated);
    EXPECT_FALSE(out.episodes[1].charge_id.has_value());
}

// A deactivation explained by an unresolved charge on one subscription, followed within the
// hour by the end of another: the episode takes the subscription that ended with it.
TEST(Rules, DeactivationTakesTheEndingSubscriptionNotTheChargedOne) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.created(kSubB, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 3, 1, 9), {kSubA});
    f.customer("deactivated", utc(2026, 3, 1, 10), CustomerStatus::Inactive);
    f.cancelled(kSubB, utc(2026, 3, 1, 10, 10));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].charge_id, 9002);
    EXPECT_EQ(out.episodes[0].subscription_id, kSubB);
}

// A subscription closed out by max retries before the customer's return does not explain a
// deactivation in the new period, even within the hour: the episode takes the end that
// followed the deactivation, as cancelled.
TEST(Rules, MaxRetriesEndBeforeAReturnDoesNotExplainTheNextDeactivation) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 3, 1, 10)).sub.max_retries_reached = true;
    f.created(kSubB, utc(2026, 3, 1, 10, 10));
    f.customer("deactivated", utc(2026, 3, 1, 10, 30), CustomerStatus::Inactive);
    f.cancelled(kSubB, utc(2026, 3, 1, 10, 40));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 2u);
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[1].churned_at, utc(2026, 3, 1, 10, 30));
    EXPECT_EQ(out.episodes[1].reason, ChurnReason::Cancelled);
    EXPECT_EQ(out.episodes[1].subscription_id, kSubB);
}

// The last subscription cancelled in the very instant its max-retries charge reaches the
// auto-churn moment: the cancel decides the episode (its delivery), as it would without the
// policy.
TEST(Rules, CancelAtTheAutoChurnMomentIsDecidedByTheCancel) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.max_retries(9002, utc(2026, 2, 1, 4), {kSubA});
    f.cancelled(kSubA, utc(2026, 2, 8, 4));
    const int64_t cancel = f.last_delivery();
    const CustomerOutcome out = f.evaluate(auto_churn_after(7), utc(2026, 3, 1));
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.episodes[0].churned_at, utc(2026, 2, 8, 4));
    EXPECT_EQ(out.episodes[0].reason, ChurnReason::MaxRetries);
    EXPECT_EQ(out.episodes[0].delivery_id, cancel);
}

// first_active_at is the first time the customer was ever active, not its latest return.
TEST(Rules, FirstActiveAtStaysTheFirstAfterAReturn) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.cancelled(kSubA, utc(2026, 2, 1));
    f.activated(kSubA, utc(2026, 3, 1));
    const CustomerOutcome out = f.evaluate();
    ASSERT_EQ(out.episodes.size(), 1u);
    EXPECT_EQ(out.first_active_at, utc(2026, 1, 1));
}

// first_seen_at / last_event_at span every business time the facts carry: a cancelled_at
// within the version's second, a charge's created_at before anything else.
TEST(Rules, SeenTimesIncludeCancelledAtAndChargeCreation) {
    Facts f;
    f.created(kSubA, utc(2026, 1, 1));
    f.paid(9001, utc(2026, 1, 2), {kSubA}).charge.created_at = utc(2025, 12, 31);
    f.cancelled(kSubA, utc(2026, 5, 1)).sub.cancelled_at = utc(2026, 5, 1) + 250000;
    const CustomerOutcome out = f.evaluate();
    EXPECT_EQ(out.first_seen_at, utc(2025, 12, 31));
    EXPECT_EQ(out.last_event_at, utc(2026, 5, 1) + 250000);
}

}  // namespace
}  // namespace churnwatch
