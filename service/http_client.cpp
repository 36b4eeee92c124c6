#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <type_traits>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace churnwatch {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// ---------------------------------------------------------------- URLs

namespace {

bool is_host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool is_ipv6_char(char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

}  // namespace

std::string HttpUrl::host_header() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != (tls() ? 443 : 80)) h += ":" + std::to_string(port);
    return h;
}

std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error) {
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            error = "URL contains whitespace or control characters";
            return std::nullopt;
        }
    }
    HttpUrl u;
    auto sep = url.find("://");
    if (sep == std::string_view::npos) {
        error = "URL must start with http:// or https://";
        return std::nullopt;
    }
    for (char c : url.substr(0, sep)) u.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (u.scheme != "http" && u.scheme != "https") {
        error = "URL scheme must be http or https (got '" + u.scheme + "')";
        return std::nullopt;
    }
    std::string_view rest = url.substr(sep + 3);
    std::size_t auth_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, auth_end);
    std::string_view tail = auth_end == std::string_view::npos ? "" : rest.substr(auth_end);
    if (authority.find('@') != std::string_view::npos) {
        error = "URL must not contain user info (user:password@)";
        return std::nullopt;
    }
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) {
            error = "URL has an unterminated IPv6 literal";
            return std::nullopt;
        }
        u.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                error = "URL has junk after the IPv6 literal";
                return std::nullopt;
            }
            port_text = after.substr(1);
            if (port_text.empty()) port_text = "?";  // "[::1]:" is an error, not the default
        }
        // Characters first (a bounded message), then the address itself: "[:::]" has only
        // IPv6 characters, and every request to it would fail.
        in6_addr addr{};
        if (u.host.empty() || !std::all_of(u.host.begin(), u.host.end(), is_ipv6_char) ||
            ::inet_pton(AF_INET6, u.host.c_str(), &addr) != 1) {
            error = "URL has an invalid IPv6 literal";
            return std::nullopt;
        }
    } else {
        auto colon = authority.find(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) port_text = "?";
        }
        if (u.host.empty() || !std::all_of(u.host.begin(), u.host.end(), is_host_char)) {
            error = "URL has an empty or invalid host";
            return std::nullopt;
        }
        for (auto& c : u.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (port_text.empty()) {
        u.port = u.tls() ? 443 : 80;
    } else {
        long port = 0;
        bool digits = port_text.size() <= 5 &&
                      std::all_of(port_text.begin(), port_text.end(),
                                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
        if (digits) port = std::stol(std::string(port_text));
        if (!digits || port < 1 || port > 65535) {
            error = "URL port must be 1..65535";
            return std::nullopt;
        }
        u.port = static_cast<uint16_t>(port);
    }
    tail = tail.substr(0, tail.find('#'));
    u.target = tail.empty() || tail.front() != '/' ? "/" + std::string(tail) : std::string(tail);
    return u;
}

std::string redact_url(std::string_view url) {
    std::string error;
    auto u = parse_http_url(url, error);
    if (!u) return "<invalid url>";
    return u->scheme + "://" + u->host_header() + u->target.substr(0, u->target.find('?'));
}

std::optional<std::string> HttpClientResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() &&
            std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            })) {
            return v;
        }
    }
    return std::nullopt;
}

// ---------------------------------------------------------------- the exchange

namespace {

std::unique_ptr<ssl::context> make_tls_context(const std::string& ca_file, std::string& error) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_verify_mode(ssl::verify_peer);
    beast::error_code ec;
    if (ca_file.empty()) ctx->set_default_verify_paths(ec);
    else ctx->load_verify_file(ca_file, ec);
    if (ec) {
        error = "cannot load trusted CAs" + (ca_file.empty() ? "" : " from " + ca_file) + ": " +
                ec.message();
        return nullptr;
    }
    return ctx;
}

// Loading the system trust store costs milliseconds: done once, shared (an SSL_CTX is safe
// to use from several threads once configured).
ssl::context* system_tls_context(std::string& error) {
    static std::string init_error;
    static std::unique_ptr<ssl::context> ctx = make_tls_context("", init_error);
    error = init_error;
    return ctx.get();
}

std::string describe(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return "timed out";
    if (ec.category() == net::error::get_ssl_category()) {
        // OpenSSL's reason string is more useful than the generic message ("certificate
        // verify failed" rather than "handshake failure").
        char buf[256];
        ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
        return std::string("TLS: ") + buf;
    }
    return ec.message();
}

// ---- name lookup ----------------------------------------------------------------------------

