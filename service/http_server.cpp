#include "http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <csignal>
#include <cstdlib>
#include <thread>
#include <utility>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "request_checks.h"
#include "session_registry.h"

namespace churnwatch {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// A lingering close after a refusal (Session::linger) lasts at most this long, and drops at
// most this many bytes beyond --max-body. 2 s: a client that reads its answer closes within a
// round trip of it, and 2 s is what a stalled request may keep its slot at the connection
// limit (kStalledRequestAge) and a TLS close_notify is waited for. 4 MiB beyond --max-body: a
// client that writes a whole body over the limit before it reads (a delivery a little too
// large) still finds its 413; a larger one has its answer cut by the RST as before, and no
// client makes the server read more than that for nothing.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = std::size_t{4} << 20;

// A TLS server context from PEM files: TLS 1.2 or newer only.
std::shared_ptr<ssl::context> load_tls_context(const std::string& cert, const std::string& key) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    // TLS 1.2: forward secrecy and an AEAD only (TLS 1.3's suites are all such).
    SSL_CTX_set_cipher_list(ctx->native_handle(), "ECDHE+AESGCM:ECDHE+CHACHA20");
    try {
        ctx->use_certificate_chain_file(cert);
        ctx->use_private_key_file(key, ssl::context::pem);
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot load TLS certificate " + cert + " / key " + key + ": " +
                                 e.what());
    }
    // Loading compares the key with the certificate only when both are of one type: an EC key
    // with an RSA certificate (or the reverse) loads, and then every handshake fails.
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
        ERR_clear_error();
        throw std::runtime_error("cannot load TLS certificate " + cert + " / key " + key +
                                 ": the key does not match the certificate");
    }
    return ctx;
}

}  // namespace

std::string check_server_options(const ServerOptions& o) {
    if (o.tls_cert.empty() != o.tls_key.empty()) return "--tls-cert and --tls-key go together";
    beast::error_code ec;
    net::ip::make_address(o.host, ec);
    if (ec) return "--listen host must be an IP address or localhost (got '" + o.host + "')";
    if (o.tls_cert.empty()) return "";
    for (const auto& [option, path] : {std::pair{"--tls-cert", o.tls_cert}, std::pair{"--tls-key", o.tls_key}}) {
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) return std::string(option) + " " + path + " cannot be read: " + std::strerror(errno);
        std::fclose(f);
    }
    try {
        load_tls_context(o.tls_cert, o.tls_key);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

struct HttpServer::Impl {
    Impl(ServerOptions o, RequestHandler& h, Logger& l)
        : options(within_descriptor_limit(std::move(o), l)), handler(h), logger(l), ioc(options.threads),
          acceptor(net::make_strand(ioc)), signals(ioc, SIGINT, SIGTERM), reload(ioc, SIGHUP),
          drain_timer(net::make_strand(ioc)), accept_retry(acceptor.get_executor()),
          registry(std::make_shared<SessionRegistry>(options.max_connections)) {
        registry->set_callbacks(
            [this] { net::post(acceptor.get_executor(), [this] { do_accept(); }); },
            [this] { net::post(drain_timer.get_executor(), [this] { drain_timer.cancel(); }); });
    }
    ~Impl() { registry->detach(); }

    bool tls() const { return !options.tls_cert.empty(); }
    std::shared_ptr<ssl::context> tls_context() {
        std::lock_guard lock(tls_mu);
        return tls_ctx;
    }
    void reload_tls();
    void wait_for_reload();
    void run_io();
    void do_accept();
    void on_acceptable(beast::error_code ec);
    void on_accept(beast::error_code ec, tcp::socket socket);
    void pause_accepting(beast::error_code ec);
    static ServerOptions within_descriptor_limit(ServerOptions o, Logger& logger);
    void begin_shutdown();

    ServerOptions options;
    RequestHandler& handler;
    Logger& logger;
    net::io_context ioc;
    tcp::acceptor acceptor;
    net::signal_set signals;
    net::signal_set reload;
    net::steady_timer drain_timer;
    // Out of file descriptors: accepting waits on this, then tries again (see on_accept).
    net::steady_timer accept_retry;
    LogThrottle accept_paused_log{std::chrono::seconds(1)};
    // The connection limit met: accepting paused, or an idle connection closed for a new one.
    // Sessions close idle ones on their own strands: the line's state has its own lock.
    std::mutex limit_log_mu;
    LogThrottle limit_log{std::chrono::seconds(10)};
    int64_t idle_closed_unlogged = 0;
    // How the limit was met: accepting paused, or a connection closed to make room.
    enum class LimitMet { paused, idle_closed, stalled_closed };
    void note_connection_limit(LimitMet how);
    void note_stalled_closed(const std::string& peer, std::int64_t since, bool writing);
    void wait_for_stalled_request();
    int64_t stalled_closed_unlogged = 0;
    std::atomic<std::uint64_t> idle_closed_total{0};  // churnwatch_http_idle_connections_closed_total
    LogBudget handshake_log{20};  // tls_handshake_failed lines
    std::atomic<bool> stopping{false};
    std::shared_ptr<SessionRegistry> registry;
    std::mutex tls_mu;
    std::shared_ptr<ssl::context> tls_ctx;  // new connections take the current one
};

// One connection: read a request, let the handler answer (possibly after the writer's
// commit), write the answer, repeat while keep-alive. All work runs on the connection's
// strand. Stream is beast::tcp_stream, or beast::ssl_stream over one for HTTPS.
template <class Stream>
class Session : public SessionControl, public std::enable_shared_from_this<Session<Stream>> {
    static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

public:
    template <class... Args>
    Session(HttpServer::Impl& server, Args&&... args)
        : stream_(std::forward<Args>(args)...), server_(server), registry_(server.registry),
          buffer_(server.options.header_limit + kReadChunk) {
        buffer_.reserve(kReadChunk);
        // Once per connection, for the log lines of refused requests.
        beast::error_code ec;
        auto ep = tcp().socket().remote_endpoint(ec);
        if (!ec) {
            const auto address = ep.address().to_string();
            peer_ = ep.address().is_v6() ? "[" + address + "]" : address;
            peer_ += ":" + std::to_string(ep.port());
        }
    }
    ~Session() override {
        release_body_memory();
        registry_->remove(this);
    }

    const std::atomic<std::int64_t>* waiting_since() const { return &waiting_since_; }

    // Holds the TLS context this connection was made with (a SIGHUP reload may replace the
    // server's current one while the connection lives on).
    void keep_context(std::shared_ptr<ssl::context> ctx) { ctx_ = std::move(ctx); }

    void start() {
        net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
            if constexpr (kTls) {
                self->tcp().expires_after(self->server_.options.request_timeout);
                self->stream_.async_handshake(ssl::stream_base::server,
                                              [self](beast::error_code ec) {
                                                  if (ec) return self->handshake_failed(ec);
                                                  self->do_read(false);
                                              });
            } else {
                self->do_read(false);
            }
        });
    }

    // Called at shutdown: close now if waiting for a request that has not begun, otherwise
    // give the request in progress a short deadline; the answer in flight is still written.
    void on_shutdown() override {
        net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
            if (self->lingering_) return self->tcp().cancel();  // on_dropped closes
            if (!self->reading_) return;  // handling or writing: closes after the write
            if (!self->parser_ || !self->parser_->got_some()) {
                beast::error_code ec;
                self->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
                self->tcp().close();
            } else {
                // A second for the rest of it. Not expires_after on the stream: Beast arms
                // that timer when an operation starts, so the read already waiting kept its
                // 15 s and held the drain to its 10 s limit.
                std::weak_ptr<Session> weak = self;
                self->shutdown_timer_.emplace(self->stream_.get_executor());
                self->shutdown_timer_->expires_after(std::chrono::seconds(1));
                self->shutdown_timer_->async_wait([weak](beast::error_code ec) {
                    auto s = weak.lock();
                    if (ec || !s || !s->reading_) return;  // answered meanwhile: closes after it
                    // Logged as what it is, not as a client that hung up (`truncated`).
                    s->cut_at_shutdown_ = true;
                    s->server_.handler.transport_error(503, "shutdown",
                                                       "request not complete 1 s into shutdown: dropped unanswered",
                                                       s->peer_);
                    beast::error_code ignored;
                    s->tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
                    s->tcp().close();
                });
            }
        });
    }

    // A new connection at the limit chose this one, stalled (a request still arriving, or an
    // answer not read), to make room. Closed if it is still that same wait (the client may
    // send its request again on a new connection); had it ended meanwhile, the session
    // counts again, as what it does now: busy (reading its next request, or handling one),
    // or idle or lingering (it said so when its answer went out, which the registry took:
    // saying busy now took it off the idle list, a lingering session then counted as busy,
    // one over --max-connections and out of reach of new connections for up to 2 s).
    void on_evict_stalled(std::int64_t since) override {
        net::dispatch(stream_.get_executor(), [self = this->shared_from_this(), since] {
            if (self->waiting_since_.load(std::memory_order_relaxed) != since) {
                using Wait = SessionRegistry::Wait;
                return self->registry_->set_idle(
                    self.get(), !self->idle_ ? Wait::busy : self->lingering_ ? Wait::lingering : Wait::idle);
            }
            self->stalled_closed_ = true;
            self->server_.note_stalled_closed(self->peer_, since, self->writing_);
            beast::error_code ec;
            self->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
            self->tcp().close();
        });
    }

    // A new connection at the limit chose this one, idle the longest, to make room. Closed
    // only if still waiting with nothing of a next request received: the wait is cancelled,
    // and on_idle_read closes on operation_aborted, but takes bytes already read as the
    // request they begin (telling the registry it is busy, so it counts again).
    void on_evict() override {
        net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
            if (!self->idle_ || self->evicting_) return;  // its next request began: it stays
            self->evicting_ = true;
            self->tcp().cancel();
        });
    }

