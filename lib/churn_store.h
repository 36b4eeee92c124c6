// Where deliveries become churn state: records each decoded object as a version row, then
// recomputes the affected customers with the rules engine and rewrites their analyst rows
// (customers, subscriptions, charges, churn_events). Runs inside the projection's
// transaction (projector.h), so a delivery's effects commit together with the watermark
// that covers it. The only churn code that speaks SQL.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "delivery.h"
#include "metrics.h"
#include "rules.h"
#include "sqlite.h"
#include "writer.h"

namespace churnwatch {

// Told about each episode change inside the transaction (the alert outbox hooks in here).
class EpisodeListener {
public:
    virtual ~EpisodeListener() = default;
    virtual void on_churned(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                            const ChurnEpisode& e) = 0;
    virtual void on_reactivated(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                                const ChurnEpisode& e) = 0;
    // A stored episode that the facts no longer show (a late delivery erased it), as it was
    // stored; called before its row is deleted. Live projection only, like the others.
    virtual void on_retracted(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                              const ChurnEpisode& e) {}
    // A stored episode whose details a later delivery changed (its churned_at, reason,
    // subscription, charge, deciding delivery or return): as it is now, and as it was stored.
    // Live projection only.
    virtual void on_changed(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                            const ChurnEpisode& e, const ChurnEpisode& before) {}
};

// Which rules computed the churn tables. Bump kRulesVersion with every change to the rules,
// the decoding or a derived column that gives other churn tables for the same deliveries:
// on a database derived by an older version the live projection recomputes only the
// customers it hears of again, so the tables mix two rule sets until `churnwatch rebuild`
// (serve logs rebuild_recommended and sets churnwatch_rebuild_recommended; report notes it).
// 1: any release before this was recorded (up to migration 0015).
// 2: from migration 0016 (the release that began recording it).
// 3: the grace for evidence after an end (a charge failing for good up to an hour after a
//    cancellation or a deactivation) stops at the customer's next sign of life, and the
//    look back for a max-retries end (up to an hour before) at the customer's last return.
// 4: a subscription ending within the hour after a deactivation names the episode (its
//    subscription and reason) also for a customer who had come back by an activation before.
// 5: a subscription ending within the hour after a deactivation but after the customer's return
//    (a new subscription, an activation) no longer names the deactivation's episode.
// 6: a subscription ending within the hour after a deactivation names the episode even when
//    another of the customer's subscriptions outlasts the hour (cancelled later, or never).
// 7: a subscription/deleted dated by its updated_at (no cancelled_at) ends no earlier than the
//    subscription's latest paid charge.
// 8: a max-retries churn by deactivation, with no subscription ending with it, names the
//    charge's subscription (subscription_id), as an auto-churn does.
// 9: a subscription first seen cancelled at its very creation (cancelled_at = created_at) is
//    active for no time, as when its creation was seen: it no longer makes its customer a
//    subscriber who churned then.
// 10: a deletion after the subscription's expire_after N paid charges is an expiry, as a
//    cancel then is (it read as the customer's cancel).
// 11: a subscription reactivated after its count reached expire_after N and cancelled before
//    any charge was paid since is the customer's cancel (it read as an expiry).
inline constexpr int64_t kRulesVersion = 11;
// The version that computed this database's churn tables: the one recorded in service_state
// ('rules_version'); 1 when customers exist but none was recorded; kRulesVersion when
// nothing has been derived yet (it then records it, so later rows count as this version's).
int64_t derived_rules_version(sql::Database& db);
// The auto-churn-days the churn tables are derived under: service_state 'auto_churn_days',
// which serve writes at start and rebuild when it ends (0: off); before any did, the days in
// serve's last pass mark ('auto_churn_checked_at', "<time>/<days>"). nullopt when off, unknown
// or not a setting serve takes (1 to 3650).
std::optional<int64_t> stored_auto_churn_days(sql::Database& db);
void record_auto_churn_days(sql::Database& db, std::optional<int64_t> days);

struct RebuildStats {
    int64_t deliveries = 0;   // accepted deliveries replayed
    int64_t quarantined = 0;  // of those, now quarantined (could not be decoded)
    int64_t customers = 0;
    int64_t episodes = 0;
    int64_t projected_through = 0;  // max(id) of deliveries, recorded in service_state
    // Wall time of each step, in order: what an operator (or a benchmark) needs to see where
    // a slow rebuild spends its time. The caller's commit is not among them.
    std::vector<std::pair<const char*, double>> seconds;
};

class ChurnStore : public DeliveryApplier {
public:
    using Clock = std::function<Micros()>;
    explicit ChurnStore(RulesPolicy policy, Metrics* metrics = nullptr, Clock clock = {});
    ~ChurnStore() override;

    void set_listener(EpisodeListener* l) { listener_ = l; }

