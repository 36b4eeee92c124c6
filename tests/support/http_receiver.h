// A tiny HTTP/1.1 receiver for tests that need something to send to (alert hooks): plain
// POSIX sockets on 127.0.0.1, one thread per connection. It records every request and
// answers from a scripted sequence of replies (then a default reply), optionally after a
// delay. It can be stopped and started again on the same port ("receiver down, then up").
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace churnwatch::test {

class HttpReceiver {
public:
    struct Request {
        std::string method;
        std::string target;
        std::map<std::string, std::string> headers;  // names lower-cased
        std::string body;
        std::chrono::steady_clock::time_point received;
        std::string header(const std::string& name) const {
            auto it = headers.find(name);
            return it == headers.end() ? "" : it->second;
        }
    };
    struct Reply {
        int status = 200;
        std::vector<std::pair<std::string, std::string>> headers;
        std::string body;
        std::chrono::milliseconds delay{0};  // wait this long before answering
    };

    // Listens on 127.0.0.1:port (0: a free port) right away.
    explicit HttpReceiver(int port = 0);
    ~HttpReceiver();
    HttpReceiver(const HttpReceiver&) = delete;
    HttpReceiver& operator=(const HttpReceiver&) = delete;

    int port() const { return port_; }
    std::string url(const std::string& path = "/hook") const;

    // Closes the listener and every connection (in-flight requests get no answer).
    void stop();
    // Listens again on the same port.
    void start();

    // Replies used in order for the next requests; after them, the default reply.
    void script(std::vector<Reply> replies);
    void set_default(Reply reply);

    std::vector<Request> requests() const;
    std::size_t count() const;
    // Waits until at least n requests arrived; false after timeout.
    bool wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

private:
    void accept_loop();
    void serve(int fd);
    Reply next_reply();

    int port_ = 0;
    int listen_fd_ = -1;
    std::thread acceptor_;

    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    bool stopping_ = false;
    std::vector<Request> requests_;
    std::deque<Reply> script_;
    Reply default_;
    std::vector<int> conn_fds_;
    std::vector<std::thread> conn_threads_;
};

}  // namespace churnwatch::test
