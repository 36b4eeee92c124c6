#include "churn_store.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>

#include "customer_histories.h"
#include "deferred_indexes.h"
#include "delivery_decode.h"
#include "ordered_worker.h"
#include "time_util.h"
#include "topic.h"

namespace churnwatch {

namespace {

std::string_view status_name(SubscriptionStatus s) {
    switch (s) {
        case SubscriptionStatus::Active: return "active";
        case SubscriptionStatus::Cancelled: return "cancelled";
        case SubscriptionStatus::Expired: return "expired";
        case SubscriptionStatus::Onetime: return "onetime";
        case SubscriptionStatus::Unknown: break;
    }
    return "unknown";
}

SubscriptionStatus subscription_status(std::string_view s) {
    if (s == "active") return SubscriptionStatus::Active;
    if (s == "cancelled") return SubscriptionStatus::Cancelled;
    if (s == "expired") return SubscriptionStatus::Expired;
    if (s == "onetime") return SubscriptionStatus::Onetime;
    return SubscriptionStatus::Unknown;
}

constexpr std::pair<ChargeStatus, std::string_view> kChargeStatusNames[] = {
    {ChargeStatus::Success, "success"},
    {ChargeStatus::Error, "error"},
    {ChargeStatus::Queued, "queued"},
    {ChargeStatus::Skipped, "skipped"},
    {ChargeStatus::Refunded, "refunded"},
    {ChargeStatus::PartiallyRefunded, "partially_refunded"},
    {ChargeStatus::PendingManualPayment, "pending_manual_payment"},
    {ChargeStatus::Pending, "pending"},
};

std::string_view status_name(ChargeStatus s) {
    for (const auto& [st, name] : kChargeStatusNames)
        if (st == s) return name;
    return "unknown";
}

ChargeStatus charge_status(std::string_view s) {
    for (const auto& [st, name] : kChargeStatusNames)
        if (name == s) return st;
    return ChargeStatus::Unknown;
}

std::string_view status_name(CustomerStatus s) {
    switch (s) {
        case CustomerStatus::Active: return "active";
        case CustomerStatus::Inactive: return "inactive";
        case CustomerStatus::Unknown: break;
    }
    return "unknown";
}

CustomerStatus customer_status(std::string_view s) {
    if (s == "active") return CustomerStatus::Active;
    if (s == "inactive") return CustomerStatus::Inactive;
    return CustomerStatus::Unknown;
}

std::string join_ids(const std::vector<int64_t>& ids) {
    std::string out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(ids[i]);
    }
    return out;
}

std::vector<int64_t> split_ids(const std::string& s) {
    std::vector<int64_t> out;
    std::stringstream in(s);
    std::string part;
    while (std::getline(in, part, ','))
        if (!part.empty()) out.push_back(std::stoll(part));
    return out;
}

std::optional<std::string> opt_time(const std::optional<Micros>& t) {
    if (!t) return std::nullopt;
    return format_time(*t);
}

std::optional<Micros> opt_micros(const sql::Statement& q, int col) { return q.column_opt_int(col); }

// The action a fact records: the topic's own object gets the topic action; objects that
// rode along (included_objects) are marked 'included' so they never count as, say, a
// deactivation.
std::string action_for(const Delivery& d, std::string_view resource) {
    if (d.topic && d.topic->resource == resource) return d.topic->action;
    return "included";
}

}  // namespace

