// A fixture for tests that throw bad or unusual input at the real server: each case starts
// it (start), and every case ends with the server still up, still storing a valid delivery,
// stopping cleanly, and with no sanitizer report (in sanitizer builds).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "payloads.h"
#include "test_support.h"

namespace churnwatch::test {

// The webhook route and example payload the cases post.
inline const std::string kTarget = "/webhooks/recharge/subscription/cancelled";
inline const std::string kCancelled = "subscription_cancelled.2021-11.json";

class SurvivingServerTest : public ::testing::Test {
protected:
    void start(ServerProcess::Options o = {}) { server = std::make_unique<ServerProcess>(dir, o); }
    int port() const { return server->port(); }
    int64_t count(const std::string& where = "1") {
        return query_int(server->db(), "SELECT count(*) FROM deliveries WHERE " + where);
    }
    std::string log() { return server->log(); }

    void TearDown() override {
        if (!server) return;
        ASSERT_TRUE(server->running()) << "the server died\n" << log();
        std::string body = customer_json({.id = 990000 + ++probe_, .updated_at = "2026-05-01T00:00:00+00:00"});
        auto r = post_webhook(port(), "/webhooks/recharge/customer/updated", body);
        EXPECT_EQ(r.status, 200) << "server no longer serves valid deliveries: " << r.body << "\n" << log();
        EXPECT_TRUE(contains(r.body, "\"accepted\"")) << r.body;
        EXPECT_EQ(server->stop(), 0) << log();
        EXPECT_EQ(sanitizer_report(log()), "");
    }

    TempDir dir;
    std::unique_ptr<ServerProcess> server;

private:
    int probe_ = 0;
};

}  // namespace churnwatch::test
