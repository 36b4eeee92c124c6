// Native HTTPS: a throw-away certificate made with the openssl CLI, requests over TLS,
// TLS 1.1 refused, plain HTTP refused, and a SIGHUP reload serving the new certificate.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <filesystem>
#include <cstdlib>
#include <thread>
#include <vector>

#include "test_support.h"

using namespace churnwatch::test;

namespace {

// key: openssl req's -newkey argument (an RSA key unless told otherwise).
void make_cert(const std::string& dir, const std::string& cn, const std::string& key = "rsa:2048") {
    std::string cmd = "openssl req -x509 -newkey " + key + " -nodes -days 2 -subj /CN=" + cn + " -keyout " +
                      dir + "/key.pem -out " + dir + "/cert.pem 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

struct TlsResult {
    bool handshake = false;
    std::string peer_cn;
    std::string response;  // raw bytes read until the server closed or stopped sending
};

// One TLS connection: handshake (optionally capped at a protocol version), send request.
// A TCP connection to 127.0.0.1:port whose reads time out after timeout_s; -1 when refused.
// receive_buffer > 0: SO_RCVBUF before connecting (a client whose window fills at once).
int connect_loopback(int port, int timeout_s, int receive_buffer = 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    ::close(fd);
    return -1;
}

// ciphers: the TLS 1.2 cipher list the client offers (OpenSSL's syntax), "" for its default.
TlsResult tls_exchange(int port, const std::string& request, int max_version = 0,
                       const std::string& ciphers = "") {
    TlsResult out;
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (max_version) {
        SSL_CTX_set_min_proto_version(ctx, 0);
        SSL_CTX_set_max_proto_version(ctx, max_version);
        SSL_CTX_set_security_level(ctx, 0);  // let the client offer old versions at all
    }
    if (!ciphers.empty()) SSL_CTX_set_cipher_list(ctx, ciphers.c_str());
    int fd = connect_loopback(port, 5);
    if (fd >= 0) {
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_connect(ssl) == 1) {
            out.handshake = true;
            if (X509* cert = SSL_get1_peer_certificate(ssl)) {
                char cn[256] = {};
                X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
                out.peer_cn = cn;
                X509_free(cert);
            }
            SSL_write(ssl, request.data(), static_cast<int>(request.size()));
            char buf[4096];
            int n;
            // The requests say Connection: close: read until the server closes.
            while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) out.response.append(buf, static_cast<std::size_t>(n));
        }
        SSL_free(ssl);
    }
    ::close(fd);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return out;
}

std::string get(const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
}

// A TLS keep-alive connection: the handshake at once, then requests one after another.
class TlsConnection {
public:
    explicit TlsConnection(int port) : ctx_(SSL_CTX_new(TLS_client_method())) {
        fd_ = connect_loopback(port, 10);
        if (fd_ < 0) return;
        ssl_ = SSL_new(ctx_);
        SSL_set_fd(ssl_, fd_);
        handshake_ = SSL_connect(ssl_) == 1;
    }
    ~TlsConnection() {
        if (ssl_) SSL_free(ssl_);
        ::close(fd_);
        SSL_CTX_free(ctx_);
        ERR_clear_error();
    }
    bool handshake() const { return handshake_; }
    // GET target on this connection; the answer's status line ("" when none came in 10 s).
    // fields: more header lines, each ending in CRLF.
    std::string get(const std::string& target, const std::string& fields = "") {
        if (!handshake_) return "";
        const std::string req = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + fields + "\r\n";
        if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) return "";
        std::string in;
        char buf[4096];
        for (;;) {
            auto end = in.find("\r\n\r\n");
            if (end != std::string::npos) {
                auto at = in.find("Content-Length: ");
                std::size_t length = at < end ? std::stoul(in.substr(at + 16)) : 0;
                if (in.size() >= end + 4 + length) return in.substr(0, in.find("\r\n"));
            }
            int n = SSL_read(ssl_, buf, sizeof buf);
            if (n <= 0) return "";
            in.append(buf, static_cast<std::size_t>(n));
        }
    }
    // True when the server closed the connection within timeout_ms (nothing else comes on an
    // idle one).
    bool closed_by_peer(int timeout_ms) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return false;
        char c;
        const int n = SSL_read(ssl_, &c, 1);
        close_notify_ = n <= 0 && SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN;
        return n <= 0;
    }
    // After closed_by_peer: the server ended the TLS session (close_notify), not only TCP.
    bool close_notify() const { return close_notify_; }

private:
    SSL_CTX* ctx_;
    SSL* ssl_ = nullptr;
    int fd_ = -1;
    bool handshake_ = false;
    bool close_notify_ = false;
};

