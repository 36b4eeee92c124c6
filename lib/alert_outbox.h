// The alert outbox: when the churn store records a new churn episode or a reactivation, one
// alerts_outbox row per interested target is inserted — inside the same transaction, so the
// churn and its alerts commit (or roll back) together. Sending is someone else's job
// (service/alert_dispatcher.cpp); this class only decides what to send and to whom, and
// fixes the exact bytes and webhook-id that every attempt will use.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "churn_store.h"
#include "rules.h"
#include "sqlite.h"
#include "time_util.h"

namespace churnwatch {

inline constexpr std::string_view kCustomerChurned = "customer.churned";
inline constexpr std::string_view kCustomerReactivated = "customer.reactivated";
// An episode announced as customer.churned that a later delivery erased (Recharge does not
// promise order: e.g. a subscription created before the cancellation, delivered after it).
inline constexpr std::string_view kCustomerChurnRetracted = "customer.churn_retracted";
// An announced episode that a later delivery changed without erasing it: its reason,
// category, churned_at, subscription or charge (e.g. a max-retries charge delivered after
// the cancellation it explains). Opt-in: not among the default alert events.
inline constexpr std::string_view kCustomerChurnUpdated = "customer.churn_updated";

// A target as the outbox sees it: its key and the event kinds it wants.
struct AlertRoute {
    std::string target;  // alerts_outbox.target: the URL, or "command:<path>"
    bool churned = true;
    bool reactivated = true;
    bool retracted = true;  // sent only for episodes this target was told of (churned or returned)
    bool updated = false;   // likewise; opt-in
};

// Fields of one alert's payload.
struct AlertEvent {
    std::string_view type;  // kCustomerChurned or kCustomerReactivated
    int64_t episode_id = 0;
    const CustomerOutcome* customer = nullptr;
    const ChurnEpisode* episode = nullptr;
    std::optional<std::string> email;
};

// The JSON body, following the Standard Webhooks payload convention:
// {"type":"customer.churned","timestamp":"2026-03-05T10:00:01.5Z","data":{"episode_id":7,
//  "customer_id":1,"email":"a@b.c","reason":"cancelled","category":"voluntary",
//  "churned_at":"2026-03-05T10:00:00Z","reactivated_at":null,"subscription_id":12,
//  "charge_id":null,"delivery_id":42}}
// Times are RFC 3339 in UTC; absent values are null. `now` is the timestamp.
std::string alert_payload_json(const AlertEvent& e, Micros now);

class AlertOutbox : public EpisodeListener {
public:
    using Clock = std::function<Micros()>;
    using IdSource = std::function<std::string()>;  // webhook ids; default: msg_<32 hex>

    explicit AlertOutbox(std::vector<AlertRoute> routes, Clock clock = {}, IdSource ids = {});
    ~AlertOutbox() override;

    // `alert-hold`: a customer.churned alert waits this long before it is first sent. A churn
    // undone meanwhile (the customer is back, or a late delivery erases it) is then never
    // announced: see on_reactivated. 0 (the default): sent at once.
    void set_hold(Micros hold) { hold_ = hold; }

    void on_churned(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                    const ChurnEpisode& e) override;
    // To each target that wants reactivations, except one whose customer.churned for this
    // episode is still held (alert-hold) and unattempted: that churn alert is withdrawn
    // instead (status 'retracted') and the target hears nothing of the episode; nor, later,
    // of its return again (a late delivery undid the first return, a newer one came).
    void on_reactivated(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                        const ChurnEpisode& e) override;
    // To each target that wants retractions and whose customer.churned for this episode was
    // sent or attempted (it may be on its way right now), or whose customer.reactivated was.
    // A churn alert never attempted is withdrawn instead; one that will never be sent (dead,
    // disabled) becomes 'retracted'. See alert_outbox.cpp.
    void on_retracted(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                      const ChurnEpisode& e) override;
    // A customer.churned for this episode that no attempt has begun on (held by alert-hold,
    // queued behind other alerts, or its target disabled) is rewritten to the episode as it
    // is now, so that it announces the settled facts; one already attempted keeps its bytes
    // (every retry sends the same): a target that wants customer.churn_updated is sent that
    // when what the churn says (time, reason, category, subscription, charge) changed. An
    // episode churned again whose churn alert alert-hold withdrew is announced (held again).
    // A customer.reactivated is rewritten the same way while the customer is back; when a
    // late delivery undoes the return, one not attempted (or dead, or disabled) becomes
    // 'retracted', and a target that was sent it, or is being sent it, and wants
    // customer.churn_updated is sent that (the episode churned again, reactivated_at null).
    void on_changed(sql::Database& db, int64_t event_id, const CustomerOutcome& c,
                    const ChurnEpisode& e, const ChurnEpisode& before) override;