private:
    beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

    // TLS bytes received and not yet decrypted into buffer_: what the TLS layer holds, and
    // ciphertext waiting in its input BIO (a pipelined request, or part of a record).
    bool tls_bytes_pending() {
        if constexpr (kTls) {
            SSL* ssl = stream_.native_handle();
            return SSL_has_pending(ssl) == 1 || BIO_pending(SSL_get_rbio(ssl)) > 0;
        } else {
            return false;
        }
    }

    // Closed to make room for a new connection: it was between requests, so nothing is lost
    // (its client opens a new connection for the next one). Over TLS a one-way close_notify
    // first (within 2 s), without waiting for the client's, as an idle connection at shutdown
    // does not wait for it either.
    void evicted() {
        server_.note_connection_limit(HttpServer::Impl::LimitMet::idle_closed);
        auto close_now = [this] {
            beast::error_code ec;
            tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
            tcp().close();
        };
        if constexpr (kTls) {
            // Over TLS a close_notify first (nothing of a next request had come), so that the
            // client reads a clean end rather than a truncation, as from a server that closed
            // an idle connection; no waiting for the client's.
            tcp().expires_after(std::chrono::seconds(2));
            send_close_notify_then([self = this->shared_from_this(), close_now](beast::error_code) { close_now(); });
        } else {
            close_now();
        }
    }

    void handshake_failed(beast::error_code ec) {
        // Logged unless closed as stalled (logged then); scanners can fail handshakes as fast
        // as they connect, so at most 20 lines a second.
        if (int64_t suppressed = 0; !stalled_closed_ && server_.handshake_log.allow(suppressed)) {
            LogLine line(server_.logger, LogLevel::Warn, "tls_handshake_failed");
            line.str("error", ec.message()).str("peer", peer_);
            if (suppressed) line.num("failures_not_logged", suppressed);
        }
        tcp().close();
    }

    // next_request: on a kept-alive connection, after an answer (not its first request).
    void do_read(bool next_request) {
        parser_.emplace();
        parser_->body_limit(server_.options.body_limit);
        parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
        // Up to the end of the header only, so it is checked before any of the body is read
        // (check_header); then as much as has arrived at each read: a request that came in
        // one piece is still parsed from one read (http::async_read does the same).
        parser_->eager(false);
        header_checked_ = false;
        // The last chunk's header comes before any trailer: the fields then are the header's.
        parser_->on_chunk_header(chunk_header_);
        // Shutting down (an answer was being written when it began): the next request gets a
        // short deadline, as on_shutdown gives one in progress, instead of holding the drain.
        tcp().expires_after(server_.stopping.load()
                                ? std::min<std::chrono::milliseconds>(server_.options.request_timeout,
                                                                      std::chrono::seconds(1))
                                : server_.options.request_timeout);
        reading_ = true;
        continue_sent_ = false;
        header_taken_ = 0;
        line_scanned_ = 0;
        line_scan_ = {};
        // Between requests with nothing of the next one here yet (not pipelined): idle, so a
        // new connection at the limit may close this one (SessionRegistry). An empty line
        // after the last request (a CRLF some clients send after a body) begins none, nor
        // does a lone CR after it. (Too many of them: parse_buffered refuses.)
        next_request_ = next_request;
        if (next_request && nothing_of_a_request()) return wait_idle();
        // A pipelined request begins now; a connection's first began when it was accepted.
        if (next_request) waiting_since_.store(steady_now_ns(), std::memory_order_relaxed);
        read_some();
    }

    // Waits for the first bytes of the next request with a plain read: Beast's HTTP read
    // completes only once the whole header is in, so it could not say when a request began.
    // Reported after the read starts: over the limit, the registry closes this connection at
    // once through on_evict.
    void wait_idle() {
        idle_ = true;
        stream_.async_read_some(buffer_.prepare(kReadChunk),
                                beast::bind_front_handler(&Session::on_idle_read, this->shared_from_this()));
        registry_->set_idle(this, SessionRegistry::Wait::idle);
    }

    void on_idle_read(beast::error_code ec, std::size_t n) {
        using Wait = SessionRegistry::Wait;
        buffer_.commit(n);
        idle_ = false;
        const bool evicting = std::exchange(evicting_, false);
        if (evicting && ec == net::error::operation_aborted && tcp().socket().is_open()) {
            if (!tls_bytes_pending()) return evicted();
            // Part of a TLS record of the next request had come: it is not idle.
            waiting_since_.store(steady_now_ns(), std::memory_order_relaxed);
            registry_->set_idle(this, Wait::busy);
            return read_some();
        }
        if (ec) {
            registry_->set_idle(this, Wait::ending);
            return on_read(ec, n);  // closed, reset or timed out: closes quietly
        }
        // Only empty lines came (RFC 9112 2.2), perhaps the CR of another: nothing of a request,
        // still idle (and closed at once if it was chosen to make room meanwhile). Within the
        // request timeout, and at most kMaxEmptyLines of them: parse_buffered refuses another.
        if (nothing_of_a_request()) {
            if (evicting) return evicted();
            return wait_idle();
        }
        waiting_since_.store(steady_now_ns(), std::memory_order_relaxed);
        registry_->set_idle(this, Wait::busy);
        read_some();  // the parser starts with what came
    }

    // The request is read piece by piece rather than with http::async_read so that a client
    // that sent "Expect: 100-continue" gets its interim answer once the header is in: curl
    // sends that header with any body over 1 MiB (over 1 KB before 7.69) and then waits a
    // second for the answer
    // before sending the body anyway. A header that already fails (a body over the limit)
    // is answered with the final status instead, as RFC 9110 allows.
    //
    // The socket is read and the parser fed here, as http::async_read_some would, because
    // Beast 1.81 applies header_limit to what one put() sees, and a put() takes the fields
    // complete so far out of the buffer: a header block arriving in pieces that each end just
    // after a field was never refused (11 MB against the 16 KB default in a probe, all held in
    // memory until the request timeout). Here the field bytes already taken are counted and
    // the parser is given only what is left of the limit.
    void read_some() {
        if (buffer_.size() > 0) return parse_buffered();
        read_socket();
    }

    void read_socket() {
        // 0 when buffer_ is full (it holds more than a whole header block may).
        const std::size_t n = beast::read_size(buffer_, 65536);
        if (n == 0) {
            return on_read_some(parser_->is_header_done() ? http::error::buffer_overflow : http::error::header_limit, 0);
        }
        stream_.async_read_some(buffer_.prepare(n),
                                beast::bind_front_handler(&Session::on_socket_read, this->shared_from_this()));
    }

    void on_socket_read(beast::error_code ec, std::size_t n) {
        buffer_.commit(n);
        if (ec == net::error::eof) {
            // As Beast's read: end_of_stream between requests, partial_message within one
            // (never another put(): a parser that put_eof completed takes no more).
            if (!parser_->got_some()) return on_read_some(http::error::end_of_stream, 0);
            ec = {};
            parser_->put_eof(ec);
            return on_read_some(ec, 0);
        }
        if (ec) return on_read_some(ec, 0);
        parse_buffered();
    }

    void parse_buffered() {
        const std::size_t limit = server_.options.header_limit;
        const bool in_header = !parser_->is_header_done();
        if (in_header && header_taken_ == 0) {
            // Empty lines before the request line are dropped (RFC 9112 2.2), a few at most; a
            // lone CR after them waits for what follows it (it may be half of one).
            bool partial = false;
            if (auto refusal = drop_empty_lines(&partial)) return refuse_with(std::move(*refusal));
            if (partial || buffer_.size() == 0) {
                // Between requests, nothing but empty lines after all (a TLS record pending
                // made this look like a request's beginning): idle again, as on_idle_read.
                if (next_request_ && !tls_bytes_pending()) {
                    waiting_since_.store(0, std::memory_order_relaxed);
                    return wait_idle();
                }
                return read_socket();
            }
            const std::size_t line = request_line_end();
            if (line == 0 || line > limit) {
                // Bytes that cannot begin a request line: refused at once (they waited for an
                // LF until the request timeout). Only a line not yet whole is looked at byte by
                // byte: a whole one is the parser's to read.
                const std::string_view start = buffered().substr(0, limit);
                if (auto refusal = check_line_start(start, line_scan_)) return refuse_with(std::move(*refusal));
                // A request line over the limit (the header block's, which does not count the
                // line) is refused whether or not its end has come: the same boundary however
                // it arrives. Beast refused it as a header block too large (431).
                if (line > limit || buffer_.size() >= limit) return refuse_with(line_too_long(start, limit));
                // Until its request line is in, the parser sees two bytes of it at most (so the
                // request has begun: got_some). Handed three or more of an unfinished line,
                // Beast waits for the whole header block within header_limit bytes counted
                // from the line's start: the request line then counted against the limit, as
                // it does not when it arrives whole.
                beast::error_code ec;
                parser_->put(net::buffer(buffer_.data().data(), std::min<std::size_t>(buffer_.size(), 2)), ec);
                if (ec && ec != http::error::need_more) return on_read_some(ec, 0);
                return read_socket();
            }
            // The whole line is in, and Beast about to read it: HTTP/1.2 and later minor
            // versions become HTTP/1.1, other major versions are refused (505).
            if (auto refusal = check_version({static_cast<char*>(buffer_.data().data()), line}))
                return refuse_with(std::move(*refusal));
        }
        if (in_header && header_taken_ > 0)
            parser_->header_limit(static_cast<std::uint32_t>(limit - fields_taken()));
        beast::error_code ec;
        const std::size_t used = parser_->put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == http::error::need_more && !parser_->is_header_done()) {
            // All it took is header, and so is what is still buffered. (The request line is
            // not counted, as Beast does not count it; nothing is taken before it is whole.)
            header_taken_ += used;
            if (header_taken_ > 0 && fields_taken() + buffer_.size() >= limit)
                return on_read_some(http::error::header_limit, 0);
        }
        // (No progress without an error would read the same bytes again: read more instead.)
        if (ec == http::error::need_more || (!ec && used == 0 && !parser_->is_done())) return read_socket();
        on_read_some(ec, used);
    }

    // Drops the empty lines buffer_ begins with while none of the request line has been
    // looked at (skip_empty_lines): the refusal once there are too many. partial: buffer_
    // then holds a lone CR, perhaps half of another.
    std::optional<Refusal> drop_empty_lines(bool* partial = nullptr) {
        if (line_scan_.scanned > 0 || buffer_.size() == 0) return std::nullopt;
        EmptyLines lead = skip_empty_lines(buffered(), line_scan_);
        if (lead.drop > 0) {
            buffer_.consume(lead.drop);
            line_scanned_ = 0;
        }
        if (partial) *partial = lead.partial;
        return std::move(lead.refusal);
    }

    // Between requests: buffer_ holds nothing of the next one, only empty lines (dropped here,
    // within kMaxEmptyLines: one more is left for parse_buffered to refuse) and perhaps a lone
    // CR after them, half of another or not. The connection is still idle: such bytes alone
    // must not make it count as a request arriving, which at --max-connections kept it from
    // giving way to a new connection at once (it was closed as stalled after 2 s instead).
    bool nothing_of_a_request() {
        bool partial = false;
        if (drop_empty_lines(&partial)) return false;
        return (buffer_.size() == 0 || partial) && !tls_bytes_pending();
    }

    // The request line's size through its LF when buffer_ holds its end (what comes before
    // the LF is all the line there will be), or 0. Each byte is looked at once.
    std::size_t request_line_end() {
        const std::string_view data = buffered();
        if (line_scanned_ < data.size()) {
            if (const void* lf = std::memchr(data.data() + line_scanned_, '\n', data.size() - line_scanned_))
                return static_cast<std::size_t>(static_cast<const char*>(lf) - data.data()) + 1;
        }
        line_scanned_ = data.size();
        return 0;
    }
    std::string_view buffered() const {
        return {static_cast<const char*>(buffer_.data().data()), buffer_.size()};
    }

    // Header field bytes the parser has taken of this request: what it consumed while the
    // header was not done, less the request line ("METHOD SP target SP HTTP/1.x CRLF").
    std::size_t fields_taken() const {
        const auto& msg = parser_->get();
        const std::size_t line = msg.method_string().size() + msg.target().size() + 12;
        return header_taken_ > line ? header_taken_ - line : 0;
    }

    void on_read_some(beast::error_code ec, std::size_t n) {
        if (!ec && !header_checked_ && parser_->is_header_done()) {
            header_checked_ = true;
            if (auto refusal = check_header()) return refuse_with(std::move(*refusal));
            parser_->eager(true);
            // Whatever of the body came with the header: parsed from the same read.
            if (!parser_->is_done() && buffer_.size() > 0) return parse_buffered();
        }
        if (ec || parser_->is_done()) return on_read(ec, n);
        if (!hold_body_memory()) return refuse_busy();
        if (!continue_sent_ && parser_->is_header_done() && expects_continue(parser_->get())) {
            continue_sent_ = true;
            static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            net::async_write(stream_, net::buffer(kContinue),
                             [self = this->shared_from_this()](beast::error_code wec, std::size_t) {
                                 if (wec) return self->close();
                                 self->read_some();
                             });
            return;
        }
        read_some();
    }

    // What the header alone refuses, once it is in and before any of the body is read (or a
    // 100 Continue sent): the body's framing (check_transfer_codings). A Transfer-Encoding
    // whose last coding is not chunked leaves its length unknown, and a proxy in front could
    // read one there (request smuggling, RFC 9112 6.3: 400; Beast would read no body, and take
    // what follows for the next request); a coding other than chunked before it is one
    // churnwatch cannot decode (RFC 9112 6.1: 501 — Beast would read the chunks, and hand on
    // the coded bytes as the body; with parameters, `gzip;level=1, chunked`, Beast reads no
    // chunked at all, and that was a 400). Recharge sends neither. A request without
    // Transfer-Encoding pays one lookup. And the Host fields (check_host_count, check_host_value).
    std::optional<Refusal> check_header() const {
        const auto& msg = parser_->get();
        const auto hosts = msg.equal_range(http::field::host);
        if (auto refusal = check_host_count(msg.version(), std::distance(hosts.first, hosts.second)))
            return refusal;
        if (hosts.first != hosts.second) {
            const auto host = hosts.first->value();
            if (auto refusal = check_host_value({host.data(), host.size()})) return refusal;
        }
        const auto te = msg.equal_range(http::field::transfer_encoding);
        if (te.first == te.second) return std::nullopt;
        std::vector<std::string_view> values;
        for (auto it = te.first; it != te.second; ++it) values.emplace_back(it->value().data(), it->value().size());
        if (auto refusal = check_transfer_codings(values)) return refusal;
        // chunked alone, which Beast frames the body with: never otherwise (it reads parameters
        // after chunked as chunked), but should it not, the body's end would be unknown.
        if (!parser_->chunked())
            return Refusal{400, "bad_request",
                           "Transfer-Encoding without chunked as its last coding: the body's length is ambiguous"};
        return std::nullopt;
    }

    static bool expects_continue(const http::request<http::string_body>& msg) {
        if (msg.version() < 11) return false;
        return beast::iequals(msg[http::field::expect], "100-continue");
    }

    // A body still arriving holds its buffer (Beast reserves the Content-Length when the header
    // is in): counted against kRequestBodyBudget across all sessions, so clients that never
    // finish cannot make the server hold max-connections × max-body.
    bool hold_body_memory() {
        const std::size_t now = parser_->get().body().capacity();
        if (now <= body_held_) return true;
        const std::size_t budget = std::max(kRequestBodyBudget, server_.options.body_limit);
        if (!registry_->hold_body_bytes(now - body_held_, budget)) return false;
        body_held_ = now;
        return true;
    }
    void release_body_memory() {
        if (body_held_ == 0) return;
        registry_->release_body_bytes(body_held_);
        body_held_ = 0;
    }
    void refuse_busy() {
        release_body_memory();
        reading_ = false;
        answer_and_close(server_.handler.transport_error(
            503, "busy",
            "request bodies being received exceed " + std::to_string(kRequestBodyBudget >> 20) +
                " MiB in all: try again later",
            peer_));
    }

    void on_read(beast::error_code ec, std::size_t) {
        release_body_memory();
        reading_ = false;
        waiting_since_.store(0, std::memory_order_relaxed);
        if (ec && (cut_at_shutdown_ || stalled_closed_)) return close();  // logged when it was cut
        if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
            ec == net::error::connection_reset || ec == net::error::eof ||
            ec == ssl::error::stream_truncated) {
            return close();
        }
        if (ec == beast::error::timeout) {
            if (parser_->got_some())
                server_.handler.transport_error(408, "timeout", "request not received in time", peer_);
            return close();
        }
        if (ec) return refuse(ec);
        auto& msg = parser_->get();
        if (const char* why = framing_error(msg)) return refuse_framing(why);
        tcp().expires_never();
        keep_alive_ = msg.keep_alive();
        // Transfer-Encoding in HTTP/1.0, which has none: an HTTP/1.0 hop in front may have
        // framed the body differently, so what follows on this connection cannot be trusted to
        // be a request (RFC 9112 6.1: treat the framing as faulty, close after answering).
        if (msg.version() < 11 && msg.find(http::field::transfer_encoding) != msg.end()) keep_alive_ = false;
        HttpRequest req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        req.headers.reserve(8);
        for (const auto& f : msg) req.headers.emplace_back(f.name_string(), f.value());
        req.body = std::move(msg.body());
        req.peer = peer_;
        is_head_ = msg.method() == http::verb::head;
        version_ = msg.version();
        // The answer may come at once (a rejection) or later from the writer's batch
        // completion, which already runs on an I/O thread: dispatch writes at once when that
        // thread may run this connection's handlers, and posts only otherwise.
        server_.handler.handle(std::move(req), [self = this->shared_from_this()](HttpResponse res) {
            net::dispatch(self->stream_.get_executor(),
                          [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
        });
    }

    // Framing that a proxy in front could read differently (request smuggling, RFC 9112
    // 6.3): trailer fields (Beast merges them into the header, where they would pass for
    // headers a proxy never saw). Recharge sends none. (The Transfer-Encoding itself was
    // checked with the header: check_header.)
    const char* framing_error(const http::request<http::string_body>& msg) const {
        if (parser_->chunked() && field_count(msg) > fields_before_body_)
            return "trailer fields after a chunked body are not accepted";
        return nullptr;
    }
    static std::size_t field_count(const http::request<http::string_body>& msg) {
        return static_cast<std::size_t>(std::distance(msg.begin(), msg.end()));
    }
    void refuse_framing(const char* why) { answer_and_close(server_.handler.transport_error(400, "bad_request", why, peer_)); }
    // A request refused while it was still being read (request_checks.h), as on_read ends a
    // read.
    void refuse_with(Refusal r) {
        release_body_memory();
        reading_ = false;
        waiting_since_.store(0, std::memory_order_relaxed);
        answer_and_close(server_.handler.transport_error(r.status, r.reason, r.detail, peer_));
    }
    // An answer to a request refused before it was handled, the connection closed after it.
    void answer_and_close(HttpResponse res) {
        keep_alive_ = false;
        refused_ = true;
        is_head_ = false;
        version_ = parser_->get().version();
        write(std::move(res));
    }

    // The request could not be read as a whole: answer with the status the limit implies and
    // close, since the rest of the request is still unread on the wire. Answered as this
    // request's own (answer_and_close): after a HEAD on the same connection, the refusal went
    // out as that HEAD's answer had, its Content-Length without the body (a truncated
    // response), and in the previous request's HTTP version.
    void refuse(beast::error_code ec) {
        const auto& o = server_.options;
        HttpResponse res;
        if (ec == http::error::body_limit) {
            res = server_.handler.transport_error(
                413, "body_too_large", "body larger than " + std::to_string(o.body_limit) + " bytes", peer_);
        } else if (ec == http::error::header_limit) {
            res = server_.handler.transport_error(
                431, "headers_too_large",
                "header block larger than " + std::to_string(o.header_limit) + " bytes", peer_);
        } else if (ec == http::error::partial_message) {
            server_.handler.transport_error(400, "truncated", "connection closed mid-request", peer_);
            return close();
        } else {
            res = server_.handler.transport_error(400, "bad_request",
                                                  "malformed HTTP request: " + ec.message(), peer_);
        }
        answer_and_close(std::move(res));
    }

    // The head is formatted into a buffer this session reuses and written with the body in
    // one gathered write: no response object, header map or serializer per answer (they
    // were ~5 allocations and ~5% of the I/O thread per webhook). One write at a time: the
    // next request is read only after this completes.
    void write(HttpResponse res) {
        bool keep = keep_alive_ && !server_.stopping.load();
        head_.clear();
        append_response_head(head_, version_ ? version_ : 11,
                             http::obsolete_reason(static_cast<http::status>(res.status)), res,
                             res.body.size(), keep);
        body_ = std::move(res.body);
        if (is_head_) body_.clear();
        std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(body_)};
        tcp().expires_after(server_.options.write_timeout);
        // Waiting on the client until it takes the answer (one that never reads can be
        // closed for a new connection at the limit, like a stalled request).
        writing_ = true;
        waiting_since_.store(steady_now_ns(), std::memory_order_relaxed);
        net::async_write(stream_, buffers,
                         [self = this->shared_from_this(), keep](beast::error_code ec, std::size_t) {
                             self->writing_ = false;
                             self->waiting_since_.store(0, std::memory_order_relaxed);
                             if (ec && self->stalled_closed_) return;  // closed, and logged, then
                             if (ec) return self->close();
                             if (!keep) return self->refused_ ? self->linger() : self->close_after_answer();
                             self->do_read(true);
                         });
    }

    // After a refusal the client may still be sending its request (a body over the limit,
    // the rest of a header block): closing with its bytes unread makes the kernel send RST,
    // and an RST discards the answer wherever it has not reached the client yet (in flight,
    // or queued behind a receive window the client empties only once it has sent all). So
    // what still comes is read and dropped until the client closes, for at most kLingerTime
    // and kLingerBytes beyond --max-body, and only then is the socket closed (a lingering
    // close, as nginx and Apache do). The client sees the end at once: a FIN follows the
    // answer, over TLS after a close_notify (send_close_notify). Meanwhile the connection
    // counts against --max-connections as an idle one, closed before any keep-alive one: a
    // new connection at the limit closes it at once (on_evict), and so does a shutdown. Only
    // refusals linger: an answered request was read whole.
    void linger() {
        if (server_.stopping.load()) return close();
        if constexpr (!kTls) {
            beast::error_code ec;
            tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
            if (ec) return tcp().close();
        }
        buffer_.clear();  // read into and never committed: nothing is allocated for it
        // Nothing of the refused request is kept for the linger: its parser holds the body
        // read so far (up to --max-body), no longer counted against kRequestBodyBudget.
        parser_.reset();
        linger_left_ = kLingerBytes + server_.options.body_limit;
        lingering_ = true;
        tcp().expires_after(kLingerTime);
        idle_ = true;
        if constexpr (kTls) {
            send_close_notify();
        } else {
            read_and_drop();
        }
        registry_->set_idle(this, SessionRegistry::Wait::lingering);
    }
    // Over TLS the linger begins with a close_notify, so that a client reading to the end
    // sees it at once: without one it waited the whole linger for the socket to close (and
    // then saw a truncation). Only sent: close()'s exchange, which reads the client's
    // close_notify, mostly failed on the application data still coming (the rest of the
    // refused request), and the RST followed at once. Marked as received already,
    // SSL_shutdown sends close_notify and is done; the write is bounded by kLingerTime like
    // the rest of the linger, and cancelled by on_evict or a shutdown. Then the FIN, and what
    // still comes is dropped as it is, no longer decrypted.
    void send_close_notify() {
        send_close_notify_then([self = this->shared_from_this()](beast::error_code ec) {
            if (!ec) {
                beast::error_code ignored;
                self->tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
            }
            self->on_dropped(ec, 0);  // reads and drops from here, unless it is over
        });
    }
    // The one-way close_notify: SSL_shutdown, told the client's came already, only writes
    // ours (within the stream's expiry), then `then(ec)`.
    template <class Then>
    void send_close_notify_then(Then&& then) {
        SSL* ssl = stream_.native_handle();
        SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
        stream_.async_shutdown(std::forward<Then>(then));
    }
    // Read from the TCP stream itself: over TLS after the close_notify, bytes not decrypted.
    void read_and_drop() {
        tcp().async_read_some(buffer_.prepare(std::min(buffer_.capacity(), linger_left_)),
                              beast::bind_front_handler(&Session::on_dropped, this->shared_from_this()));
    }
    void on_dropped(beast::error_code ec, std::size_t n) {
        linger_left_ -= std::min(n, linger_left_);
        // Until the client closes (eof), kLingerTime passes (timeout), the bytes run out, or
        // the connection is wanted for a new one or at shutdown.
        if (!ec && linger_left_ > 0 && !evicting_ && !server_.stopping.load()) return read_and_drop();
        idle_ = false;
        registry_->set_idle(this, SessionRegistry::Wait::ending);
        tcp().close();
    }

    // The last answer is written (Connection: close, HTTP/1.0): nothing more to serve. Over
    // TLS the close waits up to 2 s for the client's close_notify (close); meanwhile the
    // connection counts against --max-connections as a lingering one, which a new connection
    // at the limit closes at once. It counted as busy until it was gone: neither idle nor
    // waiting on a request or an answer, so at the limit a keep-alive connection was closed in
    // its place, or accepting paused for those 2 s. (A plain one is gone at once.)
    void close_after_answer() {
        close();
        if constexpr (kTls) {
            if (server_.stopping.load()) return;
            lingering_ = true;
            idle_ = true;
            registry_->set_idle(this, SessionRegistry::Wait::lingering);  // on_evict cancels the close's wait
        }
    }

    void close() {
        if constexpr (kTls) {
            // Send close_notify within a short deadline, then drop the socket.
            tcp().expires_after(std::chrono::seconds(2));
            stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
                self->tcp().close();
            });
        } else {
            beast::error_code ec;
            tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
            tcp().close();
        }
    }

    std::shared_ptr<ssl::context> ctx_;  // declared before stream_: outlives it
    Stream stream_;
    HttpServer::Impl& server_;
    std::shared_ptr<SessionRegistry> registry_;
    // What is read and not yet parsed. Its limit must exceed the header limit, or a header
    // block under that limit fails as "buffer overflow" (400) instead of being read. Its
    // first capacity is one read's worth: Beast reads at most the spare capacity (512 bytes
    // at first), so a 1.5 KB delivery took three recvmsg calls instead of one.
    static constexpr std::size_t kReadChunk = 8192;
    beast::flat_buffer buffer_;
    std::string head_, body_;  // the answer being written
    std::optional<http::request_parser<http::string_body>> parser_;
    bool keep_alive_ = true;
    std::optional<net::steady_timer> shutdown_timer_;  // at shutdown, for a request in progress
    bool cut_at_shutdown_ = false;                     // that timer closed the connection
    std::string peer_;  // "ADDRESS:PORT" of the client
    bool reading_ = false;
    bool next_request_ = false;  // reading a kept-alive connection's next request (do_read)
    std::size_t fields_before_body_ = 0;  // a chunked request's header fields (framing_error)
    std::function<void(std::uint64_t, beast::string_view, beast::error_code&)> chunk_header_ =
        [this](std::uint64_t size, beast::string_view, beast::error_code&) {
            if (size == 0) fields_before_body_ = field_count(parser_->get());
        };
    // Since when the session has waited on its client (steady clock, ns): the request being
    // read began to arrive (a connection's first at its accept, TLS handshake included), or
    // the answer began to be written; 0 otherwise. The registry reads it from other threads
    // to find stalled connections.
    std::atomic<std::int64_t> waiting_since_{steady_now_ns()};
    bool stalled_closed_ = false;  // closed by on_evict_stalled
    bool writing_ = false;         // an answer is being written
    std::size_t body_held_ = 0;    // of the registry's body bytes (hold_body_memory)
    bool idle_ = false;      // waiting for a next request, none of it received (wait_idle)
    bool evicting_ = false;  // on_evict cancelled that wait
    bool continue_sent_ = false;  // this request's "100 Continue" has gone out
    bool header_checked_ = false;  // this request's header is in and passed check_header
    std::size_t header_taken_ = 0;  // bytes of this request's header the parser consumed (read_some)
    std::size_t line_scanned_ = 0;  // of buffer_, bytes known not to end the request line
    LineScan line_scan_;            // of those, how far they could begin a request line
    bool is_head_ = false;
    unsigned version_ = 11;
    bool refused_ = false;          // the answer refuses the request: linger after it
    bool lingering_ = false;        // reading and dropping after a refusal (linger), or over TLS
                                    // closing after its last answer (close_after_answer)
    std::size_t linger_left_ = 0;   // bytes it may still drop
};

