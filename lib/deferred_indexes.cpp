#include "deferred_indexes.h"

namespace churnwatch {

DeferredIndexes::DeferredIndexes(sql::Database& db, std::initializer_list<std::string_view> tables)
    : db_(db) {
    std::vector<std::string> names;
    {
        // sql IS NULL for the automatic indexes.
        sql::Statement q(db_,
                         "SELECT name, sql FROM sqlite_schema"
                         " WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name");
        for (std::string_view table : tables) {
            q.reset();
            q.bind(1, table);
            while (q.step()) {
                names.push_back(q.column_text(0));
                create_sql_.push_back(q.column_text(1));
            }
        }
    }
    for (const std::string& name : names) db_.exec("DROP INDEX \"" + name + "\"");
}

void DeferredIndexes::restore() {
    for (const std::string& sql : create_sql_) db_.exec(sql);
    create_sql_.clear();
}

}  // namespace churnwatch