    // True (and cleared) when rows were inserted since the last call. The serve wiring asks
    // after each commit and wakes the dispatcher only then (the rows may have been rolled
    // back with their transaction: the dispatcher then simply finds nothing).
    bool take_inserted() { return inserted_.exchange(false); }

    const std::vector<AlertRoute>& routes() const { return routes_; }

private:
    struct Statements;
    void prepare(sql::Database& db);
    // One row per route i with to[i] set (none: nothing is done).
    void add(sql::Database& db, std::string_view type, int64_t episode_id,
             const CustomerOutcome& c, const ChurnEpisode& e, const std::vector<char>& to);
    // The customer's email as of this transaction (the churn store writes the customers row
    // before it syncs episodes).
    std::optional<std::string> email_of(int64_t customer_id);

    // The target's latest customer.churned row for this episode, if any: what it was told of
    // the episode. Read from alert_told (0021), which keeps it — id, status, attempted and
    // created as alerts_outbox has them — also once retention deleted the row; a pending
    // row (the only kind withdraw() changes) is never deleted.
    struct ChurnRow {
        int64_t id = 0;  // alerts_outbox.id
        std::string status;
        bool attempted = false;  // an attempt began (the dispatcher claims a row before its first)
        Micros created = 0;
    };
    std::optional<ChurnRow> churn_row(const std::string& target, int64_t episode_id,
                                      int64_t customer_id);
    // Whether the target's latest customer.reactivated row for this episode was sent or an
    // attempt began on it (it may be on its way). Read from alert_told_return (0022), which
    // keeps that also once retention deleted the row.
    bool returned_told(const std::string& target, int64_t episode_id, int64_t customer_id);
    // Marks a never-attempted pending churn row 'retracted' with the reason; false when the
    // dispatcher claimed it first (it is being, or was, sent).
    bool withdraw(int64_t row_id, const std::string& reason);