// A TLS server on a throw-away certificate (CN churnwatch-test-one), with more arguments.
ServerProcess::Options tls_server(TempDir& dir, std::vector<std::string> more = {}) {
    make_cert(dir.path(), "churnwatch-test-one");
    ServerProcess::Options o{.args = {"--tls-cert", dir.file("cert.pem"), "--tls-key", dir.file("key.pem")}};
    o.args.insert(o.args.end(), more.begin(), more.end());
    return o;
}

class TlsTest : public ::testing::Test {
protected:
    void SetUp() override {
        server = std::make_unique<ServerProcess>(dir, tls_server(dir));
    }
    TempDir dir;
    std::unique_ptr<ServerProcess> server;
};

TEST_F(TlsTest, ServesHealthAndSignedDeliveriesOverHttps) {
    auto health = tls_exchange(server->port(), get("/healthz"));
    ASSERT_TRUE(health.handshake);
    EXPECT_EQ(health.peer_cn, "churnwatch-test-one");
    EXPECT_EQ(health.response.rfind("HTTP/1.1 200", 0), 0u) << health.response;

    std::string body = example_payload("subscription_cancelled.2021-11.json");
    std::string post = "POST /webhooks/recharge/subscription/cancelled HTTP/1.1\r\nHost: localhost\r\n"
                       "Connection: close\r\nContent-Type: application/json\r\nX-Recharge-Hmac-Sha256: " +
                       legacy_signature(kSecret, body) + "\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body;
    auto r = tls_exchange(server->port(), post);
    EXPECT_EQ(r.response.rfind("HTTP/1.1 200", 0), 0u) << r.response;
    EXPECT_EQ(query_int(server->db(), "SELECT count(*) FROM deliveries"), 1);
}

TEST_F(TlsTest, RefusesTls11AndPlainHttp) {
    auto old = tls_exchange(server->port(), get("/healthz"), TLS1_1_VERSION);
    EXPECT_FALSE(old.handshake);
    auto plain = http_request(server->port(), "GET", "/healthz");
    EXPECT_EQ(plain.status, 0) << "plain HTTP must not be answered on the HTTPS port";
    // Still serving.
    EXPECT_TRUE(tls_exchange(server->port(), get("/healthz")).handshake);
}

// TLS 1.2 only with forward secrecy and an AEAD (ECDHE with AES-GCM or ChaCha20): the audit
// negotiated AES128-SHA (static RSA key exchange, CBC). TLS 1.3's suites are all of that kind.
TEST_F(TlsTest, Tls12OffersOnlyForwardSecretAeadCiphers) {
    EXPECT_FALSE(tls_exchange(server->port(), get("/healthz"), TLS1_2_VERSION, "AES128-SHA").handshake);
    EXPECT_FALSE(tls_exchange(server->port(), get("/healthz"), TLS1_2_VERSION, "ECDHE-RSA-AES128-SHA").handshake);
    auto gcm = tls_exchange(server->port(), get("/healthz"), TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256");
    EXPECT_TRUE(gcm.handshake);
    EXPECT_EQ(gcm.response.rfind("HTTP/1.1 200", 0), 0u) << gcm.response;
    EXPECT_TRUE(tls_exchange(server->port(), get("/healthz"), TLS1_2_VERSION, "ECDHE-RSA-CHACHA20-POLY1305").handshake);
}

// A refusal's answer reaches a client still sending its request over TLS too (plain HTTP:
// http_conformance_test). A client that writes all it has before it reads, with a small
// receive window: the answer to its first request is still queued at the server when its
// second (a body over --max-body) is refused. The close_notify exchange after the refusal did
// not read the rest of the body (OpenSSL mostly failed the shutdown on it), and the RST that
// followed lost both answers.
TEST_F(TlsTest, ARefusalsAnswerSurvivesTheRequestBytesStillComing) {
    const std::string body(2'000'000, 'x');
    const std::string requests = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"
                                 "POST /webhooks/recharge HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body;
    for (int round = 0; round < 5; ++round) {
        SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
        const int fd = connect_loopback(server->port(), 5, /*receive_buffer=*/1024);
        ASSERT_GE(fd, 0);
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        ASSERT_EQ(SSL_connect(ssl), 1);
        SSL_write(ssl, requests.data(), static_cast<int>(requests.size()));  // all of it first
        std::string in;
        char buf[16384];
        int n;
        while (in.find("body larger than 1048576 bytes") == std::string::npos &&
               (n = SSL_read(ssl, buf, sizeof buf)) > 0)
            in.append(buf, static_cast<std::size_t>(n));
        EXPECT_EQ(in.rfind("HTTP/1.1 200", 0), 0u) << "round " << round << ": lost to a connection reset";
        EXPECT_NE(in.find("HTTP/1.1 413"), std::string::npos) << "round " << round << ": lost to a connection reset";
        SSL_free(ssl);
        ::close(fd);
        SSL_CTX_free(ctx);
        ERR_clear_error();
    }
    EXPECT_EQ(sanitizer_report(server->log()), "");
}

// A refusal's connection ends for its client at once over TLS too: a close_notify follows the
// answer, and the connection then lingers reading and dropping what the client still sends
// (ARefusalsAnswerSurvivesTheRequestBytesStillComing). No close_notify was sent: a client
// reading to the end waited the whole linger (2 s) for the socket to close, and then saw a
// truncation instead of the end.
TEST_F(TlsTest, ARefusalsCloseReachesTheClientAtOnce) {
    const std::vector<std::pair<std::string, std::string>> refused = {
        {"POST /webhooks/recharge HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\n", "HTTP/1.1 413"},
        {"GE\x01T / HTTP/1.1\r\n", "HTTP/1.1 400"},
    };
    for (int version : {0, TLS1_2_VERSION})
        for (const auto& [request, status] : refused) {
            SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
            if (version) SSL_CTX_set_max_proto_version(ctx, version);
            const int fd = connect_loopback(server->port(), 5);
            ASSERT_GE(fd, 0);
            SSL* ssl = SSL_new(ctx);
            SSL_set_fd(ssl, fd);
            ASSERT_EQ(SSL_connect(ssl), 1);
            ASSERT_GT(SSL_write(ssl, request.data(), static_cast<int>(request.size())), 0);
            const auto t0 = std::chrono::steady_clock::now();
            std::string in;
            char buf[4096];
            int n;
            while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) in.append(buf, static_cast<std::size_t>(n));
            const int error = SSL_get_error(ssl, n);
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
            const std::string what = status + (version ? " over TLS 1.2" : " over TLS 1.3");
            EXPECT_EQ(in.rfind(status, 0), 0u) << what << ": " << in;
            EXPECT_EQ(error, SSL_ERROR_ZERO_RETURN) << what << ": the connection ended without a close_notify";
            EXPECT_LT(ms, 1000) << what << ": the client waited for the end";
            SSL_free(ssl);
            ::close(fd);
            SSL_CTX_free(ctx);
            ERR_clear_error();
        }
    EXPECT_EQ(sanitizer_report(server->log()), "");
}