    void prepare(sql::Database& db) override;
    // derived_rules_version() of the database prepare() was given (0 before that).
    int64_t derived_with() const { return derived_with_; }
    void apply(sql::Database& db, int64_t delivery_id, const Delivery& d) override;
    // Alerts are sent as soon as their rows are visible: those must be durable first.
    bool durable_projection() const override { return listener_ != nullptr; }
    // With the auto-churn policy on: recomputes the customers still active whose unresolved
    // max-retries charge is now old enough, so their churn is recorded (and announced) on
    // time even when no further delivery arrives for them. Without the policy: nothing.
    void maintain(sql::Database& db) override;
    // The counters of what the transaction recorded (churns, reactivations, retractions) go
    // up now if it committed; otherwise they are forgotten with it.
    void finished(bool committed) override;

    // Records the objects of one decoded delivery as versions; returns the customer ids touched.
    std::set<int64_t> record(int64_t delivery_id, const Delivery& d);
    // The subscriptions and charges a delivery brought new versions of, for one customer:
    // only their analyst rows (and those of the subscriptions such a charge covers) can
    // change with it.
    struct Touched {
        std::set<int64_t> subscriptions, charges;
    };
    // Reruns the rules for one customer and rewrites its analyst rows: the customer row and
    // episodes always; subscription and charge rows all of them, or with `touched` only the
    // ones that delivery can have changed.
    void recompute(int64_t customer_id, bool notify = true, const Touched* touched = nullptr);

    // Drops all derived state and replays every stored accepted delivery in id order (decoding
    // each body again, with the given JSON depth limit), then recomputes every customer once.
    // No listener calls: a rebuild restates history, it does not announce it again. An
    // episode it finds again keeps its churn_events id (paired with the customer's old rows
    // as the live projection pairs them); a new one gets an id above every id used before.
    // Finally records service_state 'projected_through' = max(id) of deliveries: the
    // derived tables reflect every delivery up to there. progress(done, total) is called now
    // and then, on the calling thread. Runs in the caller's write transaction (BEGIN
    // IMMEDIATE), which must not have written yet: worker threads read the deliveries on
    // read-only connections of their own (db must be a file), and run the JSON decoding and
    // the rules; only the calling thread writes.
    RebuildStats rebuild(sql::Database& db, std::size_t json_max_depth,
                         const std::function<void(int64_t, int64_t)>& progress = {});

    // One customer's analyst rows (customers, subscriptions, charges), packed: what
    // recompute writes, computed apart from the writing so that a rebuild can compute
    // them on another thread.
    struct OutcomeRows {
        std::string rows;  // the customer row, then the subscription rows, then the charge rows
        std::size_t subscriptions = 0, charges = 0;
    };

private:
    struct Statements;
    CustomerHistory load_history(int64_t customer_id);
    // With `only`: the customer row and just those subscription and charge rows.
    static OutcomeRows outcome_rows(const CustomerHistory& h, const CustomerOutcome& o,
                                    const Touched* only = nullptr);
    // The rows a delivery that touched `touched` can change: those objects, and the
    // subscriptions any version of a touched charge covers.
    static Touched rows_changed_by(const CustomerHistory& h, const Touched& touched);
    // The customer, subscription and charge rows; the episodes are written apart.
    void write_rows(const OutcomeRows& rows);
    // Pairs the customer's episodes with its churn_events rows, updates the pairs, deletes
    // the rows left over and inserts the new episodes (ids from next_episode_id()).
    void sync_episodes(const CustomerOutcome& o, bool notify);
    void insert_episode(int64_t id, int64_t customer_id, const ChurnEpisode& e);
    // An episode the facts no longer show, as sync_episodes read it: counted, and told to the
    // listener before its row is deleted.
    void retract_episode(int64_t id, const ChurnEpisode& stored, const CustomerOutcome& o);
    // An id above every episode id given out before (service_state 'last_episode_id'),
    // recorded there as given out.
    int64_t next_episode_id();

    RulesPolicy policy_;
    Metrics* metrics_;
    Clock clock_;
    int64_t derived_with_ = 0;
    EpisodeListener* listener_ = nullptr;
    // A counter increment made inside the current transaction, applied by finished(true).
    struct Counted {
        const char* counter;
        std::string reason, category;  // churnwatch_churn_events_total's labels
    };
    void count(const char* counter, std::string reason = {}, std::string category = {});

    // Whether st_ was prepared on this connection: by serial, not address (a connection
    // opened where a closed one was must not find that one's statements). Serials start at
    // 1: none before the first prepare().
    bool prepared_for(const sql::Database& db) const { return db_serial_ == db.serial(); }

    sql::Database* db_ = nullptr;
    uint64_t db_serial_ = 0;  // db_->serial() when st_ was prepared
    std::vector<Counted> uncommitted_;
    bool auto_churn_mark_dropped_ = false;  // maintain() without the policy: done once
    bool mark_dropped_uncommitted_ = false;  // ...in the current transaction
    std::unique_ptr<Statements> st_;
};

// The customer's churn_events row with this id, as stored; nullopt when there is none (a
// late delivery erased the episode, or it is another customer's).
std::optional<ChurnEpisode> stored_episode(sql::Database& db, int64_t episode_id, int64_t customer_id);

}  // namespace churnwatch
