#include "churn_store.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>

#include <sqlite3.h>

#include "country_code.h"
#include "deferred_indexes.h"
#include "delivery_decode.h"
#include "ordered_worker.h"
#include "packed_rows.h"
#include "rebuild_versions.h"
#include "time_util.h"
#include "topic.h"
#include "version_rows.h"

namespace churnwatch {

namespace {

std::optional<std::string> opt_time(const std::optional<Micros>& t) {
    if (!t) return std::nullopt;
    return format_time(*t);
}

// The action a fact records: the topic's own object gets the topic action; objects that
// rode along (included_objects) are marked 'included' so they never count as, say, a
// deactivation.
std::string action_for(const Delivery& d, std::string_view resource) {
    if (d.topic && d.topic->resource == resource) return d.topic->action;
    return "included";
}

// The version tables' INSERT heads, in version_rows.h's column order: completed with
// VALUES for one row, or with a SELECT from Database::run_over's rows for a whole table.
constexpr const char* kInsertSubscriptionVersion =
    "INSERT INTO subscription_versions (subscription_id, customer_id, updated_at_us,"
    " order_key, delivery_id, action, status, status_raw, email, cancelled_at_us,"
    " cancellation_reason, expire_after_charges, max_retries_reached,"
    " next_charge_scheduled_at, price, quantity, product_title, created_at_us)";
constexpr const char* kInsertChargeVersion =
    "INSERT INTO charge_versions (charge_id, customer_id, updated_at_us, order_key,"
    " delivery_id, action, status, status_raw, email, error, error_type, attempts,"
    " max_retries_reached, subscription_ids, total_price, created_at_us, processed_at_us,"
    " external_customer_id, billing_country, billing_province, billing_zip)";
constexpr const char* kInsertCustomerVersion =
    "INSERT INTO customer_versions (customer_id, updated_at_us, order_key,"
    " delivery_id, action, status, email, external_customer_id,"
    " active_subscriptions, total_subscriptions, billing_country,"
    " billing_province, billing_zip, has_valid_payment_method,"
    " payment_method_in_dunning, created_at_us)";

std::string values(std::size_t columns) {
    std::string out = " VALUES (";
    for (std::size_t i = 0; i < columns; ++i) out += i ? ",?" : "?";
    return out + ") ON CONFLICT DO NOTHING";
}

// "WHERE true": without it SQLite would read ON CONFLICT as part of the SELECT's join.
std::string select_rows(std::size_t columns) {
    std::string out = " SELECT ";
    for (std::size_t i = 0; i < columns; ++i) out += (i ? ", c" : "c") + std::to_string(i);
    return out + " FROM churnwatch_rows WHERE true ON CONFLICT DO NOTHING";
}

// The latest state of one object (the first column is its primary key, `id`), written only
// where something changed: an unchanged row is left alone, so its pages (and those of the
// customer_id indexes) are not dirtied. INSERT OR REPLACE deleted and re-inserted every row
// of the customer, index entries included, for every delivery.
std::string upsert(const char* table, std::initializer_list<const char*> columns) {
    std::string names, set, changed;
    for (const char* c : columns) {
        names += names.empty() ? c : std::string(", ") + c;
        if (std::string_view(c) == "id") continue;
        set += (set.empty() ? "" : ", ") + std::string(c) + " = excluded." + c;
        changed += (changed.empty() ? "" : " OR ") + std::string(c) + " IS NOT excluded." + c;
    }
    std::string out = std::string("INSERT INTO ") + table + " (" + names + ") VALUES (";
    for (std::size_t i = 0; i < columns.size(); ++i) out += i ? ",?" : "?";
    return out + ") ON CONFLICT (id) DO UPDATE SET " + set + " WHERE " + changed;
}

// Episode ids are never given out twice: alerts carry them (episode_id) and receivers look
// them up in churn_events later, so an id that once named an episode must not come to name
// another. SQLite's rowid would hand out max(id) + 1 again after the newest episode was
// erased by a late fact; the highest id given out is kept in service_state instead (as the
// writer keeps deliveries' in 'last_delivery_id'), the rows' own maximum when it is missing.
constexpr const char* kLastEpisodeId =
    "SELECT max(coalesce((SELECT max(id) FROM churn_events), 0),"
    " coalesce((SELECT CAST(value AS INTEGER) FROM service_state WHERE key = 'last_episode_id'), 0))";
constexpr const char* kSetLastEpisodeId =
    "INSERT INTO service_state (key, value) VALUES ('last_episode_id', ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value";

constexpr std::size_t kNoRow = std::numeric_limits<std::size_t>::max();

// Which of a customer's stored churn_events rows each of its episodes continues (kNoRow: a
// new episode). `at` holds the episodes' churned_at as stored; `rows` (anything with a
// `churned_at` string) are in churned_at order, as SQLite sorts text. First the row with
// the same churned_at; then the episodes left take the rows left, in order: a late fact
// (or a rebuild under changed rules) may move an episode's start, and it stays the same
// episode, with the same id. Rows left over are episodes that no longer exist.
// O(k log k) for k episodes: a rebuild pairs every customer's.
template <class Row>
std::vector<std::size_t> pair_episodes(const std::vector<std::string>& at, std::span<const Row> rows) {
    std::vector<std::size_t> row_for(at.size(), kNoRow);
    std::vector<bool> used(rows.size(), false);
    for (std::size_t i = 0; i < at.size(); ++i) {
        auto it = std::lower_bound(rows.begin(), rows.end(), at[i],
                                   [](const Row& r, const std::string& t) { return r.churned_at < t; });
        for (; it != rows.end() && it->churned_at == at[i]; ++it) {
            const auto j = static_cast<std::size_t>(it - rows.begin());
            if (used[j]) continue;
            row_for[i] = j;
            used[j] = true;
            break;
        }
    }
    std::size_t next_row = 0;
    for (std::size_t i = 0; i < at.size(); ++i) {
        if (row_for[i] != kNoRow) continue;
        while (next_row < rows.size() && used[next_row]) ++next_row;
        if (next_row == rows.size()) break;
        row_for[i] = next_row;
        used[next_row] = true;
    }
    return row_for;
}

// An object's latest version (greatest version_key, whatever the arrival) and
// whether any of its versions reached max retries.
template <class Fact>
struct Latest {
    const Fact* fact = nullptr;
    bool max_retries = false;
};

// Latest<Fact> of each subscription or charge of a history (`object` picks it out of the
// fact), only of the ids in `ids` when given.
template <class Fact, class Object>
std::map<int64_t, Latest<Fact>> latest_by_id(const std::vector<Fact>& facts, Object Fact::*object,
                                             const std::set<int64_t>* ids) {
    std::map<int64_t, Latest<Fact>> out;
    for (const Fact& f : facts) {
        const Object& v = f.*object;
        if (ids && !ids->count(v.id)) continue;
        Latest<Fact>& best = out[v.id];
        if (!best.fact || version_key(v.updated_at, f.action, f.order_key) >
                              version_key((best.fact->*object).updated_at, best.fact->action,
                                          best.fact->order_key))
            best.fact = &f;
        best.max_retries |= v.max_retries_reached;
    }
    return out;
}

bool has_text(const std::optional<std::string>& v) { return v && !v->empty(); }

// The latest charge version (greatest version_key) that carries `field` (not empty), if any.
const ChargeFact* latest_charge_with(const CustomerHistory& h,
                                     std::optional<std::string> Charge::*field) {
    const ChargeFact* from = nullptr;
    for (const ChargeFact& f : h.charges) {
        if (!has_text(f.charge.*field)) continue;
        if (!from || version_key(f.charge.updated_at, f.action, f.order_key) >
                         version_key(from->charge.updated_at, from->action, from->order_key))
            from = &f;
    }
    return from;
}

}  // namespace

struct ChurnStore::Statements {
    explicit Statements(sql::Database& db)
        : ins_sub(db, std::string(kInsertSubscriptionVersion) + values(kSubscriptionVersionColumns)),
          ins_charge(db, std::string(kInsertChargeVersion) + values(kChargeVersionColumns)),
          ins_customer(db, std::string(kInsertCustomerVersion) + values(kCustomerVersionColumns)),
          sel_subs(db,
                   "SELECT subscription_id, customer_id, updated_at_us, order_key, delivery_id,"
                   " action, status, status_raw, email, cancelled_at_us, cancellation_reason,"
                   " expire_after_charges, max_retries_reached, next_charge_scheduled_at, price,"
                   " quantity, product_title, created_at_us"
                   " FROM subscription_versions WHERE customer_id = ?"),
          sel_charges(db,
                      "SELECT charge_id, customer_id, updated_at_us, order_key, delivery_id, action,"
                      " status, status_raw, email, error, error_type, attempts, max_retries_reached,"
                      " subscription_ids, total_price, created_at_us, processed_at_us,"
                      " external_customer_id, billing_country, billing_province, billing_zip"
                      " FROM charge_versions WHERE customer_id = ?"),
          sel_customers(db,
                        "SELECT customer_id, updated_at_us, order_key, delivery_id, action, status,"
                        " email, external_customer_id, active_subscriptions, total_subscriptions,"
                        " billing_country, billing_province, billing_zip,"
                        " has_valid_payment_method, payment_method_in_dunning, created_at_us"
                        " FROM customer_versions WHERE customer_id = ?"),
          upsert_customer(db, upsert("customers",
                                     {"id", "email", "external_customer_id", "status",
                                      "first_seen_at", "churned_at", "last_event_at",
                                      "active_subscriptions", "reported_active_subscriptions",
                                      "billing_country", "billing_province", "billing_zip",
                                      "has_valid_payment_method", "payment_method_in_dunning",
                                      "first_active_at", "billing_country_code"})),
          upsert_subscription(db, upsert("subscriptions",
                                         {"id", "customer_id", "status", "cancelled_at",
                                          "cancellation_reason",
                                          "expire_after_specific_number_of_charges",
                                          "charges_counted", "ended_by_expiry",
                                          "max_retries_reached", "next_charge_scheduled_at",
                                          "price", "quantity", "product_title", "created_at",
                                          "updated_at"})),
          upsert_charge(db, upsert("charges",
                                   {"id", "customer_id", "subscription_ids", "status",
                                    "error_type", "error", "attempts", "max_retries_reached",
                                    "total_price", "created_at", "processed_at", "updated_at"})),
          sel_episodes(db,
                       "SELECT id, churned_at, reactivated_at, reason, category, subscription_id,"
                       " charge_id, delivery_id FROM churn_events WHERE customer_id = ? ORDER BY churned_at"),
          ins_episode(db,
                      "INSERT INTO churn_events (id, customer_id, churned_at, reason, category,"
                      " subscription_id, charge_id, delivery_id, reactivated_at)"
                      " VALUES (?,?,?,?,?,?,?,?,?)"),
          upd_episode(db,
                      "UPDATE churn_events SET churned_at = ?1, reason = ?2, category = ?3,"
                      " subscription_id = ?4, charge_id = ?5, delivery_id = ?6, reactivated_at = ?7"
                      " WHERE id = ?8 AND (churned_at IS NOT ?1 OR reason IS NOT ?2"
                      " OR category IS NOT ?3 OR subscription_id IS NOT ?4 OR charge_id IS NOT ?5"
                      " OR delivery_id IS NOT ?6 OR reactivated_at IS NOT ?7)"),
          del_episode(db, "DELETE FROM churn_events WHERE id = ?"),
          // What the alert targets were told of it and of its return (0021, 0022): nothing
          // asks once it is gone.
          del_told(db, "DELETE FROM alert_told WHERE episode_id = ?"),
          del_told_return(db, "DELETE FROM alert_told_return WHERE episode_id = ?"),
          last_episode_id(db, kLastEpisodeId),
          set_last_episode_id(db, kSetLastEpisodeId) {}

