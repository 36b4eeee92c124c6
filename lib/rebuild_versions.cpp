#include "rebuild_versions.h"

#include <algorithm>
#include <tuple>

#include "version_rows.h"

namespace churnwatch {

namespace {

constexpr std::size_t kColumns[3] = {kSubscriptionVersionColumns, kChargeVersionColumns,
                                     kCustomerVersionColumns};

// The tables' primary keys: customer first (0008), then the object (for customer_versions
// the customer again, which orders the same), updated_at, order key.
auto key(const VersionRef& r) { return std::tie(r.customer_id, r.id, r.updated_at, r.order_key); }

}  // namespace

RowWriter VersionBatch::writer(VersionTable table) {
    starts_.emplace_back(table, rows_->size());
    return RowWriter(*rows_);
}

void VersionBatch::seal() {
    rows_->shrink_to_fit();  // views into it are taken below: no reallocation after this
    const std::string_view all = *rows_;
    for (std::size_t i = 0; i < starts_.size(); ++i) {
        const auto [table, begin] = starts_[i];
        const std::size_t end = i + 1 < starts_.size() ? starts_[i + 1].second : all.size();
        VersionRef r;
        r.row = all.substr(begin, end - begin);
        sql::Value v[5];
        read_row(r.row, v, 5);
        if (table == VersionTable::Customer) {
            // customer_id, updated_at_us, order_key, delivery_id
            r.id = r.customer_id = v[0].i;
            r.updated_at = v[1].i;
            r.order_key = v[2].text;
            r.delivery_id = v[3].i;
        } else {
            // subscription_id | charge_id, customer_id, updated_at_us, order_key, delivery_id
            r.id = v[0].i;
            r.customer_id = v[1].i;
            r.updated_at = v[2].i;
            r.order_key = v[3].text;
            r.delivery_id = v[4].i;
        }
        refs_[static_cast<std::size_t>(table)].push_back(r);
    }
    starts_ = {};
}

void RebuildVersions::add(VersionBatch&& batch) {
    storage_.push_back(std::move(batch.rows_));
    for (std::size_t t = 0; t < 3; ++t)
        refs_[t].insert(refs_[t].end(), batch.refs_[t].begin(), batch.refs_[t].end());
}

void RebuildVersions::finish() {
    for (std::size_t t = 0; t < 3; ++t) {
        auto& refs = refs_[t];
        std::sort(refs.begin(), refs.end(), [](const VersionRef& a, const VersionRef& b) {
            return std::tuple_cat(key(a), std::tie(a.delivery_id)) <
                   std::tuple_cat(key(b), std::tie(b.delivery_id));
        });
        for (std::size_t i = 1; i < refs.size(); ++i)
            if (key(refs[i]) == key(refs[i - 1])) refs[i].refused = true;
    }
}

std::vector<int64_t> RebuildVersions::customers() const {
    std::vector<int64_t> out;
    for (const auto& refs : refs_)
        for (const VersionRef& r : refs) out.push_back(r.customer_id);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

RebuildVersions::Cursor::Cursor(const RebuildVersions& v, int64_t first_customer) : v_(v) {
    for (std::size_t t = 0; t < 3; ++t) {
        const auto& refs = v_.refs_[t];
        pos_[t] = static_cast<std::size_t>(
            std::lower_bound(refs.begin(), refs.end(), first_customer,
                             [](const VersionRef& r, int64_t c) { return r.customer_id < c; }) -
            refs.begin());
    }
}

CustomerHistory RebuildVersions::Cursor::history(int64_t customer_id) {
    CustomerHistory h;
    h.customer_id = customer_id;
    sql::Value row[kMaxVersionColumns];
    for (std::size_t t = 0; t < 3; ++t) {
        const auto& refs = v_.refs_[t];
        // Skip customers with no history of their own (callers ask in id order).
        while (pos_[t] < refs.size() && refs[pos_[t]].customer_id < customer_id) ++pos_[t];
        for (; pos_[t] < refs.size() && refs[pos_[t]].customer_id == customer_id; ++pos_[t]) {
            const VersionRef& r = refs[pos_[t]];
            if (r.refused) continue;
            read_row(r.row, row, kColumns[t]);
            switch (static_cast<VersionTable>(t)) {
                case VersionTable::Subscription: h.subscriptions.push_back(subscription_fact(row)); break;
                case VersionTable::Charge: h.charges.push_back(charge_fact(row)); break;
                case VersionTable::Customer: h.customer.push_back(customer_fact(row)); break;
            }
        }
    }
    return h;
}

}  // namespace churnwatch