void HttpServer::Impl::reload_tls() {
    try {
        auto ctx = load_tls_context(options.tls_cert, options.tls_key);
        {
            std::lock_guard lock(tls_mu);
            tls_ctx = std::move(ctx);
        }
        LogLine(logger, LogLevel::Info, "tls_reloaded").str("cert", options.tls_cert);
    } catch (const std::exception& e) {
        // Keep serving with the certificate already loaded.
        LogLine(logger, LogLevel::Error, "tls_reload_failed").str("error", e.what());
    }
}

void HttpServer::Impl::wait_for_reload() {
    reload.async_wait([this](beast::error_code ec, int) {
        if (ec || stopping) return;
        if (tls()) {
            reload_tls();
        } else {
            // Said, so an operator who expected a configuration reload learns it is not one.
            LogLine(logger, LogLevel::Info, "reload")
                .str("effect", "none: SIGHUP re-reads the TLS certificate and key, and none is "
                               "configured; other settings take a restart");
        }
        wait_for_reload();
    });
}

void HttpServer::Impl::do_accept() {
    // At the limit: wait until a connection is pending, and accept it only once an idle
    // session is closed for it (on_acceptable); it stays in the kernel's queue otherwise.
    if (registry->at_limit()) {
        acceptor.async_wait(tcp::acceptor::wait_read, beast::bind_front_handler(&Impl::on_acceptable, this));
        return;
    }
    // A connection's handlers must not run concurrently: with several I/O threads each
    // connection gets a strand; with one thread the io_context already serialises them and
    // a strand would only cost a lock and executor copies per operation.
    if (options.threads > 1)
        acceptor.async_accept(net::make_strand(ioc), beast::bind_front_handler(&Impl::on_accept, this));
    else
        acceptor.async_accept(ioc.get_executor(), beast::bind_front_handler(&Impl::on_accept, this));
}

