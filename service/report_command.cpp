// `churnwatch report`: monthly churn, reasons split and cohort retention, and how many
// customers are at risk now, read from the same analyst views an analyst queries
// (schema/0003_analyst_views.sql, 0016_customers_at_risk.sql), so the numbers agree.
#include <cstdio>
#include <iostream>

#include "churn_store.h"
#include "commands.h"
#include "log.h"
#include "schema.h"
#include "settings.h"
#include "sqlite.h"

namespace churnwatch {

namespace {

struct Table {
    std::string name;
    std::vector<std::string> columns;
    std::vector<std::vector<std::optional<std::string>>> rows;
};

// from and to are bound as ?1 and ?2 when given (a table of months); none for a table of now.
Table run_query(sql::Database& db, const std::string& name, const std::string& query,
                const std::string& from = "", const std::string& to = "") {
    Table t;
    t.name = name;
    sql::Statement q(db, query);
    if (!from.empty()) q.bind(1, from).bind(2, to);
    for (int i = 0; i < q.column_count(); ++i) t.columns.push_back(q.column_name(i));
    while (q.step()) {
        std::vector<std::optional<std::string>> row;
        for (std::size_t i = 0; i < t.columns.size(); ++i) row.push_back(q.column_opt_text(static_cast<int>(i)));
        t.rows.push_back(std::move(row));
    }
    return t;
}

void print_table(const Table& t) {
    std::vector<std::size_t> width(t.columns.size());
    for (std::size_t i = 0; i < t.columns.size(); ++i) width[i] = t.columns[i].size();
    for (const auto& r : t.rows)
        for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].value_or("").size());
    std::printf("== %s ==\n", t.name.c_str());
    if (t.rows.empty()) {
        std::printf("(no data)\n\n");
        return;
    }
    for (std::size_t i = 0; i < t.columns.size(); ++i)
        std::printf("%-*s%s", static_cast<int>(width[i]), t.columns[i].c_str(), i + 1 < t.columns.size() ? "  " : "\n");
    for (const auto& r : t.rows)
        for (std::size_t i = 0; i < r.size(); ++i)
            std::printf("%*s%s", static_cast<int>(width[i]), r[i].value_or("").c_str(), i + 1 < r.size() ? "  " : "\n");
    std::printf("\n");
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

void print_csv(const Table& t) {
    std::printf("# %s\n", t.name.c_str());
    for (std::size_t i = 0; i < t.columns.size(); ++i)
        std::printf("%s%s", csv_field(t.columns[i]).c_str(), i + 1 < t.columns.size() ? "," : "\n");
    for (const auto& r : t.rows)
        for (std::size_t i = 0; i < r.size(); ++i)
            std::printf("%s%s", csv_field(r[i].value_or("")).c_str(), i + 1 < r.size() ? "," : "\n");
}

bool is_number(const std::string& s) {
    if (s.empty()) return false;
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    return *end == '\0';
}

std::string json_table(const Table& t) {
    std::string out = "[";
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
        out += r ? ",{" : "{";
        for (std::size_t i = 0; i < t.columns.size(); ++i) {
            if (i) out += ",";
            append_json_string(out, t.columns[i]);
            out += ":";
            const auto& v = t.rows[r][i];
            if (!v) out += "null";
            else if (is_number(*v) && t.columns[i] != "month" && t.columns[i] != "cohort") out += *v;
            else append_json_string(out, *v);
        }
        out += "}";
    }
    return out + "]";
}

}  // namespace

int report_command(const Config& config) {
    ReportOptions options;
    std::string error;
    if (!read_report_options(config, options, error)) {
        std::cerr << "churnwatch report: " << error << "\n";
        return 2;
    }
    ReportCalendar calendar;
    if (!read_report_timezone(config, calendar, error)) {
        std::cerr << "churnwatch report: " << error << "\n";
        return 2;
    }
    const std::string from = options.from.empty() ? "0000-00" : options.from;
    const std::string to = options.to.empty() ? "9999-99" : options.to;
    const std::string& format = options.format;
    std::vector<Table> tables;
    try {
        sql::Database db(existing_database(config), sql::OpenMode::ReadOnly);
        if (const int64_t derived = derived_rules_version(db); derived < kRulesVersion)
            std::cerr << "churnwatch report: note: the churn tables were computed by an older version's "
                         "rules (" << derived << ", this one's are " << kRulesVersion
                      << "); run `churnwatch rebuild` (service stopped) for figures under the current rules\n";
        // The views count the calendar serve or rebuild last stored; this command only reads.
        if (const std::string stored = stored_report_timezone(db); stored != calendar.zone)
            std::cerr << "churnwatch report: note: the months are " << stored
                      << " calendar months, as the database holds them; report-timezone here is "
                      << calendar.zone << ": serve (at its next start) or rebuild sets it\n";
        // The last month of data is, while deliveries come in, the current one: its figures
        // are the month so far, which read like a complete month's.
        {
            sql::Statement q(db,
                             "SELECT month FROM report_months WHERE month BETWEEN ?1 AND ?2"
                             " AND month_end > datetime('now') ORDER BY month");
            q.bind(1, from).bind(2, to);
            while (q.step())
                std::cerr << "churnwatch report: note: " << q.column_text(0)
                          << " has not ended: its figures are those of the month so far\n";
        }
        tables.push_back(run_query(db, "churn_monthly",
                                   "SELECT * FROM churn_monthly WHERE month BETWEEN ?1 AND ?2 ORDER BY month",
                                   from, to));
        tables.push_back(run_query(db, "churn_by_reason",
                                   "SELECT * FROM churn_by_reason WHERE month BETWEEN ?1 AND ?2"
                                   " ORDER BY month, reason, category",
                                   from, to));
        tables.push_back(run_query(db, "cohort_retention",
                                   "SELECT * FROM cohort_retention WHERE cohort BETWEEN ?1 AND ?2"
                                   // cells measured after --to are not in the range either
                                   " AND strftime('%Y-%m', cohort || '-01', '+' || months_since"
                                   " || ' months') <= ?2"
                                   " ORDER BY cohort, months_since",
                                   from, to));
        // Now, whatever the months: how many customers show what precedes
        // involuntary churn, by signal (a customer may show several).
        tables.push_back(run_query(db, "customers_at_risk",
                                   "SELECT count(*) AS customers,"
                                   " coalesce(sum(in_dunning), 0) AS in_dunning,"
                                   " coalesce(sum(no_valid_payment_method), 0) AS no_valid_payment_method,"
                                   " coalesce(sum(failed_charge_id IS NOT NULL AND NOT max_retries_reached), 0)"
                                   "   AS charge_failed,"
                                   " coalesce(sum(failed_charge_id IS NOT NULL AND max_retries_reached), 0)"
                                   "   AS max_retries_reached"
                                   " FROM customers_at_risk"));
    } catch (const std::exception& e) {
        std::cerr << "churnwatch report: " << e.what() << "\n";
        return 1;
    }
    if (format == "json") {
        std::string out = "{";
        for (std::size_t i = 0; i < tables.size(); ++i) {
            if (i) out += ",";
            append_json_string(out, tables[i].name);
            out += ':';  // not ":" + json_table(…): GCC 12 warns -Wrestrict on that (a false positive)
            out += json_table(tables[i]);
        }
        std::printf("%s}\n", out.c_str());
    } else {
        for (const auto& t : tables) format == "csv" ? print_csv(t) : print_table(t);
    }
    return 0;
}

}  // namespace churnwatch
