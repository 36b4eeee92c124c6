#include "log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
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

// The length (2 to 4) of the well-formed UTF-8 sequence at s[i] (whose first byte is >= 0x80),
// and its code point; 0 when the bytes there are not one (a stray continuation byte, an
// overlong form, a surrogate, past U+10FFFF, or cut off by the end of s).
std::size_t utf8_sequence(std::string_view s, std::size_t i, uint32_t& cp) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if (s.size() - i < len) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        unsigned char cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

void append_u_escape(std::string& out, uint32_t unit) {
    static const char* hex = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += hex[(unit >> shift) & 0xf];
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
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
                if (c < 0x80) {  // the other control bytes and DEL
                    append_u_escape(out, c);
                    break;
                }
                // Log text may come from an attacker and must stay one valid JSON line
                // whatever its encoding, so the line stays ASCII: a well-formed UTF-8
                // character becomes the \u escape of its code point (a surrogate pair above
                // U+FFFF), which any JSON reader turns back into the same character. A byte
                // that is not part of one becomes U+FFFD: never a Latin-1 reading of the byte
                // ("…" as \u00e2\u0080\u00a6), which garbles the text it stands for.
                uint32_t cp = 0;
                if (std::size_t len = utf8_sequence(s, i, cp)) {
                    if (cp >= 0x10000) {
                        cp -= 0x10000;
                        append_u_escape(out, 0xD800 + (cp >> 10));
                        append_u_escape(out, 0xDC00 + (cp & 0x3FF));
                    } else {
                        append_u_escape(out, cp);
                    }
                    i += len - 1;
                    plain = i + 1;
                } else {
                    append_u_escape(out, 0xFFFD);
                }
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
