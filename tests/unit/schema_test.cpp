// The connection set-up around migrations (the journal modes serve and rebuild use), and
// migrations that edit the schema in place.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include "schema.h"
#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

std::string journal_mode(sql::Database& db) { return first_text(db, "PRAGMA journal_mode"); }

// SQLite never shrinks a WAL by itself: after a long-held reader let it grow (~40 KB per
// delivery), it stayed that size until a restart. The limit makes the commit that restarts
// the WAL truncate it.
TEST(Schema, TheWalIsTruncatedWhenItRestarts) {
    TempDir dir;
    sql::Database db(dir.file("a.db"));
    configure_connection(db);
    EXPECT_EQ(first_text(db, "PRAGMA journal_size_limit"), "67108864");
}

TEST(Schema, ARollbackJournalWhenAloneThenBackToWal) {
    TempDir dir;
    sql::Database db(dir.file("a.db"));
    configure_connection(db);
    apply_migrations(db);
    EXPECT_EQ(journal_mode(db), "wal");
    EXPECT_TRUE(use_rollback_journal(db));
    EXPECT_EQ(journal_mode(db), "truncate");
    db.exec("INSERT INTO service_state (key, value) VALUES ('k', 'v')");
    configure_connection(db);
    EXPECT_EQ(journal_mode(db), "wal");
    EXPECT_EQ(query_text(dir.file("a.db"), "SELECT value FROM service_state WHERE key = 'k'"), "v");
}

TEST(Schema, StaysInWalWhileAnotherConnectionIsOpen) {
    TempDir dir;
    sql::Database db(dir.file("a.db"), sql::OpenMode::ReadWrite, 60000);
    configure_connection(db);
    apply_migrations(db);
    sql::Database other(dir.file("a.db"));
    sql::Statement read(other, "SELECT count(*) FROM deliveries");
    ASSERT_TRUE(read.step());
    // Asked once: with the 60 s busy timeout in force, this test would take a minute.
    EXPECT_FALSE(use_rollback_journal(db));
    EXPECT_EQ(journal_mode(db), "wal");
    EXPECT_EQ(db.busy_timeout(), 60000);
    db.exec("INSERT INTO service_state (key, value) VALUES ('k', 'v')");  // still usable
}

// True when checking the table's constraints builds a temporary b-tree (an IN list of
// three values or more): EXPLAIN of an insert shows OpenEphemeral.
bool insert_uses_temp_btree(sql::Database& db, const std::string& insert) {
    sql::Statement q(db, "EXPLAIN " + insert);
    while (q.step())
        if (q.column_text(1) == "OpenEphemeral") return true;
    return false;
}

const char* kInsertDelivery =
    "INSERT INTO deliveries (received_at, topic_source, signature_scheme, key_index, dedupe_key,"
    " body, status) VALUES ('2026-01-01 00:00:00.000000', ?, 'legacy', 0, ?, x'7b7d', 'accepted')";
const char* kInsertEpisode =
    "INSERT INTO churn_events (customer_id, churned_at, reason, category)"
    " VALUES (1, '2026-01-01 00:00:00.000000', 'cancelled', 'voluntary')";
const char* kInsertAlert =
    "INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id, payload,"
    " created_us, next_attempt_us, retry_from_us) VALUES ('t', 'customer.churned', 1, 1, 'msg_1', '{}', 0, 0, 0)";

void expect_no_temp_btrees(sql::Database& db) {
    EXPECT_FALSE(insert_uses_temp_btree(db, kInsertDelivery));
    EXPECT_FALSE(insert_uses_temp_btree(db, kInsertEpisode));
    EXPECT_FALSE(insert_uses_temp_btree(db, kInsertAlert));
}

void insert_delivery(sql::Database& db, const char* topic_source, const std::string& key) {
    sql::Statement ins(db, kInsertDelivery);
    if (topic_source) ins.bind(1, std::string(topic_source));
    ins.bind(2, key).run();
}


