// What `churnwatch alerts retry` (service/alerts_command.cpp) sends for an alert: the body it
// was recorded with while that still tells the episode as it is; the episode as it is now
// when a late delivery changed it since (a dead alert's receiver most likely never took the
// old body, and a retry is asked for now); or nothing, when the alert would tell the target
// something the facts no longer show at all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sqlite.h"
#include "time_util.h"

namespace churnwatch {

struct AlertRetryBody {
    // Set: not to be sent again, and why (a readable sentence).
    std::optional<std::string> refused;
    // Set: the body to send instead of the stored one (its `timestamp` is `now`); the caller
    // gives the alert a new webhook-id, since earlier attempts carried the old bytes.
    std::optional<std::string> rewritten;
};

// A customer.churn_retracted is sent as recorded (it is about an erased episode, as stored).
// Refused: a customer.churned or customer.churn_updated whose episode a later delivery
// erased; a customer.reactivated whose episode was erased or whose return was undone; a
// customer.churned whose customer came back since (the churn it announces is over: the
// target hears of the return, if it asks for returns). Otherwise rewritten when the stored
// body's `data` differs from the episode's (and the customer's email) as they are now.
AlertRetryBody alert_body_for_retry(sql::Database& db, std::string_view event_type, int64_t episode_id,
                                    int64_t customer_id, std::string_view stored_payload, Micros now);

}  // namespace churnwatch
