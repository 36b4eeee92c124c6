#include "log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "time_util.h"

namespace churnwatch {

namespace {

// The open batch of this thread, if any, and the logger it gathers for.
struct PendingLines {
    const Logger* owner = nullptr;
    std::string text;
};
thread_local PendingLines pending;

constexpr std::size_t kBatchFlushBytes = 64 * 1024;

}  // namespace

Logger::Batch::Batch(Logger& logger) : logger_(logger) {
    if (!pending.owner) pending.owner = &logger;
}

Logger::Batch::~Batch() {
    if (pending.owner != &logger_) return;
    if (!pending.text.empty()) logger_.write_all(pending.text);
    pending.text.clear();
    pending.owner = nullptr;
}

void Logger::write_line(std::string line) {
    line += '\n';
    if (pending.owner == this) {
        pending.text += line;
        if (pending.text.size() >= kBatchFlushBytes) {
            write_all(pending.text);
            pending.text.clear();
        }
        return;
    }
    write_all(line);
}

void Logger::write_all(const std::string& line) {
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(fd_, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // nowhere to log to: dropping the line beats blocking ingest
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

namespace {

const char* level_name(LogLevel l) {
    switch (l) {
        case LogLevel::Debug: return "debug";
        case LogLevel::Info: return "info";
        case LogLevel::Warn: return "warn";
        case LogLevel::Error: return "error";
    }
    return "info";
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    // Runs of bytes that need no escaping are appended whole (one log line per delivery
    // spent ~2% of the I/O thread appending character by character).
    std::size_t plain = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') continue;
        out.append(s.data() + plain, i - plain);
        plain = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                // Control bytes and all non-ASCII bytes are escaped: log text may come from
                // an attacker and must stay one valid JSON line whatever its encoding.
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xf];
        }
    }
    out.append(s.data() + plain, s.size() - plain);
    out += '"';
}

LogLine::LogLine(Logger& logger, LogLevel level, std::string_view event)
    : logger_(logger), enabled_(logger.enabled(level)) {
    if (!enabled_) return;
    using namespace std::chrono;
    Micros now = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
    buf_.reserve(256);
    buf_ += "{\"ts\":";
    append_json_string(buf_, format_time(now));
    buf_ += ",\"level\":\"";
    buf_ += level_name(level);
    buf_ += "\",\"event\":";
    append_json_string(buf_, event);
}

LogLine::~LogLine() {
    if (!enabled_) return;
    buf_ += '}';
    logger_.write_line(std::move(buf_));
}

void LogLine::key(std::string_view k) {
    buf_ += ',';
    append_json_string(buf_, k);
    buf_ += ':';
}

LogLine& LogLine::str(std::string_view k, std::string_view value) {
    if (!enabled_) return *this;
    key(k);
    append_json_string(buf_, value);
    return *this;
}

LogLine& LogLine::num(std::string_view k, int64_t value) {
    if (!enabled_) return *this;
    key(k);
    buf_ += std::to_string(value);
    return *this;
}

LogLine& LogLine::real(std::string_view k, double value) {
    if (!enabled_) return *this;
    key(k);
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", value);
    buf_ += b;
    return *this;
}

LogLine& LogLine::boolean(std::string_view k, bool value) {
    if (!enabled_) return *this;
    key(k);
    buf_ += value ? "true" : "false";
    return *this;
}

}  // namespace churnwatch
