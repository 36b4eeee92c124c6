#include "http_receiver.h"
#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace churnwatch::test {

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

const char* reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 410: return "Gone";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Status";
    }
}

bool send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

HttpReceiver::HttpReceiver(int port) : port_(port) { start(); }

HttpReceiver::~HttpReceiver() { stop(); }

std::string HttpReceiver::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HttpReceiver::start() {
    stop();
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
        ::close(fd);
        throw std::runtime_error("HttpReceiver: cannot listen on port " + std::to_string(port_) +
                                 ": " + std::strerror(errno));
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    {
        std::lock_guard lock(mu_);
        stopping_ = false;
        listen_fd_ = fd;
    }
    acceptor_ = std::thread([this] { accept_loop(); });
}

void HttpReceiver::stop() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    if (acceptor_.joinable()) acceptor_.join();
    {
        std::lock_guard lock(mu_);
        threads.swap(conn_threads_);
    }
    for (auto& t : threads) t.join();
    std::lock_guard lock(mu_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
}

void HttpReceiver::script(std::vector<Reply> replies) {
    std::lock_guard lock(mu_);
    script_.assign(replies.begin(), replies.end());
}

void HttpReceiver::set_default(Reply reply) {
    std::lock_guard lock(mu_);
    default_ = std::move(reply);
}

std::vector<HttpReceiver::Request> HttpReceiver::requests() const {
    std::lock_guard lock(mu_);
    return requests_;
}

std::size_t HttpReceiver::count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
}

bool HttpReceiver::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

HttpReceiver::Reply HttpReceiver::next_reply() {
    std::lock_guard lock(mu_);
    if (script_.empty()) return default_;
    Reply r = script_.front();
    script_.pop_front();
    return r;
}

void HttpReceiver::accept_loop() {
    for (;;) {
        int lfd;
        {
            std::lock_guard lock(mu_);
            if (stopping_) return;
            lfd = listen_fd_;
        }
        pollfd p{lfd, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard lock(mu_);
        if (stopping_) {
            ::close(fd);
            return;
        }
        conn_fds_.push_back(fd);
        conn_threads_.emplace_back([this, fd] { serve(fd); });
    }
}

void HttpReceiver::serve(int fd) {
    std::string buf;
    auto stopping = [this] {
        std::lock_guard lock(mu_);
        return stopping_;
    };
    auto read_more = [&]() {
        for (;;) {
            if (stopping()) return false;
            pollfd p{fd, POLLIN, 0};
            int r = ::poll(&p, 1, 20);
            if (r == 0) continue;
            if (r < 0) return false;
            char chunk[16384];
            ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) return false;
            buf.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
    };
    for (;;) {
        std::size_t end;
        bool ok = true;
        while ((end = buf.find("\r\n\r\n")) == std::string::npos && (ok = read_more())) {
        }
        if (!ok) break;
        Request req;
        std::istringstream head(buf.substr(0, end));
        std::string line;
        std::getline(head, line);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::istringstream first(line);
        first >> req.method >> req.target;
        req.headers = parse_header_lines(head);
        std::size_t length = 0;
        if (auto it = req.headers.find("content-length"); it != req.headers.end())
            length = std::stoul(it->second);
        std::size_t body_start = end + 4;
        while (buf.size() < body_start + length && (ok = read_more())) {
        }
        if (!ok) break;
        req.body = buf.substr(body_start, length);
        req.received = std::chrono::steady_clock::now();
        buf.erase(0, body_start + length);
        bool close_after = lower(req.header("connection")) == "close";
        {
            std::lock_guard lock(mu_);
            requests_.push_back(req);
        }
        cv_.notify_all();
        Reply reply = next_reply();
        if (reply.delay.count() > 0) {
            std::unique_lock lock(mu_);
            if (cv_.wait_for(lock, reply.delay, [&] { return stopping_; })) break;
        }
        std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                          reason_phrase(reply.status) + "\r\n";
        for (const auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
        out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
        if (close_after) out += "Connection: close\r\n";
        out += "\r\n" + reply.body;
        if (!send_all(fd, out) || close_after) break;
    }
    std::lock_guard lock(mu_);
    conn_fds_.erase(std::remove(conn_fds_.begin(), conn_fds_.end(), fd), conn_fds_.end());
    ::close(fd);
}

}  // namespace churnwatch::test