struct ChurnStore::Statements {
    explicit Statements(sql::Database& db)
        : ins_sub(db,
                  "INSERT INTO subscription_versions (subscription_id, customer_id, updated_at_us,"
                  " order_key, delivery_id, action, status, status_raw, email, cancelled_at_us,"
                  " cancellation_reason, expire_after_charges, max_retries_reached,"
                  " next_charge_scheduled_at, price, quantity, product_title, created_at_us)"
                  " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"),
          ins_charge(db,
                     "INSERT INTO charge_versions (charge_id, customer_id, updated_at_us, order_key,"
                     " delivery_id, action, status, status_raw, email, error, error_type, attempts,"
                     " max_retries_reached, subscription_ids, total_price, created_at_us,"
                     " processed_at_us) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                     " ON CONFLICT DO NOTHING"),
          ins_customer(db,
                       "INSERT INTO customer_versions (customer_id, updated_at_us, order_key,"
                       " delivery_id, action, status, email, external_customer_id,"
                       " active_subscriptions, total_subscriptions, billing_country,"
                       " billing_province, billing_zip, has_valid_payment_method,"
                       " payment_method_in_dunning, created_at_us)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"),
          sel_subs(db,
                   "SELECT subscription_id, customer_id, updated_at_us, order_key, delivery_id,"
                   " action, status, status_raw, email, cancelled_at_us, cancellation_reason,"
                   " expire_after_charges, max_retries_reached, next_charge_scheduled_at, price,"
                   " quantity, product_title, created_at_us"
                   " FROM subscription_versions WHERE customer_id = ?"),
          sel_charges(db,
                      "SELECT charge_id, customer_id, updated_at_us, order_key, delivery_id, action,"
                      " status, status_raw, email, error, error_type, attempts, max_retries_reached,"
                      " subscription_ids, total_price, created_at_us, processed_at_us"
                      " FROM charge_versions WHERE customer_id = ?"),
          sel_customers(db,
                        "SELECT customer_id, updated_at_us, order_key, delivery_id, action, status,"
                        " email, external_customer_id, active_subscriptions, total_subscriptions,"
                        " billing_country, billing_province, billing_zip,"
                        " has_valid_payment_method, payment_method_in_dunning, created_at_us"
                        " FROM customer_versions WHERE customer_id = ?"),
          upsert_customer(db,
                          "INSERT OR REPLACE INTO customers (id, email, external_customer_id, status,"
                          " first_seen_at, churned_at, last_event_at, active_subscriptions,"
                          " reported_active_subscriptions, billing_country, billing_province,"
                          " billing_zip, has_valid_payment_method, payment_method_in_dunning)"
                          " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
          upsert_subscription(db,
                              "INSERT OR REPLACE INTO subscriptions (id, customer_id, status,"
                              " cancelled_at, cancellation_reason,"
                              " expire_after_specific_number_of_charges, charges_counted,"
                              " ended_by_expiry, max_retries_reached, next_charge_scheduled_at,"
                              " price, quantity, product_title, created_at, updated_at)"
                              " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
          upsert_charge(db,
                        "INSERT OR REPLACE INTO charges (id, customer_id, subscription_ids, status,"
                        " error_type, error, attempts, max_retries_reached, total_price,"
                        " created_at, processed_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"),
          sel_episodes(db,
                       "SELECT id, churned_at, reactivated_at FROM churn_events"
                       " WHERE customer_id = ? ORDER BY churned_at"),
          ins_episode(db,
                      "INSERT INTO churn_events (customer_id, churned_at, reason, category,"
                      " subscription_id, charge_id, delivery_id, reactivated_at)"
                      " VALUES (?,?,?,?,?,?,?,?)"),
          upd_episode(db,
                      "UPDATE churn_events SET churned_at = ?, reason = ?, category = ?,"
                      " subscription_id = ?, charge_id = ?, delivery_id = ?, reactivated_at = ?"
                      " WHERE id = ?"),
          del_episode(db, "DELETE FROM churn_events WHERE id = ?") {}

    sql::Statement ins_sub, ins_charge, ins_customer;
    sql::Statement sel_subs, sel_charges, sel_customers;
    sql::Statement upsert_customer, upsert_subscription, upsert_charge;
    sql::Statement sel_episodes, ins_episode, upd_episode, del_episode;
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
    }
}

ChurnStore::~ChurnStore() = default;

void ChurnStore::prepare(sql::Database& db) {
    db_ = &db;
    st_ = std::make_unique<Statements>(db);
}

void ChurnStore::apply(sql::Database& db, int64_t delivery_id, const Delivery& d) {
    if (db_ != &db) prepare(db);
    for (int64_t customer : record(delivery_id, d)) recompute(customer);
}

void ChurnStore::maintain(sql::Database& db) {
    if (!policy_.auto_churn_after_max_retries_days) return;
    if (db_ != &db) prepare(db);
    Micros due = clock_() - *policy_.auto_churn_after_max_retries_days * 86400 * kMicrosPerSecond;
    std::vector<int64_t> ids;
    {
        sql::Statement q(db,
                         "SELECT DISTINCT v.customer_id FROM charge_versions v"
                         " JOIN customers c ON c.id = v.customer_id"
                         " WHERE v.max_retries_reached = 1 AND v.updated_at_us <= ?"
                         " AND c.status = 'active'");
        q.bind(1, due);
        while (q.step()) ids.push_back(q.column_int(0));
    }
    for (int64_t id : ids) recompute(id);
}

std::set<int64_t> ChurnStore::record(int64_t delivery_id, const Delivery& d) {
    std::set<int64_t> touched;
    if (!d.payload) return touched;
    const DecodedPayload& p = *d.payload;
    if (p.subscription) {
        insert_version(delivery_id, d, *p.subscription);
        touched.insert(p.subscription->customer_id);
    }
    if (p.charge) {
        insert_version(delivery_id, d, *p.charge);
        touched.insert(p.charge->customer_id);
    }
    if (p.customer) {
        insert_version(delivery_id, d, *p.customer);
        touched.insert(p.customer->id);
    }
    return touched;
}

void ChurnStore::record_into(int64_t delivery_id, Delivery& d, CustomerHistories& out) {
    if (!d.payload) return;
    DecodedPayload& p = *d.payload;
    // Same rows and the same customers as record(); a version the table already held
    // (ON CONFLICT DO NOTHING) is not a fact load_history would see twice, so it is not kept.
    if (p.subscription) {
        Subscription& s = *p.subscription;
        out.touch(s.customer_id);
        if (insert_version(delivery_id, d, s))
            out.add(SubscriptionFact{std::move(s), action_for(d, "subscription"), delivery_id, d.dedupe_key});
    }
    if (p.charge) {
        Charge& c = *p.charge;
        out.touch(c.customer_id);
        if (insert_version(delivery_id, d, c))
            out.add(ChargeFact{std::move(c), action_for(d, "charge"), delivery_id, d.dedupe_key});
    }
    if (p.customer) {
        Customer& c = *p.customer;
        out.touch(c.id);
        if (insert_version(delivery_id, d, c))
            out.add(CustomerFact{std::move(c), action_for(d, "customer"), delivery_id, d.dedupe_key});
    }
}

bool ChurnStore::insert_version(int64_t delivery_id, const Delivery& d, const Subscription& s) {
    auto& q = st_->ins_sub;
    q.reset();
    q.bind(1, s.id).bind(2, s.customer_id).bind(3, s.updated_at).bind(4, d.dedupe_key);
    q.bind(5, delivery_id).bind(6, action_for(d, "subscription")).bind(7, status_name(s.status));
    q.bind(8, s.status_raw).bind(9, s.email).bind(10, s.cancelled_at);
    q.bind(11, s.cancellation_reason).bind(12, s.expire_after_charges);
    q.bind(13, s.max_retries_reached).bind(14, s.next_charge_scheduled_at).bind(15, s.price);
    q.bind(16, s.quantity).bind(17, s.product_title).bind(18, s.created_at);
    q.run();
    return db_->changes() > 0;
}

bool ChurnStore::insert_version(int64_t delivery_id, const Delivery& d, const Charge& c) {
    auto& q = st_->ins_charge;
    q.reset();
    q.bind(1, c.id).bind(2, c.customer_id).bind(3, c.updated_at).bind(4, d.dedupe_key);
    q.bind(5, delivery_id).bind(6, action_for(d, "charge")).bind(7, status_name(c.status));
    q.bind(8, c.status_raw).bind(9, c.email).bind(10, c.error).bind(11, c.error_type);
    q.bind(12, c.attempts).bind(13, c.max_retries_reached).bind(14, join_ids(c.subscription_ids));
    q.bind(15, c.total_price).bind(16, c.created_at).bind(17, c.processed_at);
    q.run();
    return db_->changes() > 0;
}

bool ChurnStore::insert_version(int64_t delivery_id, const Delivery& d, const Customer& c) {
    auto& q = st_->ins_customer;
    q.reset();
    q.bind(1, c.id).bind(2, c.updated_at).bind(3, d.dedupe_key).bind(4, delivery_id);
    q.bind(5, action_for(d, "customer")).bind(6, status_name(c.status)).bind(7, c.email);
    q.bind(8, c.external_customer_id).bind(9, c.active_subscriptions);
    q.bind(10, c.total_subscriptions).bind(11, c.billing_country).bind(12, c.billing_province);
    q.bind(13, c.billing_zip).bind(14, c.has_valid_payment_method);
    q.bind(15, c.payment_method_in_dunning).bind(16, c.created_at);
    q.run();
    return db_->changes() > 0;
}

CustomerHistory ChurnStore::load_history(int64_t customer_id) {
    CustomerHistory h;
    h.customer_id = customer_id;
    auto& qs = st_->sel_subs;
    qs.reset();
    qs.bind(1, customer_id);
    while (qs.step()) {
        SubscriptionFact f;
        Subscription& s = f.sub;
        s.id = qs.column_int(0);
        s.customer_id = qs.column_int(1);
        s.updated_at = qs.column_int(2);
        s.updated_at_raw = format_time(s.updated_at);
        f.order_key = qs.column_text(3);
        f.delivery_id = qs.column_int(4);
        f.action = qs.column_text(5);
        s.status = subscription_status(qs.column_text(6));
        s.status_raw = qs.column_text(7);
        s.email = qs.column_opt_text(8);
        s.cancelled_at = opt_micros(qs, 9);
        s.cancellation_reason = qs.column_opt_text(10);
        s.expire_after_charges = qs.column_opt_int(11);
        s.max_retries_reached = qs.column_int(12) != 0;
        s.next_charge_scheduled_at = qs.column_opt_text(13);
        s.price = qs.column_opt_text(14);
        s.quantity = qs.column_int(15);
        s.product_title = qs.column_opt_text(16);
        s.created_at = opt_micros(qs, 17);
        h.subscriptions.push_back(std::move(f));
    }
    auto& qc = st_->sel_charges;
    qc.reset();
    qc.bind(1, customer_id);
    while (qc.step()) {
        ChargeFact f;
        Charge& c = f.charge;
        c.id = qc.column_int(0);
        c.customer_id = qc.column_int(1);
        c.updated_at = qc.column_int(2);
        c.updated_at_raw = format_time(c.updated_at);
        f.order_key = qc.column_text(3);
        f.delivery_id = qc.column_int(4);
        f.action = qc.column_text(5);
        c.status = charge_status(qc.column_text(6));
        c.status_raw = qc.column_text(7);
        c.email = qc.column_opt_text(8);
        c.error = qc.column_opt_text(9);
        c.error_type = qc.column_opt_text(10);
        c.attempts = qc.column_opt_int(11);
        c.max_retries_reached = qc.column_int(12) != 0;
        c.subscription_ids = split_ids(qc.column_text(13));
        c.total_price = qc.column_opt_text(14);
        c.created_at = opt_micros(qc, 15);
        c.processed_at = opt_micros(qc, 16);
        h.charges.push_back(std::move(f));
    }
    auto& qu = st_->sel_customers;
    qu.reset();
    qu.bind(1, customer_id);
    while (qu.step()) {
        CustomerFact f;
        Customer& c = f.customer;
        c.id = qu.column_int(0);
        c.updated_at = qu.column_int(1);
        c.updated_at_raw = format_time(c.updated_at);
        f.order_key = qu.column_text(2);
        f.delivery_id = qu.column_int(3);
        f.action = qu.column_text(4);
        c.status = customer_status(qu.column_text(5));
        c.email = qu.column_opt_text(6);
        c.external_customer_id = qu.column_opt_text(7);
        c.active_subscriptions = qu.column_opt_int(8);
        c.total_subscriptions = qu.column_opt_int(9);
        c.billing_country = qu.column_opt_text(10);
        c.billing_province = qu.column_opt_text(11);
        c.billing_zip = qu.column_opt_text(12);
        if (auto v = qu.column_opt_int(13)) c.has_valid_payment_method = *v != 0;
        if (auto v = qu.column_opt_int(14)) c.payment_method_in_dunning = *v != 0;
        c.created_at = opt_micros(qu, 15);
        h.customer.push_back(std::move(f));
    }
    return h;
}

void ChurnStore::recompute(int64_t customer_id, bool notify) {
    CustomerHistory h = load_history(customer_id);
    CustomerOutcome o = evaluate_customer(h, policy_, clock_());
    write_outcome(h, o, notify);
}

void ChurnStore::write_outcome(const CustomerHistory& h, const CustomerOutcome& o, bool notify) {
    // Latest version of each object: greatest (updated_at, order_key), whatever the arrival.
    const CustomerFact* cust = nullptr;
    for (const auto& f : h.customer)
        if (!cust || std::tie(f.customer.updated_at, f.order_key) >
                         std::tie(cust->customer.updated_at, cust->order_key))
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

    auto& uc = st_->upsert_customer;
    uc.reset();
    uc.bind(1, o.customer_id).bind(2, email);
    if (cust) uc.bind(3, cust->customer.external_customer_id);
    uc.bind(4, o.churned ? "churned" : "active");
    uc.bind(5, opt_time(o.first_seen_at)).bind(6, opt_time(o.churned_at));
    uc.bind(7, opt_time(o.last_event_at)).bind(8, o.active_subscriptions);
    if (cust) {
        const Customer& c = cust->customer;
        uc.bind(9, c.active_subscriptions).bind(10, c.billing_country);
        uc.bind(11, c.billing_province).bind(12, c.billing_zip);
        uc.bind(13, c.has_valid_payment_method).bind(14, c.payment_method_in_dunning);
    }
    uc.run();

    std::map<int64_t, const SubscriptionFact*> subs;
    for (const auto& f : h.subscriptions) {
        auto& best = subs[f.sub.id];
        if (!best || std::tie(f.sub.updated_at, f.order_key) > std::tie(best->sub.updated_at, best->order_key))
            best = &f;
    }
    for (const auto& [sub_id, f] : subs) {
        const int64_t id = sub_id;  // a plain variable: clang < 16 cannot capture bindings
        const Subscription& s = f->sub;
        auto it = std::find_if(o.subscriptions.begin(), o.subscriptions.end(),
                               [&](const SubscriptionOutcome& so) { return so.id == id; });
        bool any_mrr = std::any_of(h.subscriptions.begin(), h.subscriptions.end(), [&](const auto& v) {
            return v.sub.id == id && v.sub.max_retries_reached;
        });
        auto& q = st_->upsert_subscription;
        q.reset();
        q.bind(1, id).bind(2, s.customer_id).bind(3, status_name(s.status));
        q.bind(4, opt_time(s.cancelled_at)).bind(5, s.cancellation_reason);
        q.bind(6, s.expire_after_charges);
        q.bind(7, it != o.subscriptions.end() ? it->charges_counted : 0);
        q.bind(8, it != o.subscriptions.end() && it->expired);
        q.bind(9, s.max_retries_reached || any_mrr).bind(10, s.next_charge_scheduled_at);
        q.bind(11, s.price).bind(12, s.quantity).bind(13, s.product_title);
        q.bind(14, opt_time(s.created_at)).bind(15, format_time(s.updated_at));
        q.run();
    }

    std::map<int64_t, const ChargeFact*> charges;
    std::set<int64_t> max_retried;
    for (const auto& f : h.charges) {
        auto& best = charges[f.charge.id];
        if (!best || std::tie(f.charge.updated_at, f.order_key) >
                         std::tie(best->charge.updated_at, best->order_key))
            best = &f;
        if (f.charge.max_retries_reached) max_retried.insert(f.charge.id);
    }
    for (const auto& [id, f] : charges) {
        const Charge& c = f->charge;
        auto& q = st_->upsert_charge;
        q.reset();
        q.bind(1, id).bind(2, c.customer_id).bind(3, join_ids(c.subscription_ids));
        q.bind(4, status_name(c.status)).bind(5, c.error_type).bind(6, c.error);
        q.bind(7, c.attempts).bind(8, max_retried.count(id) > 0).bind(9, c.total_price);
        q.bind(10, opt_time(c.created_at)).bind(11, opt_time(c.processed_at));
        q.bind(12, format_time(c.updated_at));
        q.run();
    }
    sync_episodes(o, notify);
}

void ChurnStore::sync_episodes(const CustomerOutcome& o, bool notify) {
    struct Row {
        int64_t id;
        std::string churned_at;
        std::optional<std::string> reactivated_at;
    };
    std::vector<Row> existing;
    auto& sel = st_->sel_episodes;
    sel.reset();
    sel.bind(1, o.customer_id);
    while (sel.step()) existing.push_back({sel.column_int(0), sel.column_text(1), sel.column_opt_text(2)});

    // Pair new episodes with stored rows: first by identical churned_at, then the rest in
    // order (a late fact may move an episode's start; it stays the same episode, keeps its
    // id, and is not announced again). Unpaired rows go; unpaired episodes are new.
    std::vector<std::optional<std::size_t>> row_for(o.episodes.size());
    std::vector<bool> row_used(existing.size(), false);
    for (std::size_t i = 0; i < o.episodes.size(); ++i) {
        std::string at = format_time(o.episodes[i].churned_at);
        for (std::size_t j = 0; j < existing.size(); ++j) {
            if (!row_used[j] && existing[j].churned_at == at) {
                row_for[i] = j;
                row_used[j] = true;
                break;
            }
        }
    }
    std::size_t next_row = 0;
    for (std::size_t i = 0; i < o.episodes.size(); ++i) {
        if (row_for[i]) continue;
        while (next_row < existing.size() && row_used[next_row]) ++next_row;
        if (next_row < existing.size()) {
            row_for[i] = next_row;
            row_used[next_row] = true;
        }
    }
    for (std::size_t j = 0; j < existing.size(); ++j) {
        if (row_used[j]) continue;
        st_->del_episode.reset();
        st_->del_episode.bind(1, existing[j].id).run();
    }
    for (std::size_t i = 0; i < o.episodes.size(); ++i) {
        const ChurnEpisode& e = o.episodes[i];
        std::string reason(to_string(e.reason)), category(to_string(e.category));
        std::optional<std::string> reactivated = opt_time(e.reactivated_at);
        int64_t id;
        bool was_reactivated = false;
        bool is_new = !row_for[i];
        if (row_for[i]) {
            const Row& r = existing[*row_for[i]];
            id = r.id;
            was_reactivated = r.reactivated_at.has_value();
            auto& q = st_->upd_episode;
            q.reset();
            q.bind(1, format_time(e.churned_at)).bind(2, reason).bind(3, category);
            q.bind(4, e.subscription_id).bind(5, e.charge_id).bind(6, e.delivery_id);
            q.bind(7, reactivated).bind(8, id);
            q.run();
        } else {
            auto& q = st_->ins_episode;
            q.reset();
            q.bind(1, o.customer_id).bind(2, format_time(e.churned_at)).bind(3, reason);
            q.bind(4, category).bind(5, e.subscription_id).bind(6, e.charge_id);
            q.bind(7, e.delivery_id).bind(8, reactivated);
            q.run();
            id = db_->last_insert_rowid();
        }
        if (!notify) continue;
        if (is_new) {
            if (metrics_) metrics_->inc("churnwatch_churn_events_total", {{"reason", reason}, {"category", category}});
            if (listener_) listener_->on_churned(*db_, id, o, e);
        }
        if (reactivated && !was_reactivated) {
            if (metrics_) metrics_->inc("churnwatch_reactivations_total");
            if (listener_) listener_->on_reactivated(*db_, id, o, e);
        }
    }
}

namespace {

// A stored delivery on its way through the decoding thread.
struct StoredDelivery {
    int64_t id = 0;
    std::optional<std::string> topic;
    Delivery d;
    bool decoded = false;
    std::string why;  // when not decoded
};
using DeliveryBatch = std::vector<StoredDelivery>;

// A batch of customers on their way through the rules on the worker thread.
struct CustomerBatch {
    Micros now = 0;
    std::vector<CustomerHistory> histories;
    std::vector<CustomerOutcome> outcomes;
};

// Batches big enough that hand-overs cost nothing next to the work in them; few enough in
// flight that memory stays a few MB whatever the number of deliveries.
constexpr std::size_t kDeliveriesPerBatch = 256;
constexpr std::size_t kCustomersPerBatch = 128;
constexpr std::size_t kBatchesInFlight = 8;

}  // namespace

RebuildStats ChurnStore::rebuild(sql::Database& db, std::size_t json_max_depth,
                                 const std::function<void(int64_t, int64_t)>& progress) {
    // Nothing reads these indexes during the rebuild (histories are kept in memory), and
    // the rows arrive in delivery order, not index order. Dropped before the statements are
    // prepared, so they are not prepared twice.
    DeferredIndexes indexes(db, {"subscription_versions", "charge_versions", "customer_versions",
                                 "customers", "subscriptions", "charges", "churn_events"});
    prepare(db);
    RebuildStats stats;
    db.exec(
        "DELETE FROM churn_events; DELETE FROM customers; DELETE FROM subscriptions;"
        " DELETE FROM charges; DELETE FROM subscription_versions; DELETE FROM charge_versions;"
        " DELETE FROM customer_versions;");
    int64_t total = 0;
    {
        // Not count(*) … WHERE status = 'accepted': that reads every body. A bare count(*)
        // walks the smallest index, and the quarantined ones have a partial index.
        sql::Statement count(db,
                             "SELECT (SELECT count(*) FROM deliveries) -"
                             " (SELECT count(*) FROM deliveries WHERE status = 'quarantined')");
        if (count.step()) total = count.column_int(0);
    }
    CustomerHistories histories;

    // Pass 1: deliveries in id order. This thread reads them and writes the version rows;
    // the worker decodes the JSON meanwhile.
    {
        sql::Statement all(db,
                           "SELECT id, topic, dedupe_key, body FROM deliveries"
                           " WHERE status = 'accepted' ORDER BY id");
        sql::Statement quarantine(db,
                                  "UPDATE deliveries SET status = 'quarantined', reason = ? WHERE id = ?");
        JsonLimits limits;
        limits.max_depth = json_max_depth;
        OrderedWorker<DeliveryBatch, DeliveryBatch> decoder([limits](DeliveryBatch& batch) {
            for (StoredDelivery& s : batch) {
                if (s.topic) s.d.topic = parse_topic(*s.topic);
                s.decoded = decode_delivery(s.d, limits, s.why);
                s.d.body = std::string();  // from here on only the decoded objects are needed
            }
            return std::move(batch);
        });
        bool more = true;
        for (;;) {
            while (more && decoder.in_flight() < kBatchesInFlight) {
                DeliveryBatch batch;
                batch.reserve(kDeliveriesPerBatch);
                while (batch.size() < kDeliveriesPerBatch && (more = all.step())) {
                    StoredDelivery& s = batch.emplace_back();
                    s.id = all.column_int(0);
                    s.topic = all.column_opt_text(1);
                    s.d.dedupe_key = all.column_text(2);
                    s.d.body = all.column_blob(3);
                }
                if (!batch.empty()) decoder.push(std::move(batch));
                if (!more) decoder.close();
            }
            std::optional<DeliveryBatch> batch = decoder.pop();
            if (!batch) break;
            for (StoredDelivery& s : *batch) {
                ++stats.deliveries;
                if (progress && stats.deliveries % 10000 == 0) progress(stats.deliveries, total);
                if (!s.decoded) {
                    ++stats.quarantined;
                    quarantine.reset();
                    quarantine.bind(1, "rebuild could not decode: " + s.why).bind(2, s.id).run();
                    continue;
                }
                record_into(s.id, s.d, histories);
            }
        }
    }

    // Pass 2: every customer once, in id order, from memory. The worker runs the rules;
    // this thread writes the rows.
    {
        std::vector<int64_t> ids = histories.ids();
        OrderedWorker<CustomerBatch, CustomerBatch> rules([this](CustomerBatch& batch) {
            batch.outcomes.reserve(batch.histories.size());
            for (CustomerHistory& h : batch.histories) {
                stored_order(h);
                batch.outcomes.push_back(evaluate_customer(h, policy_, batch.now));
            }
            return std::move(batch);
        });
        std::size_t next = 0;
        for (;;) {
            while (next < ids.size() && rules.in_flight() < kBatchesInFlight) {
                CustomerBatch batch;
                batch.now = clock_();
                for (std::size_t end = std::min(ids.size(), next + kCustomersPerBatch); next < end; ++next)
                    batch.histories.push_back(histories.take(ids[next]));
                rules.push(std::move(batch));
                if (next == ids.size()) rules.close();
            }
            if (ids.empty()) break;
            std::optional<CustomerBatch> batch = rules.pop();
            if (!batch) break;
            for (std::size_t i = 0; i < batch->histories.size(); ++i) {
                write_outcome(batch->histories[i], batch->outcomes[i], /*notify=*/false);
                ++stats.customers;
            }
        }
    }
    indexes.restore();
    {
        sql::Statement count(db, "SELECT count(*) FROM churn_events");
        if (count.step()) stats.episodes = count.column_int(0);
    }
    {
        sql::Statement max_id(db, "SELECT coalesce(max(id), 0) FROM deliveries");
        if (max_id.step()) stats.projected_through = max_id.column_int(0);
        sql::Statement mark(db,
                            "INSERT INTO service_state (key, value) VALUES ('projected_through', ?)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
        mark.bind(1, std::to_string(stats.projected_through)).run();
    }
    if (progress) progress(stats.deliveries, total);
    return stats;
}

}  // namespace churnwatch
