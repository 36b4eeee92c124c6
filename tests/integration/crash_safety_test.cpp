// Crash safety: every delivery the server acknowledged with a 2xx survives a SIGKILL at a
// random moment, and so do its churn effects.
//
// Each round: several keep-alive client connections send signed deliveries as fast as the
// server answers them — each creates a subscription for a new customer, and every third
// subscription whose creation was acknowledged is then cancelled (the customer churns). The
// server is killed with SIGKILL at a random moment, restarted on the same database, and every
// acknowledged delivery is checked: its row (by dedupe key, body byte-for-byte), the
// subscription and customer it created, and for an acknowledged cancellation the churned
// customer and its churn event.
//
// Short by default (3 rounds, part of the normal test run). Long mode, for manual runs:
//   CHURNWATCH_CRASH_ROUNDS=50 build/test/it_crash_safety
// The kill moments come from a fixed seed; CHURNWATCH_CRASH_SEED=N changes it. A failure
// prints the seed and round, so it reproduces with the same values.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto.h"
#include "payloads.h"
#include "test_support.h"

using namespace churnwatch::test;

namespace {

constexpr int kConnections = 4;
constexpr uint64_t kDefaultSeed = 20260114;

long env_long(const char* name, long fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    return *end == '\0' ? n : fallback;
}

// What one client connection sent and what was acknowledged.
struct Sent {
    int64_t id = 0;  // subscription id == customer id
    std::string create_key, create_body;
    bool create_acked = false;
    bool cancel_sent = false;
    std::string cancel_key, cancel_body;
    bool cancel_acked = false;
};

// Ids are unique across rounds and connections: round r, connection c, delivery i.
int64_t make_id(int round, int conn, int i) {
    return 1'000'000'000LL * (round + 1) + 10'000'000LL * conn + i;
}

bool acked(const HttpResult& r) { return r.status >= 200 && r.status < 300; }

// The hash a dedupe key with an id ends in (README, "Deduplication").
std::string body_hash(const std::string& topic, const std::string& body) {
    return churnwatch::crypto::to_hex(churnwatch::crypto::sha256(topic + "\n", body));
}

// Sends until the server stops answering (it was killed); returns everything it tried.
std::vector<Sent> client(int port, int round, int conn, const std::atomic<bool>& stop) {
    std::vector<Sent> out;
    HttpConnection c(port);
    if (!c.connected()) return out;
    for (int i = 0; !stop.load(); ++i) {
        Sent s;
        s.id = make_id(round, conn, i);
        std::string tag = "crash-r" + std::to_string(round) + "-c" + std::to_string(conn) + "-" +
                          std::to_string(i);
        s.create_body = subscription_json({.id = s.id, .customer_id = s.id, .status = "active",
                                           .updated_at = "2026-03-01T10:00:00+00:00"});
        s.create_key = "id:" + tag + ":" + body_hash("subscription/created", s.create_body);
        auto r = post_webhook_on(c, "/webhooks/recharge/subscription/created", s.create_body,
                                 {{"X-Recharge-Webhook-Id", tag}});
        s.create_acked = acked(r);
        bool dead = r.status == 0;
        if (s.create_acked && i % 3 == 0) {
            s.cancel_sent = true;
            s.cancel_body = subscription_json({.id = s.id, .customer_id = s.id,
                                               .status = "cancelled",
                                               .updated_at = "2026-04-01T10:00:00+00:00",
                                               .cancelled_at = "2026-04-01T10:00:00+00:00"});
            s.cancel_key = "id:" + tag + "-cancel:" + body_hash("subscription/cancelled", s.cancel_body);
            auto rc = post_webhook_on(c, "/webhooks/recharge/subscription/cancelled",
                                      s.cancel_body, {{"X-Recharge-Webhook-Id", tag + "-cancel"}});
            s.cancel_acked = acked(rc);
            dead = rc.status == 0;
        }
        out.push_back(std::move(s));
        if (dead) break;  // connection closed: the server is gone
    }
    return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= s.size()) {
        std::size_t next = s.find(sep, pos);
        if (next == std::string::npos) next = s.size();
        out.push_back(s.substr(pos, next - pos));
        pos = next + 1;
    }
    return out;
}

