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

// Every field set, each to a value no other field has: a column written or read in the
// wrong place comes back as a different fact.
Subscription full_subscription() {
    Subscription s;
    s.id = 11;
    s.customer_id = 22;
    s.email = "s@example.com";
    s.status = SubscriptionStatus::Cancelled;
    s.status_raw = "CANCELLED";
    s.cancelled_at = 1'700'000'000'000'033;
    s.cancellation_reason = "too expensive";
    s.expire_after_charges = 44;
    s.max_retries_reached = true;
    s.next_charge_scheduled_at = "2026-02-01";
    s.price = "24.00";
    s.quantity = 55;
    s.product_title = "Coffee";
    s.created_at = 1'600'000'000'000'066;
    s.updated_at = 1'700'000'000'123'456;
    return s;
}

SubscriptionFact round_trip(const Subscription& s) {
    std::string bytes;
    {
        RowWriter w(bytes);
        subscription_version_row(w, 77, "sha256:s", "cancelled", s);
    }
    sql::Value row[kSubscriptionVersionColumns];
    EXPECT_EQ(read_row(bytes, row, kSubscriptionVersionColumns), bytes.size()) << "one row, all of it";
    return subscription_fact(row);
}

TEST(VersionRows, EverySubscriptionFieldRoundTrips) {
    Subscription s = full_subscription();
    SubscriptionFact f = round_trip(s);
    EXPECT_EQ(f.delivery_id, 77);
    EXPECT_EQ(f.order_key, "sha256:s");
    EXPECT_EQ(f.action, "cancelled");
    const Subscription& g = f.sub;
    EXPECT_EQ(g.id, 11);
    EXPECT_EQ(g.customer_id, 22);
    EXPECT_EQ(g.email, "s@example.com");
    EXPECT_EQ(g.status, SubscriptionStatus::Cancelled);
    EXPECT_EQ(g.status_raw, "CANCELLED");
    EXPECT_EQ(g.cancelled_at, s.cancelled_at);
    EXPECT_EQ(g.cancellation_reason, "too expensive");
    EXPECT_EQ(g.expire_after_charges, 44);
    EXPECT_TRUE(g.max_retries_reached);
    EXPECT_EQ(g.next_charge_scheduled_at, "2026-02-01");
    EXPECT_EQ(g.price, "24.00");
    EXPECT_EQ(g.quantity, 55);
    EXPECT_EQ(g.product_title, "Coffee");
    EXPECT_EQ(g.created_at, s.created_at);
    EXPECT_EQ(g.updated_at, s.updated_at);
    EXPECT_EQ(g.updated_at_raw, "2023-11-14 22:13:20.123456") << "restated from the microseconds";
}

TEST(VersionRows, ASubscriptionWithoutItsOptionalFieldsRoundTrips) {
    Subscription s;
    s.id = 11;
    s.customer_id = 22;
    SubscriptionFact f = round_trip(s);
    EXPECT_EQ(f.sub.email, std::nullopt);
    EXPECT_EQ(f.sub.cancelled_at, std::nullopt);
    EXPECT_EQ(f.sub.cancellation_reason, std::nullopt);
    EXPECT_EQ(f.sub.expire_after_charges, std::nullopt);
    EXPECT_FALSE(f.sub.max_retries_reached);
    EXPECT_EQ(f.sub.next_charge_scheduled_at, std::nullopt);
    EXPECT_EQ(f.sub.price, std::nullopt);
    EXPECT_EQ(f.sub.quantity, 0);
    EXPECT_EQ(f.sub.product_title, std::nullopt);
    EXPECT_EQ(f.sub.created_at, std::nullopt);
    EXPECT_EQ(f.sub.updated_at_raw, "1970-01-01 00:00:00");
}

