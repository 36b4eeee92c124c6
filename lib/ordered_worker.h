// A second thread for CPU work that would otherwise wait behind SQLite: the caller pushes
// batches, one worker thread maps each through a function, and the caller pops the results
// in the order it pushed them. Nothing in here touches SQLite; the caller keeps the only
// connection on its own thread.
//
// Memory stays bounded because the caller decides how many batches are in flight (pushed,
// not yet popped): push() never blocks, so the caller can never deadlock against a worker
// waiting for it to pop.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace churnwatch {

template <class In, class Out>
class OrderedWorker {
public:
    explicit OrderedWorker(std::function<Out(In&)> fn)
        : fn_(std::move(fn)), thread_([this] { run(); }) {}

    // Stops the worker without draining (the caller may be unwinding from an error).
    ~OrderedWorker() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

    OrderedWorker(const OrderedWorker&) = delete;
    OrderedWorker& operator=(const OrderedWorker&) = delete;

    void push(In batch) {
        {
            std::lock_guard lock(mu_);
            in_.push_back(std::move(batch));
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
        cv_.wait(lock, [this] { return !out_.empty() || error_ || (closed_ && in_flight_ == 0); });
        if (error_) std::rethrow_exception(error_);
        if (out_.empty()) return std::nullopt;
        Out r = std::move(out_.front());
        out_.pop_front();
        --in_flight_;
        return r;
    }

    // Batches pushed and not yet popped. Read by the caller's thread, the only one that
    // changes it.
    std::size_t in_flight() const { return in_flight_; }

private:
    void run() {
        for (;;) {
            In batch;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [this] { return stop_ || !in_.empty(); });
                if (stop_) return;
                batch = std::move(in_.front());
                in_.pop_front();
            }
            try {
                Out r = fn_(batch);
                std::lock_guard lock(mu_);
                out_.push_back(std::move(r));
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
    std::deque<In> in_;
    std::deque<Out> out_;
    std::exception_ptr error_;
    bool closed_ = false;
    bool stop_ = false;
    std::size_t in_flight_ = 0;
    std::thread thread_;  // last: starts after everything above is constructed
};

}  // namespace churnwatch