void HttpServer::Impl::on_acceptable(beast::error_code ec) {
    if (stopping) return;
    if (ec) return on_accept(ec, tcp::socket(ioc));
    if (!registry->make_room()) {
        // Every session is busy with a request: one closing or becoming idle resumes
        // accepting, or one's request stalling. The new client waits in the kernel's queue
        // meanwhile: say so.
        note_connection_limit(LimitMet::paused);
        return wait_for_stalled_request();
    }
    // The acceptor is non-blocking (bind): this takes the pending connection or fails at once.
    tcp::socket socket(options.threads > 1 ? net::any_io_executor(net::make_strand(ioc))
                                           : net::any_io_executor(ioc.get_executor()));
    acceptor.accept(socket, ec);
    // Gone before it was taken (the client gave up): an idle session may have been closed
    // for nothing, which is harmless.
    if (ec == net::error::would_block || ec == net::error::try_again) return do_accept();
    on_accept(ec, std::move(socket));
}

void HttpServer::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
    if (stopping) return;
    if (ec) {
        if (ec == net::error::operation_aborted) return;
        if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
            ec == net::error::no_memory || ec == std::errc::too_many_files_open_in_system) {
            return pause_accepting(ec);
        }
        LogLine(logger, LogLevel::Warn, "accept_failed").str("error", ec.message());
    } else {
        socket.set_option(tcp::no_delay(true), ec);
        bool more;
        if (tls()) {
            // The context is shared by the session's stream for its whole life: a reload
            // affects new connections only.
            auto ctx = tls_context();
            auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
                *this, std::move(socket), *ctx);
            s->keep_context(std::move(ctx));
            more = registry->add(s.get(), s, s->waiting_since());
            s->start();
        } else {
            auto s = std::make_shared<Session<beast::tcp_stream>>(*this, std::move(socket));
            more = registry->add(s.get(), s, s->waiting_since());
            s->start();
        }
        if (!more) {
            // At the connection limit with no idle connection to close: a session closing or
            // becoming idle resumes accepting. New clients wait in the kernel's queue
            // meanwhile (Recharge gives up after 5 s): say so. With idle sessions, accepting
            // goes on: the next connection closes one of them (do_accept).
            note_connection_limit(LimitMet::paused);
            return wait_for_stalled_request();
        }
    }
    do_accept();
}