TEST(Schema, ValueListChecksAreComparisonsAndStillRejectOtherValues) {
    TempDir dir;
    sql::Database db(dir.file("a.db"));
    configure_connection(db);
    apply_migrations(db);
    expect_no_temp_btrees(db);
    insert_delivery(db, "path", "k1");
    insert_delivery(db, "inferred", "k2");
    insert_delivery(db, nullptr, "k3");  // NULL passes, as it did with IN
    EXPECT_THROW(insert_delivery(db, "query", "k4"), sql::Error);
    EXPECT_THROW(db.exec("INSERT INTO churn_events (customer_id, churned_at, reason, category)"
                         " VALUES (1, 'then', 'bored', 'voluntary')"),
                 sql::Error);
    EXPECT_THROW(db.exec("INSERT INTO churn_events (customer_id, churned_at, reason, category)"
                         " VALUES (1, 'then', 'expired', 'unnatural')"),
                 sql::Error);
    db.exec(kInsertEpisode);
    db.exec(kInsertAlert);
    EXPECT_THROW(db.exec("UPDATE alerts_outbox SET status = 'lost'"), sql::Error);
    db.exec("UPDATE alerts_outbox SET status = 'dead'");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM deliveries"), "3");
}

// An existing database: its rows stay, the text changes, and a connection that was open
// during the migration reads the new text too (the schema version moved).
TEST(Schema, ValueListChecksAreRewrittenInAnExistingDatabase) {
    TempDir dir;
    std::string path = dir.file("old.db");
    sql::Database db(path);
    migrate_until(db, "0007");
    insert_delivery(db, "header", "k1");
    db.exec(kInsertEpisode);
    sql::Database other(path);
    EXPECT_TRUE(insert_uses_temp_btree(other, kInsertDelivery));  // the old text, as before

    auto applied = apply_migrations(db);
    ASSERT_FALSE(applied.empty());
    EXPECT_EQ(applied[0], "0007_check_without_in_lists.sql");
    expect_no_temp_btrees(db);
    EXPECT_EQ(first_text(db, "PRAGMA integrity_check"), "ok");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM deliveries WHERE topic_source = 'header'"), "1");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM churn_events"), "1");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'schema_version_bump'"), "0");

    // The other connection notices the new schema version at its next statement (EXPLAIN
    // alone does not look) and checks with the new text from then on.
    EXPECT_EQ(first_text(other, "SELECT count(*) FROM deliveries"), "1");
    expect_no_temp_btrees(other);
    try {
        insert_delivery(other, "query", "k2");
        ADD_FAILURE() << "a topic_source outside the list was stored";
    } catch (const sql::Error& e) {
        EXPECT_NE(std::string(e.what()).find("topic_source = 'path' OR"), std::string::npos) << e.what();
    }
}

// Some SQLite builds open connections in defensive mode, which refuses writable_schema:
// the migration still applies, and the connection is defensive again afterwards.
TEST(Schema, ValueListChecksAreRewrittenOnADefensiveConnection) {
    TempDir dir;
    std::string path = dir.file("old.db");
    sql::Database db(path);
    migrate_until(db, "0007");
    int on = 0;
    sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DEFENSIVE, 1, &on);
    ASSERT_EQ(on, 1);
    EXPECT_THROW(db.exec("PRAGMA writable_schema=ON; UPDATE sqlite_schema SET sql = sql WHERE name = 'deliveries'"),
                 sql::Error);  // what the migration would meet
    db.exec("PRAGMA writable_schema=OFF");

    auto applied = apply_migrations(db);
    ASSERT_FALSE(applied.empty());
    EXPECT_EQ(applied[0], "0007_check_without_in_lists.sql");
    expect_no_temp_btrees(db);
    sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DEFENSIVE, -1, &on);
    EXPECT_EQ(on, 1);
}

