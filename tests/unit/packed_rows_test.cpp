// Packed rows (what a rebuild holds in memory) and the rebuild's version-row bookkeeping.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "packed_rows.h"
#include "rebuild_versions.h"
#include "version_rows.h"

using namespace churnwatch;

namespace {

TEST(PackedRows, ValuesComeBackAsWritten) {
    std::string bytes;
    RowWriter w(bytes);
    std::string big(300000, 'x');
    big[12345] = '\0';  // text is bytes: NULs included
    w.add(int64_t{-5}).null().add("").add(std::optional<std::string>{}).add(true).add(big);
    w.add(std::optional<int64_t>{INT64_MIN});
    sql::Value v[7];
    EXPECT_EQ(read_row(bytes, v, 7), bytes.size());
    EXPECT_EQ(v[0].kind, sql::Value::Kind::Int);
    EXPECT_EQ(v[0].i, -5);
    EXPECT_TRUE(v[1].is_null());
    EXPECT_EQ(v[2].kind, sql::Value::Kind::Text);
    EXPECT_EQ(v[2].text, "");
    EXPECT_TRUE(v[3].is_null());
    EXPECT_EQ(v[4].i, 1);
    EXPECT_EQ(v[5].text, big);
    EXPECT_EQ(v[6].i, INT64_MIN);
}

void add_customer_row(VersionBatch& b, int64_t customer, int64_t updated_at, const std::string& key,
                      int64_t delivery) {
    RowWriter w = b.writer(VersionTable::Customer);
    Customer c;
    c.id = customer;
    c.updated_at = updated_at;
    c.email = "c@example.com";
    customer_version_row(w, delivery, key, "updated", c);
}

TEST(RebuildVersions, OfTwoRowsWithOneKeyTheFirstDeliveredIsKept) {
    RebuildVersions v;
    VersionBatch first, second;
    add_customer_row(first, 7, 100, "k", 9);
    add_customer_row(second, 7, 100, "k", 3);
    add_customer_row(second, 5, 50, "j", 4);
    first.seal();
    second.seal();
    v.add(std::move(first));
    v.add(std::move(second));
    v.finish();
    const auto& rows = v.in_key_order(VersionTable::Customer);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].id, 5);
    EXPECT_EQ(rows[1].delivery_id, 3);
    EXPECT_FALSE(rows[1].refused);
    EXPECT_EQ(rows[2].delivery_id, 9);
    EXPECT_TRUE(rows[2].refused);
    EXPECT_EQ(v.customers(), (std::vector<int64_t>{5, 7}));

    RebuildVersions::Cursor cursor(v, 5);
    EXPECT_EQ(cursor.history(5).customer.size(), 1u);
    CustomerHistory h = cursor.history(7);
    ASSERT_EQ(h.customer.size(), 1u);
    EXPECT_EQ(h.customer[0].delivery_id, 3);
    EXPECT_EQ(h.customer[0].customer.email, "c@example.com");
    EXPECT_EQ(h.customer[0].customer.updated_at_raw, "1970-01-01 00:00:00.000100");
}

}  // namespace

namespace {

// Database::run_over: SQLite reads a RowSource as the table churnwatch_rows.
struct ListRows : sql::RowSource {
    std::vector<std::vector<sql::Value>> rows;
    std::size_t next_row = 0;
    bool throw_at_end = false;
    bool next(sql::Value* out) override {
        if (next_row == rows.size()) {
            if (throw_at_end) throw std::runtime_error("source failed");
            return false;
        }
        for (std::size_t i = 0; i < rows[next_row].size(); ++i) out[i] = rows[next_row][i];
        ++next_row;
        return true;
    }
};

sql::Value int_value(int64_t i) { return {sql::Value::Kind::Int, i, {}}; }
sql::Value text_value(std::string_view t) { return {sql::Value::Kind::Text, 0, t}; }

TEST(RunOver, InsertsEveryRowOfTheSource) {
    sql::Database db(":memory:");
    db.exec("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c INTEGER)");
    ListRows src;
    src.rows = {{int_value(2), text_value("two"), sql::Value{}}, {int_value(1), text_value(""), int_value(-7)}};
    db.run_over("INSERT INTO t (a, b, c) SELECT c0, c1, c2 FROM churnwatch_rows WHERE true ON CONFLICT DO NOTHING", src);
    sql::Statement q(db, "SELECT a, b, quote(c) FROM t ORDER BY a");
    std::string got;
    while (q.step()) got += std::to_string(q.column_int(0)) + "|" + q.column_text(1) + "|" + q.column_text(2) + "\n";
    EXPECT_EQ(got, "1||-7\n2|two|NULL\n");

    ListRows empty;  // and again on the same connection, with nothing to insert
    db.run_over("INSERT INTO t (a) SELECT c0 FROM churnwatch_rows", empty);
    EXPECT_EQ(db.changes(), 0);
}

TEST(RunOver, WhatTheSourceThrowsComesOut) {
    sql::Database db(":memory:");
    db.exec("CREATE TABLE t (a INTEGER)");
    ListRows src;
    src.rows = {{int_value(1)}};
    src.throw_at_end = true;
    try {
        db.run_over("INSERT INTO t (a) SELECT c0 FROM churnwatch_rows", src);
        ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "source failed");  // the source's own, not SQLite's
    }
}

}  // namespace