constexpr int kMaxPendingLookups = 16;
std::atomic<int> pending_lookups{0};  // lookups whose thread has not returned yet

struct Lookup {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::vector<std::string> addresses;
    std::string error;
};

std::vector<std::string> system_resolve(const std::string& host, std::string& error) {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(host, "", ec);  // getaddrinfo, on this thread
    if (ec) {
        error = ec.message();
        return {};
    }
    std::vector<std::string> out;
    for (const auto& r : results) out.push_back(r.endpoint().address().to_string());
    return out;
}

// The host's endpoints; an IP literal needs no lookup. Otherwise the lookup runs on a
// detached thread, waited for in short slices until it answers, the deadline passes or the
// caller cancels: Asio's own resolver joins its thread when destroyed, so a lookup that hangs
// (an unreachable DNS server) held an alert worker, and a shutdown, past every deadline.
std::vector<tcp::endpoint> endpoints_of(const HttpUrl& url, const HttpClientOptions& options,
                                        std::chrono::steady_clock::time_point deadline,
                                        std::string& error) {
    beast::error_code ec;
    auto literal = net::ip::make_address(url.host, ec);
    if (!ec) return {tcp::endpoint(literal, url.port)};

    // Claimed before the check (one atomic step), so concurrent callers cannot overshoot.
    if (pending_lookups.fetch_add(1) >= kMaxPendingLookups) {
        --pending_lookups;
        error = "cannot resolve " + url.host + ": " + std::to_string(kMaxPendingLookups) +
                " earlier name lookups are still unanswered";
        return {};
    }
    auto lookup = std::make_shared<Lookup>();
    try {
        std::thread([lookup, host = url.host, resolve = options.resolve] {
            std::string why;
            std::vector<std::string> found;
            try {
                found = resolve ? resolve(host, why) : system_resolve(host, why);
            } catch (const std::exception& e) {
                why = e.what();
            }
            {
                std::lock_guard lock(lookup->mu);
                lookup->addresses = std::move(found);
                lookup->error = std::move(why);
                lookup->done = true;
            }
            lookup->cv.notify_all();
            --pending_lookups;
        }).detach();
    } catch (const std::system_error& e) {
        --pending_lookups;
        error = "cannot resolve " + url.host + ": " + e.what();
        return {};
    }

    std::unique_lock lock(lookup->mu);
    while (!lookup->done) {
        auto now = std::chrono::steady_clock::now();
        if (options.cancelled && options.cancelled()) {
            error = "cancelled";
            return {};
        }
        if (now >= deadline) {
            error = "timed out";
            return {};
        }
        lookup->cv.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(20)));
    }
    std::vector<tcp::endpoint> out;
    for (const auto& a : lookup->addresses) {
        auto address = net::ip::make_address(a, ec);
        if (!ec) out.emplace_back(address, url.port);
    }
    if (out.empty()) {
        error = "cannot resolve " + url.host + ": " +
                (lookup->error.empty() ? std::string("no addresses") : lookup->error);
    }
    return out;
}

struct Exchange {
    const HttpUrl& url;
    const HttpClientOptions& options;
    http::request<http::string_body>& request;
    std::chrono::steady_clock::time_point deadline;
    HttpClientResponse& out;
    const std::vector<tcp::endpoint>& endpoints;
    beast::tcp_stream& conn;
};

// Reads the response into ex.out; the stream is either the TCP stream or a TLS stream on it.
template <class Stream>
net::awaitable<void> talk(Exchange& ex, Stream& stream) {
    beast::error_code ec;
    auto redirect = net::redirect_error(net::use_awaitable, ec);
    ex.conn.expires_at(ex.deadline);
    co_await ex.conn.async_connect(ex.endpoints, redirect);
    if (ec) {
        ex.out.error = "connect: " + describe(ec);
        co_return;
    }
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
        co_await stream.async_handshake(ssl::stream_base::client, redirect);
        if (ec) {
            ex.out.error = "TLS handshake: " + describe(ec);
            co_return;
        }
    }
    co_await http::async_write(stream, ex.request, redirect);
    if (ec) {
        ex.out.error = "sending the request: " + describe(ec);
        co_return;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(ex.options.max_header));
    parser.body_limit(ex.options.max_body);
    if (ex.request.method() == http::verb::head) parser.skip(true);
    co_await http::async_read(stream, buffer, parser, redirect);
    if (parser.is_header_done()) {
        auto& res = parser.get();
        ex.out.ok = true;
        ex.out.status = static_cast<int>(res.result_int());
        for (const auto& f : res) ex.out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        ex.out.body = std::move(res.body());
        if (ec == http::error::body_limit) {
            ex.out.body_truncated = true;
            ex.out.error = "response body longer than " + std::to_string(ex.options.max_body) + " bytes: cut";
        } else if (ec) {
            ex.out.body_truncated = true;
            ex.out.error = "reading the response body: " + describe(ec);
        }
    } else {
        ex.out.error = "reading the response: " + describe(ec);
    }
    beast::error_code ignored;
    ex.conn.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace

