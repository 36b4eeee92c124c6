// The version tables' row mapping: a fact written as a row reads back as the same fact.
#include <gtest/gtest.h>

#include <stdexcept>

#include "version_rows.h"

using namespace churnwatch;

namespace {

ChargeFact round_trip(const Charge& c) {
    std::string bytes;
    {
        RowWriter w(bytes);
        charge_version_row(w, 77, "sha256:k", "paid", c);
    }
    sql::Value row[kChargeVersionColumns];
    read_row(bytes, row, kChargeVersionColumns);
    return charge_fact(row);
}

TEST(VersionRows, ChargeSubscriptionIdsRoundTrip) {
    Charge c;
    c.id = 5;
    c.customer_id = 9;
    c.status = ChargeStatus::Success;
    c.status_raw = "success";
    c.updated_at = 1'700'000'000'000'000;
    for (const std::vector<int64_t>& ids : {std::vector<int64_t>{}, std::vector<int64_t>{401003},
                                            std::vector<int64_t>{1, 22, 333, 9'007'199'254'740'993}}) {
        c.subscription_ids = ids;
        ChargeFact f = round_trip(c);
        EXPECT_EQ(f.charge.subscription_ids, ids) << join_ids(ids);
        EXPECT_EQ(f.delivery_id, 77);
        EXPECT_EQ(f.order_key, "sha256:k");
        EXPECT_EQ(f.action, "paid");
        EXPECT_EQ(f.charge.id, 5);
        EXPECT_EQ(f.charge.updated_at, c.updated_at);
    }
}

TEST(VersionRows, ChargeBillingAddressRoundTrips) {
    Charge c;
    c.id = 5;
    c.customer_id = 9;
    c.external_customer_id = "555";
    c.billing_country = "US";
    c.billing_zip = "90404";
    ChargeFact f = round_trip(c);
    EXPECT_EQ(f.charge.external_customer_id, "555");
    EXPECT_EQ(f.charge.billing_country, "US");
    EXPECT_EQ(f.charge.billing_province, std::nullopt);
    EXPECT_EQ(f.charge.billing_zip, "90404");
}

TEST(VersionRows, ASubscriptionIdListThatIsNotOneIsAnError) {
    Charge c;
    c.id = 5;
    c.customer_id = 9;
    std::string bytes;
    {
        RowWriter w(bytes);
        charge_version_row(w, 1, "k", "paid", c);
    }
    sql::Value row[kChargeVersionColumns];
    read_row(bytes, row, kChargeVersionColumns);
    for (const char* bad : {"1,x", "12a", "1;2", "99999999999999999999"}) {
        row[13] = sql::Value{sql::Value::Kind::Text, 0, bad};
        EXPECT_THROW(charge_fact(row), std::invalid_argument) << bad;
    }
    row[13] = sql::Value{sql::Value::Kind::Text, 0, "3,,4,"};  // empty parts are skipped, as before
    EXPECT_EQ(charge_fact(row).charge.subscription_ids, (std::vector<int64_t>{3, 4}));
}

}  // namespace
