// Built-in example webhook bodies for `churnwatch send-test`, one per churn-relevant topic.
// Recharge API 2021-11 shape (derived from tests/data/recharge). They tell one story about a
// made-up customer, 999000001 <send-test@example.com>, with subscriptions 999000101 and
// 999000102 and charges 999000201 and 999000202, so the rows a test writes are easy to find
// (and to delete: see deploy/OPERATIONS.md).
#pragma once

#include <string_view>
#include <vector>

namespace churnwatch {

struct ExamplePayload {
    std::string_view name;         // what --topic names: "subscription/cancelled"
    std::string_view topic;        // the topic it is delivered as (differs only for aliases)
    std::string_view description;  // one line for the help text
    std::string_view body;         // JSON
};

const std::vector<ExamplePayload>& example_payloads();
// nullptr when there is no example for that name.
const ExamplePayload* find_example_payload(std::string_view name);

inline constexpr long long kExampleCustomerId = 999000001;

}  // namespace churnwatch
