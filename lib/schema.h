// The SQL schema: numbered migrations from schema/*.sql, embedded into the binary at build
// time (cmake/embed_schema.cmake) and applied in name order, each exactly once.
#pragma once

#include <string>
#include <vector>

#include "sqlite.h"

namespace churnwatch {

struct SchemaFile {
    const char* name;  // "0001_deliveries.sql"
    const char* sql;
};

// Every schema/*.sql file, sorted by name (generated code).
const std::vector<SchemaFile>& embedded_schema();

// Sets the connection pragmas churnwatch relies on (WAL, synchronous=FULL, foreign keys).
void configure_connection(sql::Database& db);

// For a bulk rewrite by a connection alone with the database (rebuild): switches it from WAL
// to a rollback journal, which writes each changed page once — pages the file did not have
// before are not journaled at all — where WAL writes every page twice (the log, then the
// checkpoint). Returns false, leaving WAL, when another connection has the database open.
// configure_connection() (every start of the service) switches back to WAL.
bool use_rollback_journal(sql::Database& db);

// Applies the migrations not yet recorded in schema_migrations, each in its own transaction.
// Returns the names applied now. Throws sql::Error if the database has a migration this
// binary does not know (a newer churnwatch wrote it) or a migration fails.
std::vector<std::string> apply_migrations(sql::Database& db);

}  // namespace churnwatch
