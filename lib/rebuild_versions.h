// A rebuild's version rows, held packed in memory from when their deliveries are decoded
// until they have been written to the tables in key order (which appends to the b-trees
// instead of inserting at random places, three times cheaper) and read again customer by
// customer for the rules (instead of reading them back from SQLite).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "packed_rows.h"
#include "rules.h"

namespace churnwatch {

enum class VersionTable { Subscription, Charge, Customer };

// One version row. Its table's primary key is (customer_id, id, updated_at, order_key).
struct VersionRef {
    int64_t id = 0;  // subscription, charge or customer id
    int64_t updated_at = 0;
    std::string_view order_key;
    int64_t delivery_id = 0;
    int64_t customer_id = 0;
    std::string_view row;  // packed, as version_rows.h writes it
    bool refused = false;  // an earlier delivery's row has the same key: the table keeps that one
};

// The version rows of one batch of deliveries, packed end to end by a decoding thread, with
// their keys read out there too: RebuildVersions takes the lot over without copying, so the
// thread that reads the deliveries does next to nothing per row.
class VersionBatch {
public:
    // Append a row with writer(), after saying which table it belongs to.
    RowWriter writer(VersionTable table);
    // After the last row: trims the storage to size and reads each row's key.
    void seal();

private:
    friend class RebuildVersions;
    std::unique_ptr<std::string> rows_ = std::make_unique<std::string>();
    std::vector<std::pair<VersionTable, std::size_t>> starts_;
    std::vector<VersionRef> refs_[3];
};

class RebuildVersions {
public:
    void add(VersionBatch&& batch);

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
    // reads one from the tables (same rows, same order: the primary key, which starts with
    // customer_id). Several cursors may read at once.
    class Cursor {
    public:
        Cursor(const RebuildVersions& v, int64_t first_customer);
        CustomerHistory history(int64_t customer_id);

    private:
        const RebuildVersions& v_;
        std::size_t pos_[3];
    };

private:
    static std::size_t index(VersionTable t) { return static_cast<std::size_t>(t); }
    std::vector<std::unique_ptr<std::string>> storage_;
    std::vector<VersionRef> refs_[3];  // in primary-key order after finish()
};

}  // namespace churnwatch