// At most one line per 10 s: a limit reached again and again under load is one condition.
// times_reached counts both ways of meeting it since the last line; idle_closed those where an
// idle keep-alive connection was closed to take a new one (the rest paused accepting).
void HttpServer::Impl::note_connection_limit(LimitMet how) {
    if (how == LimitMet::idle_closed) idle_closed_total.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(limit_log_mu);
    if (how == LimitMet::idle_closed) ++idle_closed_unlogged;
    if (how == LimitMet::stalled_closed) ++stalled_closed_unlogged;
    if (!limit_log.due()) return;
    LogLine(logger, LogLevel::Warn, "connection_limit")
        .num("max_connections", static_cast<int64_t>(registry->max_connections()))
        .num("times_reached", limit_log.occurrences())
        .num("idle_closed", idle_closed_unlogged)
        .num("stalled_closed", stalled_closed_unlogged);
    idle_closed_unlogged = 0;
    stalled_closed_unlogged = 0;
}

// Accepting paused at the limit: a connection that has kept the server waiting on its client
// for kStalledRequestAge may then be closed for a new one, so look again when the one waited
// on longest will have stalled (unless a session closing or becoming idle resumed accepting
// first).
void HttpServer::Impl::wait_for_stalled_request() {
    // No session is waiting on its client just now (each is being answered), but one may go
    // on to wait, and stall, without the registry hearing of it (its next pipelined answer,
    // never read): look again when such a stall could first count. Without this the new
    // client waited for that session's write timeout (15 s).
    const auto in = registry->next_stall_in().value_or(std::chrono::nanoseconds(kStalledRequestAge));
    accept_retry.expires_after(in);
    accept_retry.async_wait([this](beast::error_code ec) {
        if (!ec && !stopping && registry->resume_if_paused()) do_accept();
    });
}