// 0008: the subscription and charge versions keyed by customer first. An existing
// database keeps every row; a customer's history is then read by the primary key alone.
// 0009: an upgraded database's customers count as before (first_active_at = first_seen_at)
// until they are recomputed; the views use the new column.
TEST(Schema, FirstActiveAtStartsAsFirstSeenAtAfterAnUpgrade) {
    TempDir dir;
    sql::Database db(dir.file("old.db"));
    migrate_until(db, "0009");
    db.exec("INSERT INTO customers (id, status, first_seen_at, active_subscriptions)"
            " VALUES (1, 'active', '2026-01-05 00:00:00', 1), (2, 'active', NULL, 0)");
    auto applied = apply_migrations(db);
    ASSERT_FALSE(applied.empty());
    EXPECT_EQ(applied[0], "0009_first_active_at.sql");
    EXPECT_EQ(first_text(db, "SELECT group_concat(id || '=' || coalesce(first_active_at, 'NULL'), ' ')"
                             " FROM customers"),
              "1=2026-01-05 00:00:00 2=NULL");
    EXPECT_EQ(first_text(db, "SELECT active_at_start || '/' || new_customers FROM churn_monthly"
                             " WHERE month = '2026-01'"),
              "0/1");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM cohort_retention"), "1");
    EXPECT_EQ(first_text(db, "PRAGMA integrity_check"), "ok");
}

TEST(Schema, VersionTablesAreKeyedByCustomerAfterAnUpgrade) {
    TempDir dir;
    std::string path = dir.file("old.db");
    sql::Database db(path);
    migrate_until(db, "0008");
    insert_delivery(db, "path", "k1");
    db.exec("INSERT INTO subscription_versions (subscription_id, customer_id, updated_at_us, order_key,"
            " delivery_id, action, status, max_retries_reached)"
            " VALUES (11, 2, 100, 'k1', 1, 'updated', 'active', 0), (10, 1, 100, 'k1', 1, 'updated', 'active', 0),"
            " (10, 1, 50, 'k1', 1, 'created', 'active', 0)");
    db.exec("INSERT INTO charge_versions (charge_id, customer_id, updated_at_us, order_key, delivery_id,"
            " action, status, max_retries_reached, subscription_ids)"
            " VALUES (7, 1, 100, 'k1', 1, 'paid', 'success', 0, '10')");

    auto applied = apply_migrations(db);
    ASSERT_FALSE(applied.empty());
    EXPECT_EQ(applied[0], "0008_versions_by_customer.sql");
    EXPECT_EQ(first_text(db, "PRAGMA integrity_check"), "ok");
    EXPECT_EQ(first_text(db, "PRAGMA foreign_key_check"), "");
    EXPECT_EQ(first_text(db, "SELECT group_concat(subscription_id || '@' || updated_at_us, ' ')"
                             " FROM subscription_versions WHERE customer_id = 1"),
              "10@50 10@100");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM subscription_versions"), "3");
    EXPECT_EQ(first_text(db, "SELECT subscription_ids FROM charge_versions WHERE customer_id = 1"), "10");
    // No index by customer beside the primary key (0019's partial index of max-retries
    // charges by time is another matter).
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name IN"
                             " ('subscription_versions', 'charge_versions', 'customer_versions')"
                             " AND sql IS NOT NULL AND name != 'charge_versions_max_retries'"),
              "0");
    for (const char* table : {"subscription_versions", "charge_versions", "customer_versions"}) {
        sql::Statement plan(db, std::string("EXPLAIN QUERY PLAN SELECT * FROM ") + table + " WHERE customer_id = ?");
        ASSERT_TRUE(plan.step());
        EXPECT_NE(plan.column_text(3).find("USING PRIMARY KEY (customer_id=?)"), std::string::npos)
            << table << ": " << plan.column_text(3);
    }
    // Still one row per (object, updated_at, delivery).
    db.exec("INSERT INTO subscription_versions (subscription_id, customer_id, updated_at_us, order_key,"
            " delivery_id, action, status, max_retries_reached)"
            " VALUES (10, 1, 100, 'k1', 1, 'updated', 'cancelled', 0) ON CONFLICT DO NOTHING");
    EXPECT_EQ(first_text(db, "SELECT status FROM subscription_versions WHERE subscription_id = 10"
                             " AND updated_at_us = 100"),
              "active");
}