TEST(VersionRows, EveryChargeFieldRoundTrips) {
    Charge c;
    c.id = 5;
    c.customer_id = 9;
    c.email = "c@example.com";
    c.external_customer_id = "555";
    c.billing_country = "US";
    c.billing_province = "CA";
    c.billing_zip = "90404";
    c.status = ChargeStatus::Error;
    c.status_raw = "ERROR";
    c.error = "card declined";
    c.error_type = "CLOSED_MAX_RETRIES_REACHED";
    c.attempts = 4;
    c.max_retries_reached = true;
    c.subscription_ids = {401003, 401004};
    c.total_price = "48.00";
    c.created_at = 1'600'000'000'000'015;
    c.processed_at = 1'600'000'000'000'016;
    c.updated_at = 1'700'000'000'000'007;
    ChargeFact f = round_trip(c);
    EXPECT_EQ(f.delivery_id, 77);
    EXPECT_EQ(f.order_key, "sha256:k");
    EXPECT_EQ(f.action, "paid");
    const Charge& g = f.charge;
    EXPECT_EQ(g.id, 5);
    EXPECT_EQ(g.customer_id, 9);
    EXPECT_EQ(g.email, "c@example.com");
    EXPECT_EQ(g.external_customer_id, "555");
    EXPECT_EQ(g.billing_country, "US");
    EXPECT_EQ(g.billing_province, "CA");
    EXPECT_EQ(g.billing_zip, "90404");
    EXPECT_EQ(g.status, ChargeStatus::Error);
    EXPECT_EQ(g.status_raw, "ERROR");
    EXPECT_EQ(g.error, "card declined");
    EXPECT_EQ(g.error_type, "CLOSED_MAX_RETRIES_REACHED");
    EXPECT_EQ(g.attempts, 4);
    EXPECT_TRUE(g.max_retries_reached);
    EXPECT_EQ(g.subscription_ids, (std::vector<int64_t>{401003, 401004}));
    EXPECT_EQ(g.total_price, "48.00");
    EXPECT_EQ(g.created_at, c.created_at);
    EXPECT_EQ(g.processed_at, c.processed_at);
    EXPECT_EQ(g.updated_at, c.updated_at);
    EXPECT_EQ(g.updated_at_raw, "2023-11-14 22:13:20.000007") << "restated from the microseconds";

    Charge bare;
    bare.id = 5;
    ChargeFact b = round_trip(bare);
    EXPECT_FALSE(b.charge.max_retries_reached);
    EXPECT_EQ(b.charge.error, std::nullopt);
    EXPECT_EQ(b.charge.attempts, std::nullopt);
    EXPECT_EQ(b.charge.created_at, std::nullopt);
    EXPECT_EQ(b.charge.processed_at, std::nullopt);
}

CustomerFact round_trip(const Customer& c) {
    std::string bytes;
    {
        RowWriter w(bytes);
        customer_version_row(w, 78, "sha256:c", "activated", c);
    }
    sql::Value row[kCustomerVersionColumns];
    EXPECT_EQ(read_row(bytes, row, kCustomerVersionColumns), bytes.size()) << "one row, all of it";
    return customer_fact(row);
}