// A stalled connection closed for a new one: its client is told nothing (it was still
// sending, or not reading), the log says who, which and how long, and it counts as a
// connection_limit occurrence.
void HttpServer::Impl::note_stalled_closed(const std::string& peer, std::int64_t since, bool writing) {
    const auto age_ms = (steady_now_ns() - since) / 1'000'000;
    handler.transport_error(408, "stalled",
                            std::string(writing ? "answer not read by the client for " : "request still arriving after ") +
                                std::to_string(age_ms) +
                                " ms with every connection in use (max-connections): closed for a new connection",
                            peer);
    note_connection_limit(LimitMet::stalled_closed);
}

// The pending connection stays in the kernel's queue, so accepting again at once fails
// again at once: that spun a core and wrote ~350k log lines a second until clients left.
// Wait a little instead (connections closing free descriptors meanwhile), and log at most
// once a second, with how many pauses went unlogged.
void HttpServer::Impl::pause_accepting(beast::error_code ec) {
    constexpr auto kRetry = std::chrono::milliseconds(100);
    if (accept_paused_log.due()) {
        LogLine(logger, LogLevel::Warn, "accept_paused")
            .str("error", ec.message())
            .num("retry_ms", kRetry.count())
            .num("open_connections", static_cast<int64_t>(registry->size()))
            .num("pauses_since_last_log", accept_paused_log.occurrences() - 1);  // not this one
    }
    accept_retry.expires_after(kRetry);
    accept_retry.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && !stopping) do_accept();
    });
}