struct RoundResult {
    int64_t acked = 0;      // acknowledged deliveries checked
    int64_t cancels = 0;    // of which cancellations
    int64_t unacked = 0;    // sent, answer lost to the kill (may or may not be stored)
};

// Checks every acknowledged delivery of the round against the restarted server's database.
RoundResult check_round(const std::string& db, int round, const std::vector<std::vector<Sent>>& sent,
                        const std::string& where) {
    RoundResult res;
    // dedupe_key → body, for this round's deliveries.
    std::map<std::string, std::string> stored;
    for (const auto& line : split(query_rows(db,
                                             "SELECT dedupe_key, body FROM deliveries WHERE "
                                             "dedupe_key LIKE 'id:crash-r" + std::to_string(round) +
                                                 "-%'"),
                                  '\n')) {
        if (line.empty()) continue;
        auto bar = line.find('|');
        stored[line.substr(0, bar)] = line.substr(bar + 1);
    }
    int64_t lo = make_id(round, 0, 0), hi = make_id(round + 1, 0, 0) - 1;
    std::string range = " BETWEEN " + std::to_string(lo) + " AND " + std::to_string(hi);
    // subscription id → "sub status|customer status|active_subscriptions"
    std::map<int64_t, std::string> state;
    for (const auto& line : split(query_rows(db,
                                             "SELECT s.id, s.status, c.status, c.active_subscriptions"
                                             " FROM subscriptions s JOIN customers c ON c.id = s.customer_id"
                                             " WHERE s.id" + range),
                                  '\n')) {
        if (line.empty()) continue;
        auto bar = line.find('|');
        state[std::stoll(line.substr(0, bar))] = line.substr(bar + 1);
    }
    std::set<int64_t> churned;
    for (const auto& line : split(query_rows(db, "SELECT customer_id FROM churn_events WHERE "
                                                 "reason = 'cancelled' AND customer_id" + range),
                                  '\n')) {
        if (!line.empty()) churned.insert(std::stoll(line));
    }

    int failures = 0;
    auto fail = [&](const std::string& what) {
        if (++failures <= 10) ADD_FAILURE() << where << ": " << what;
    };
    for (const auto& conn : sent) {
        for (const auto& s : conn) {
            if (!s.create_acked) {
                ++res.unacked;
                continue;
            }
            ++res.acked;
            auto it = stored.find(s.create_key);
            if (it == stored.end()) fail("acknowledged delivery " + s.create_key + " is missing");
            else if (it->second != s.create_body) fail("body of " + s.create_key + " differs");
            auto st = state.find(s.id);
            if (st == state.end()) {
                fail("subscription/customer " + std::to_string(s.id) + " of acknowledged " +
                     s.create_key + " missing");
                continue;
            }
            if (s.cancel_sent && !s.cancel_acked) ++res.unacked;
            if (s.cancel_acked) {
                ++res.acked;
                ++res.cancels;
                auto ct = stored.find(s.cancel_key);
                if (ct == stored.end()) fail("acknowledged cancellation " + s.cancel_key + " is missing");
                else if (ct->second != s.cancel_body) fail("body of " + s.cancel_key + " differs");
                if (st->second != "cancelled|churned|0")
                    fail("after acknowledged " + s.cancel_key + ": " + st->second);
                if (!churned.count(s.id))
                    fail("no churn event for acknowledged " + s.cancel_key);
            } else if (!s.cancel_sent) {
                if (st->second != "active|active|1")
                    fail("after acknowledged " + s.create_key + ": " + st->second);
            } else if (st->second != "active|active|1" && st->second != "cancelled|churned|0") {
                // Cancellation sent, answer lost: either state is fine, nothing in between.
                fail("half-applied cancellation " + s.cancel_key + ": " + st->second);
            }
        }
    }
    if (failures > 10) ADD_FAILURE() << where << ": " << failures - 10 << " more failures";
    return res;
}

