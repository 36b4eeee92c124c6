// A rebuild's facts grouped by customer in memory, as the deliveries are decoded, so each
// customer can be recomputed without reading its version rows back from SQLite (which cost
// the old rebuild a third of its time). Holds only the decoded objects, never the bodies.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "rules.h"

namespace churnwatch {

class CustomerHistories {
public:
    // The customer is recomputed even if none of its facts were kept (as the table-based
    // rebuild recomputed every customer a decoded delivery named).
    void touch(int64_t customer_id) { by_customer_[customer_id].customer_id = customer_id; }
    void add(SubscriptionFact f);
    void add(ChargeFact f);
    void add(CustomerFact f);

    std::size_t size() const { return by_customer_.size(); }
    // Every customer held, in id order: the order the table-based rebuild wrote them in.
    std::vector<int64_t> ids() const;
    // Hands over one customer's history (and forgets it), as stored_order() arranges it.
    CustomerHistory take(int64_t customer_id);

private:
    std::unordered_map<int64_t, CustomerHistory> by_customer_;
};

// Arranges a history exactly as ChurnStore reads one back from the version tables: facts in
// primary-key order ((object id,) updated_at, order_key), updated_at_raw restated from
// updated_at. write_outcome breaks some ties by fact order, so a history built in memory
// must match the stored one to give the same rows.
void stored_order(CustomerHistory& h);

}  // namespace churnwatch
