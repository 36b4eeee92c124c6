// The churn rules engine: pure functions from a customer's observed facts to its churn
// episodes. No SQL, no sockets, no clock (the caller passes `now`, used only by the optional
// auto-churn policy). The same facts in any order give the same outcome.
// A change to what these rules compute needs kRulesVersion (churn_store.h) bumped, so that
// databases derived by the old rules are told to rebuild.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "model.h"

namespace churnwatch {

// One observed version of an object, as one delivery carried it.
// `action` is the topic's action ("cancelled", "activated", "deleted", "max_retries_reached",
// "paid", "deactivated", …). `order_key` breaks ties between versions with the same
// updated_at deterministically (the delivery's dedupe key), so arrival order never matters.
struct SubscriptionFact {
    Subscription sub;
    std::string action;
    int64_t delivery_id = 0;
    std::string order_key;
};
struct ChargeFact {
    Charge charge;
    std::string action;
    int64_t delivery_id = 0;
    std::string order_key;
};
struct CustomerFact {
    Customer customer;
    std::string action;
    int64_t delivery_id = 0;
    std::string order_key;
};

// The order of one object's versions: business time (updated_at); on a tie, a deletion after
// any other version (Recharge sends a deleted object as it was, often with the updated_at of
// its last change, so a tie broken by order_key alone lost the deletion about half the time);
// then order_key. Arrival order never matters.
inline std::tuple<Micros, bool, const std::string&> version_key(Micros updated_at,
                                                                const std::string& action,
                                                                const std::string& order_key) {
    return {updated_at, action == "deleted", order_key};
}

struct CustomerHistory {
    int64_t customer_id = 0;
    std::vector<SubscriptionFact> subscriptions;
    std::vector<ChargeFact> charges;
    std::vector<CustomerFact> customer;
};

enum class ChurnReason { Cancelled, MaxRetries, Expired, Deactivated };
enum class ChurnCategory { Voluntary, Involuntary, Natural };
std::string_view to_string(ChurnReason r);    // "cancelled" "max_retries" "expired" "deactivated"
std::string_view to_string(ChurnCategory c);  // "voluntary" "involuntary" "natural"
ChurnCategory category_of(ChurnReason r);     // cancelled, deactivated → voluntary;
                                              // max_retries → involuntary; expired → natural

struct ChurnEpisode {
    Micros churned_at = 0;
    std::optional<Micros> reactivated_at;    // nullopt while the customer stays churned
    ChurnReason reason = ChurnReason::Cancelled;
    ChurnCategory category = ChurnCategory::Voluntary;
    std::optional<int64_t> subscription_id;  // the subscription whose end caused it
    std::optional<int64_t> charge_id;        // the max-retries charge, when that is the reason
    int64_t delivery_id = 0;                 // the delivery whose fact decided churned_at
    bool operator==(const ChurnEpisode&) const = default;
};

struct SubscriptionOutcome {
    int64_t id = 0;
    bool active = false;           // active at the end of the history
    int64_t charges_counted = 0;   // distinct successful charges covering it (toward expiry)
    bool expired = false;          // ended by expiry (status expired, or count reached)
    bool operator==(const SubscriptionOutcome&) const = default;
};

struct CustomerOutcome {
    int64_t customer_id = 0;
    bool churned = false;                  // status at the end of the history
    std::optional<Micros> first_seen_at;   // earliest business time of any fact / start
    std::optional<Micros> first_active_at;  // first became active; nullopt: never was
    std::optional<Micros> churned_at;      // of the open episode, when churned
    std::optional<Micros> last_event_at;   // latest business time of any fact
    int64_t active_subscriptions = 0;      // our own count at the end of the history
    std::vector<ChurnEpisode> episodes;    // ordered by churned_at
    std::vector<SubscriptionOutcome> subscriptions;  // ordered by id
    bool operator==(const CustomerOutcome&) const = default;
};

struct RulesPolicy {
    // A max-retries charge explains a subscription end (or a deactivation) up to this long
    // after the end as well as any time before it within the active period.
    Micros attribution_grace = 3600 * kMicrosPerSecond;
    // Optional (off by default): a customer still active this many days after a max-retries
    // charge that no later successful charge resolved is churned (max_retries) at
    // charge time + N days, provided that moment is not after `now`.
    std::optional<int64_t> auto_churn_after_max_retries_days;
};

CustomerOutcome evaluate_customer(const CustomerHistory& history, const RulesPolicy& policy,
                                  Micros now);

}  // namespace churnwatch
