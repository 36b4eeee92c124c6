// A rebuild's version rows, held packed in memory from when their deliveries are decoded
// until they have been written to the tables in key order (which appends to the b-trees
// instead of inserting at random places, three times cheaper) and read again customer by
// customer for the rules (instead of reading them back from SQLite).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "packed_rows.h"
#include "rules.h"

namespace churnwatch {

enum class VersionTable { Subscription, Charge, Customer };

struct VersionRef {
    int64_t id = 0;  // subscription, charge or customer id: with the next two, the primary key
    int64_t updated_at = 0;
    std::string_view order_key;
    int64_t delivery_id = 0;
    int64_t customer_id = 0;
    std::string_view row;  // packed, as version_rows.h writes it
    bool refused = false;  // an earlier delivery's row has the same key: the table keeps that one
};

class RebuildVersions {
public:
    // One packed row of the table, as version_rows.h writes it; copied in.
    void add(VersionTable table, std::string_view row);

    // Call once after the last add(): sorts each table by primary key (delivery id last, so
    // of equal keys the first delivered comes first, as ON CONFLICT DO NOTHING keeps it)
    // and marks the refused rows.
    void finish();

    // Primary-key order, refused rows included (not to be written).
    const std::vector<VersionRef>& in_key_order(VersionTable table) const { return refs_[index(table)]; }

    // Every customer a row names, refused rows included (as the table-based rebuild
    // recomputed every customer a decoded delivery named), in id order.
    std::vector<int64_t> customers() const;

    // Reads histories customer after customer, in id order, each exactly as load_history
    // reads one from the tables (same rows, same order: the customer_id index, then primary
    // key). Several cursors may read at once.
    class Cursor {
    public:
        Cursor(const RebuildVersions& v, int64_t first_customer);
        CustomerHistory history(int64_t customer_id);

    private:
        const RebuildVersions& v_;
        std::size_t pos_[3];
    };

    std::size_t bytes() const { return arena_.bytes_used(); }

private:
    static std::size_t index(VersionTable t) { return static_cast<std::size_t>(t); }
    RowArena arena_;
    std::vector<VersionRef> refs_[3];
    std::vector<uint32_t> by_customer_[3];  // positions in refs_, in customer_id index order
};

}  // namespace churnwatch