// Every connection holds a descriptor, and the process needs a few dozen more (the
// database, its WAL and shared memory, the checkpointer's connection, alert connections,
// epoll, signals). A shell's usual soft limit of 1024 is below the default
// --max-connections: raise the soft limit as far as the hard one allows, and when that is
// still too low, lower max-connections to what it allows, and say so. Out of descriptors,
// accepting could only pause until a client left, while idle keep-alive connections held
// them (new clients waited 10-20 s); at the connection limit an idle one makes room at once.
ServerOptions HttpServer::Impl::within_descriptor_limit(ServerOptions o, Logger& logger) {
    constexpr rlim_t kReserved = 64;
    const rlim_t needed = static_cast<rlim_t>(o.max_connections) + kReserved;
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= needed) return o;
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? needed : std::min(needed, rl.rlim_max);
    if (raised.rlim_cur > rl.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    if (rl.rlim_cur >= needed) return o;
    // Keep the reserve; with a limit too small for it, half the descriptors.
    const rlim_t allowed = rl.rlim_cur > 2 * kReserved ? rl.rlim_cur - kReserved : std::max<rlim_t>(1, rl.rlim_cur / 2);
    const std::size_t asked = o.max_connections;
    o.max_connections = std::min<std::size_t>(asked, static_cast<std::size_t>(allowed));
    LogLine(logger, LogLevel::Warn, "open_files_limit")
        .num("limit", static_cast<int64_t>(rl.rlim_cur))
        .num("needed", static_cast<int64_t>(needed))
        .num("max_connections_asked", static_cast<int64_t>(asked))
        .num("max_connections", static_cast<int64_t>(o.max_connections))
        .str("effect", o.max_connections < asked
                           ? "max-connections lowered to what the open files limit allows; raise the hard limit "
                             "(systemd LimitNOFILE=, ulimit -Hn) to serve more connections at once"
                           : "few descriptors beyond max-connections for the process's own files; raise the hard "
                             "limit (systemd LimitNOFILE=, ulimit -Hn)");
    return o;
}

