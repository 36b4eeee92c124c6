#include "test_support.h"

#include "child_process.h"
#include "schema.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <stdexcept>
#include <thread>

namespace churnwatch::test {

namespace fs = std::filesystem;

ScopedEnv::ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value) ::setenv(name_.c_str(), value->c_str(), 1);
    else ::unsetenv(name_.c_str());
}

ScopedEnv::~ScopedEnv() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
}

TempDir::TempDir() {
    std::string base = fs::temp_directory_path().string() + "/churnwatch-test-XXXXXX";
    std::vector<char> buf(base.begin(), base.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
}

std::string example_payload(const std::string& name) {
    return read_file(std::string(CHURNWATCH_TEST_DATA) + "/recharge/" + name);
}

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 0xf];
    }
    return out;
}

}  // namespace

// Computed with OpenSSL directly, not with churnwatch's own crypto code under test.
std::string legacy_signature(const std::string& secret, const std::string& body) {
    std::string data = secret + body;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
    return hex(md, n);
}

std::string timestamped_signature(const std::string& secret, int64_t t, const std::string& body) {
    std::string msg = std::to_string(t) + "." + body;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &n);
    return "t=" + std::to_string(t) + ",v1=" + hex(md, n);
}

int64_t now_seconds() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

HttpConnection::HttpConnection(int port, int receive_buffer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0)
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd_);
        fd_ = -1;
        return;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

HttpConnection::~HttpConnection() {
    if (fd_ >= 0) ::close(fd_);
}

bool HttpConnection::send_raw(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

namespace {

// Reads more bytes into buf; false on close, error or timeout.
bool read_more(int fd, std::string& buf, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char chunk[16384];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
    return true;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::map<std::string, std::string> parse_header_lines(std::istream& head) {
    std::map<std::string, std::string> headers;
    std::string line;
    while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(v.begin());
        headers[lower(line.substr(0, colon))] = v;
    }
    return headers;
}

HttpResult HttpConnection::read_response(int timeout_ms) {
    HttpResult r;
    if (fd_ < 0) return r;
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (!read_more(fd_, buffer_, timeout_ms)) return r;
    }
    std::istringstream head(buffer_.substr(0, header_end));
    std::string line;
    std::getline(head, line);
    int status = 0;
    if (std::sscanf(line.c_str(), "HTTP/%*d.%*d %d", &status) != 1) return r;
    r.headers = parse_header_lines(head);
    std::size_t length = 0;
    if (auto it = r.headers.find("content-length"); it != r.headers.end()) length = std::stoul(it->second);
    std::size_t body_start = header_end + 4;
    while (buffer_.size() < body_start + length) {
        if (!read_more(fd_, buffer_, timeout_ms)) return r;
    }
    r.status = status;
    r.body = buffer_.substr(body_start, length);
    buffer_.erase(0, body_start + length);
    return r;
}

std::string HttpConnection::read_raw(const std::string& until, int timeout_ms) {
    while (fd_ >= 0 && (until.empty() || buffer_.find(until) == std::string::npos)) {
        if (!read_more(fd_, buffer_, timeout_ms)) break;
    }
    return std::exchange(buffer_, std::string());
}

int HttpConnection::local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
    return ntohs(addr.sin_port);
}

long tcp_send_queue(int local_port, int peer_port) {
    std::ifstream in("/proc/net/tcp");
    std::string line;
    std::getline(in, line);  // the heading
    while (std::getline(in, line)) {
        // "  sl  local_address rem_address   st tx_queue:rx_queue ...", addresses as HEX:PORT
        std::istringstream fields(line);
        std::string sl, local, remote, state, queues;
        if (!(fields >> sl >> local >> remote >> state >> queues)) continue;
        auto port_of = [](const std::string& address) {
            auto colon = address.find(':');
            return colon == std::string::npos ? -1 : static_cast<int>(std::stol(address.substr(colon + 1), nullptr, 16));
        };
        if (port_of(local) != local_port || port_of(remote) != peer_port) continue;
        return std::stol(queues.substr(0, queues.find(':')), nullptr, 16);
    }
    return -1;
}

bool HttpConnection::closed_by_peer(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) {
            char c[4096];
            ssize_t n = ::recv(fd_, c, sizeof c, 0);
            if (n <= 0) return true;
        }
    }
    return false;
}

