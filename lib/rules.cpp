// The churn rules engine (contract in rules.h).
//
// Every observed version of a customer's subscriptions, charges and customer record is kept;
// the engine rebuilds an activity timeline from them and reads churn episodes off its gaps:
//   1. subscription versions → active intervals, each with the evidence about how it ended;
//   2. charge versions → max-retries times, successful payments, resolution of failures;
//   3. customer versions → deactivation / activation points (+ optional auto-churn points);
//   4. sweep: active ⇔ covered by some activity and not inside a forced-inactive period;
//   5. each active→inactive transition is an episode, attributed to what caused it.
// Everything is computed from the de-duplicated facts sorted by business time, never from
// arrival order, so the same set of facts always gives the same outcome.
#include "rules.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <utility>

namespace churnwatch {
namespace {

// "No end": an open interval, or a period nothing has lifted yet.
constexpr Micros kForever = std::numeric_limits<Micros>::max();
constexpr Micros kMicrosPerDay = 86400 * kMicrosPerSecond;

// Times near the ends of the range (and odd policy values) must not wrap around.
Micros add_saturated(Micros t, Micros d) {  // d ≥ 0
    return t > kForever - d ? kForever : t + d;
}

Micros sub_saturated(Micros t, Micros d) {  // d ≥ 0
    constexpr Micros kMin = std::numeric_limits<Micros>::min();
    return t < kMin + d ? kMin : t - d;
}

// ---------------------------------------------------------------------------------------
// Normalisation: one version per (object id, order_key), sorted by version_key (rules.h).

const Subscription& object_of(const SubscriptionFact& f) { return f.sub; }
const Charge& object_of(const ChargeFact& f) { return f.charge; }
const Customer& object_of(const CustomerFact& f) { return f.customer; }

// Tie-breaks on content, so that two facts claiming the same (id, order_key) collapse to the
// same survivor whatever order they arrived in (they should be identical; be safe anyway).
auto content_key(const SubscriptionFact& f) {
    const Subscription& s = f.sub;
    return std::tie(s.updated_at, f.action, s.status, s.cancelled_at, s.created_at,
                    s.max_retries_reached, s.expire_after_charges);
}
auto content_key(const ChargeFact& f) {
    const Charge& c = f.charge;
    return std::tie(c.updated_at, f.action, c.status, c.max_retries_reached, c.subscription_ids,
                    c.created_at);
}
auto content_key(const CustomerFact& f) {
    const Customer& c = f.customer;
    return std::tie(c.updated_at, f.action, c.status, c.created_at);
}

template <class Fact>
bool dedupe_order(const Fact& a, const Fact& b) {
    auto key = [](const Fact& f) {
        return std::tuple_cat(std::tie(object_of(f).id, f.order_key, f.delivery_id),
                              content_key(f));
    };
    return key(a) < key(b);
}

template <class Fact>
bool version_order(const Fact& a, const Fact& b) {
    return version_key(object_of(a).updated_at, a.action, a.order_key) <
           version_key(object_of(b).updated_at, b.action, b.order_key);
}

// One object's distinct versions, in business-time order. Pointers into the history: the
// facts are not copied (sorting 300-byte facts with their strings cost more than the rules).
template <class Fact>
using Versions = std::vector<const Fact*>;
template <class Fact>
using VersionsById = std::map<int64_t, Versions<Fact>>;

// Iterates a Versions as references to the facts. (Not std::views::transform: clang 14, which
// builds the fuzz targets, cannot compile libstdc++ 12's ranges.)
template <class Fact>
class Each {
public:
    explicit Each(const Versions<Fact>& versions) : versions_(versions) {}
    struct Iterator {
        typename Versions<Fact>::const_iterator at;
        const Fact& operator*() const { return **at; }
        Iterator& operator++() {
            ++at;
            return *this;
        }
        bool operator!=(const Iterator& other) const { return at != other.at; }
    };
    Iterator begin() const { return {versions_.begin()}; }
    Iterator end() const { return {versions_.end()}; }

private:
    const Versions<Fact>& versions_;
};
template <class Fact>
Each<Fact> each(const Versions<Fact>& versions) {
    return Each<Fact>(versions);
}

// Object id → its distinct versions in business-time order. Duplicates (same order_key for
// the same object) keep the lowest delivery id, so the survivor never depends on arrival.
template <class Fact>
VersionsById<Fact> versions_by_id(const std::vector<Fact>& facts) {
    Versions<Fact> sorted;
    sorted.reserve(facts.size());
    for (const Fact& f : facts) sorted.push_back(&f);
    std::sort(sorted.begin(), sorted.end(),
              [](const Fact* a, const Fact* b) { return dedupe_order(*a, *b); });
    auto same_version = [](const Fact* a, const Fact* b) {
        return object_of(*a).id == object_of(*b).id && a->order_key == b->order_key;
    };
    sorted.erase(std::unique(sorted.begin(), sorted.end(), same_version), sorted.end());
    VersionsById<Fact> out;
    for (const Fact* f : sorted) out[object_of(*f).id].push_back(f);
    for (auto& [id, versions] : out) {
        std::sort(versions.begin(), versions.end(),
                  [](const Fact* a, const Fact* b) { return version_order(*a, *b); });
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Step 2: charges.

bool is_success(const ChargeFact& f) {
    return f.charge.status == ChargeStatus::Success || f.action == "paid" ||
           f.action == "success";
}

struct ChargeInfo {
    int64_t id = 0;
    std::set<int64_t> subscription_ids;   // union over versions: line items rarely change
    std::optional<Micros> max_retries_at;  // earliest version flagged max_retries_reached
    int64_t max_retries_delivery = 0;
    std::optional<Micros> paid_at;         // earliest successful version
    // When it was processed, as its successful versions say (earliest): a later update of a
    // paid charge (a refund, a note) is dated by its own updated_at, not by the payment.
    std::optional<Micros> processed_at;
};

ChargeInfo summarize_charge(int64_t id, const Versions<ChargeFact>& versions) {
    ChargeInfo info;
    info.id = id;
    for (const ChargeFact& f : each(versions)) {  // business-time order: the first hit is earliest
        info.subscription_ids.insert(f.charge.subscription_ids.begin(),
                                     f.charge.subscription_ids.end());
        if (f.charge.max_retries_reached && !info.max_retries_at) {
            info.max_retries_at = f.charge.updated_at;
            info.max_retries_delivery = f.delivery_id;
        }
        if (is_success(f) && !info.paid_at) info.paid_at = f.charge.updated_at;
        if (is_success(f) && f.charge.processed_at &&
            (!info.processed_at || *f.charge.processed_at < *info.processed_at))
            info.processed_at = f.charge.processed_at;
    }
    return info;
}

class ChargeBook {
public:
    explicit ChargeBook(const VersionsById<ChargeFact>& versions) {
        for (const auto& [id, list] : versions) charges_.push_back(summarize_charge(id, list));
        for (const ChargeInfo& c : charges_)
            if (c.paid_at) paid_times_.push_back(*c.paid_at);
        std::sort(paid_times_.begin(), paid_times_.end());
    }

    const std::vector<ChargeInfo>& charges() const { return charges_; }

    // A failed-for-good charge at tc stops mattering once the customer pays again: the first
    // successful charge (any charge, including a later success of the same one) after tc.
    // A search, not a walk over every charge: it is asked once per failed charge, and a
    // customer with years of charges made that quadratic.
    Micros resolved_at(Micros tc) const {
        auto it = std::upper_bound(paid_times_.begin(), paid_times_.end(), tc);
        return it == paid_times_.end() ? kForever : *it;
    }

    bool unresolved_at(Micros tc, Micros t) const { return resolved_at(tc) > t; }

    // Distinct successful charges covering the subscription, paid no later than `until`.
    int64_t paid_covering(int64_t sub_id, Micros until) const {
        int64_t n = 0;
        for (const ChargeInfo& c : charges_) {
            if (c.paid_at && *c.paid_at <= until && c.subscription_ids.contains(sub_id)) ++n;
        }
        return n;
    }

    // When the latest successful charge covering the subscription was processed (its
    // processed_at, else the updated_at of its first successful version; min: none).
    Micros latest_paid_covering(int64_t sub_id) const {
        Micros latest = std::numeric_limits<Micros>::min();
        for (const ChargeInfo& c : charges_) {
            if (c.paid_at && c.subscription_ids.contains(sub_id))
                latest = std::max(latest, c.processed_at.value_or(*c.paid_at));
        }
        return latest;
    }

    // The latest (then largest id) max-retries charge with tc in [from, to] still unresolved
    // at `at`; restricted to charges covering `sub_id` when given.
    const ChargeInfo* latest_unresolved_failure(std::optional<int64_t> sub_id, Micros from,
                                                Micros to, Micros at) const {
        const ChargeInfo* best = nullptr;
        for (const ChargeInfo& c : charges_) {
            if (!c.max_retries_at || *c.max_retries_at < from || *c.max_retries_at > to) continue;
            if (sub_id && !c.subscription_ids.contains(*sub_id)) continue;
            if (!unresolved_at(*c.max_retries_at, at)) continue;
            const bool later = !best || std::tie(*c.max_retries_at, c.id) >
                                            std::tie(*best->max_retries_at, best->id);
            if (later) best = &c;
        }
        return best;
    }

private:
    std::vector<ChargeInfo> charges_;  // by id
    std::vector<Micros> paid_times_;   // each charge's paid_at, sorted
};

// ---------------------------------------------------------------------------------------
// Step 1: subscription intervals.

struct SubInterval {
    int64_t sub_id = 0;
    Micros start = 0;
    Micros end = kForever;             // kForever while open
    int64_t end_delivery = 0;
    // Evidence from the terminal versions of this end (the closing one and any that follow
    // before a reopen), gathered while walking.
    bool status_expired = false;
    bool flag_max_retries = false;
    // Ended by a deletion dated by its updated_at (no plausible cancelled_at): the time of the
    // subscription's last change, which can be long before the deletion.
    bool end_from_deletion_update = false;
    // The versions before the end said max_retries_reached, from this time on (the flag may
    // be gone from the cancelling version itself).
    std::optional<Micros> flagged_since;
    // expire_after N known at a terminal version (cancelled, or deleted as it was): the end is
    // an expiry when N charges were paid by then.
    std::optional<int64_t> expire_limit;
    // Opened by a reactivation (not the subscription's first period): the count reaching the
    // limit makes its end an expiry only with a charge paid in this period (see
    // conclude_interval).
    bool reopened = false;
    // Conclusions, drawn once charges are known.
    bool expired = false;
    bool max_retries = false;
    std::optional<int64_t> charge_id;

    bool open() const { return end == kForever; }
    bool covers(Micros t) const { return start <= t && t < end; }
    bool nonempty() const { return start < end; }
};

bool is_terminal(const SubscriptionFact& f) {
    return f.action == "deleted" || f.sub.status == SubscriptionStatus::Cancelled ||
           f.sub.status == SubscriptionStatus::Expired;
}

// When a terminal version ended the subscription: cancelled_at when it is plausible (not
// before the start, not after the version itself), else the version's updated_at. Recharge
// sends updated_at in whole seconds and cancelled_at with microseconds (…:44 and
// …:44.512301): within the same second counts as not after.
bool plausible_cancelled_at(const SubscriptionFact& f, Micros not_before) {
    const auto& c = f.sub.cancelled_at;
    return c && *c >= not_before && *c < add_saturated(f.sub.updated_at, kMicrosPerSecond);
}

Micros end_time(const SubscriptionFact& f, Micros not_before) {
    return plausible_cancelled_at(f, not_before) ? *f.sub.cancelled_at : f.sub.updated_at;
}

// Whether this terminal version's end is a deletion's updated_at (see SubInterval).
bool dated_by_deletion_update(const SubscriptionFact& f, Micros not_before) {
    return f.action == "deleted" && !plausible_cancelled_at(f, not_before);
}

SubInterval open_interval(const SubscriptionFact& f, bool first_opening) {
    SubInterval iv;
    iv.sub_id = f.sub.id;
    iv.start = f.sub.updated_at;  // a reactivation starts when it was recorded
    if (first_opening && f.sub.created_at) iv.start = std::min(iv.start, *f.sub.created_at);
    return iv;
}

// First seen already ended: it was active from its creation until it ended.
SubInterval ended_before_seen(const SubscriptionFact& f) {
    SubInterval iv;
    iv.sub_id = f.sub.id;
    iv.end = end_time(f, std::numeric_limits<Micros>::min());
    iv.end_from_deletion_update = dated_by_deletion_update(f, std::numeric_limits<Micros>::min());
    iv.end_delivery = f.delivery_id;
    // Cancelled at its very creation (a cancelled_at equal to created_at) is active for no
    // time, as when the creation was seen too: [t, t) in both cases, never a subscriber by it.
    // Not so for a deletion's updated_at, which only bounds the end from below.
    const bool known_start = f.sub.created_at &&
                             (*f.sub.created_at < iv.end ||
                              (*f.sub.created_at == iv.end && !iv.end_from_deletion_update));
    if (known_start) {
        iv.start = *f.sub.created_at;
    } else {  // unknown creation: one microsecond of activity so the end is still a churn
        iv.start = sub_saturated(iv.end, 1);
    }
    return iv;
}

void add_end_evidence(SubInterval& iv, const SubscriptionFact& f,
                      std::optional<int64_t> expire_after) {
    iv.status_expired |= f.sub.status == SubscriptionStatus::Expired;
    iv.flag_max_retries |= f.sub.max_retries_reached;
    // A deletion counts as a cancel does: once the Nth charge is paid the subscription had run
    // its course, whoever removed it afterwards.
    if (expire_after && *expire_after > 0) {
        iv.expire_limit = expire_after;
    }
}

std::vector<SubInterval> walk_subscription(const Versions<SubscriptionFact>& versions) {
    std::vector<SubInterval> out;
    bool open = false;
    std::optional<int64_t> expire_after;  // latest known expire_after_specific_number_of_charges
    std::optional<Micros> flagged;        // while open: since when the versions say max retries
    for (const SubscriptionFact& f : each(versions)) {
        if (f.sub.expire_after_charges) expire_after = f.sub.expire_after_charges;
        if (is_terminal(f)) {
            if (open) {
                out.back().end = end_time(f, out.back().start);
                out.back().end_from_deletion_update = dated_by_deletion_update(f, out.back().start);
                out.back().end_delivery = f.delivery_id;
                out.back().flagged_since = flagged;
                open = false;
            } else if (out.empty()) {
                out.push_back(ended_before_seen(f));
            }
            // Closed already: no new timing, but the version still tells how it ended.
            add_end_evidence(out.back(), f, expire_after);
        } else if (f.sub.status == SubscriptionStatus::Active && !open) {
            out.push_back(open_interval(f, out.empty()));
            out.back().reopened = out.size() > 1;
            open = true;
            flagged.reset();
        }
        // Onetime / Unknown: says nothing about the subscription being active.
        if (open && !is_terminal(f)) {
            // The latest version's flag: a version without it (paid since) clears it.
            if (!f.sub.max_retries_reached) flagged.reset();
            else if (!flagged) flagged = f.sub.updated_at;
        }
    }
    return out;
}

// `back`: the customer's first sign of life after the end (kForever: none). The grace looks
// past the end only until then: a charge that fails (or is paid) after the customer came
// back belongs to the new period, not to this end.
void conclude_interval(SubInterval& iv, const ChargeBook& book, Micros grace, Micros back) {
    if (iv.open()) return;
    const Micros horizon = std::min(add_saturated(iv.end, grace), sub_saturated(back, 1));
    // Recharge expires a subscription as it processes the Nth charge: a reactivated one whose
    // count already stood at N is not expired again until a charge is paid after the
    // reactivation (the merchant may have raised N; either way a cancel before then is the
    // customer's).
    bool limit_reached = false;
    if (iv.expire_limit) {
        const int64_t paid = book.paid_covering(iv.sub_id, horizon);
        limit_reached = paid >= *iv.expire_limit &&
                        (!iv.reopened || paid > book.paid_covering(iv.sub_id, sub_saturated(iv.start, 1)));
    }
    iv.expired = iv.status_expired || limit_reached;
    // A failure the customer has since paid past does not explain this end.
    const ChargeInfo* c = book.latest_unresolved_failure(iv.sub_id, iv.start, horizon, iv.end);
    if (c) iv.charge_id = c->id;
    // Flagged while still active and not paid past before the end (the same test as for a
    // charge): the cancellation that followed is the store closing it out.
    const bool flagged = iv.flagged_since && book.unresolved_at(*iv.flagged_since, iv.end);
    iv.max_retries = iv.flag_max_retries || flagged || c != nullptr;
}

// ---------------------------------------------------------------------------------------
// Step 3: customer signals.

// A moment that forces the customer inactive: a deactivation, or an auto-churn point.
struct Point {
    Micros at = 0;
    int64_t delivery_id = 0;
    std::optional<int64_t> charge_id;  // auto-churn: the unresolved charge
    // Auto-churn: when that charge got resolved. A deactivation (in the timeline): the
    // customer's first sign of life after it.
    Micros lifted_at = kForever;
    bool announced = false;            // a customer/deactivated event, not just a status
};

struct CustomerSignals {
    std::vector<Point> deactivations;  // sorted, one per time
    std::vector<Micros> activations;   // sorted, unique
    std::optional<Micros> created_at;
    // The latest version that reported no subscription ever (subscriptions_total_count /
    // number_subscriptions 0): up to then the customer was never a subscriber, so its record
    // alone (an activation, a deactivation) makes it neither active nor churned.
    std::optional<Micros> never_subscribed_until;
};

enum class CustomerSignal { None, Deactivated, Activated };

// The topic's action is more specific than a status that may lag, so it decides first.
CustomerSignal classify(const CustomerFact& f, bool known_inactive) {
    if (f.action == "activated") return CustomerSignal::Activated;
    if (f.action == "deactivated") return CustomerSignal::Deactivated;
    if (f.customer.status == CustomerStatus::Inactive) return CustomerSignal::Deactivated;
    if (f.customer.status == CustomerStatus::Active && known_inactive) {
        return CustomerSignal::Activated;
    }
    return CustomerSignal::None;
}

void read_customer_versions(const Versions<CustomerFact>& versions, CustomerSignals& out) {
    bool known_inactive = false;  // the latest version with a signal or status said inactive
    for (const CustomerFact& f : each(versions)) {
        const Customer& c = f.customer;
        if (c.created_at && (!out.created_at || *c.created_at < *out.created_at)) {
            out.created_at = c.created_at;
        }
        if (c.total_subscriptions == 0 &&
            (!out.never_subscribed_until || c.updated_at > *out.never_subscribed_until)) {
            out.never_subscribed_until = c.updated_at;
        }
        switch (classify(f, known_inactive)) {
        case CustomerSignal::Deactivated:
            out.deactivations.push_back(
                {c.updated_at, f.delivery_id, std::nullopt, kForever, f.action == "deactivated"});
            known_inactive = true;
            break;
        case CustomerSignal::Activated:
            out.activations.push_back(c.updated_at);
            known_inactive = false;
            break;
        case CustomerSignal::None:
            if (c.status == CustomerStatus::Active) known_inactive = false;
            break;
        }
    }
}

// Several points at one time act as one: keep an announced one, then the earliest delivery,
// for a stable answer.
void sort_unique_points(std::vector<Point>& points) {
    std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
        return std::tuple(a.at, !a.announced, a.delivery_id) <
               std::tuple(b.at, !b.announced, b.delivery_id);
    });
    auto same_time = [](const Point& a, const Point& b) { return a.at == b.at; };
    points.erase(std::unique(points.begin(), points.end(), same_time), points.end());
}

CustomerSignals customer_signals(const VersionsById<CustomerFact>& versions) {
    CustomerSignals out;
    for (const auto& [id, list] : versions) read_customer_versions(list, out);
    sort_unique_points(out.deactivations);
    std::sort(out.activations.begin(), out.activations.end());
    out.activations.erase(std::unique(out.activations.begin(), out.activations.end()),
                          out.activations.end());
    // An activation of a customer that had no subscription then is not a subscriber's.
    if (out.never_subscribed_until) {
        const Micros until = *out.never_subscribed_until;
        std::erase_if(out.activations, [until](Micros a) { return a <= until; });
    }
    return out;
}

// subscription/activated ("a cancelled subscription reactivated") is a sign of life like
// customer/activated, even when churnwatch never saw that subscription end: after a
// customer/deactivated whose subscription cancellations were missed, it is what says the
// customer came back (the subscription's own interval, open all along, starts nothing new).
void add_subscription_activations(CustomerSignals& sig,
                                  const VersionsById<SubscriptionFact>& versions) {
    bool added = false;
    for (const auto& [id, list] : versions) {
        for (const SubscriptionFact& f : each(list)) {
            if (f.action == "activated" && !is_terminal(f)) {
                sig.activations.push_back(f.sub.updated_at);
                added = true;
            }
        }
    }
    if (!added) return;
    std::sort(sig.activations.begin(), sig.activations.end());
    sig.activations.erase(std::unique(sig.activations.begin(), sig.activations.end()),
                          sig.activations.end());
}

std::vector<Point> auto_churn_points(const ChargeBook& book, const RulesPolicy& policy,
                                     Micros now) {
    std::vector<Point> out;
    if (!policy.auto_churn_after_max_retries_days) return out;
    const int64_t days = std::max<int64_t>(*policy.auto_churn_after_max_retries_days, 0);
    const Micros wait = days > kForever / kMicrosPerDay ? kForever : days * kMicrosPerDay;
    for (const ChargeInfo& c : book.charges()) {
        if (!c.max_retries_at) continue;
        const Micros at = add_saturated(*c.max_retries_at, wait);
        const Micros resolved = book.resolved_at(*c.max_retries_at);
        if (at == kForever || at > now || resolved <= at) continue;
        out.push_back({at, c.max_retries_delivery, c.id, resolved});
    }
    sort_unique_points(out);
    return out;
}

// ---------------------------------------------------------------------------------------
// Step 4: the activity timeline.

// Activity that is not a subscription interval: a customer activation, or the implicit
// activity before a deactivation nothing else explains. `cut` = its end is a deactivation.
struct Span {
    Micros start = 0;
    Micros end = kForever;
    bool cut = false;
    bool covers(Micros t) const { return start <= t && t < end; }
};

struct Timeline {
    std::vector<SubInterval> subs;
    std::vector<Span> cover;  // merged_cover(subs)
    std::vector<Span> extra;
    std::vector<Span> forced;  // forced-inactive periods
    std::vector<Point> deactivations;
    std::vector<Point> auto_points;
};

// The union of the subscription intervals as disjoint spans; touching intervals merge, since
// a subscription starting as another ends leaves no gap.
std::vector<Span> merged_cover(const std::vector<SubInterval>& subs) {
    std::vector<Span> spans;
    for (const SubInterval& iv : subs) {
        if (iv.nonempty()) spans.push_back({iv.start, iv.end, false});
    }
    std::sort(spans.begin(), spans.end(),
              [](const Span& a, const Span& b) { return a.start < b.start; });
    std::vector<Span> merged;
    for (const Span& s : spans) {
        if (!merged.empty() && s.start <= merged.back().end) {
            merged.back().end = std::max(merged.back().end, s.end);
        } else {
            merged.push_back(s);
        }
    }
    return merged;
}

Micros first_point_after(const std::vector<Point>& points, Micros t) {
    for (const Point& p : points) {
        if (p.at > t) return p.at;
    }
    return kForever;
}

// When the subscriptions covering the customer at or after t (present or started later) stop
// covering it: the end of the first stretch of `cover` that ends after t (kForever: none).
Micros cover_ends_after(const std::vector<Span>& cover, Micros t) {
    Micros end = kForever;
    for (const Span& s : cover) {
        if (s.end > t) end = std::min(end, s.end);
    }
    return end;
}

// An activation lasts until the next deactivation or until the subscriptions it rides on
// (present or started later) stop covering the customer, whichever comes first.
std::vector<Span> activation_spans(const CustomerSignals& sig, const std::vector<Span>& cover) {
    std::vector<Span> out;
    for (Micros a : sig.activations) {
        const Micros uncovered = cover_ends_after(cover, a);
        const Micros deactivated = first_point_after(sig.deactivations, a);
        out.push_back({a, std::min(uncovered, deactivated), deactivated < uncovered});
    }
    return out;
}

// Recharge's deactivation is authoritative: if nothing we saw was active before the first
// one, assume the customer was active since creation (or just before) so it still counts.
// Only for a customer/deactivated event: a first version merely showing status INACTIVE
// (customer/created before any subscription, an update of a long-gone customer) says the
// customer is inactive, not that it churned then. And not when the customer's own record
// says it had no subscription at all by then (subscriptions_total_count 0 on the
// deactivation or later: a one-time buyer, a customer record alone): every churn cause
// concerns a subscription, so such a customer was never active and cannot churn.
std::optional<Span> implicit_activity(const CustomerSignals& sig,
                                      const std::vector<SubInterval>& subs) {
    if (sig.deactivations.empty() || !sig.deactivations.front().announced) return std::nullopt;
    const Micros p = sig.deactivations.front().at;
    if (sig.never_subscribed_until && *sig.never_subscribed_until >= p) return std::nullopt;
    for (const SubInterval& iv : subs) {
        if (iv.nonempty() && iv.start < p) return std::nullopt;
    }
    if (!sig.activations.empty() && sig.activations.front() < p) return std::nullopt;
    const bool known = sig.created_at && *sig.created_at < p;
    return Span{known ? *sig.created_at : sub_saturated(p, 1), p, true};
}

// The first sign of life after p: a customer activation or a subscription (re)start.
Micros first_activation_signal_after(Micros p, const CustomerSignals& sig,
                                     const std::vector<SubInterval>& subs) {
    Micros best = kForever;
    for (Micros a : sig.activations) {
        if (a > p) best = std::min(best, a);
    }
    for (const SubInterval& iv : subs) {
        if (iv.nonempty() && iv.start > p) best = std::min(best, iv.start);
    }
    return best;
}

// Every subscription's active intervals, each concluded (how it ended) with the evidence up
// to the grace after its end or the customer's next sign of life, whichever comes first.
std::vector<SubInterval> subscription_intervals(const VersionsById<SubscriptionFact>& versions,
                                                const ChargeBook& book, const CustomerSignals& sig,
                                                Micros grace) {
    std::vector<SubInterval> all;
    for (const auto& [id, list] : versions) {
        std::vector<SubInterval> walked = walk_subscription(list);
        // A deletion dated by the subscription's last change (Recharge sends a deleted
        // subscription as it was): a charge of it paid after that shows it was active until
        // then at least. Without this, one never changed after its creation was active for
        // no time at all, and its paying customer never a subscriber.
        if (!walked.empty() && walked.back().end_from_deletion_update) {
            SubInterval& last = walked.back();
            last.end = std::max(last.end, book.latest_paid_covering(last.sub_id));
        }
        for (SubInterval& iv : walked) all.push_back(iv);
    }
    for (SubInterval& iv : all) {
        if (!iv.open()) conclude_interval(iv, book, grace, first_activation_signal_after(iv.end, sig, all));
    }
    return all;
}

Timeline build_timeline(std::vector<SubInterval> subs, const CustomerSignals& sig,
                        std::vector<Point> auto_points) {
    Timeline tl;
    tl.subs = std::move(subs);
    tl.deactivations = sig.deactivations;
    tl.auto_points = std::move(auto_points);
    tl.cover = merged_cover(tl.subs);
    tl.extra = activation_spans(sig, tl.cover);
    if (auto implicit = implicit_activity(sig, tl.subs)) tl.extra.push_back(*implicit);
    for (Point& d : tl.deactivations) {
        d.lifted_at = first_activation_signal_after(d.at, sig, tl.subs);
        tl.forced.push_back({d.at, d.lifted_at, false});
    }
    for (const Point& p : tl.auto_points) {
        // An inferred churn also ends when its premise does: the customer paid again.
        const Micros lifted = std::min(first_activation_signal_after(p.at, sig, tl.subs),
                                       p.lifted_at);
        tl.forced.push_back({p.at, lifted, false});
    }
    return tl;
}

bool covered(const Timeline& tl, Micros t) {
    auto sub_covers = [t](const SubInterval& iv) { return iv.covers(t); };
    auto span_covers = [t](const Span& s) { return s.covers(t); };
    return std::any_of(tl.subs.begin(), tl.subs.end(), sub_covers) ||
           std::any_of(tl.extra.begin(), tl.extra.end(), span_covers);
}

bool forced_inactive(const Timeline& tl, Micros t) {
    return std::any_of(tl.forced.begin(), tl.forced.end(),
                       [t](const Span& s) { return s.covers(t); });
}

bool active_at(const Timeline& tl, Micros t) { return covered(tl, t) && !forced_inactive(tl, t); }

bool forced_at_end(const Timeline& tl) {
    return std::any_of(tl.forced.begin(), tl.forced.end(),
                       [](const Span& s) { return s.end == kForever; });
}

// Every time the active/inactive state can change; between two of them it is constant.
std::vector<Micros> boundaries(const Timeline& tl) {
    std::vector<Micros> out;
    auto add = [&out](Micros start, Micros end) {
        out.push_back(start);
        if (end != kForever) out.push_back(end);
    };
    for (const SubInterval& iv : tl.subs) add(iv.start, iv.end);
    for (const Span& s : tl.extra) add(s.start, s.end);
    for (const Span& s : tl.forced) add(s.start, s.end);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// ---------------------------------------------------------------------------------------
// Step 5: attribution.

const Point* point_at(const std::vector<Point>& points, Micros t) {
    for (const Point& p : points) {
        if (p.at == t) return &p;
    }
    return nullptr;
}

// Would the customer still be active at t0 but for a deactivation there?
bool cut_off_by_deactivation(const Timeline& tl, Micros t0) {
    auto cut_here = [t0](const Span& s) { return s.cut && s.end == t0; };
    return covered(tl, t0) || std::any_of(tl.extra.begin(), tl.extra.end(), cut_here);
}

// Deterministic pick: the latest end, then the largest subscription id.
const SubInterval* later_of(const SubInterval* a, const SubInterval* b) {
    if (!a) return b;
    if (!b) return a;
    return std::tie(b->end, b->sub_id) > std::tie(a->end, a->sub_id) ? b : a;
}

// The interval with max-retries evidence among those ending in [from, to], if any.
const SubInterval* max_retries_end(const Timeline& tl, Micros from, Micros to) {
    const SubInterval* best = nullptr;
    for (const SubInterval& iv : tl.subs) {
        if (!iv.open() && iv.max_retries && iv.end >= from && iv.end <= to) {
            best = later_of(best, &iv);
        }
    }
    return best;
}

void set_reason_from(ChurnEpisode& ep, const SubInterval& iv) {
    ep.reason = iv.max_retries ? ChurnReason::MaxRetries
                : iv.expired   ? ChurnReason::Expired
                               : ChurnReason::Cancelled;
    ep.subscription_id = iv.sub_id;
    if (iv.max_retries) ep.charge_id = iv.charge_id;
}

// A deactivation stamped a little before the subscription ends that it goes with (objects
// are saved one after another): a subscription still covering t0 that ends within the grace
// explains the churn better than "deactivated", whatever the customer's other subscriptions
// do later (cancelled outside the hour, or never seen to end). Among several such ends, one
// closed out by max retries (also one up to the grace before t0, in this period) wins, else
// the latest. Not an end after the customer's return (`lifted_at`, the deactivation's): that
// end belongs to the new period (it may churn again there, or end one of several
// subscriptions of a customer who stays).
const SubInterval* imminent_end(const Timeline& tl, Micros t0, Micros period_start, Micros grace,
                                Micros lifted_at) {
    const Micros limit = std::min(add_saturated(t0, grace), sub_saturated(lifted_at, 1));
    // Activity besides the subscriptions still going on at t0 (an activation at that very
    // instant) is not explained by their ends.
    auto extra_active = [&](const Span& s) { return s.covers(t0); };
    if (std::any_of(tl.extra.begin(), tl.extra.end(), extra_active)) return nullptr;
    const SubInterval* last = nullptr;
    for (const SubInterval& iv : tl.subs) {
        // Still active at t0, or ending at that very instant (the same second, in 2021-01's
        // whole seconds: the deactivation and the cancellation saved one after the other).
        const bool at_t0 = iv.covers(t0) || (iv.end == t0 && iv.start < t0);
        if (at_t0 && iv.end <= limit) last = later_of(last, &iv);
    }
    if (!last) return nullptr;
    const SubInterval* mr = max_retries_end(tl, std::max(sub_saturated(t0, grace), period_start), limit);
    return mr ? mr : last;
}

// The subscription a max-retries charge was for, when no subscription's end names the episode:
// the lowest of its line items' subscriptions this customer is known to have.
std::optional<int64_t> charged_subscription(const Timeline& tl, const ChargeInfo& c) {
    for (int64_t sub : c.subscription_ids) {  // ordered: the lowest first
        const bool known = std::any_of(tl.subs.begin(), tl.subs.end(),
                                       [sub](const SubInterval& iv) { return iv.sub_id == sub; });
        if (known) return sub;
    }
    return std::nullopt;
}

// The deactivation is the churn moment. A subscription end within the grace around it is the
// same churn told again (Recharge cancels a deactivated customer's subscriptions): the episode
// takes that end's subscription, and its reason unless an unresolved max-retries charge
// explains the deactivation (then max_retries, with that charge).
ChurnEpisode deactivation_episode(const Timeline& tl, const ChargeBook& book, const Point& d,
                                  Micros period_start, Micros grace) {
    ChurnEpisode ep;
    ep.churned_at = d.at;
    ep.delivery_id = d.delivery_id;
    // Up to the grace after it, but not past the customer's return (conclude_interval).
    const Micros to = std::min(add_saturated(d.at, grace), sub_saturated(d.lifted_at, 1));
    const ChargeInfo* c = book.latest_unresolved_failure(std::nullopt, period_start, to, d.at);
    const SubInterval* iv = imminent_end(tl, d.at, period_start, grace, d.lifted_at);
    if (iv) set_reason_from(ep, *iv);
    if (c) {
        ep.reason = ChurnReason::MaxRetries;
        ep.charge_id = c->id;
        // No subscription ended with it (the store deactivated the customer instead of
        // cancelling): the charge's subscription, as an auto-churn names it.
        if (!iv) ep.subscription_id = charged_subscription(tl, *c);
    } else if (!iv) {
        ep.reason = ChurnReason::Deactivated;
    }
    return ep;
}

// `--auto-churn-days`: the episode names the charge and its subscription (charged_subscription).
ChurnEpisode auto_churn_episode(const Timeline& tl, const ChargeBook& book, const Point& p) {
    ChurnEpisode ep;
    ep.churned_at = p.at;
    ep.delivery_id = p.delivery_id;
    ep.reason = ChurnReason::MaxRetries;
    ep.charge_id = p.charge_id;
    for (const ChargeInfo& c : book.charges()) {
        if (p.charge_id && c.id == *p.charge_id) ep.subscription_id = charged_subscription(tl, c);
    }
    return ep;
}

// The usual case: the last covering subscription interval(s) ended at t0. Another interval
// closed out by max retries within the grace before it explains it too (a store cancelling
// the subscriptions one by one), if it ended in this active period: not before the customer
// came back (period_start).
ChurnEpisode subscription_end_episode(const Timeline& tl, Micros t0, Micros period_start, Micros grace) {
    ChurnEpisode ep;
    ep.churned_at = t0;
    const SubInterval* now = nullptr;  // ending exactly at t0: it decided churned_at
    for (const SubInterval& iv : tl.subs) {
        if (!iv.open() && iv.end == t0) now = later_of(now, &iv);
    }
    const SubInterval* mr = max_retries_end(tl, std::max(sub_saturated(t0, grace), period_start), t0);
    if (const SubInterval* deciding = mr ? mr : now) set_reason_from(ep, *deciding);
    if (now) {
        ep.delivery_id = now->end_delivery;
    } else if (mr) {
        ep.delivery_id = mr->end_delivery;
    } else if (const Point* d = point_at(tl.deactivations, t0)) {
        ep.reason = ChurnReason::Deactivated;  // defensive: no interval ends here
        ep.delivery_id = d->delivery_id;
    }
    return ep;
}

ChurnEpisode attribute_churn(const Timeline& tl, const ChargeBook& book, Micros t0,
                             Micros period_start, Micros grace) {
    ChurnEpisode ep;
    const Point* d = point_at(tl.deactivations, t0);
    const Point* a = point_at(tl.auto_points, t0);
    if (d && cut_off_by_deactivation(tl, t0)) {
        ep = deactivation_episode(tl, book, *d, period_start, grace);
    } else if (a && covered(tl, t0)) {
        ep = auto_churn_episode(tl, book, *a);
    } else {
        ep = subscription_end_episode(tl, t0, period_start, grace);
    }
    ep.category = category_of(ep.reason);
    return ep;
}

struct SweepResult {
    std::vector<ChurnEpisode> episodes;
    bool ever_active = false;
    std::optional<Micros> first_active_at;
    bool active_at_end = false;
};

SweepResult sweep(const Timeline& tl, const ChargeBook& book, Micros grace) {
    SweepResult r;
    bool was_active = false;
    Micros period_start = 0;
    for (Micros b : boundaries(tl)) {
        const bool now_active = active_at(tl, b);
        if (now_active && !was_active) {
            period_start = b;
            r.ever_active = true;
            if (!r.first_active_at) r.first_active_at = b;
            if (!r.episodes.empty() && !r.episodes.back().reactivated_at) {
                r.episodes.back().reactivated_at = b;
            }
        } else if (!now_active && was_active) {
            r.episodes.push_back(attribute_churn(tl, book, b, period_start, grace));
        }
        was_active = now_active;
    }
    r.active_at_end = was_active;
    return r;
}

// ---------------------------------------------------------------------------------------
// Step 6: outcome.

struct TimeRange {
    std::optional<Micros> first;
    std::optional<Micros> last;
    void see_first(std::optional<Micros> t) {
        if (t && (!first || *t < *first)) first = t;
    }
    void see_last(std::optional<Micros> t) {
        if (t && (!last || *t > *last)) last = t;
    }
    void see(std::optional<Micros> t) {
        see_first(t);
        see_last(t);
    }
};

TimeRange fact_times(const VersionsById<SubscriptionFact>& subs,
                     const VersionsById<ChargeFact>& charges,
                     const VersionsById<CustomerFact>& customers) {
    TimeRange r;
    for (const auto& [id, list] : subs) {
        for (const SubscriptionFact& f : each(list)) {
            r.see(f.sub.updated_at);
            r.see(f.sub.cancelled_at);
            r.see_first(f.sub.created_at);
        }
    }
    for (const auto& [id, list] : charges) {
        for (const ChargeFact& f : each(list)) {
            r.see(f.charge.updated_at);
            r.see_first(f.charge.created_at);
        }
    }
    for (const auto& [id, list] : customers) {
        for (const CustomerFact& f : each(list)) {
            r.see(f.customer.updated_at);
            r.see_first(f.customer.created_at);
        }
    }
    return r;
}

std::vector<SubscriptionOutcome> subscription_outcomes(
    const VersionsById<SubscriptionFact>& versions, const Timeline& tl,
    const ChargeBook& book) {
    const bool forced = forced_at_end(tl);
    std::vector<SubscriptionOutcome> out;
    for (const auto& [id, list] : versions) {
        SubscriptionOutcome o;
        o.id = id;
        o.charges_counted = book.paid_covering(id, kForever);
        const SubInterval* last = nullptr;  // intervals of one subscription are in time order
        for (const SubInterval& iv : tl.subs) {
            if (iv.sub_id == id) last = &iv;
        }
        o.active = last && last->open() && !forced;
        o.expired = last && !last->open() && last->expired;
        out.push_back(o);
    }
    return out;
}

}  // namespace

std::string_view to_string(ChurnReason r) {
    switch (r) {
    case ChurnReason::Cancelled: return "cancelled";
    case ChurnReason::MaxRetries: return "max_retries";
    case ChurnReason::Expired: return "expired";
    case ChurnReason::Deactivated: return "deactivated";
    }
    return "cancelled";
}

std::string_view to_string(ChurnCategory c) {
    switch (c) {
    case ChurnCategory::Voluntary: return "voluntary";
    case ChurnCategory::Involuntary: return "involuntary";
    case ChurnCategory::Natural: return "natural";
    }
    return "voluntary";
}

ChurnCategory category_of(ChurnReason r) {
    switch (r) {
    case ChurnReason::MaxRetries: return ChurnCategory::Involuntary;
    case ChurnReason::Expired: return ChurnCategory::Natural;
    case ChurnReason::Cancelled:
    case ChurnReason::Deactivated: return ChurnCategory::Voluntary;
    }
    return ChurnCategory::Voluntary;
}

CustomerOutcome evaluate_customer(const CustomerHistory& history, const RulesPolicy& policy,
                                  Micros now) {
    const auto sub_versions = versions_by_id(history.subscriptions);
    const auto charge_versions = versions_by_id(history.charges);
    const auto customer_versions = versions_by_id(history.customer);
    const Micros grace = std::max<Micros>(policy.attribution_grace, 0);

    const ChargeBook book(charge_versions);
    CustomerSignals sig = customer_signals(customer_versions);
    add_subscription_activations(sig, sub_versions);
    const Timeline tl = build_timeline(subscription_intervals(sub_versions, book, sig, grace), sig,
                                       auto_churn_points(book, policy, now));
    SweepResult swept = sweep(tl, book, grace);

    CustomerOutcome out;
    out.customer_id = history.customer_id;
    const TimeRange times = fact_times(sub_versions, charge_versions, customer_versions);
    out.first_seen_at = times.first;
    out.first_active_at = swept.first_active_at;
    out.last_event_at = times.last;
    out.churned = swept.ever_active && !swept.active_at_end;
    if (out.churned) out.churned_at = swept.episodes.back().churned_at;
    if (!forced_at_end(tl)) {
        out.active_subscriptions = std::count_if(tl.subs.begin(), tl.subs.end(),
                                                 [](const SubInterval& iv) { return iv.open(); });
    }
    out.episodes = std::move(swept.episodes);
    out.subscriptions = subscription_outcomes(sub_versions, tl, book);
    return out;
}

}  // namespace churnwatch
