// The HTTP/1.1 listener (Boost.Beast/Asio): accepts connections, reads requests under
// explicit limits and timeouts, hands each one to the RequestHandler, and writes the answer.
// Beast stays inside http_server.cpp (it is the slow header to compile).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "log.h"
#include "request_handler.h"

namespace churnwatch {

struct ServerOptions {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;  // 0: any free port
    int threads = 2;                         // I/O threads running the io_context
    // Beyond this, a new connection closes one lingering after a refusal, else the one idle
    // the longest (a keep-alive connection between requests), or else one whose request has been arriving, or whose answer has
    // waited for its client to read it, for over 2 s; with neither, accepting pauses.
    std::size_t max_connections = 1024;
    std::size_t body_limit = 1024 * 1024;    // larger bodies get 413
    std::size_t header_limit = 16 * 1024;    // larger header blocks get 431, longer request lines 414
    std::chrono::milliseconds request_timeout{15000};  // a whole request must arrive within
    std::chrono::milliseconds write_timeout{15000};
    std::chrono::milliseconds drain_timeout{10000};    // on shutdown, in-flight work gets this long
    // Native HTTPS when both are set (PEM files; TLS 1.2+ only). SIGHUP reloads them.
    std::string tls_cert;
    std::string tls_key;
};

// What ListeningSocket::open and HttpServer::bind would refuse because of the options
// themselves, as a readable message ("" when nothing): --tls-cert without --tls-key, a listen
// host that is not an IP address, TLS files that cannot be read or loaded (not PEM, a key
// that does not match the certificate). serve checks this with the rest of its
// configuration, so these are configuration errors (exit 2) found before anything is
// created, and `config check` finds them too.
std::string check_server_options(const ServerOptions& options);

// The server's listening socket, opened by serve before it opens the database: a --listen
// address already in use is found before anything is created or migrated. Bound and
// listening from open() on: the kernel queues connections, which are accepted once the
// server runs (a delivery arriving during a short start is answered then, within its
// sender's 5 s, rather than refused).
class ListeningSocket {
public:
    // Binds options.host:options.port and listens. Throws std::runtime_error naming the
    // address ("cannot listen on HOST:PORT: Address already in use").
    static ListeningSocket open(const ServerOptions& options);
    ListeningSocket(ListeningSocket&& other) noexcept;
    ListeningSocket& operator=(ListeningSocket&&) = delete;
    ListeningSocket(const ListeningSocket&) = delete;
    ~ListeningSocket();  // closes it unless an HttpServer took it

    // The bound "HOST:PORT" (port 0 resolved).
    const std::string& address() const { return address_; }

private:
    friend class HttpServer;
    ListeningSocket(int fd, bool v6, std::string address) : fd_(fd), v6_(v6), address_(std::move(address)) {}
    int fd_ = -1;
    bool v6_ = false;
    std::string address_;
};

class HttpServer {
public:
    HttpServer(ServerOptions options, RequestHandler& handler, Logger& logger);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Loads the TLS certificate (if configured) and takes the listening socket; returns the
    // bound "HOST:PORT". Throws std::runtime_error on failure.
    std::string bind(ListeningSocket socket);
    // Serves until SIGINT or SIGTERM (or shutdown()), then stops accepting, lets in-flight
    // requests finish (up to drain_timeout) and returns. SIGHUP reloads the TLS certificate.
    void run();
    // Starts the same graceful stop as a signal; callable from any thread.
    void shutdown();
    // Runs f on an I/O thread (e.g. to answer a whole committed batch with one wake-up).
    void post(std::function<void()> f);
    // Connections open now (any thread): the churnwatch_http_connections gauge.
    std::size_t open_connections() const;
    // Idle keep-alive connections closed to take new ones at max_connections (any thread):
    // the churnwatch_http_idle_connections_closed_total counter.
    std::uint64_t idle_connections_closed() const;

    struct Impl;  // defined in http_server.cpp (public only so its session class can name it)

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace churnwatch
