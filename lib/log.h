// Structured logs: one JSON object per line on stderr, written with a single write(2) so
// lines from several threads never interleave. Never put a secret in a field.
//
// A thread answering many requests at once (the writer's batch completions) opens a
// Logger::Batch: its lines are then gathered and written together when the batch ends, one
// write(2) instead of one per line — still whole lines, never interleaved.
#pragma once

#include <atomic>
#include <cstdint>
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

// Appends s to out as a JSON string literal (quotes, escapes, invalid UTF-8 bytes as \u00XX).
void append_json_string(std::string& out, std::string_view s);

}  // namespace churnwatch