TEST(CrashSafety, EveryAcknowledgedDeliverySurvivesSigkill) {
    const long rounds = std::max(1L, env_long("CHURNWATCH_CRASH_ROUNDS", 3));
    const uint64_t seed = static_cast<uint64_t>(env_long("CHURNWATCH_CRASH_SEED", kDefaultSeed));
    std::printf("[crash] %ld rounds, seed %llu (CHURNWATCH_CRASH_ROUNDS, CHURNWATCH_CRASH_SEED)\n",
                rounds, static_cast<unsigned long long>(seed));
    std::fflush(stdout);

    TempDir dir;
    ServerProcess::Options options;
    options.db = dir.file("crash.db");
    options.args = {"--threads", "2"};
    auto server = std::make_unique<ServerProcess>(dir, options);
    RoundResult total;
    int64_t total_rows_expected = 0;

    for (long round = 0; round < rounds; ++round) {
        std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(round));
        auto kill_after = std::chrono::milliseconds(
            std::uniform_int_distribution<int>(150, 1200)(rng));
        std::string where = "round " + std::to_string(round + 1) + " (seed " +
                            std::to_string(seed) + ", kill after " +
                            std::to_string(kill_after.count()) + " ms)";
        SCOPED_TRACE(where);

        std::atomic<bool> stop{false};
        std::vector<std::vector<Sent>> sent(kConnections);
        std::vector<std::thread> clients;
        int port = server->port();
        for (int c = 0; c < kConnections; ++c)
            clients.emplace_back([&, c] { sent[c] = client(port, static_cast<int>(round), c, stop); });
        std::this_thread::sleep_for(kill_after);
        std::string log_before_kill = server->log();
        server->kill_hard();
        stop = true;
        for (auto& t : clients) t.join();
        EXPECT_EQ(sanitizer_report(log_before_kill), "") << "sanitizer finding before the kill";

        // Restart on the same database: recovery happens here.
        server = std::make_unique<ServerProcess>(dir, options);
        RoundResult r = check_round(server->db(), static_cast<int>(round), sent, where);
        total.acked += r.acked;
        total.cancels += r.cancels;
        total.unacked += r.unacked;
        total_rows_expected += r.acked;
        std::printf("[crash] round %ld: killed after %lld ms; %lld acknowledged deliveries checked "
                    "(%lld cancellations), %lld answers lost to the kill\n",
                    round + 1, static_cast<long long>(kill_after.count()),
                    static_cast<long long>(r.acked), static_cast<long long>(r.cancels),
                    static_cast<long long>(r.unacked));
        std::fflush(stdout);
        EXPECT_GT(r.acked, 0) << "no delivery was acknowledged before the kill";
        if (::testing::Test::HasFailure()) break;  // keep the database of the failing round
    }

    // The restarted server still works, the database is intact, nothing acknowledged is lost.
    std::string body = customer_json({.id = 42, .updated_at = "2026-05-01T00:00:00+00:00"});
    auto last = post_webhook(server->port(), "/webhooks/recharge/customer/updated", body);
    EXPECT_EQ(last.status, 200) << last.body;
    EXPECT_EQ(query_text(server->db(), "PRAGMA integrity_check"), "ok");
    EXPECT_GE(query_int(server->db(), "SELECT count(*) FROM deliveries"), total_rows_expected);
    EXPECT_EQ(server->stop(), 0) << server->log();
    EXPECT_EQ(sanitizer_report(server->log()), "");
    std::printf("[crash] total: %lld acknowledged deliveries checked (%lld cancellations) in %ld "
                "rounds, %lld answers lost to kills\n",
                static_cast<long long>(total.acked), static_cast<long long>(total.cancels), rounds,
                static_cast<long long>(total.unacked));
    std::fflush(stdout);
}

}  // namespace