void HttpConnection::shutdown_write() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

HttpResult HttpConnection::request(const std::string& method, const std::string& target,
                                   const Headers& headers, const std::string& body) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    bool has_length = false;
    for (const auto& [k, v] : headers) {
        req += k + ": " + v + "\r\n";
        if (lower(k) == "content-length") has_length = true;
    }
    if (!has_length && (method == "POST" || !body.empty()))
        req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    if (!send_raw(req)) return {};
    return read_response();
}

HttpResult http_request(int port, const std::string& method, const std::string& target,
                        const Headers& headers, const std::string& body) {
    HttpConnection c(port);
    return c.request(method, target, headers, body);
}

HttpResult post_webhook(int port, const std::string& target, const std::string& body,
                        const Headers& extra, const std::string& secret) {
    Headers h{{"Content-Type", "application/json"},
              {"X-Recharge-Hmac-Sha256", legacy_signature(secret, body)}};
    h.insert(h.end(), extra.begin(), extra.end());
    return http_request(port, "POST", target, h, body);
}

HttpResult post_webhook_on(HttpConnection& conn, const std::string& target,
                           const std::string& body, const Headers& extra,
                           const std::string& secret) {
    Headers h{{"Content-Type", "application/json"},
              {"X-Recharge-Hmac-Sha256", legacy_signature(secret, body)}};
    h.insert(h.end(), extra.begin(), extra.end());
    return conn.request("POST", target, h, body);
}

bool localhost_resolves() {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo("localhost", nullptr, &hints, &found) != 0) return false;
    ::freeaddrinfo(found);
    return true;
}

std::string sanitizer_report(const std::string& log) {
    std::size_t at = std::string::npos;
    for (const char* marker : {"==ERROR: AddressSanitizer", "==ERROR: LeakSanitizer",
                               "WARNING: ThreadSanitizer", "ThreadSanitizer: ", "runtime error: ",
                               "==ERROR: UndefinedBehaviorSanitizer"}) {
        at = std::min(at, log.find(marker));
    }
    if (at == std::string::npos) return "";
    std::size_t begin = log.rfind('\n', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    return log.substr(begin, 8000);
}

ServerProcess::ServerProcess(const TempDir& dir, Options options)
    : options_(std::move(options)) {
    db_ = options_.db.empty() ? dir.file("churnwatch.db") : options_.db;
    log_path_ = dir.file("server-" + std::to_string(reinterpret_cast<uintptr_t>(this)) + ".log");
    start();
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) stop();
}

void ServerProcess::start() {
    std::vector<std::string> args{CHURNWATCH_BIN, "serve", "--listen", "127.0.0.1:0", "--db", db_};
    for (const auto& s : options_.secrets) {
        args.push_back("--secret");
        args.push_back(s);
    }
    args.insert(args.end(), options_.args.begin(), options_.args.end());

    // Made before the fork: the child only makes async-signal-safe calls (child_process.h).
    const ExecImage image(std::move(args), options_.env);
    const char* log_path = log_path_.c_str();
    const rlimit files{static_cast<rlim_t>(options_.open_files), static_cast<rlim_t>(options_.open_files)};
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
        ::dup2(out[1], 1);
        int log = ::open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(log, 2);
        if (options_.open_files > 0 && ::setrlimit(RLIMIT_NOFILE, &files) != 0) ::_exit(126);
        image.exec();
    }
    ::close(out[1]);
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (got.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        if (!read_more(out[0], got, 200)) {
            int st;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                pid_ = -1;
                break;
            }
        }
    }
    ::close(out[0]);  // the server prints nothing else on stdout
    auto pos = got.find("listening on ");
    if (pos == std::string::npos) {
        std::string where;
        if (pid_ > 0) {
            // Still running, silent: say where it is, then end it (the destructor does not run
            // for a constructor that throws).
            where = "\n" + describe_stuck_process(pid_);
            kill_hard();
        }
        throw std::runtime_error("churnwatch serve did not start; stdout: " + got + "\nlog:\n" + log() + where);
    }
    std::string addr = got.substr(pos + 13, got.find('\n', pos) - pos - 13);
    port_ = std::stoi(addr.substr(addr.rfind(':') + 1));
}