    sql::Statement ins_sub, ins_charge, ins_customer;
    sql::Statement sel_subs, sel_charges, sel_customers;
    sql::Statement upsert_customer, upsert_subscription, upsert_charge;
    sql::Statement sel_episodes, ins_episode, upd_episode, del_episode, del_told, del_told_return;
    sql::Statement last_episode_id, set_last_episode_id;
};

ChurnStore::ChurnStore(RulesPolicy policy, Metrics* metrics, Clock clock)
    : policy_(policy), metrics_(metrics), clock_(std::move(clock)) {
    if (!clock_) {
        clock_ = [] {
            using namespace std::chrono;
            return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
        };
    }
    if (metrics_) {
        metrics_->describe_counter("churnwatch_churn_events_total",
                                   "Churn episodes recorded, by reason and category.");
        metrics_->describe_counter("churnwatch_reactivations_total",
                                   "Churn episodes closed by a reactivation.");
        metrics_->describe_counter("churnwatch_churn_events_retracted_total",
                                   "Churn episodes erased by a late delivery (the facts no longer show them).");
        // Each series at 0 from the start (rate() and increase() need two samples).
        for (ChurnReason r : {ChurnReason::Cancelled, ChurnReason::MaxRetries, ChurnReason::Expired,
                              ChurnReason::Deactivated}) {
            metrics_->inc("churnwatch_churn_events_total",
                          {{"reason", to_string(r)}, {"category", to_string(category_of(r))}}, 0);
        }
        metrics_->inc("churnwatch_reactivations_total", {}, 0);
        metrics_->inc("churnwatch_churn_events_retracted_total", {}, 0);
    }
}

ChurnStore::~ChurnStore() = default;

void ChurnStore::prepare(sql::Database& db) {
    db_ = &db;
    db_serial_ = db.serial();
    st_ = std::make_unique<Statements>(db);
    derived_with_ = derived_rules_version(db);  // nothing derived yet: this version's
}

int64_t derived_rules_version(sql::Database& db) {
    {
        sql::Statement q(db, "SELECT CAST(value AS INTEGER) FROM service_state WHERE key = 'rules_version'");
        if (q.step()) return q.column_int(0);
    }
    {
        sql::Statement any(db, "SELECT EXISTS (SELECT 1 FROM customers)");
        if (any.step() && any.column_int(0)) return 1;
    }
    if (sqlite3_db_readonly(db.handle(), "main") != 1) {
        sql::Statement mark(db, "INSERT OR IGNORE INTO service_state (key, value) VALUES ('rules_version', ?)");
        mark.bind(1, std::to_string(kRulesVersion)).run();
    }
    return kRulesVersion;
}

namespace {

// A whole number of days serve accepts, else nullopt (0 and anything malformed included).
std::optional<int64_t> setting_days(std::string_view text) {
    if (text.empty() || text.size() > 4) return std::nullopt;
    int64_t days = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        days = days * 10 + (c - '0');
    }
    if (days < 1 || days > 3650) return std::nullopt;
    return days;
}

// serve's pass mark, service_state 'auto_churn_checked_at' (set_auto_churn_mark): the
// charges due by `at` under an auto-churn-days of `days` were judged.
struct AutoChurnMark {
    Micros at;
    int64_t days;
};

// The mark as set_auto_churn_mark writes it, "<time>/<days>", else nullopt (no mark, or one
// malformed: then no charge is known to have been judged).
std::optional<AutoChurnMark> read_auto_churn_mark(sql::Database& db) {
    sql::Statement q(db, "SELECT value FROM service_state WHERE key = 'auto_churn_checked_at'");
    if (!q.step()) return std::nullopt;
    const std::string value = q.column_text(0);
    const auto slash = value.find('/');
    if (slash == std::string::npos) return std::nullopt;
    const std::optional<int64_t> days = setting_days(std::string_view(value).substr(slash + 1));
    Micros at = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + slash, at);
    if (!days || ec != std::errc() || end != value.data() + slash) return std::nullopt;
    return AutoChurnMark{at, *days};
}

}  // namespace

