// Secondary indexes set aside for a bulk load and created again afterwards from their own
// stored SQL. Building an index once over the finished table is a sort; keeping it up to date
// through a million inserts in another order is a million random b-tree writes.
// DDL is transactional in SQLite: if the load fails and its transaction rolls back, the
// indexes come back with it.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite.h"

namespace churnwatch {

class DeferredIndexes {
public:
    // Drops every explicitly created index of the given tables (not the automatic ones
    // behind PRIMARY KEY / UNIQUE constraints, which cannot be dropped).
    DeferredIndexes(sql::Database& db, std::initializer_list<std::string_view> tables);
    // Creates them again, exactly as they were declared. Call before committing.
    void restore();

private:
    sql::Database& db_;
    std::vector<std::string> create_sql_;
};

}  // namespace churnwatch
