// The outgoing HTTPS client against a real TLS endpoint (churnwatch serve with a throw-away
// certificate): the peer is verified against the trust store, the host name (or IP) must be
// in the certificate, and an https alert target works end to end.
#include <gtest/gtest.h>

#include <cstdlib>

#include "http_client.h"
#include "payloads.h"
#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;
using namespace std::chrono_literals;

namespace {

// A self-signed certificate valid for the given subjectAltName list.
void make_cert(const TempDir& dir, const std::string& san) {
    std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=churnwatch-client-test"
                      " -addext subjectAltName=" + san + " -keyout " + dir.file("key.pem") +
                      " -out " + dir.file("cert.pem") + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

ServerProcess::Options tls_options(const TempDir& dir) {
    return {.args = {"--tls-cert", dir.file("cert.pem"), "--tls-key", dir.file("key.pem")}};
}

HttpClientResponse get(const std::string& url, const std::string& ca_file) {
    HttpClientOptions o;
    o.timeout = 5s;
    o.ca_file = ca_file;
    return http_request("GET", url, {}, "", o);
}

TEST(HttpsClient, TrustedCertificateForTheHostWorks) {
    TempDir dir;
    make_cert(dir, "IP:127.0.0.1,DNS:localhost");
    ServerProcess server(dir, tls_options(dir));
    std::string port = std::to_string(server.port());
    auto by_ip = get("https://127.0.0.1:" + port + "/healthz", dir.file("cert.pem"));
    ASSERT_TRUE(by_ip.ok) << by_ip.error;
    EXPECT_EQ(by_ip.status, 200);
    if (!localhost_resolves()) GTEST_SKIP() << "this machine does not resolve localhost (no /etc/hosts?)";
    auto by_name = get("https://localhost:" + port + "/healthz", dir.file("cert.pem"));
    ASSERT_TRUE(by_name.ok) << by_name.error;
    EXPECT_EQ(by_name.status, 200);
}

TEST(HttpsClient, UntrustedCertificateIsRefused) {
    TempDir dir;
    make_cert(dir, "IP:127.0.0.1");
    ServerProcess server(dir, tls_options(dir));
    auto r = get("https://127.0.0.1:" + std::to_string(server.port()) + "/healthz", "");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
}

TEST(HttpsClient, CertificateForAnotherHostIsRefused) {
    TempDir dir;
    make_cert(dir, "DNS:elsewhere.example");
    ServerProcess server(dir, tls_options(dir));
    std::string port = std::to_string(server.port());
    for (const char* host : {"127.0.0.1", "localhost"}) {
        if (host == std::string("localhost") && !localhost_resolves())
            GTEST_SKIP() << "this machine does not resolve localhost (no /etc/hosts?)";
        auto r = get(std::string("https://") + host + ":" + port + "/healthz", dir.file("cert.pem"));
        EXPECT_FALSE(r.ok) << host;
        EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << host << ": " << r.error;
    }
}

TEST(HttpsClient, AlertsGoOutOverVerifiedTls) {
    // The receiving end is a second churnwatch on HTTPS: it answers our unsigned (in its
    // Recharge sense) POST with 401, which proves the TLS exchange completed; a 4xx is then
    // dead-lettered. Without the certificate trusted, the attempt fails in the handshake.
    TempDir rx_dir, dir, untrusting_dir;
    make_cert(rx_dir, "IP:127.0.0.1");
    ServerProcess receiver(rx_dir, tls_options(rx_dir));
    std::string url = "https://127.0.0.1:" + std::to_string(receiver.port()) +
                      "/webhooks/recharge/subscription/cancelled";
    std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    auto churn = [](int port) {
        SubscriptionSpec s{.id = 1, .customer_id = 1, .status = "cancelled",
                           .updated_at = "2026-03-01T00:00:00+00:00",
                           .cancelled_at = "2026-03-01T00:00:00+00:00"};
        ASSERT_EQ(post_webhook(port, "/webhooks/recharge/subscription/cancelled", subscription_json(s)).status, 200);
    };
    auto wait_for = [](const std::string& db, const std::string& sql, const std::string& want) {
        eventually([&] { return query_rows(db, sql) == want; });
        return query_rows(db, sql);
    };

    ServerProcess trusting(dir, {.args = {"--alert-url", url},
                                 .env = {{"CHURNWATCH_ALERT_SECRET", secret},
                                         {"SSL_CERT_FILE", rx_dir.file("cert.pem")}}});
    churn(trusting.port());
    EXPECT_EQ(wait_for(trusting.db(), "SELECT status, last_status FROM alerts_outbox", "dead|401\n"),
              "dead|401\n")
        << trusting.log();

    ServerProcess untrusting(untrusting_dir, {.args = {"--alert-url", url, "--alert-backoff-base-ms", "50"},
                                              .env = {{"CHURNWATCH_ALERT_SECRET", secret},
                                                      {"SSL_CERT_FILE", untrusting_dir.file("none.pem")}}});
    churn(untrusting.port());
    std::string sql = "SELECT status, last_status, attempts > 0, instr(last_error, 'certificate verify failed') > 0"
                      " FROM alerts_outbox";
    EXPECT_EQ(wait_for(untrusting.db(), sql, "pending|NULL|1|1\n"), "pending|NULL|1|1\n") << untrusting.log();
}

}  // namespace
