// Structured logs: one JSON object per line on stderr, written with a single write(2) so
// lines from several threads never interleave. Never put a secret in a field.
//
// A thread answering many requests at once (the writer's batch completions) opens a
// Logger::Batch: its lines are then gathered and written together when the batch ends, one
// write(2) instead of one per line — still whole lines, never interleaved.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace churnwatch {

enum class LogLevel { Debug, Info, Warn, Error };

class Logger {
public:
    explicit Logger(int fd = 2, LogLevel min = LogLevel::Info) : fd_(fd), min_(min) {}
    bool enabled(LogLevel l) const { return l >= min_; }
    void write_line(std::string line);  // appends '\n'
    void set_level(LogLevel l) { min_ = l; }

    // While alive, this thread's lines to this logger are held and written as one block at
    // the end (or whenever 64 KiB have gathered). Batches do not nest.
    class Batch {
    public:
        explicit Batch(Logger& logger);
        ~Batch();
        Batch(const Batch&) = delete;
        Batch& operator=(const Batch&) = delete;

    private:
        Logger& logger_;
    };

private:
    void write_all(const std::string& bytes);
    int fd_;
    std::atomic<LogLevel> min_;
};

// For a condition that repeats (a full disk, a connection limit): a line at most once per
// interval. Each occurrence calls due(); when it returns true, log the line with
// occurrences(), the ones since the last line including this one. One thread only.
class LogThrottle {
public:
    explicit LogThrottle(std::chrono::steady_clock::duration interval) : interval_(interval) {}
    bool due(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
        ++pending_;
        if (logged_once_ && now - last_ < interval_) return false;
        logged_once_ = true;
        last_ = now;
        occurrences_ = pending_;
        pending_ = 0;
        return true;
    }
    int64_t occurrences() const { return occurrences_; }

private:
    std::chrono::steady_clock::duration interval_;
    std::chrono::steady_clock::time_point last_{};
    bool logged_once_ = false;
    int64_t pending_ = 0, occurrences_ = 0;
};

// For lines a client can make us write as fast as it sends requests (rejections): at most
// `per_second` lines in each second, the rest counted. allow() says whether to write this
// one, and then sets `suppressed` to how many were left out since the last one written (log
// it, so nothing goes unaccounted). Thread-safe.
class LogBudget {
public:
    explicit LogBudget(int per_second) : per_second_(per_second) {}
    bool allow(int64_t& suppressed,
               std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
        std::lock_guard lock(mu_);
        if (now - window_start_ >= std::chrono::seconds(1)) {
            window_start_ = now;
            used_ = 0;
        }
        if (used_ >= per_second_) {
            ++skipped_;
            return false;
        }
        ++used_;
        suppressed = skipped_;
        skipped_ = 0;
        return true;
    }

private:
    std::mutex mu_;
    int per_second_;
    std::chrono::steady_clock::time_point window_start_{};
    int used_ = 0;
    int64_t skipped_ = 0;
};

// Builds one log line: LogLine(logger, LogLevel::Info, "delivery").str("outcome", "accepted")…
// and writes it when destroyed.
class LogLine {
public:
    LogLine(Logger& logger, LogLevel level, std::string_view event);
    ~LogLine();
    LogLine(const LogLine&) = delete;
    LogLine& operator=(const LogLine&) = delete;
    LogLine& str(std::string_view key, std::string_view value);
    LogLine& num(std::string_view key, int64_t value);
    LogLine& real(std::string_view key, double value);
    LogLine& boolean(std::string_view key, bool value);

private:
    void key(std::string_view k);
    Logger& logger_;
    bool enabled_;
    std::string buf_;
};

// Appends s to out as a JSON string literal, in ASCII: quotes, backslashes and control bytes
// escaped, each well-formed UTF-8 character as the \u escape of its code point (a surrogate
// pair above U+FFFF), each byte that is not part of one as \ufffd (U+FFFD).
void append_json_string(std::string& out, std::string_view s);

}  // namespace churnwatch
