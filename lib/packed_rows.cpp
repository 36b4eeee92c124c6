#include "packed_rows.h"

#include <cstring>
#include <stdexcept>

namespace churnwatch {

namespace {
// One tag byte per value, then 8 bytes of integer, or a 4-byte length and the text.
enum Tag : char { kNull = 0, kInt = 1, kText = 2 };
}  // namespace

RowWriter& RowWriter::null() {
    out_.push_back(kNull);
    return *this;
}

RowWriter& RowWriter::add(int64_t v) {
    char b[9] = {kInt};
    std::memcpy(b + 1, &v, 8);
    out_.append(b, sizeof b);
    return *this;
}

RowWriter& RowWriter::add(std::string_view v) {
    if (v.size() > UINT32_MAX) throw std::length_error("packed row: text too long");
    char b[5] = {kText};
    const uint32_t n = static_cast<uint32_t>(v.size());
    std::memcpy(b + 1, &n, 4);
    out_.append(b, sizeof b);
    out_.append(v);
    return *this;
}

std::size_t read_row(std::string_view bytes, sql::Value* out, std::size_t columns) {
    const char* p = bytes.data();
    for (std::size_t c = 0; c < columns; ++c) {
        sql::Value& v = out[c];
        v = sql::Value{};
        switch (*p++) {
            case kNull: break;
            case kInt:
                v.kind = sql::Value::Kind::Int;
                std::memcpy(&v.i, p, 8);
                p += 8;
                break;
            default: {
                uint32_t n;
                std::memcpy(&n, p, 4);
                p += 4;
                v.kind = sql::Value::Kind::Text;
                v.text = std::string_view(p, n);
                p += n;
            }
        }
    }
    return static_cast<std::size_t>(p - bytes.data());
}

void run_with(sql::Statement& q, const sql::Value* values, std::size_t n) {
    q.reset();
    // Unowned: the texts outlive the run, and copying them is the larger part of binding a
    // packed row. Cleared afterwards, so the statement keeps no pointer into them.
    for (std::size_t i = 0; i < n; ++i) q.bind_unowned(static_cast<int>(i + 1), values[i]);
    q.run();
    q.reset();
}

}  // namespace churnwatch