std::optional<int64_t> stored_auto_churn_days(sql::Database& db) {
    {
        sql::Statement q(db, "SELECT value FROM service_state WHERE key = 'auto_churn_days'");
        if (q.step()) return setting_days(q.column_text(0));
    }
    const std::optional<AutoChurnMark> mark = read_auto_churn_mark(db);
    return mark ? std::optional<int64_t>(mark->days) : std::nullopt;
}

void record_auto_churn_days(sql::Database& db, std::optional<int64_t> days) {
    sql::Statement mark(db,
                        "INSERT INTO service_state (key, value) VALUES ('auto_churn_days', ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    mark.bind(1, std::to_string(days.value_or(0))).run();
}

void ChurnStore::apply(sql::Database& db, int64_t delivery_id, const Delivery& d) {
    if (!prepared_for(db)) prepare(db);
    // A delivery whose rules fail is rolled back to its savepoint: so are its counts.
    const std::size_t counted_before = uncommitted_.size();
    try {
        std::set<int64_t> customers = record(delivery_id, d);
        for (int64_t customer : customers) {
            Touched touched;
            if (d.payload) {
                const DecodedPayload& p = *d.payload;
                if (p.subscription && p.subscription->customer_id == customer) touched.subscriptions.insert(p.subscription->id);
                if (p.charge && p.charge->customer_id == customer) touched.charges.insert(p.charge->id);
            }
            recompute(customer, true, &touched);
        }
    } catch (...) {
        uncommitted_.resize(counted_before);
        throw;
    }
}

void ChurnStore::count(const char* counter, std::string reason, std::string category) {
    if (metrics_) uncommitted_.push_back({counter, std::move(reason), std::move(category)});
}

void ChurnStore::finished(bool committed) {
    if (committed) {
        for (const Counted& c : uncommitted_) {
            if (c.reason.empty()) {
                metrics_->inc(c.counter);
            } else {
                metrics_->inc(c.counter, {{"reason", c.reason}, {"category", c.category}});
            }
        }
        auto_churn_mark_dropped_ |= mark_dropped_uncommitted_;
    }
    uncommitted_.clear();
    mark_dropped_uncommitted_ = false;
}

// service_state 'auto_churn_checked_at', "<time>/<days>": the charges of that auto-churn-days
// due by then were judged (maintain). Without `at`, none are known to be: removed.
static void set_auto_churn_mark(sql::Database& db, std::optional<Micros> at, int64_t days) {
    if (!at) {
        db.exec("DELETE FROM service_state WHERE key = 'auto_churn_checked_at'");
        return;
    }
    sql::Statement mark(db,
                        "INSERT INTO service_state (key, value) VALUES ('auto_churn_checked_at', ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    mark.bind(1, std::to_string(*at) + "/" + std::to_string(days)).run();
}

void ChurnStore::maintain(sql::Database& db) {
    if (!policy_.auto_churn_after_max_retries_days) {
        // Customers recomputed meanwhile lose their auto-churn episodes: a later run with the
        // setting back must take every charge again, not only those due since its old mark.
        if (!auto_churn_mark_dropped_) set_auto_churn_mark(db, std::nullopt, 0);
        mark_dropped_uncommitted_ = true;  // done once committed (finished)
        return;
    }
    if (!prepared_for(db)) prepare(db);
    const Micros now = clock_();
    const Micros wait = *policy_.auto_churn_after_max_retries_days * 86400 * kMicrosPerSecond;
    // Only the charges whose moment came since the last pass (service_state
    // 'auto_churn_checked_at'; the first pass takes them all): a charge due earlier was
    // recomputed then, or by the projection, which judges with the same clock. Taking every
    // max-retries charge ever stored recomputed every customer who had one and stayed active
    // (paid again, came back), every 10 minutes for good, after a scan of all charge_versions
    // — inside a write transaction that ingest waited for, longer with every month of data.
    // Migration 0019 indexes these versions by time.
    // The mark is "<time>/<days>": a pass under another auto-churn-days (the setting changed)
    // takes them all again, since charges it skipped as not yet due may be due now.
    const int64_t days = *policy_.auto_churn_after_max_retries_days;
    std::optional<Micros> checked;
    if (const std::optional<AutoChurnMark> mark = read_auto_churn_mark(db); mark && mark->days == days)
        checked = mark->at;
    std::vector<int64_t> ids;
    {
        sql::Statement q(db,
                         "SELECT DISTINCT v.customer_id FROM charge_versions v"
                         " JOIN customers c ON c.id = v.customer_id"
                         " WHERE v.max_retries_reached = 1 AND v.updated_at_us > ? AND v.updated_at_us <= ?"
                         " AND c.status = 'active'");
        q.bind(1, checked ? *checked - wait : std::numeric_limits<int64_t>::min());
        q.bind(2, now - wait);
        while (q.step()) ids.push_back(q.column_int(0));
    }
    for (int64_t id : ids) recompute(id);
    set_auto_churn_mark(db, now, days);
}

std::set<int64_t> ChurnStore::record(int64_t delivery_id, const Delivery& d) {
    std::set<int64_t> touched;
    if (!d.payload) return touched;
    const DecodedPayload& p = *d.payload;
    std::string row;
    sql::Value values[kMaxVersionColumns];
    auto insert = [&](sql::Statement& q, std::size_t columns) {
        read_row(row, values, columns);
        run_with(q, values, columns);
        row.clear();
    };
    if (p.subscription) {
        RowWriter w(row);
        subscription_version_row(w, delivery_id, d.dedupe_key, action_for(d, "subscription"), *p.subscription);
        insert(st_->ins_sub, kSubscriptionVersionColumns);
        touched.insert(p.subscription->customer_id);
    }
    if (p.charge) {
        RowWriter w(row);
        charge_version_row(w, delivery_id, d.dedupe_key, action_for(d, "charge"), *p.charge);
        insert(st_->ins_charge, kChargeVersionColumns);
        touched.insert(p.charge->customer_id);
    }
    if (p.customer) {
        RowWriter w(row);
        customer_version_row(w, delivery_id, d.dedupe_key, action_for(d, "customer"), *p.customer);
        insert(st_->ins_customer, kCustomerVersionColumns);
        touched.insert(p.customer->id);
    }
    return touched;
}

CustomerHistory ChurnStore::load_history(int64_t customer_id) {
    CustomerHistory h;
    h.customer_id = customer_id;
    sql::Value row[kMaxVersionColumns];
    auto read = [&](sql::Statement& q, std::size_t columns) {
        for (std::size_t i = 0; i < columns; ++i) row[i] = q.column_value(static_cast<int>(i));
        return row;
    };
    auto& qs = st_->sel_subs;
    qs.reset();
    qs.bind(1, customer_id);
    while (qs.step()) h.subscriptions.push_back(subscription_fact(read(qs, kSubscriptionVersionColumns)));
    auto& qc = st_->sel_charges;
    qc.reset();
    qc.bind(1, customer_id);
    while (qc.step()) h.charges.push_back(charge_fact(read(qc, kChargeVersionColumns)));
    auto& qu = st_->sel_customers;
    qu.reset();
    qu.bind(1, customer_id);
    while (qu.step()) h.customer.push_back(customer_fact(read(qu, kCustomerVersionColumns)));
    return h;
}

void ChurnStore::recompute(int64_t customer_id, bool notify, const Touched* touched) {
    CustomerHistory h = load_history(customer_id);
    CustomerOutcome o = evaluate_customer(h, policy_, clock_());
    if (!touched) {
        write_rows(outcome_rows(h, o));
    } else {
        Touched only = rows_changed_by(h, *touched);
        write_rows(outcome_rows(h, o, &only));
    }
    sync_episodes(o, notify);
}

// A subscription's row is its latest version, with what its own versions and the charges
// covering it say (charges counted, ended by expiry, max retries); a charge's row is its
// latest version and whether any version reached max retries. So a delivery changes the
// rows of the objects it carries, and of the subscriptions any version of a charge it
// carries covers (a new version may drop one from the list). The other rows of the
// customer stay as they are: rewriting them cost an upsert each, for every delivery —
// a customer with two years of monthly charges paid ~24 upserts per new charge.
ChurnStore::Touched ChurnStore::rows_changed_by(const CustomerHistory& h, const Touched& touched) {
    Touched only = touched;
    for (const auto& f : h.charges) {
        if (!touched.charges.count(f.charge.id)) continue;
        only.subscriptions.insert(f.charge.subscription_ids.begin(), f.charge.subscription_ids.end());
    }
    return only;
}

ChurnStore::OutcomeRows ChurnStore::outcome_rows(const CustomerHistory& h, const CustomerOutcome& o,
                                                 const Touched* only) {
    OutcomeRows out;
    RowWriter w(out.rows);
    // Latest version of each object: greatest version_key, whatever the arrival.
    const CustomerFact* cust = nullptr;
    for (const auto& f : h.customer)
        if (!cust || version_key(f.customer.updated_at, f.action, f.order_key) >
                         version_key(cust->customer.updated_at, cust->action, cust->order_key))
            cust = &f;
    std::optional<std::string> email;
    Micros email_at = 0;
    auto offer_email = [&](const std::optional<std::string>& e, Micros at) {
        if (e && !e->empty() && (!email || at >= email_at)) {
            email = e;
            email_at = at;
        }
    };
    for (const auto& f : h.subscriptions) offer_email(f.sub.email, f.sub.updated_at);
    for (const auto& f : h.charges) offer_email(f.charge.email, f.charge.updated_at);
    if (cust) offer_email(cust->customer.email, cust->customer.updated_at + 1);

    // The platform id and the billing address: the customer record's own when it has them,
    // else those of the latest charge carrying them (2021-11 charges nest the platform id; a
    // customer seen only through charges had none. A 2021-11 customer carries no billing
    // address at all: its charges' billing_address is where its country is).
    const ChargeFact* external_from = latest_charge_with(h, &Charge::external_customer_id);
    const ChargeFact* billing_from = latest_charge_with(h, &Charge::billing_country);
    std::optional<std::string> external_id;
    if (cust) external_id = cust->customer.external_customer_id;
    if (!has_text(external_id) && external_from) external_id = external_from->charge.external_customer_id;
    w.add(o.customer_id).add(email).add(external_id);
    w.add(o.churned ? "churned" : o.first_active_at ? "active" : "never_active");
    w.add(opt_time(o.first_seen_at)).add(opt_time(o.churned_at));
    w.add(opt_time(o.last_event_at)).add(o.active_subscriptions);
    w.add(cust ? cust->customer.active_subscriptions : std::nullopt);
    // Country, province and zip from one address, never mixed from two (a customer record
    // naming no country anywhere: its province and zip, if any).
    auto address_of = [](const auto& object) {
        return std::array{&object.billing_country, &object.billing_province, &object.billing_zip};
    };
    std::array<const std::optional<std::string>*, 3> billing{};
    if (cust && (has_text(cust->customer.billing_country) || !billing_from)) {
        billing = address_of(cust->customer);
    } else if (billing_from) {
        billing = address_of(billing_from->charge);
    }
    for (const auto* field : billing) {
        if (field) w.add(*field);
        else w.null();
    }
    if (cust) {
        w.add(cust->customer.has_valid_payment_method).add(cust->customer.payment_method_in_dunning);
    } else {
        w.null();
        w.null();
    }
    w.add(opt_time(o.first_active_at));
    // The country as an ISO code (0023): names and codes as sent split one country in two.
    std::optional<std::string> country_code_of;
    if (billing[0] && *billing[0]) {
        if (auto code = country_code(**billing[0])) country_code_of = std::string(*code);
    }
    w.add(country_code_of);

    // Rows are built only for the objects to be written: formatting every row of a long
    // history for each delivery cost more than the rows that changed.
    const auto subs = latest_by_id(h.subscriptions, &SubscriptionFact::sub,
                                   only ? &only->subscriptions : nullptr);
    for (const auto& [id, latest] : subs) {
        const Subscription& s = latest.fact->sub;
        auto it = std::lower_bound(o.subscriptions.begin(), o.subscriptions.end(), id,
                                   [](const SubscriptionOutcome& so, int64_t v) { return so.id < v; });
        if (it != o.subscriptions.end() && it->id != id) it = o.subscriptions.end();
        // subscription/deleted carries the subscription as it was (often still active).
        w.add(id).add(s.customer_id);
        w.add(latest.fact->action == "deleted" ? std::string_view("deleted") : status_name(s.status));
        w.add(opt_time(s.cancelled_at)).add(s.cancellation_reason);
        w.add(s.expire_after_charges);
        w.add(it != o.subscriptions.end() ? it->charges_counted : 0);
        w.add(it != o.subscriptions.end() && it->expired);
        w.add(latest.max_retries).add(s.next_charge_scheduled_at);
        w.add(s.price).add(s.quantity).add(s.product_title);
        w.add(opt_time(s.created_at)).add(format_time(s.updated_at));
        ++out.subscriptions;
    }

    const auto charges = latest_by_id(h.charges, &ChargeFact::charge, only ? &only->charges : nullptr);
    for (const auto& [id, latest] : charges) {
        const Charge& c = latest.fact->charge;
        w.add(id).add(c.customer_id).add(join_ids(c.subscription_ids));
        w.add(status_name(c.status)).add(c.error_type).add(c.error);
        w.add(c.attempts).add(latest.max_retries).add(c.total_price);
        w.add(opt_time(c.created_at)).add(opt_time(c.processed_at));
        w.add(format_time(c.updated_at));
        ++out.charges;
    }
    return out;
}

void ChurnStore::write_rows(const OutcomeRows& rows) {
    constexpr std::size_t kCustomer = 16, kSubscription = 15, kCharge = 12;
    sql::Value values[std::max(kCustomer, kSubscription)];
    std::string_view rest = rows.rows;
    // Each row's first column is its object's id.
    auto next = [&](sql::Statement& q, std::size_t columns) {
        rest.remove_prefix(read_row(rest, values, columns));
        run_with(q, values, columns);
    };
    next(st_->upsert_customer, kCustomer);
    for (std::size_t i = 0; i < rows.subscriptions; ++i) next(st_->upsert_subscription, kSubscription);
    for (std::size_t i = 0; i < rows.charges; ++i) next(st_->upsert_charge, kCharge);
}

int64_t ChurnStore::next_episode_id() {
    auto& q = st_->last_episode_id;
    q.reset();
    const int64_t id = (q.step() ? q.column_int(0) : 0) + 1;
    q.reset();
    st_->set_last_episode_id.reset();
    st_->set_last_episode_id.bind(1, std::to_string(id)).run();
    return id;
}

void ChurnStore::insert_episode(int64_t id, int64_t customer_id, const ChurnEpisode& e) {
    auto& q = st_->ins_episode;
    q.reset();
    q.bind(1, id).bind(2, customer_id).bind(3, format_time(e.churned_at));
    q.bind(4, to_string(e.reason)).bind(5, to_string(e.category));
    q.bind(6, e.subscription_id).bind(7, e.charge_id).bind(8, e.delivery_id);
    q.bind(9, opt_time(e.reactivated_at));
    q.run();
}

namespace {

// The stored words back to the values, by the rules' own to_string (one spelling of each).
ChurnReason reason_from(std::string_view s) {
    for (ChurnReason r : {ChurnReason::Cancelled, ChurnReason::MaxRetries, ChurnReason::Expired,
                          ChurnReason::Deactivated})
        if (to_string(r) == s) return r;
    return ChurnReason::Cancelled;  // the CHECK constraint admits no other word
}

ChurnCategory category_from(std::string_view s) {
    for (ChurnCategory c : {ChurnCategory::Voluntary, ChurnCategory::Involuntary, ChurnCategory::Natural})
        if (to_string(c) == s) return c;
    return ChurnCategory::Voluntary;
}

// A churn_events row's columns as an episode.
ChurnEpisode episode_from_row(const std::string& churned_at, const std::optional<std::string>& reactivated_at,
                              std::string_view reason, std::string_view category,
                              std::optional<int64_t> subscription_id, std::optional<int64_t> charge_id,
                              int64_t delivery_id) {
    ChurnEpisode e;
    e.churned_at = parse_time(churned_at).value_or(0);
    if (reactivated_at) e.reactivated_at = parse_time(*reactivated_at);
    e.reason = reason_from(reason);
    e.category = category_from(category);
    e.subscription_id = subscription_id;
    e.charge_id = charge_id;
    e.delivery_id = delivery_id;
    return e;
}

}  // namespace

// An episode the facts no longer show, as it was stored: counted, and told to the listener
// (which announces it to the targets that were told of the churn).
void ChurnStore::retract_episode(int64_t id, const ChurnEpisode& stored, const CustomerOutcome& o) {
    count("churnwatch_churn_events_retracted_total");
    if (listener_) listener_->on_retracted(*db_, id, o, stored);
}

void ChurnStore::sync_episodes(const CustomerOutcome& o, bool notify) {
    struct Row {
        int64_t id;
        std::string churned_at;
        std::optional<std::string> reactivated_at;
        // The rest of the row as stored, for the listener when the row changes (parsed only then:
        // this runs for every delivery the projection applies).
        std::string reason, category;
        std::optional<int64_t> subscription_id, charge_id;
        int64_t delivery_id = 0;
        ChurnEpisode stored() const {
            return episode_from_row(churned_at, reactivated_at, reason, category, subscription_id, charge_id,
                                    delivery_id);
        }
    };
    std::vector<Row> existing;
    {
        auto& sel = st_->sel_episodes;
        sel.reset();
        sel.bind(1, o.customer_id);
        while (sel.step()) {
            existing.push_back({sel.column_int(0), sel.column_text(1), sel.column_opt_text(2), sel.column_text(3),
                                sel.column_text(4), sel.column_opt_int(5), sel.column_opt_int(6),
                                sel.column_int(7)});
        }
    }

    // Pair the episodes with the stored rows (pair_episodes): a paired episode keeps its row's
    // id and is not announced again. Unpaired rows go; unpaired episodes are new.
    std::vector<std::string> at;
    at.reserve(o.episodes.size());
    for (const ChurnEpisode& e : o.episodes) at.push_back(format_time(e.churned_at));
    const std::vector<std::size_t> row_for = pair_episodes(at, std::span<const Row>(existing));
    std::vector<bool> row_used(existing.size(), false);
    for (std::size_t j : row_for)
        if (j != kNoRow) row_used[j] = true;
    for (std::size_t j = 0; j < existing.size(); ++j) {
        if (row_used[j]) continue;
        if (notify) retract_episode(existing[j].id, existing[j].stored(), o);
        st_->del_episode.reset();
        st_->del_episode.bind(1, existing[j].id).run();
        st_->del_told.reset();
        st_->del_told.bind(1, existing[j].id).run();
        st_->del_told_return.reset();
        st_->del_told_return.bind(1, existing[j].id).run();
    }
    for (std::size_t i = 0; i < o.episodes.size(); ++i) {
        const ChurnEpisode& e = o.episodes[i];
        std::string reason(to_string(e.reason)), category(to_string(e.category));
        std::optional<std::string> reactivated = opt_time(e.reactivated_at);
        int64_t id;
        bool was_reactivated = false;
        const bool is_new = row_for[i] == kNoRow;
        if (!is_new) {
            const Row& r = existing[row_for[i]];
            id = r.id;
            was_reactivated = r.reactivated_at.has_value();
            auto& q = st_->upd_episode;
            q.reset();
            q.bind(1, at[i]).bind(2, reason).bind(3, category);
            q.bind(4, e.subscription_id).bind(5, e.charge_id).bind(6, e.delivery_id);
            q.bind(7, reactivated).bind(8, id);
            q.run();
            // The UPDATE matches only a row that differs: a change to tell the listener of.
            if (notify && listener_ && db_->changes() > 0) listener_->on_changed(*db_, id, o, e, r.stored());
        } else {
            id = next_episode_id();
            insert_episode(id, o.customer_id, e);
        }
        if (!notify) continue;
        if (is_new) {
            count("churnwatch_churn_events_total", reason, category);
            if (listener_) listener_->on_churned(*db_, id, o, e);
        }
        if (reactivated && !was_reactivated) {
            count("churnwatch_reactivations_total");
            if (listener_) listener_->on_reactivated(*db_, id, o, e);
        }
    }
}

namespace {

// A stored delivery on its way through the decoding threads, reused batch after batch.
struct StoredDelivery {
    int64_t id = 0;
    bool has_topic = false;
    std::string topic;
    Delivery d;
    bool decoded = false;
    std::string why;  // when not decoded
};

// The accepted deliveries with ids in [from_id, to_id), read and decoded on a worker.
struct DeliveryBatch {
    int64_t from_id = 0, to_id = 0;
    std::vector<StoredDelivery> deliveries;
    VersionBatch versions;  // of the decoded deliveries
};

// Read-only connections to the database being rebuilt, so that the decoding threads read
// the stored deliveries themselves: reading on the rebuilding connection's thread was that
// thread's largest cost (~1.6 µs per delivery) and left the decoders waiting for it. A
// worker takes one for a batch and gives it back; at most one per worker is ever opened.
//
// They see what the rebuilding connection sees: it holds the write lock from before the
// first read here, and it writes nothing to the deliveries table while they are open.
class DeliveryReaders {
public:
    explicit DeliveryReaders(std::string file) : file_(std::move(file)) {}

    struct Reader {
        explicit Reader(const std::string& file) : db(file, sql::OpenMode::ReadOnly) {
            // Every stored body is read once: mapped, SQLite reads the pages in place instead
            // of one pread(2) copy each (~8% of the rebuild here). SQLite caps the size at
            // its compile-time limit; pages beyond it are read as before. An I/O error while
            // reading ends the process (SIGBUS) before the commit: nothing is changed.
            db.exec("PRAGMA mmap_size=" + std::to_string(int64_t{1} << 40));
            range.emplace(db,
                          "SELECT id, topic, dedupe_key, body, received_at FROM deliveries"
                          " WHERE id >= ? AND id < ? AND status = 'accepted' ORDER BY id");
        }
        sql::Database db;
        std::optional<sql::Statement> range;
    };

    std::unique_ptr<Reader> take() {
        {
            std::lock_guard lock(mu_);
            if (!idle_.empty()) {
                std::unique_ptr<Reader> r = std::move(idle_.back());
                idle_.pop_back();
                return r;
            }
        }
        return std::make_unique<Reader>(file_);
    }

    void give(std::unique_ptr<Reader> r) {
        r->range->reset();  // ends its read transaction
        std::lock_guard lock(mu_);
        idle_.push_back(std::move(r));
    }

private:
    std::string file_;
    std::mutex mu_;
    std::vector<std::unique_ptr<Reader>> idle_;
};

// On a worker: the batch's deliveries, into its reused StoredDelivery objects (assign()
// into their strings, so no allocation per delivery once they have grown).
void read_batch(sql::Statement& range, DeliveryBatch& batch) {
    range.reset();
    range.bind(1, batch.from_id).bind(2, batch.to_id);
    std::size_t n = 0;
    while (range.step()) {
        if (n == batch.deliveries.size()) batch.deliveries.emplace_back();
        StoredDelivery& s = batch.deliveries[n++];
        s.id = range.column_int(0);
        s.has_topic = !range.is_null(1);
        s.topic.assign(range.column_view(1));
        s.d.dedupe_key.assign(range.column_view(2));
        s.d.body.assign(range.column_view(3));
        s.d.received_at = parse_time(range.column_view(4)).value_or(0);
    }
    batch.deliveries.resize(n);
}

// Customers [begin, end) of the rebuild's list, through the rules on a worker.
struct CustomerBatch {
    std::size_t begin = 0, end = 0;
    Micros now = 0;
    std::vector<CustomerOutcome> outcomes;
    std::vector<ChurnStore::OutcomeRows> rows;
    // One per episode, customer after customer: the id of the old churn_events row it
    // continues, or 0 for a new episode.
    std::vector<int64_t> episode_ids;
};

// A churn_events row as it was before the rebuild.
struct OldEpisode {
    int64_t customer_id = 0;
    int64_t id = 0;
    std::string churned_at;
};

// The churn_events rows before the rebuild, by customer, each customer's in churned_at order
// (pair_episodes' order: the UNIQUE (customer_id, churned_at) index's), and the highest
// episode id ever given out: the mark's, the rows' and the alerts' (an alert may name an
// episode that is gone; its id must not come back either).
struct OldEpisodes {
    std::vector<OldEpisode> rows;
    int64_t last_id = 0;
};

OldEpisodes read_old_episodes(sql::Database& db) {
    OldEpisodes old;
    sql::Statement q(db, "SELECT customer_id, id, churned_at FROM churn_events ORDER BY customer_id, churned_at");
    while (q.step()) {
        old.rows.push_back({q.column_int(0), q.column_int(1), q.column_text(2)});
        old.last_id = std::max(old.last_id, old.rows.back().id);
    }
    sql::Statement alerts(db, "SELECT coalesce(max(episode_id), 0) FROM alerts_outbox");
    if (alerts.step()) old.last_id = std::max(old.last_id, alerts.column_int(0));
    sql::Statement mark(db, kLastEpisodeId);
    if (mark.step()) old.last_id = std::max(old.last_id, mark.column_int(0));
    return old;
}

// On a rules worker: the old ids of one customer's episodes, appended to `ids` (0: new).
// `from` points into the old rows at or before this customer's (customers come in id
// order), and is moved past them.
void pair_with_old(const CustomerOutcome& o, const std::vector<OldEpisode>& old,
                   std::vector<OldEpisode>::const_iterator& from, std::vector<int64_t>& ids) {
    while (from != old.end() && from->customer_id < o.customer_id) ++from;
    auto first = from;
    while (from != old.end() && from->customer_id == o.customer_id) ++from;
    if (first == from) {
        ids.insert(ids.end(), o.episodes.size(), 0);
        return;
    }
    std::vector<std::string> at;
    at.reserve(o.episodes.size());
    for (const ChurnEpisode& e : o.episodes) at.push_back(format_time(e.churned_at));
    const std::span<const OldEpisode> rows(&*first, static_cast<std::size_t>(from - first));
    for (std::size_t j : pair_episodes(at, rows)) ids.push_back(j == kNoRow ? 0 : rows[j].id);
}

// Batches big enough that hand-overs cost nothing next to the work in them; few enough in
// flight that memory stays a few MB whatever the number of deliveries.
constexpr int64_t kIdsPerBatch = 256;
constexpr std::size_t kBatchesInFlight = 8;
constexpr std::size_t kCustomersPerBatch = 512;
// Reading and decoding are pass 1's CPU; two workers keep both cores of a small machine busy
// (the rebuilding thread needs far less than a core meanwhile).
constexpr unsigned kDecoderThreads = 2;

// A version table's rows in key order, as Database::run_over reads them, without the ones
// the table refuses.
class KeptVersions : public sql::RowSource {
public:
    KeptVersions(const std::vector<VersionRef>& refs, std::size_t columns) : refs_(refs), columns_(columns) {}
    bool next(sql::Value* row) override {
        while (next_ < refs_.size() && refs_[next_].refused) ++next_;
        if (next_ == refs_.size()) return false;
        read_row(refs_[next_++].row, row, columns_);
        return true;
    }

private:
    const std::vector<VersionRef>& refs_;
    std::size_t columns_;
    std::size_t next_ = 0;
};

// On a decoding thread: the body's objects, decoded, as version rows (what record() would
// insert), appended to the batch.
void decode_into(StoredDelivery& s, const JsonLimits& limits, VersionBatch& versions) {
    s.d.topic.reset();
    s.d.topic_source.reset();
    s.d.payload.reset();
    if (s.has_topic) s.d.topic = parse_topic(s.topic);
    s.why.clear();
    s.decoded = decode_stored_delivery(s.d, limits, s.why);
    if (!s.decoded || !s.d.payload) return;
    const DecodedPayload& p = *s.d.payload;
    if (p.subscription) {
        RowWriter w = versions.writer(VersionTable::Subscription);
        subscription_version_row(w, s.id, s.d.dedupe_key, action_for(s.d, "subscription"), *p.subscription);
    }
    if (p.charge) {
        RowWriter w = versions.writer(VersionTable::Charge);
        charge_version_row(w, s.id, s.d.dedupe_key, action_for(s.d, "charge"), *p.charge);
    }
    if (p.customer) {
        RowWriter w = versions.writer(VersionTable::Customer);
        customer_version_row(w, s.id, s.d.dedupe_key, action_for(s.d, "customer"), *p.customer);
    }
    s.d.payload.reset();  // freed on the thread that allocated it
}

}  // namespace

RebuildStats ChurnStore::rebuild(sql::Database& db, std::size_t json_max_depth,
                                 const std::function<void(int64_t, int64_t)>& progress) {
    RebuildStats stats;
    auto step_began = std::chrono::steady_clock::now();
    auto step_done = [&](const char* name) {
        auto now = std::chrono::steady_clock::now();
        stats.seconds.emplace_back(name, std::chrono::duration<double>(now - step_began).count());
        step_began = now;
    };
    // The id range to read, and the progress display's total: estimated from that range,
    // since count(*) would walk every page of the table (~0.6 s per million deliveries,
    // before any work). (One min or max per SELECT: SQLite answers each from the b-tree's
    // edge, but scans the table for both at once.)
    int64_t first_id = 0, last_id = -1, total = 0;
    {
        sql::Statement range(db,
                             "SELECT (SELECT min(id) FROM deliveries), (SELECT max(id) FROM deliveries),"
                             " (SELECT count(*) FROM deliveries WHERE status = 'quarantined')");
        if (range.step() && !range.is_null(0)) {
            first_id = range.column_int(0);
            last_id = range.column_int(1);
            total = std::max<int64_t>(0, last_id - first_id + 1 - range.column_int(2));
        }
    }
    RebuildVersions versions;
    // Read before they are deleted: a rebuilt episode takes the id of the old row it
    // continues, so an episode_id an alert carried keeps naming the same episode.
    const OldEpisodes old_episodes = read_old_episodes(db);

    // Pass 1: deliveries in id order. The workers read and decode them, each batch on a
    // read-only connection of its own; this thread keeps their version rows in order. It
    // writes nothing meanwhile (with a rollback journal, a write that spilled to the file
    // would lock the readers out): the old rows are deleted, and the deliveries that no
    // longer decode quarantined, after.
    std::vector<std::pair<int64_t, std::string>> undecodable;
    {
        if (db.file().empty()) throw std::invalid_argument("rebuild needs a database file, not an in-memory one");
        DeliveryReaders readers(db.file());
        JsonLimits limits;
        limits.max_depth = json_max_depth;
        OrderedWorker<DeliveryBatch, DeliveryBatch> decoder(
            [&readers, limits](DeliveryBatch& batch) {
                std::unique_ptr<DeliveryReaders::Reader> reader = readers.take();
                read_batch(*reader->range, batch);
                readers.give(std::move(reader));
                for (StoredDelivery& s : batch.deliveries) decode_into(s, limits, batch.versions);
                batch.versions.seal();
                return std::move(batch);
            },
            kDecoderThreads);
        std::vector<std::vector<StoredDelivery>> spare;  // batches back from the decoders
        int64_t next_id = first_id;
        if (next_id > last_id) decoder.close();
        for (;;) {
            while (next_id <= last_id && decoder.in_flight() < kBatchesInFlight) {
                DeliveryBatch batch;
                if (!spare.empty()) {
                    batch.deliveries = std::move(spare.back());
                    spare.pop_back();
                }
                batch.from_id = next_id;
                batch.to_id = next_id = last_id - next_id < kIdsPerBatch ? last_id + 1 : next_id + kIdsPerBatch;
                decoder.push(std::move(batch));
                if (next_id > last_id) decoder.close();
            }
            std::optional<DeliveryBatch> batch = decoder.pop();
            if (!batch) break;
            for (StoredDelivery& s : batch->deliveries) {
                ++stats.deliveries;
                if (progress && stats.deliveries % 10000 == 0) progress(stats.deliveries, total);
                if (!s.decoded) undecodable.emplace_back(s.id, "rebuild could not decode: " + s.why);
            }
            versions.add(std::move(batch->versions));
            spare.push_back(std::move(batch->deliveries));
        }
    }
    step_done("read and decode");

    // Now the writing. Nothing reads these indexes during the rebuild, and building each
    // once at the end is a sort. Dropped before the statements are prepared, so they are not
    // prepared twice.
    DeferredIndexes indexes(db, {"subscription_versions", "charge_versions", "customer_versions",
                                 "customers", "subscriptions", "charges", "churn_events"});
    prepare(db);
    // The commit must sync everything dirty in the database file, including what was written
    // just before (a bulk load, a checkpoint): have the OS start on it while we compute.
    db.start_writeback();
    db.exec(
        "DELETE FROM churn_events; DELETE FROM customers; DELETE FROM subscriptions;"
        " DELETE FROM charges; DELETE FROM subscription_versions; DELETE FROM charge_versions;"
        " DELETE FROM customer_versions;");
    {
        sql::Statement quarantine(db, quarantine_delivery_sql());
        for (const auto& [id, why] : undecodable) {
            ++stats.quarantined;
            quarantine.reset();
            quarantine.bind(1, why).bind(2, id).run();
        }
    }

    step_done("delete old rows");

    // Pass 2: the version rows, table by table in primary-key order, while a worker runs the
    // rules for every customer; then each customer's analyst rows, in id order.
    versions.finish();
    const std::vector<int64_t> customers = versions.customers();
    OrderedWorker<CustomerBatch, CustomerBatch> rules([&](CustomerBatch& batch) {
        RebuildVersions::Cursor cursor(versions, customers[batch.begin]);
        auto old = std::lower_bound(old_episodes.rows.begin(), old_episodes.rows.end(), customers[batch.begin],
                                    [](const OldEpisode& e, int64_t c) { return e.customer_id < c; });
        for (std::size_t i = batch.begin; i < batch.end; ++i) {
            CustomerHistory h = cursor.history(customers[i]);
            CustomerOutcome o = evaluate_customer(h, policy_, batch.now);
            pair_with_old(o, old_episodes.rows, old, batch.episode_ids);
            batch.rows.push_back(outcome_rows(h, o));
            o.subscriptions = {};  // in the rows now; only the episodes are still needed
            batch.outcomes.push_back(std::move(o));
        }
        return std::move(batch);
    });
    const Micros judged_at = clock_();  // no later than any batch's
    for (std::size_t begin = 0; begin < customers.size(); begin += kCustomersPerBatch) {
        CustomerBatch batch;
        batch.begin = begin;
        batch.end = std::min(customers.size(), begin + kCustomersPerBatch);
        batch.now = clock_();
        rules.push(std::move(batch));
    }
    rules.close();
    {
        // One INSERT … SELECT per table: SQLite pulls the rows, no round trip per row.
        auto write = [&](VersionTable table, const char* insert, std::size_t columns) {
            KeptVersions rows(versions.in_key_order(table), columns);
            db.run_over(insert + select_rows(columns), rows);
        };
        write(VersionTable::Subscription, kInsertSubscriptionVersion, kSubscriptionVersionColumns);
        write(VersionTable::Charge, kInsertChargeVersion, kChargeVersionColumns);
        write(VersionTable::Customer, kInsertCustomerVersion, kCustomerVersionColumns);
    }
    step_done("version rows");
    db.start_writeback();  // the version rows spilled to the WAL so far
    // New episodes get ids above every id given out before: an old id of an episode that is
    // gone may still be held by a receiver of its alert.
    int64_t last_episode_id = old_episodes.last_id;
    while (std::optional<CustomerBatch> batch = rules.pop()) {
        std::size_t k = 0;
        for (std::size_t i = 0; i < batch->rows.size(); ++i) {
            write_rows(batch->rows[i]);
            for (const ChurnEpisode& e : batch->outcomes[i].episodes) {
                const int64_t old_id = batch->episode_ids[k++];
                insert_episode(old_id ? old_id : ++last_episode_id, batch->outcomes[i].customer_id, e);
            }
            ++stats.customers;
        }
    }
    {
        sql::Statement mark(db, kSetLastEpisodeId);
        mark.bind(1, std::to_string(last_episode_id)).run();
    }
    {
        // The episodes not found again are gone, and what the alert targets were told of them
        // with them (0021, 0022); those kept their ids, and keep that too. churn_events is
        // read by its primary key, which DeferredIndexes leaves in place.
        for (const char* table : {"alert_told", "alert_told_return"}) {
            sql::Statement gone(db, std::string("DELETE FROM ") + table +
                                        " AS t WHERE NOT EXISTS (SELECT 1 FROM churn_events e"
                                        " WHERE e.id = t.episode_id AND e.customer_id = t.customer_id)");
            gone.run();
        }
    }
    step_done("analyst rows");
    indexes.restore();
    step_done("indexes");
    {
        sql::Statement count(db, "SELECT count(*) FROM churn_events");
        if (count.step()) stats.episodes = count.column_int(0);
    }
    {
        sql::Statement max_id(db, "SELECT coalesce(max(id), 0) FROM deliveries");
        if (max_id.step()) stats.projected_through = max_id.column_int(0);
        sql::Statement mark(db,
                            "INSERT INTO service_state (key, value) VALUES (?, ?)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
        mark.bind(1, "projected_through").bind(2, std::to_string(stats.projected_through)).run();
        mark.reset();
        mark.bind(1, "rules_version").bind(2, std::to_string(kRulesVersion)).run();
    }
    // Every customer was judged under this rebuild's auto-churn-days (none, maybe): a mark
    // left by serve under another setting would make its passes skip the charges due before
    // it, which this rebuild judged otherwise.
    if (const auto& days = policy_.auto_churn_after_max_retries_days)
        set_auto_churn_mark(db, judged_at, *days);
    else
        set_auto_churn_mark(db, std::nullopt, 0);
    if (progress) progress(stats.deliveries, total);
    return stats;
}

std::optional<ChurnEpisode> stored_episode(sql::Database& db, int64_t episode_id, int64_t customer_id) {
    sql::Statement q(db,
                     "SELECT churned_at, reactivated_at, reason, category, subscription_id, charge_id,"
                     " delivery_id FROM churn_events WHERE id = ? AND customer_id = ?");
    q.bind(1, episode_id).bind(2, customer_id);
    if (!q.step()) return std::nullopt;
    return episode_from_row(q.column_text(0), q.column_opt_text(1), q.column_text(2), q.column_text(3),
                            q.column_opt_int(4), q.column_opt_int(5), q.column_opt_int(6).value_or(0));
}

}  // namespace churnwatch
