// Shared test helpers: temp directories, example payloads, Recharge signing, a real
// `churnwatch serve` process on a loopback port, a small blocking HTTP client, and
// read-only SQLite queries. Used by every integration test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sqlite.h"

namespace churnwatch::test {

// Sets (or, with nullopt, unsets) an environment variable for the scope, then puts back what
// was there.
class ScopedEnv {
public:
    ScopedEnv(std::string name, std::optional<std::string> value);
    ~ScopedEnv();
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string name_;
    std::optional<std::string> old_;
};

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// Polls `done` every 20 ms until it holds or `timeout` passes; returns its last answer. For
// effects that follow an observable event asynchronously (a log line written after the
// socket closed, an alert sent after the commit).
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Whether `part` occurs in `s` (answers, log text).
inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);
// tests/data/recharge/<name>
std::string example_payload(const std::string& name);

inline const char* kSecret = "shjk_test_client_secret_0123456789abcdef";

// hex(SHA-256(secret ‖ body)) — Recharge's legacy X-Recharge-Hmac-Sha256.
std::string legacy_signature(const std::string& secret, const std::string& body);
// "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>" — X-Recharge-Webhook-Signature.
std::string timestamped_signature(const std::string& secret, int64_t t, const std::string& body);
int64_t now_seconds();

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResult {
    int status = 0;  // 0: no response (connection closed or failed)
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

// The "Name: value" lines after an HTTP start line, names lower-cased, values without
// leading spaces. Reads `head` (the header block without the blank line) to its end.
std::map<std::string, std::string> parse_header_lines(std::istream& head);

// One keep-alive connection to 127.0.0.1:port.
class HttpConnection {
public:
    // receive_buffer > 0: SO_RCVBUF before connecting (a client whose window fills at once).
    explicit HttpConnection(int port, int receive_buffer = 0);
    ~HttpConnection();
    bool connected() const { return fd_ >= 0; }
    HttpResult request(const std::string& method, const std::string& target,
                       const Headers& headers = {}, const std::string& body = "");
    // Sends raw bytes; returns false on error.
    bool send_raw(const std::string& bytes);
    // Reads one response (status 0 if the peer closed first or timeout_ms passed).
    HttpResult read_response(int timeout_ms = 10000);
    // Every byte received until `until` has arrived (then returns at once) or, with `until`
    // empty, until the peer closes; what came so far when timeout_ms passes between reads.
    std::string read_raw(const std::string& until, int timeout_ms = 10000);
    // True when the server closed the connection within timeout_ms.
    bool closed_by_peer(int timeout_ms);
    // Half-closes: the server sees end of input, the connection stays open for reading.
    void shutdown_write();
    // This end's local port (0 when not connected).
    int local_port() const;

private:
    int fd_ = -1;
    std::string buffer_;
};

// Bytes queued for sending on the loopback TCP socket from local_port to peer_port (IPv4,
// /proc/net/tcp's tx_queue); -1 when there is no such socket.
long tcp_send_queue(int local_port, int peer_port);

// One request on a fresh connection.
HttpResult http_request(int port, const std::string& method, const std::string& target,
                        const Headers& headers = {}, const std::string& body = "");

// A signed webhook POST (legacy scheme) on a fresh connection.
HttpResult post_webhook(int port, const std::string& target, const std::string& body,
                        const Headers& extra = {}, const std::string& secret = kSecret);

// `churnwatch serve` as a child process on 127.0.0.1:0 with a database in dir.
class ServerProcess {
public:
    struct Options {
        std::string db;                        // default: <dir>/churnwatch.db
        std::vector<std::string> args;         // extra flags
        std::vector<std::string> secrets{kSecret};
        std::map<std::string, std::string> env;
        int open_files = 0;  // > 0: the server's RLIMIT_NOFILE, soft and hard
    };
    ServerProcess(const TempDir& dir, Options options);
    explicit ServerProcess(const TempDir& dir) : ServerProcess(dir, Options{}) {}
    ~ServerProcess();

    int port() const { return port_; }
    const std::string& db() const { return db_; }
    pid_t pid() const { return pid_; }
    // SIGTERM and wait; returns the exit status (or -1).
    int stop();
    // SIGKILL and wait.
    void kill_hard();
    bool running();
    // The caller waited for the process itself (a test that ptraced one of its threads must
    // reap that thread before the process's exit is reported): nothing is left to stop.
    void reaped() { pid_ = -1; }
    std::string log() const;  // everything the server wrote on stderr

private:
    void start();
    Options options_;
    std::string db_;
    std::string log_path_;
    pid_t pid_ = -1;
    int port_ = 0;
};

// Read-only queries against a database file. They first wait for the churn projection to
// cover every stored delivery (while its watermark moves), so a test reads the state its
// acknowledged deliveries lead to.
int64_t query_int(const std::string& db, const std::string& sql);
std::string query_text(const std::string& db, const std::string& sql);
// The first column of the first row on an open connection, as text ("" without a row).
// No waiting for the projection: for tests of the SQLite layer and the schema.
std::string first_text(sql::Database& db, const std::string& sql);
// Every row, columns joined by '|', rows by '\n' (NULL as "NULL").
std::string query_rows(const std::string& db, const std::string& sql);

// The first sanitizer report (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer,
// ThreadSanitizer) in a server log, from its first line on, or "" when there is none. Tests built with
// CHURNWATCH_SANITIZE check the server they ran with this, so a finding in the process
// under test fails the test that provoked it.
std::string sanitizer_report(const std::string& log);

// Whether the system resolver finds "localhost" (through /etc/hosts on Debian). A minimal
// root (debootstrap) has no /etc/hosts: tests of name lookup skip there, saying so, rather
// than fail for the machine's sake.
bool localhost_resolves();

// A signed (legacy scheme) webhook POST on an existing keep-alive connection.
HttpResult post_webhook_on(HttpConnection& conn, const std::string& target,
                           const std::string& body, const Headers& extra = {},
                           const std::string& secret = kSecret);

// Runs the churnwatch binary with args; returns exit code, captures stdout and stderr.
struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};
CommandResult run_churnwatch(const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env = {});

// Applies the migrations before `first_not_applied` (a file name, "0021_alert_told.sql"),
// as an older churnwatch did: a database to test an upgrade on.
void migrate_until(sql::Database& db, const std::string& first_not_applied);

}  // namespace churnwatch::test