HttpClientResponse http_request(std::string_view method, const std::string& url,
                                const HttpHeaderList& headers, const std::string& body,
                                const HttpClientOptions& options) {
    HttpClientResponse out;
    auto u = parse_http_url(url, out.error);
    if (!u) return out;
    http::verb verb = http::string_to_verb(method);
    if (verb == http::verb::unknown) {
        out.error = "unknown HTTP method " + std::string(method);
        return out;
    }

    std::unique_ptr<ssl::context> own_ctx;
    ssl::context* ctx = nullptr;
    if (u->tls()) {
        if (options.ca_file.empty()) {
            ctx = system_tls_context(out.error);
        } else {
            own_ctx = make_tls_context(options.ca_file, out.error);
            ctx = own_ctx.get();
        }
        if (!ctx) return out;
    }

    http::request<http::string_body> req{verb, u->target, 11};
    req.set(http::field::host, u->host_header());
    bool has_agent = false;
    for (const auto& [k, v] : headers) {
        req.set(k, v);
        if (beast::iequals(k, "user-agent")) has_agent = true;
    }
    if (!has_agent) req.set(http::field::user_agent, "churnwatch/" CHURNWATCH_VERSION);
    req.set(http::field::connection, "close");
    req.body() = body;
    req.prepare_payload();

    auto start = std::chrono::steady_clock::now();
    auto deadline = start + options.timeout;
    std::vector<tcp::endpoint> endpoints = endpoints_of(*u, options, deadline, out.error);
    if (endpoints.empty()) return out;
    net::io_context ioc;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::tcp_stream* tcp_layer = nullptr;
    if (u->tls()) {
        secure.emplace(ioc, *ctx);
        SSL* ssl_handle = secure->native_handle();
        beast::error_code ec;
        net::ip::make_address(u->host, ec);
        // The certificate must name the host we asked for: an IP literal is checked as an
        // IP address, a name as a DNS name (sent as SNI too; SNI never carries IPs).
        if (!ec) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), u->host.c_str());
        } else {
            SSL_set_tlsext_host_name(ssl_handle, u->host.c_str());
            SSL_set1_host(ssl_handle, u->host.c_str());
        }
        tcp_layer = &beast::get_lowest_layer(*secure);
    } else {
        plain.emplace(ioc);
        tcp_layer = &*plain;
    }
    Exchange ex{*u, options, req, deadline, out, endpoints, *tcp_layer};

    bool done = false;
    auto on_done = [&](std::exception_ptr e) {
        done = true;
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            out.ok = false;
            out.error = std::string("HTTP client: ") + x.what();
        }
    };
    if (secure) net::co_spawn(ioc, talk(ex, *secure), on_done);
    else net::co_spawn(ioc, talk(ex, *plain), on_done);

    // Run in short slices: a shutdown must be able to abandon the request.
    std::string abort_reason;
    auto aborted_at = deadline;
    while (!done) {
        ioc.run_for(std::chrono::milliseconds(20));
        if (done) break;
        auto now = std::chrono::steady_clock::now();
        if (abort_reason.empty()) {
            if (options.cancelled && options.cancelled()) abort_reason = "cancelled";
            else if (now >= deadline) abort_reason = "timed out";
            if (!abort_reason.empty()) {
                aborted_at = now;
                beast::error_code ignored;
                tcp_layer->socket().close(ignored);
            }
        } else if (now >= aborted_at + std::chrono::seconds(2)) {
            break;  // closing the socket ends every operation; never wait on regardless
        }
    }
    if (!abort_reason.empty()) {
        if (!out.ok) out.error = abort_reason;
        else if (out.body_truncated) out.error = "reading the response body: " + abort_reason;
    }
    return out;
}

HttpClientResponse http_post(const std::string& url,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::string& body, std::chrono::milliseconds timeout) {
    HttpClientOptions o;
    o.timeout = timeout;
    return http_request("POST", url, headers, body, o);
}

}  // namespace churnwatch