TEST_F(TlsTest, SighupReloadsTheCertificate) {
    make_cert(dir.path(), "churnwatch-test-two");
    ::kill(server->pid(), SIGHUP);
    std::string cn;
    for (int i = 0; i < 50 && cn != "churnwatch-test-two"; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        cn = tls_exchange(server->port(), get("/healthz")).peer_cn;
    }
    EXPECT_EQ(cn, "churnwatch-test-two");
    EXPECT_NE(server->log().find("tls_reloaded"), std::string::npos);
}

// At --max-connections an idle keep-alive TLS connection gives way to a new one, as a plain
// one does (bad_input_test): the new client's handshake and request are answered.
TEST(TlsLimit, AnIdleKeepAliveConnectionGivesWayToANewOne) {
    TempDir dir;
    ServerProcess server(dir, tls_server(dir, {"--max-connections", "2", "--request-timeout", "60"}));
    const int port = server.port();
    TlsConnection a(port), b(port);
    ASSERT_EQ(a.get("/healthz"), "HTTP/1.1 200 OK");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a is idle first (bad_input_test)
    ASSERT_EQ(b.get("/healthz"), "HTTP/1.1 200 OK");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    TlsConnection c(port);
    EXPECT_TRUE(c.handshake()) << "the new connection waited at the limit\n" << server.log();
    EXPECT_EQ(c.get("/healthz"), "HTTP/1.1 200 OK");
    EXPECT_TRUE(a.closed_by_peer(5000)) << "the connection idle the longest was not the one closed";
    EXPECT_TRUE(a.close_notify()) << "closed without a close_notify: the client reads a truncation";
    EXPECT_EQ(b.get("/healthz"), "HTTP/1.1 200 OK");
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

// A connection closing after its last answer (Connection: close) has nothing more to serve:
// over TLS it waits up to 2 s for the client's close_notify, and meanwhile, at
// --max-connections, gives way to a new connection at once, before a keep-alive one. It
// counted as busy until it was gone: the keep-alive connection was closed in its place (with
// none idle, accepting paused for those 2 s).
TEST(TlsLimit, AConnectionClosingAfterItsLastAnswerGivesWayBeforeAKeepAliveOne) {
    TempDir dir;
    ServerProcess server(dir, tls_server(dir, {"--max-connections", "2", "--request-timeout", "60"}));
    const int port = server.port();
    TlsConnection keep(port);
    ASSERT_EQ(keep.get("/healthz"), "HTTP/1.1 200 OK");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // idle the longest
    TlsConnection closing(port);
    // Its client reads its answer and nothing more, and sends no close_notify.
    ASSERT_EQ(closing.get("/healthz", "Connection: close\r\n"), "HTTP/1.1 200 OK");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    TlsConnection next(port);
    EXPECT_TRUE(next.handshake()) << server.log();
    EXPECT_EQ(next.get("/healthz"), "HTTP/1.1 200 OK");
    EXPECT_TRUE(closing.closed_by_peer(5000));
    EXPECT_FALSE(keep.closed_by_peer(100)) << "the keep-alive connection was closed instead";
    EXPECT_EQ(keep.get("/healthz"), "HTTP/1.1 200 OK");
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

// A connection that never begins its TLS handshake holds its slot like a stalled request:
// at the limit it is closed for a new client after 2 s (bad_input_test), not after the
// request timeout, and its handshake failing is not logged as the client's fault.
TEST(TlsLimit, AConnectionThatNeverHandshakesGivesWayAfterItStalls) {
    TempDir dir;
    ServerProcess server(dir, tls_server(dir, {"--max-connections", "1", "--request-timeout", "60"}));
    const int port = server.port();
    int silent = connect_loopback(port, 10);
    ASSERT_GE(silent, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    TlsConnection c(port);
    EXPECT_TRUE(c.handshake()) << "the new connection waited for the request timeout\n" << server.log();
    EXPECT_EQ(c.get("/healthz"), "HTTP/1.1 200 OK");
    char byte;
    EXPECT_EQ(::recv(silent, &byte, 1, 0), 0) << "the silent connection was not closed";
    ::close(silent);
    EXPECT_TRUE(eventually([&] { return server.log().find("\"reason\":\"stalled\"") != std::string::npos; }))
        << server.log();
    EXPECT_EQ(server.log().find("tls_handshake_failed"), std::string::npos) << server.log();
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

TEST(TlsConfig, MissingKeyIsAClearStartupError) {
    TempDir dir;
    auto r = run_churnwatch({"serve", "--listen", "127.0.0.1:0", "--db", dir.file("unused.db"),
                             "--tls-cert", "/nonexistent/cert.pem"});
    EXPECT_EQ(r.exit_code, 2);  // a configuration error, found before anything is created
    EXPECT_NE(r.err.find("--tls-cert and --tls-key go together"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("unused.db"))) << "a config error must not create the database";
    auto bad = run_churnwatch({"serve", "--listen", "127.0.0.1:0", "--db", dir.file("unused.db"),
                               "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"});
    // Missing files are a configuration error too (exit 2: systemd's RestartPreventExitStatus
    // keeps it from restarting every 2 s), found before the database is created.
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("--tls-cert /nonexistent/cert.pem cannot be read: No such file or directory"),
              std::string::npos)
        << bad.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("unused.db")));
    // So is a certificate that does not parse, or a key that is not the certificate's.
    make_cert(dir.path(), "churnwatch-test-one");
    std::string other = dir.path() + "/other";
    std::filesystem::create_directories(other);
    make_cert(other, "churnwatch-test-two");
    auto mismatch = run_churnwatch({"serve", "--listen", "127.0.0.1:0", "--db", dir.file("unused.db"),
                                    "--tls-cert", dir.file("cert.pem"), "--tls-key", other + "/key.pem"});
    EXPECT_EQ(mismatch.exit_code, 2);
    EXPECT_NE(mismatch.err.find("cannot load TLS certificate"), std::string::npos) << mismatch.err;
    // A key of another type than the certificate's (OpenSSL loads both without comparing
    // them: every handshake would fail with "no shared cipher").
    std::string ec = dir.path() + "/ec";
    std::filesystem::create_directories(ec);
    make_cert(ec, "churnwatch-test-ec", "ec -pkeyopt ec_paramgen_curve:P-256");
    for (const auto& [cert, key] : {std::pair{dir.file("cert.pem"), ec + "/key.pem"},
                                    std::pair{ec + "/cert.pem", dir.file("key.pem")}}) {
        // config check, not serve: without the check, serve would start and never return.
        auto other_type = run_churnwatch({"config", "check", "--tls-cert", cert, "--tls-key", key});
        EXPECT_EQ(other_type.exit_code, 2) << cert << " / " << key;
        EXPECT_NE(other_type.err.find("does not match the certificate"), std::string::npos) << other_type.err;
    }
    auto not_pem = run_churnwatch({"serve", "--listen", "127.0.0.1:0", "--db", dir.file("unused.db"),
                                   "--tls-cert", dir.file("key.pem"), "--tls-key", dir.file("key.pem")});
    EXPECT_EQ(not_pem.exit_code, 2);
    EXPECT_NE(not_pem.err.find("cannot load TLS certificate"), std::string::npos) << not_pem.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("unused.db")));
}

}  // namespace