// 0010: the episode id mark starts above every id the database shows, the alerts' included
// (an alert may name an episode a late fact erased), and alerts_outbox's stored comments
// stop saying that `rebuild` renumbers episodes: an upgraded database's text is a new one's.
TEST(Schema, EpisodeIdMarkAndAlertCommentsAfterAnUpgrade) {
    TempDir dir;
    std::string fresh_sql;
    {
        sql::Database fresh(dir.file("new.db"));
        apply_migrations(fresh);
        fresh_sql = first_text(fresh, "SELECT sql FROM sqlite_schema WHERE name = 'alerts_outbox'");
        EXPECT_EQ(first_text(fresh, "SELECT value FROM service_state WHERE key = 'last_episode_id'"), "0");
    }
    EXPECT_EQ(fresh_sql.find("renumbers"), std::string::npos) << fresh_sql;
    EXPECT_NE(fresh_sql.find("may erase the episode"), std::string::npos) << fresh_sql;

    sql::Database db(dir.file("old.db"));
    migrate_until(db, "0010");
    // The text 0004 stored before its comments were corrected.
    db.exec("PRAGMA writable_schema=ON");
    db.exec(R"(UPDATE sqlite_schema SET sql = replace(replace(sql,
    'no FK: a late fact
                                       -- may erase the episode,',
    'no FK: `rebuild`
                                       -- renumbers episodes,'),
    'two databases (production and a staging copy) would otherwise mint
    -- the same ids',
    'episode ids are reused after `rebuild`, and two databases would
    -- otherwise mint the same ids') WHERE name = 'alerts_outbox')");
    db.exec("PRAGMA writable_schema=OFF");
    ASSERT_NE(first_text(db, "SELECT sql FROM sqlite_schema WHERE name = 'alerts_outbox'").find("renumbers"),
              std::string::npos);
    db.exec("INSERT INTO churn_events (id, customer_id, churned_at, reason, category)"
            " VALUES (5, 1, '2026-03-01 00:00:00', 'cancelled', 'voluntary')");
    db.exec("INSERT INTO alerts_outbox (target, event_type, episode_id, customer_id, webhook_id, payload,"
            " created_us, next_attempt_us, retry_from_us)"
            " VALUES ('http://x/', 'customer.churned', 9, 2, 'msg_1', '{}', 0, 0, 0)");

    auto applied = apply_migrations(db);
    ASSERT_FALSE(applied.empty());
    EXPECT_EQ(applied[0], "0010_episode_ids.sql");
    EXPECT_EQ(first_text(db, "SELECT value FROM service_state WHERE key = 'last_episode_id'"), "9");
    EXPECT_EQ(first_text(db, "SELECT sql FROM sqlite_schema WHERE name = 'alerts_outbox'"), fresh_sql);
    EXPECT_EQ(first_text(db, "PRAGMA integrity_check"), "ok");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'schema_version_bump'"), "0");
}

}  // namespace

// 0023: an upgraded database's customers whose billing_country is already a code get it in
// billing_country_code at once; names, and other spellings ("UK" for GB), wait for their
// row's next write or a rebuild (not copied as they are: they would split a country again).
TEST(Schema, BillingCountryCodesAreCopiedAfterAnUpgrade) {
    TempDir dir;
    sql::Database db(dir.file("old.db"));
    migrate_until(db, "0023");
    db.exec("INSERT INTO customers (id, status, active_subscriptions, billing_country) VALUES"
            " (1, 'active', 1, 'us'), (2, 'active', 1, 'United States'), (3, 'active', 1, NULL),"
            " (4, 'active', 1, 'U1'), (5, 'active', 1, 'UK'), (6, 'active', 1, 'xk')");
    auto applied = apply_migrations(db);
    ASSERT_FALSE(applied.empty());
    EXPECT_EQ(applied[0], "0023_billing_country_code.sql");
    EXPECT_EQ(first_text(db, "SELECT group_concat(id || '=' || coalesce(billing_country_code, 'NULL'), ' ')"
                             " FROM customers"),
              "1=US 2=NULL 3=NULL 4=NULL 5=NULL 6=XK");
}
