#include "load_generator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

namespace churnwatch::bench {

double LoadResult::percentile(double p) const {
    if (latencies_ms.empty()) return 0;
    std::vector<double> v = latencies_ms;
    std::size_t k = std::min(v.size() - 1, static_cast<std::size_t>(std::ceil(p / 100 * v.size())) - (p > 0 ? 1 : 0));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k];
}

namespace {

using Clock = std::chrono::steady_clock;

int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

struct Conn {
    int fd = -1;
    std::string in;
    Clock::time_point sent;
    bool waiting = false;
    Clock::time_point next_send;
};

// Parses one complete response at the front of buf; returns its length or 0 if incomplete,
// and the status. Assumes Content-Length framing (what churnwatch sends).
std::size_t complete_response(const std::string& buf, int& status) {
    auto end = buf.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    status = std::atoi(buf.c_str() + 9);
    std::size_t len = 0;
    auto cl = buf.find("Content-Length:");
    if (cl == std::string::npos) cl = buf.find("content-length:");
    if (cl != std::string::npos && cl < end) len = std::strtoul(buf.c_str() + cl + 15, nullptr, 10);
    if (buf.size() < end + 4 + len) return 0;
    return end + 4 + len;
}

void worker(int id, const LoadOptions& o, int nconn, const RequestFactory& make,
            Clock::time_point until, LoadResult& out) {
    std::vector<Conn> conns(static_cast<std::size_t>(nconn));
    for (auto& c : conns) c.fd = connect_loopback(o.port);
    uint64_t seq = 0;
    double interval_s = o.target_rps > 0 ? o.connections / o.target_rps : 0;
    auto start = Clock::now();
    for (std::size_t i = 0; i < conns.size(); ++i)
        conns[i].next_send = start + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(interval_s * i / conns.size()));
    std::vector<pollfd> pfds(conns.size());
    char chunk[65536];
    while (Clock::now() < until) {
        auto now = Clock::now();
        for (auto& c : conns) {
            if (c.fd < 0 || c.waiting || now < c.next_send) continue;
            std::string req = make(id, seq++);
            std::size_t sent = 0;
            while (sent < req.size()) {
                ssize_t n = ::send(c.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) break;
                sent += static_cast<std::size_t>(n);
            }
            if (sent < req.size()) {
                ++out.errors;
                ::close(c.fd);
                c.fd = connect_loopback(o.port);
                continue;
            }
            c.sent = Clock::now();
            c.waiting = true;
        }
        for (std::size_t i = 0; i < conns.size(); ++i) pfds[i] = {conns[i].fd, POLLIN, 0};
        ::poll(pfds.data(), pfds.size(), 5);
        for (std::size_t i = 0; i < conns.size(); ++i) {
            Conn& c = conns[i];
            if (c.fd < 0 || !(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::recv(c.fd, chunk, sizeof chunk, 0);
            if (n <= 0) {
                ++out.errors;
                ::close(c.fd);
                c.fd = connect_loopback(o.port);
                c.waiting = false;
                c.in.clear();
                continue;
            }
            c.in.append(chunk, static_cast<std::size_t>(n));
            int status = 0;
            while (std::size_t len = complete_response(c.in, status)) {
                auto done = Clock::now();
                out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(done - c.sent).count());
                ++out.requests;
                if (status < 200 || status > 299) ++out.non_2xx;
                c.in.erase(0, len);
                c.waiting = false;
                if (interval_s > 0) {
                    c.next_send += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval_s));
                } else {
                    c.next_send = done;
                }
            }
        }
    }
    for (auto& c : conns)
        if (c.fd >= 0) ::close(c.fd);
}

}  // namespace

LoadResult run_load(const LoadOptions& o, const RequestFactory& make) {
    std::vector<LoadResult> parts(static_cast<std::size_t>(o.threads));
    std::vector<std::thread> threads;
    auto start = Clock::now();
    auto until = start + o.duration;
    for (int t = 0; t < o.threads; ++t) {
        int n = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
        threads.emplace_back(worker, t, std::cref(o), n, std::cref(make), until, std::ref(parts[static_cast<std::size_t>(t)]));
    }
    for (auto& t : threads) t.join();
    LoadResult r;
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto& p : parts) {
        r.requests += p.requests;
        r.non_2xx += p.non_2xx;
        r.errors += p.errors;
        r.latencies_ms.insert(r.latencies_ms.end(), p.latencies_ms.begin(), p.latencies_ms.end());
    }
    return r;
}

}  // namespace churnwatch::bench
