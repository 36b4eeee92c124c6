// Threads for CPU work that would otherwise wait behind SQLite: the caller pushes batches,
// worker threads map each through a function, and the caller pops the results in the order
// it pushed them. Nothing in here touches SQLite; the caller keeps the only connection on
// its own thread.
//
// Memory stays bounded because the caller decides how many batches are in flight (pushed,
// not yet popped): push() never blocks, so the caller can never deadlock against a worker
// waiting for it to pop.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace churnwatch {

template <class In, class Out>
class OrderedWorker {
public:
    // fn runs on `threads` threads at once, so it must not share mutable state.
    explicit OrderedWorker(std::function<Out(In&)> fn, unsigned threads = 1) : fn_(std::move(fn)) {
        for (unsigned i = 0; i < std::max(1u, threads); ++i) threads_.emplace_back([this] { run(); });
    }

    // Stops the workers without draining (the caller may be unwinding from an error).
    ~OrderedWorker() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }

    OrderedWorker(const OrderedWorker&) = delete;
    OrderedWorker& operator=(const OrderedWorker&) = delete;

    void push(In batch) {
        {
            std::lock_guard lock(mu_);
            in_.push_back({pushed_++, std::move(batch)});
            ++in_flight_;
        }
        cv_.notify_all();
    }

    // No more batches will be pushed.
    void close() {
        {
            std::lock_guard lock(mu_);
            closed_ = true;
        }
        cv_.notify_all();
    }

    // The next result in push order, waiting for it; nullopt once closed and drained.
    // Rethrows what the function threw. Call with batches in flight, or after close().
    std::optional<Out> pop() {
        std::unique_lock lock(mu_);
        auto ready = [this] { return !out_.empty() && out_.begin()->first == popped_; };
        cv_.wait(lock, [&] { return ready() || error_ || (closed_ && in_flight_ == 0); });
        if (error_) std::rethrow_exception(error_);
        if (!ready()) return std::nullopt;
        auto node = out_.extract(out_.begin());
        ++popped_;
        --in_flight_;
        return std::move(node.mapped());
    }

    // Batches pushed and not yet popped. Read by the caller's thread, the only one that
    // changes it.
    std::size_t in_flight() const { return in_flight_; }

private:
    void run() {
        for (;;) {
            std::pair<uint64_t, In> job;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [this] { return stop_ || !in_.empty(); });
                if (stop_) return;
                job = std::move(in_.front());
                in_.pop_front();
            }
            try {
                Out r = fn_(job.second);
                std::lock_guard lock(mu_);
                out_.emplace(job.first, std::move(r));
            } catch (...) {
                std::lock_guard lock(mu_);
                error_ = std::current_exception();
            }
            cv_.notify_all();
        }
    }

    std::function<Out(In&)> fn_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<uint64_t, In>> in_;  // with its push number
    std::map<uint64_t, Out> out_;            // by push number: workers finish out of order
    uint64_t pushed_ = 0, popped_ = 0;
    std::exception_ptr error_;
    bool closed_ = false;
    bool stop_ = false;
    std::size_t in_flight_ = 0;
    std::vector<std::thread> threads_;
};

}  // namespace churnwatch