    std::vector<AlertRoute> routes_;
    Micros hold_ = 0;
    Clock clock_;
    IdSource ids_;
    sql::Database* db_ = nullptr;
    uint64_t db_serial_ = 0;  // db_->serial() when st_ was prepared
    std::unique_ptr<Statements> st_;
    std::atomic<bool> inserted_{false};
};

// A churn episode was erased: its customer.churned alerts that will never be sent (dead, or
// recorded while their target was disabled) become 'retracted', whatever their target,
// configured or not, so that no later `alerts retry` (which also re-enables a disabled
// target) sends a churn the facts no longer show. AlertOutbox::on_retracted does this; so
// does `quarantine replay` run without alert targets.
// Also the episode's customer.reactivated and customer.churn_updated alerts that no attempt
// has begun on, or that are dead or disabled: a return from, or a correction of, a churn that
// did not happen.
void retract_unsent_churn_alerts(sql::Database& db, int64_t episode_id, int64_t customer_id);

// A return that a late delivery undid (the episode churned again): its customer.reactivated
// alerts that no attempt has begun on, or that are dead or disabled, become 'retracted'.
// AlertOutbox::on_changed does this; so does `quarantine replay` run without alert targets.
void retract_unsent_return_alerts(sql::Database& db, int64_t episode_id, int64_t customer_id);

// Before the first attempt of a row, the dispatcher claims it (sets last_attempt_us) in a transaction of its own and gets the payload as of
// the claim: the bytes every attempt then sends (AlertOutbox::on_changed rewrites only
// unclaimed rows). nullopt when the row is no longer pending (withdrawn: the churn, the
// return or the correction was undone before anyone heard of it). SQLite's write lock orders the claim and the
// outbox's withdrawal, so such an alert is either sent and then followed by what undoes it,
// or never sent at all.
std::optional<std::string> claim_alert(sql::Database& db, int64_t alert_id, Micros now);

// Pending alerts stamped by a clock ahead of `now`: due more than `horizon` from now (further
// than alert-hold, a backoff or an honoured Retry-After could put them: alert_schedule_horizon
// plus some slack), or created or attempted more than `slack` after now. Written while the
// system clock was ahead (a wrong clock corrected, a VM restored, libfaketime), they would
// wait silently until the real clock caught up, their retry budget counting from a future
// time (never dead-lettered), while newer alerts went out before them. Such rows are made due
// now, and their created, retry-from and last-attempt times later than now become now: they
// go out first (in id order), with a budget counting from now. With `target`, only its rows.
// Reads first and writes only when there is something to change (cheap to call often).
struct RescheduledAlerts {
    int64_t count = 0;     // rows changed
    Micros furthest = 0;   // how far ahead of now the latest of their times was
};
RescheduledAlerts reschedule_future_alerts(sql::Database& db, Micros now, Micros horizon,
                                           Micros slack, const std::string* target = nullptr);

// Retention (alert-retention-days): finished alerts — sent, dead, disabled, retracted — are
// deleted once they finished before a cutoff; pending ones never are. A row finished at the
// latest of its times: sent_us (delivered), last_attempt_us (the attempt that killed it),
// else created_us (recorded disabled, or withdrawn before any attempt). So a dead alert can
// be retried (`alerts retry`) for the whole period after it died, whatever its age.
//
// No exception: what AlertOutbox reads again of a churn alert — whether the target was sent
// the episode's customer.churned (why it is sent customer.churn_retracted or
// customer.churn_updated when a late delivery erases or changes the episode) or it was
// withdrawn within alert-hold (why it hears nothing of the return, and why the churn is
// announced after all if the return is undone) — is kept in alert_told (0021), one small row
// per target and episode, for as long as the episode is in churn_events; what it reads of a
// return alert (whether it was sent) likewise, in alert_told_return (0022). Deleting an alert
// leaves those rows as they were.
struct PrunedAlerts {
    int64_t sent = 0, dead = 0, disabled = 0, retracted = 0;
    int64_t total() const { return sent + dead + disabled + retracted; }
    PrunedAlerts& operator+=(const PrunedAlerts& o) {
        sent += o.sent, dead += o.dead, disabled += o.disabled, retracted += o.retracted;
        return *this;
    }
};

// Where a pruning scan goes on from: finished rows are visited in (finished time, id) order
// (the index alerts_outbox_finished). The default starts at the beginning.
struct AlertPruneCursor {
    Micros finished = std::numeric_limits<Micros>::min();
    int64_t id = 0;
};

inline constexpr int kAlertPruneBatch = 1000;  // rows deleted per statement at most

class AlertPruner {
public:
    explicit AlertPruner(sql::Database& db);
    // One batch: the next `limit` deletable rows after `cursor` that finished before `cutoff`
    // are found by a read (no lock that ingest waits for),
    // then deleted by one DELETE of those ids that checks each again (a row retried
    // meanwhile is pending and stays). The cursor moves past them; counts are added to
    // `pruned`. Returns false when the scan has reached `cutoff` (nothing more to find).
    bool batch(Micros cutoff, AlertPruneCursor& cursor, PrunedAlerts& pruned,
               int limit = kAlertPruneBatch);
    // The read's SQL (?1 cutoff, ?2 and ?3 the cursor, ?4 the limit): tests check its plan.
    static std::string find_sql();

private:
    sql::Statement find_, remove_;
};

// Every batch from `from` to `cutoff`, one after the other, without a pause between them.
PrunedAlerts prune_finished_alerts(sql::Database& db, Micros cutoff, AlertPruneCursor from = {});

// "msg_" + 32 lowercase hex digits from OpenSSL's CSPRNG.
std::string random_webhook_id();

// The service_state key that counts the `churnwatch alerts retry` runs that reset alerts of
// a target (alerts_outbox.target). A retry ends the target's rest by making its resting rows
// due now; an attempt under way meanwhile is not resting yet, so the dispatcher compares this
// count before and after: changed, the rest that attempt's failure begins ends at once.
inline std::string alert_retries_key(std::string_view target) {
    return "alert_retries:" + std::string(target);
}

}  // namespace churnwatch
