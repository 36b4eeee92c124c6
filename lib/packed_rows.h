// SQL rows packed into bytes, for holding many of them in memory: a rebuild keeps every
// version row of the database (a million for a million deliveries) until it has written them
// in key order. A packed row costs its values plus a few bytes each; the decoded structs it
// stands for cost several times that, and an allocation per string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite.h"

namespace churnwatch {

// Appends one row's values, column by column, to a byte string.
class RowWriter {
public:
    explicit RowWriter(std::string& out) : out_(out) {}
    RowWriter& null();
    RowWriter& add(int64_t v);
    RowWriter& add(int v) { return add(static_cast<int64_t>(v)); }
    RowWriter& add(bool v) { return add(static_cast<int64_t>(v)); }
    RowWriter& add(std::string_view v);
    RowWriter& add(const std::string& v) { return add(std::string_view(v)); }
    RowWriter& add(const char* v) { return add(std::string_view(v)); }
    template <typename T>
    RowWriter& add(const std::optional<T>& v) {
        return v ? add(*v) : null();
    }

private:
    std::string& out_;
};

// Reads the values of one packed row back, starting at `bytes`; the text views point into
// it. Returns the number of bytes the row took. `columns` values are read.
std::size_t read_row(std::string_view bytes, sql::Value* out, std::size_t columns);

// Binds the values as parameters 1…n and runs the statement (texts are not copied: they only
// need to live through the call).
void run_with(sql::Statement& q, const sql::Value* values, std::size_t n);

}  // namespace churnwatch