TEST(VersionRows, EveryCustomerFieldRoundTrips) {
    Customer c;
    c.id = 9;
    c.email = "u@example.com";
    c.external_customer_id = "555";
    c.status = CustomerStatus::Inactive;
    c.active_subscriptions = 2;
    c.total_subscriptions = 3;
    c.billing_country = "US";
    c.billing_province = "CA";
    c.billing_zip = "90404";
    c.has_valid_payment_method = true;
    c.payment_method_in_dunning = false;
    c.created_at = 1'600'000'000'000'012;
    c.updated_at = 1'700'000'000'000'099;
    CustomerFact f = round_trip(c);
    EXPECT_EQ(f.delivery_id, 78);
    EXPECT_EQ(f.order_key, "sha256:c");
    EXPECT_EQ(f.action, "activated");
    const Customer& g = f.customer;
    EXPECT_EQ(g.id, 9);
    EXPECT_EQ(g.email, "u@example.com");
    EXPECT_EQ(g.external_customer_id, "555");
    EXPECT_EQ(g.status, CustomerStatus::Inactive);
    EXPECT_EQ(g.active_subscriptions, 2);
    EXPECT_EQ(g.total_subscriptions, 3);
    EXPECT_EQ(g.billing_country, "US");
    EXPECT_EQ(g.billing_province, "CA");
    EXPECT_EQ(g.billing_zip, "90404");
    EXPECT_EQ(g.has_valid_payment_method, true);
    EXPECT_EQ(g.payment_method_in_dunning, false);
    EXPECT_EQ(g.created_at, c.created_at);
    EXPECT_EQ(g.updated_at, c.updated_at);
    EXPECT_EQ(g.updated_at_raw, "2023-11-14 22:13:20.000099") << "restated from the microseconds";

    // The reverse booleans, and none at all (a 2021-11 customer carries neither).
    c.has_valid_payment_method = false;
    c.payment_method_in_dunning = true;
    f = round_trip(c);
    EXPECT_EQ(f.customer.has_valid_payment_method, false);
    EXPECT_EQ(f.customer.payment_method_in_dunning, true);
    c.has_valid_payment_method.reset();
    c.payment_method_in_dunning.reset();
    f = round_trip(c);
    EXPECT_EQ(f.customer.has_valid_payment_method, std::nullopt);
    EXPECT_EQ(f.customer.payment_method_in_dunning, std::nullopt);
}

// The analyst tables spell statuses in lower case whatever the payload sent (status_raw
// keeps that), and every one reads back as itself.
TEST(VersionRows, StatusesAreSpelledForAnalystsAndReadBackAsThemselves) {
    const std::pair<SubscriptionStatus, const char*> subscriptions[] = {
        {SubscriptionStatus::Active, "active"},   {SubscriptionStatus::Cancelled, "cancelled"},
        {SubscriptionStatus::Expired, "expired"}, {SubscriptionStatus::Onetime, "onetime"},
        {SubscriptionStatus::Unknown, "unknown"},
    };
    for (const auto& [status, name] : subscriptions) {
        EXPECT_EQ(status_name(status), name);
        Subscription s;
        s.status = status;
        EXPECT_EQ(round_trip(s).sub.status, status) << name;
    }
    const std::pair<ChargeStatus, const char*> charges[] = {
        {ChargeStatus::Success, "success"},
        {ChargeStatus::Error, "error"},
        {ChargeStatus::Queued, "queued"},
        {ChargeStatus::Skipped, "skipped"},
        {ChargeStatus::Refunded, "refunded"},
        {ChargeStatus::PartiallyRefunded, "partially_refunded"},
        {ChargeStatus::PendingManualPayment, "pending_manual_payment"},
        {ChargeStatus::Pending, "pending"},
        {ChargeStatus::Unknown, "unknown"},
    };
    for (const auto& [status, name] : charges) {
        EXPECT_EQ(status_name(status), name);
        Charge c;
        c.status = status;
        EXPECT_EQ(round_trip(c).charge.status, status) << name;
    }
    const std::pair<CustomerStatus, const char*> customers[] = {
        {CustomerStatus::Active, "active"},
        {CustomerStatus::Inactive, "inactive"},
        {CustomerStatus::Unknown, "unknown"},
    };
    for (const auto& [status, name] : customers) {
        Customer c;
        c.status = status;
        std::string bytes;
        {
            RowWriter w(bytes);
            customer_version_row(w, 1, "k", "updated", c);
        }
        sql::Value row[kCustomerVersionColumns];
        read_row(bytes, row, kCustomerVersionColumns);
        EXPECT_EQ(row[5].text, name);
        EXPECT_EQ(customer_fact(row).customer.status, status) << name;
    }
}

TEST(VersionRows, SubscriptionIdsAreJoinedWithCommas) {
    EXPECT_EQ(join_ids({}), "");
    EXPECT_EQ(join_ids({7}), "7");
    EXPECT_EQ(join_ids({1, 22, 333}), "1,22,333");
}

}  // namespace
