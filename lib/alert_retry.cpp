#include "alert_retry.h"

#include <rapidjson/document.h>

#include "alert_outbox.h"
#include "churn_store.h"

namespace churnwatch {

namespace {

// The `data` members of two alert bodies are the same (deep comparison; member order too,
// as alert_payload_json writes them in one order).
bool same_data(std::string_view a, std::string_view b) {
    rapidjson::Document da, db;
    da.Parse(a.data(), a.size());
    db.Parse(b.data(), b.size());
    if (da.HasParseError() || db.HasParseError() || !da.IsObject() || !db.IsObject()) return false;
    auto ia = da.FindMember("data"), ib = db.FindMember("data");
    if (ia == da.MemberEnd() || ib == db.MemberEnd()) return false;
    return ia->value == ib->value;
}

}  // namespace

AlertRetryBody alert_body_for_retry(sql::Database& db, std::string_view event_type, int64_t episode_id,
                                    int64_t customer_id, std::string_view stored_payload, Micros now) {
    AlertRetryBody out;
    // A retraction is about an erased episode, as it was stored: sent as recorded.
    if (event_type == kCustomerChurnRetracted) return out;
    const std::optional<ChurnEpisode> episode = stored_episode(db, episode_id, customer_id);
    const bool is_return = event_type == kCustomerReactivated;
    if (!episode) {
        out.refused = is_return ? "a later delivery erased the churn whose end it announced"
                                : "a later delivery erased the churn it announced";
        return out;
    }
    if (is_return && !episode->reactivated_at) {
        out.refused = "a later delivery undid this return: the customer is churned again";
        return out;
    }
    if (event_type == kCustomerChurned && episode->reactivated_at) {
        out.refused = "the customer came back since (reactivated at " + format_time(*episode->reactivated_at) +
                      " UTC): the churn it announces is over";
        return out;
    }
    std::optional<std::string> email;
    {
        sql::Statement q(db, "SELECT email FROM customers WHERE id = ?");
        q.bind(1, customer_id);
        if (q.step()) email = q.column_opt_text(0);
    }
    CustomerOutcome customer;
    customer.customer_id = customer_id;
    const std::string now_body =
        alert_payload_json(AlertEvent{event_type, episode_id, &customer, &*episode, email}, now);
    if (!same_data(stored_payload, now_body)) out.rewritten = now_body;
    return out;
}

}  // namespace churnwatch