int ServerProcess::stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void ServerProcess::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
}

bool ServerProcess::running() {
    if (pid_ <= 0) return false;
    int st;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

std::string ServerProcess::log() const {
    try {
        return read_file(log_path_);
    } catch (...) {
        return "";
    }
}

namespace {

struct ReadOnlyDb {
    explicit ReadOnlyDb(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
            throw std::runtime_error("cannot open " + path);
        sqlite3_busy_timeout(db, 5000);
    }
    ~ReadOnlyDb() { sqlite3_close(db); }
    sqlite3* db = nullptr;
};

// Churn state is projected behind the acknowledgement: a test that reads the database right
// after its deliveries were answered waits until the projection has covered them (as an
// analyst's query a moment later would see), for as long as the watermark keeps moving.
void wait_for_projection(sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT deliveries_behind, projected_through FROM projection_status",
                           -1, &st, nullptr) != SQLITE_OK) {
        return;  // a database from before the projection (or not churnwatch's)
    }
    auto last_move = std::chrono::steady_clock::now();
    int64_t last_mark = -1;
    for (;;) {
        int64_t behind = 0, mark = 0;
        if (sqlite3_step(st) == SQLITE_ROW) {
            behind = sqlite3_column_int64(st, 0);
            mark = sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
        if (behind == 0) break;
        auto now = std::chrono::steady_clock::now();
        if (mark != last_mark) {
            last_mark = mark;
            last_move = now;
        } else if (now - last_move > std::chrono::seconds(3)) {
            break;  // not moving: no server is projecting; read what is there
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    sqlite3_finalize(st);
}

std::vector<std::vector<std::string>> query(const std::string& path, const std::string& sql) {
    ReadOnlyDb d(path);
    wait_for_projection(d.db);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(d.db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
        throw std::runtime_error("bad query: " + sql + ": " + sqlite3_errmsg(d.db));
    std::vector<std::vector<std::string>> rows;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        std::vector<std::string> row;
        for (int i = 0; i < sqlite3_column_count(st); ++i) {
            const unsigned char* t = sqlite3_column_text(st, i);
            row.push_back(t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(st, i)) : "NULL");
        }
        rows.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) throw std::runtime_error("query failed: " + sql);
    return rows;
}

}  // namespace

int64_t query_int(const std::string& db, const std::string& sql) {
    auto rows = query(db, sql);
    if (rows.empty() || rows[0].empty()) throw std::runtime_error("no rows: " + sql);
    return std::stoll(rows[0][0]);
}

std::string query_text(const std::string& db, const std::string& sql) {
    auto rows = query(db, sql);
    if (rows.empty() || rows[0].empty()) return "NULL";
    return rows[0][0];
}

std::string first_text(sql::Database& db, const std::string& sql) {
    sql::Statement q(db, sql);
    return q.step() ? q.column_text(0) : std::string();
}

std::string query_rows(const std::string& db, const std::string& sql) {
    std::string out;
    for (const auto& row : query(db, sql)) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (i) out += '|';
            out += row[i];
        }
        out += '\n';
    }
    return out;
}

CommandResult run_churnwatch(const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env) {
    TempDir tmp;
    std::string out_path = tmp.file("out"), err_path = tmp.file("err");
    std::vector<std::string> all{CHURNWATCH_BIN};
    all.insert(all.end(), args.begin(), args.end());
    const ExecImage image(std::move(all), env);  // before the fork (child_process.h)
    pid_t pid = ::fork();
    if (pid == 0) {
        int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT, 0644);
        int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT, 0644);
        ::dup2(o, 1);
        ::dup2(e, 2);
        image.exec();
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    CommandResult r;
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = read_file(out_path);
    r.err = read_file(err_path);
    return r;
}

void migrate_until(sql::Database& db, const std::string& first_not_applied) {
    configure_connection(db);
    db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY,"
            " applied_at TEXT NOT NULL DEFAULT 'then')");
    for (const auto& f : embedded_schema()) {
        if (std::string(f.name) >= first_not_applied) break;
        db.exec(f.sql);
        sql::Statement rec(db, "INSERT INTO schema_migrations (name) VALUES (?)");
        rec.bind(1, f.name).run();
    }
}

}  // namespace churnwatch::test