void HttpServer::Impl::begin_shutdown() {
    if (stopping.exchange(true)) return;
    LogLine(logger, LogLevel::Info, "shutdown").str("phase", "draining");
    net::post(acceptor.get_executor(), [this] {
        beast::error_code ec;
        acceptor.close(ec);
        accept_retry.cancel();
    });
    // A second SIGTERM or SIGINT: whoever sent it will not wait for the drain. Everything
    // acknowledged is on disk already; what is in flight was not acknowledged and is retried.
    signals.async_wait([this](beast::error_code ec, int signal) {
        if (ec) return;
        LogLine(logger, LogLevel::Warn, "shutdown")
            .str("phase", "forced")
            .str("reason", std::string(signal == SIGINT ? "SIGINT" : "SIGTERM") +
                               " again during the drain: exiting now; every acknowledged delivery "
                               "is on disk, anything unanswered is retried by its sender");
        std::_Exit(1);
    });
    reload.cancel();
    // Whatever is still running after the drain timeout is cut off; the last session to
    // close cancels the timer so an idle server stops at once.
    net::post(drain_timer.get_executor(), [this] {
        drain_timer.expires_after(options.drain_timeout);
        drain_timer.async_wait([this](beast::error_code ec) {
            signals.cancel();  // the drain is over: nothing is left for a second signal to cut
            if (ec) return;
            // Connections still open now (a client not reading its answer, a request still
            // arriving) are dropped without an answer: their senders retry.
            LogLine(logger, LogLevel::Warn, "shutdown")
                .str("phase", "drain_cut_off")
                .num("connections", static_cast<int64_t>(registry->size()))
                .num("drain_ms", static_cast<int64_t>(options.drain_timeout.count()));
            ioc.stop();
        });
    });
    auto live = registry->begin_stop();
    if (live.empty()) net::post(drain_timer.get_executor(), [this] { drain_timer.cancel(); });
    for (auto& s : live) s->on_shutdown();
}

HttpServer::HttpServer(ServerOptions options, RequestHandler& handler, Logger& logger)
    : impl_(std::make_unique<Impl>(std::move(options), handler, logger)) {}

HttpServer::~HttpServer() = default;

namespace {

std::string listen_address(const ServerOptions& o) {
    const bool v6 = o.host.find(':') != std::string::npos;
    return (v6 ? "[" + o.host + "]" : o.host) + ":" + std::to_string(o.port);
}

}  // namespace

ListeningSocket ListeningSocket::open(const ServerOptions& options) {
    net::io_context ioc;
    tcp::acceptor a(ioc);
    beast::error_code ec;
    auto address = net::ip::make_address(options.host, ec);
    if (ec) throw std::runtime_error("bad listen address " + options.host + ": " + ec.message());
    tcp::endpoint ep(address, options.port);
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + listen_address(options) + ": " + ec.message());
    auto local = a.local_endpoint(ec);
    if (ec) throw std::runtime_error("cannot listen on " + listen_address(options) + ": " + ec.message());
    const bool v6 = local.address().is_v6();
    const std::string host = v6 ? "[" + local.address().to_string() + "]" : local.address().to_string();
    const int fd = a.release(ec);
    if (ec) throw std::runtime_error("cannot listen on " + listen_address(options) + ": " + ec.message());
    return ListeningSocket(fd, v6, host + ":" + std::to_string(local.port()));
}

ListeningSocket::ListeningSocket(ListeningSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), v6_(other.v6_), address_(std::move(other.address_)) {}

ListeningSocket::~ListeningSocket() {
    if (fd_ >= 0) ::close(fd_);
}

std::string HttpServer::bind(ListeningSocket socket) {
    auto& im = *impl_;
    if (im.options.tls_cert.empty() != im.options.tls_key.empty())
        throw std::runtime_error("--tls-cert and --tls-key go together");
    if (im.tls()) im.tls_ctx = load_tls_context(im.options.tls_cert, im.options.tls_key);
    auto& a = im.acceptor;
    beast::error_code ec;
    a.assign(socket.v6_ ? tcp::v6() : tcp::v4(), socket.fd_, ec);
    if (!ec) socket.fd_ = -1;  // the acceptor's now
    // At the connection limit a pending connection is accepted synchronously once an idle
    // session is closed for it (Impl::on_acceptable): that accept must never block.
    if (!ec) a.non_blocking(true, ec);
    if (ec) throw std::runtime_error("cannot listen on " + socket.address_ + ": " + ec.message());
    return socket.address_;
}

void HttpServer::run() {
    auto& im = *impl_;
    im.signals.async_wait([&im](beast::error_code ec, int) {
        if (!ec) im.begin_shutdown();
    });
    im.wait_for_reload();
    im.do_accept();
    int n = std::max(1, im.options.threads);
    std::vector<std::thread> threads;
    for (int i = 1; i < n; ++i) threads.emplace_back([&im] { im.run_io(); });
    im.run_io();
    for (auto& t : threads) t.join();
}

// An exception escaping a handler ends io_context::run on that thread only; Asio documents
// that run may simply be called again. Without this, one such request (Beast throws
// std::length_error for a header field over 64 KiB, reachable with --max-header above that)
// ended the whole process. The connection whose handler threw is dropped with it (its
// session goes with the handler); every other connection carries on.
void HttpServer::Impl::run_io() {
    for (;;) {
        try {
            ioc.run();
            return;
        } catch (const std::exception& e) {
            LogLine(logger, LogLevel::Error, "handler_failed").str("error", e.what());
        }
    }
}

void HttpServer::post(std::function<void()> f) { net::post(impl_->ioc, std::move(f)); }

std::size_t HttpServer::open_connections() const { return impl_->registry->size(); }

std::uint64_t HttpServer::idle_connections_closed() const {
    return impl_->idle_closed_total.load(std::memory_order_relaxed);
}

void HttpServer::shutdown() {
    net::post(impl_->ioc, [im = impl_.get()] { im->begin_shutdown(); });
}

}  // namespace churnwatch
