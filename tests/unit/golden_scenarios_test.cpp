// The golden churn scenarios in tests/scenarios/<name>/: deliveries as Recharge sends them,
// and the churn_events and customers rows they must give, derived by hand from the README's
// rules and Recharge's FAQ (see tests/scenarios/README.md). Each scenario runs through the
// real ingest (legacy signature, topic from the path, decoding), Writer and ChurnStore: as
// listed, reversed, and in three seeded shuffles with every delivery sent twice; after each,
// `rebuild` must give the same rows again. A scenario with a KNOWN_DIFFERENCE file (the code
// disagrees with the README there, see that file) is skipped with its reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <variant>

#include "churn_store.h"
#include "ingest.h"
#include "schema.h"
#include "test_support.h"
#include "writer.h"

namespace fs = std::filesystem;
using namespace churnwatch;
using namespace churnwatch::test;

namespace {

const fs::path kScenarios = CHURNWATCH_SCENARIOS;

// ---------------------------------------------------------------------------------------------
// The files.

struct ScenarioDelivery {
    std::string file;         // "03-subscription-cancelled.txt"
    std::string topic;        // "subscription/cancelled"
    std::string api_version;  // "2021-01", "2021-11", or "" when the file does not say
    std::string body;         // the exact bytes sent
};

std::string trim(const std::string& s) {
    const auto begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) return "";
    return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// A delivery file: "key: value" lines (topic, api-version) and # comments, an empty line,
// then the body exactly as Recharge sends it (trailing white space aside).
ScenarioDelivery parse_delivery(const fs::path& path) {
    const std::string text = read_file(path.string());
    ScenarioDelivery d;
    d.file = path.filename().string();
    std::size_t pos = 0;
    int line_no = 0;
    bool blank_seen = false;
    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        const std::string line = trim(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
        pos = nl == std::string::npos ? text.size() : nl + 1;
        ++line_no;
        if (line.empty()) {
            blank_seen = true;
            break;
        }
        if (line[0] == '#') continue;
        const std::size_t colon = line.find(':');
        const std::string where = d.file + ":" + std::to_string(line_no) + ": ";
        if (colon == std::string::npos) throw std::runtime_error(where + "expected \"key: value\", got \"" + line + "\"");
        const std::string key = lower(trim(line.substr(0, colon)));
        const std::string value = trim(line.substr(colon + 1));
        if (key == "topic") d.topic = value;
        else if (key == "api-version") d.api_version = value;
        else throw std::runtime_error(where + "unknown key \"" + key + "\" (topic, api-version)");
    }
    if (!blank_seen) throw std::runtime_error(d.file + ": no empty line between the header and the body");
    if (d.topic.empty()) throw std::runtime_error(d.file + ": no \"topic:\" line");
    if (d.api_version != "" && d.api_version != "2021-01" && d.api_version != "2021-11")
        throw std::runtime_error(d.file + ": api-version must be 2021-01 or 2021-11");
    d.body = text.substr(pos);
    d.body.erase(d.body.find_last_not_of(" \t\r\n") + 1);
    if (d.body.empty()) throw std::runtime_error(d.file + ": empty body");
    return d;
}

std::vector<ScenarioDelivery> load_deliveries(const fs::path& dir) {
    if (!fs::is_directory(dir)) throw std::runtime_error("no deliveries/ directory");
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<ScenarioDelivery> out;
    for (const auto& f : files) out.push_back(parse_delivery(f));
    if (out.empty()) throw std::runtime_error("deliveries/ is empty");
    return out;
}

std::vector<std::string> split_cells(const std::string& line) {
    std::vector<std::string> cells;
    std::size_t start = 0;
    while (true) {
        const std::size_t bar = line.find('|', start);
        cells.push_back(trim(line.substr(start, bar == std::string::npos ? std::string::npos : bar - start)));
        if (bar == std::string::npos) return cells;
        start = bar + 1;
    }
}

std::string join_cells(const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) out += (i ? " | " : "") + cells[i];
    return out;
}

// Rows as "a | b | c" lines, in a fixed order: by the first cell as a number (customer id),
// then by the cell `then_by` (churned_at for episodes).
using Rows = std::vector<std::vector<std::string>>;

std::vector<std::string> canonical(Rows rows, std::size_t then_by) {
    auto key = [then_by](const std::vector<std::string>& r) {
        long long id = 0;
        try {
            id = std::stoll(r.at(0));
        } catch (const std::exception&) {
        }
        return std::make_tuple(id, then_by < r.size() ? r[then_by] : std::string(), join_cells(r));
    };
    std::sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(join_cells(r));
    return out;
}

// An expected_*.txt file: one row per line, cells separated by '|'; # comments, blank lines.
Rows parse_expected(const fs::path& path, std::size_t columns) {
    if (!fs::exists(path)) throw std::runtime_error("no " + path.filename().string());
    std::istringstream in(read_file(path.string()));
    Rows rows;
    std::string line;
    for (int line_no = 1; std::getline(in, line); ++line_no) {
        line = trim(line);
        if (line.empty() || line[0] == '#') continue;
        auto cells = split_cells(line);
        if (cells.size() != columns)
            throw std::runtime_error(path.filename().string() + ":" + std::to_string(line_no) + ": " +
                                     std::to_string(cells.size()) + " cells, expected " +
                                     std::to_string(columns) + ": " + line);
        rows.push_back(std::move(cells));
    }
    return rows;
}

constexpr std::size_t kEventColumns = 7;  // customer_id reason category churned_at reactivated_at subscription_id charge_id
constexpr std::size_t kChurnedAt = 3;
constexpr std::size_t kCustomerColumns = 2;  // customer_id status

// ---------------------------------------------------------------------------------------------
// Running one order.

Micros now_micros() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

// The delivery as `serve` would get it on /webhooks/recharge/<topic>: signed (legacy
// scheme), then verified and decoded by the real ingest code. An error names the file.
Delivery prepare(const ScenarioDelivery& sd, const KeyRing& keys) {
    auto topic = parse_topic(sd.topic);
    if (!topic || !is_known_topic(*topic))
        throw std::runtime_error(sd.file + ": not a Recharge topic: " + sd.topic);
    HttpRequest req;
    req.method = "POST";
    req.target = "/webhooks/recharge/" + topic->full();
    req.headers = {{"Content-Type", "application/json"},
                   {kLegacyHeader, legacy_signature(kSecret, sd.body)}};
    req.body = sd.body;
    auto prepared = prepare_delivery(std::move(req), topic, keys, IngestOptions{}, now_micros());
    if (auto* rejected = std::get_if<Rejection>(&prepared))
        throw std::runtime_error(sd.file + ": rejected: " + rejected->reason + " " + rejected->detail);
    Delivery d = std::move(std::get<Delivery>(prepared));
    if (d.status != DeliveryStatus::Accepted)
        throw std::runtime_error(sd.file + ": quarantined: " + d.reason);
    const std::string decoded(to_string(d.payload->version));
    if (!sd.api_version.empty() && decoded != sd.api_version)
        throw std::runtime_error(sd.file + ": api-version says " + sd.api_version +
                                 " but the body's shape reads as " + (decoded.empty() ? "neither" : decoded));
    return d;
}

// Submits every delivery in `order` to a Writer with a ChurnStore on a fresh database and
// waits for all of them (and the projection).
void feed(const std::string& db, const std::vector<ScenarioDelivery>& deliveries,
          const std::vector<std::size_t>& order) {
    KeyRing keys({kSecret});
    ChurnStore churn(RulesPolicy{});
    Writer writer(db, WriterOptions{}, &churn);
    std::vector<std::pair<std::string, std::future<WriteResult>>> results;
    for (std::size_t i : order) {
        auto p = std::make_shared<std::promise<WriteResult>>();
        results.emplace_back(deliveries[i].file, p->get_future());
        if (!writer.submit(prepare(deliveries[i], keys), [p](const WriteResult& r) { p->set_value(r); }))
            throw std::runtime_error(deliveries[i].file + ": the writer refused it");
    }
    for (auto& [file, f] : results) {
        const WriteResult r = f.get();
        if (r.outcome != WriteOutcome::Stored && r.outcome != WriteOutcome::Duplicate)
            throw std::runtime_error(file + ": not stored: " + r.error);
    }
    writer.stop();
}

// `churnwatch rebuild`, as churn_store_test runs it.
void rebuild(const std::string& db) {
    sql::Database conn(db);
    configure_connection(conn);
    apply_migrations(conn);
    const bool alone = use_rollback_journal(conn);
    ChurnStore churn(RulesPolicy{});
    sql::Transaction txn(conn);
    churn.rebuild(conn, JsonLimits{}.max_depth);
    txn.commit();
    if (alone) configure_connection(conn);
}

Rows query(const std::string& db, const std::string& sql) {
    Rows rows;
    std::istringstream in(query_rows(db, sql));
    for (std::string line; std::getline(in, line);) rows.push_back(split_cells(line));
    return rows;
}

struct Tables {
    std::vector<std::string> events, customers;
    bool operator==(const Tables&) const = default;
};

Tables actual_tables(const std::string& db) {
    return {canonical(query(db, "SELECT customer_id, reason, category, churned_at,"
                                " ifnull(reactivated_at, '-'), ifnull(subscription_id, '-'),"
                                " ifnull(charge_id, '-') FROM churn_events"),
                      kChurnedAt),
            canonical(query(db, "SELECT id, status FROM customers"), 0)};
}

// ---------------------------------------------------------------------------------------------
// Reporting.

// A line diff (longest common subsequence): "  " both, "- " expected only, "+ " actual only.
std::string diff(const std::vector<std::string>& expected, const std::vector<std::string>& actual) {
    const std::size_t n = expected.size(), m = actual.size();
    std::vector<std::vector<std::size_t>> lcs(n + 1, std::vector<std::size_t>(m + 1, 0));
    for (std::size_t i = n; i-- > 0;)
        for (std::size_t j = m; j-- > 0;)
            lcs[i][j] = expected[i] == actual[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    std::string out;
    std::size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && expected[i] == actual[j]) {
            out += "      " + expected[i++] + "\n";
            ++j;
        } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
            out += "    - " + expected[i++] + "\n";
        } else {
            out += "    + " + actual[j++] + "\n";
        }
    }
    if (n == 0 && m == 0) out = "      (no rows)\n";
    return out;
}

std::string describe_mismatch(const Tables& expected, const Tables& actual) {
    std::string out;
    if (expected.events != actual.events)
        out += "  churn_events (- expected, + actual):\n" + diff(expected.events, actual.events);
    if (expected.customers != actual.customers)
        out += "  customers (- expected, + actual):\n" + diff(expected.customers, actual.customers);
    return out;
}

struct Order {
    std::string label;
    std::vector<std::size_t> indices;
};

std::vector<Order> orders_to_try(std::size_t n) {
    std::vector<Order> orders;
    std::vector<std::size_t> listed(n);
    std::iota(listed.begin(), listed.end(), std::size_t{0});
    orders.push_back({"as listed", listed});
    orders.push_back({"reversed", {listed.rbegin(), listed.rend()}});
    for (unsigned seed : {1u, 2u, 3u}) {
        std::vector<std::size_t> twice = listed;
        twice.insert(twice.end(), listed.begin(), listed.end());
        std::shuffle(twice.begin(), twice.end(), std::mt19937(seed));
        orders.push_back({"shuffled, every delivery twice (std::mt19937 seed " + std::to_string(seed) + ")",
                          twice});
    }
    return orders;
}

std::string order_files(const std::vector<ScenarioDelivery>& deliveries, const std::vector<std::size_t>& order) {
    std::string out;
    for (std::size_t k = 0; k < order.size(); ++k) out += (k ? ", " : "") + deliveries[order[k]].file;
    return out;
}

// ---------------------------------------------------------------------------------------------
// The tests.

std::vector<std::string> scenario_names() {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(kScenarios, ec))
        if (entry.is_directory()) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

class GoldenScenario : public testing::TestWithParam<std::string> {};

TEST_P(GoldenScenario, GivesTheExpectedChurn) {
    const std::string name = GetParam();
    const fs::path dir = kScenarios / name;
    std::vector<ScenarioDelivery> deliveries;
    Tables expected;
    try {
        deliveries = load_deliveries(dir / "deliveries");
        expected.events = canonical(parse_expected(dir / "expected_churn_events.txt", kEventColumns), kChurnedAt);
        expected.customers = canonical(parse_expected(dir / "expected_customers.txt", kCustomerColumns), 0);
        KeyRing keys({kSecret});
        for (const auto& d : deliveries) prepare(d, keys);  // every file decodes as it says
    } catch (const std::exception& e) {
        FAIL() << "scenario " << name << ": " << e.what();
    }
    if (fs::exists(dir / "KNOWN_DIFFERENCE"))
        GTEST_SKIP() << "scenario " << name << " has a KNOWN_DIFFERENCE (the code disagrees with the README):\n"
                     << read_file((dir / "KNOWN_DIFFERENCE").string());

    std::set<std::string> distinct;
    for (const auto& d : deliveries) distinct.insert(d.topic + "\n" + d.body);

    TempDir tmp;
    // Each distinct wrong result once, with its diff and every order and stage that gave it;
    // all of them in one failure message.
    struct Mismatch {
        std::string diff;
        std::vector<std::string> where;
    };
    std::vector<std::pair<std::string, Mismatch>> mismatches;  // by what was found, in order
    std::string errors;
    const std::vector<Order> orders = orders_to_try(deliveries.size());
    int run = 0;
    for (const Order& order : orders) {
        const std::string db = tmp.file("run" + std::to_string(run++) + ".db");
        const std::string label = "order " + order.label + ": " + order_files(deliveries, order.indices);
        try {
            feed(db, deliveries, order.indices);
        } catch (const std::exception& e) {
            errors += "  " + label + "\n    " + e.what() + "\n";
            continue;
        }
        const int64_t stored = query_int(db, "SELECT count(*) FROM deliveries");
        if (stored != static_cast<int64_t>(distinct.size()))
            errors += "  " + label + "\n    " + std::to_string(stored) + " deliveries stored, " +
                      std::to_string(distinct.size()) + " distinct ones sent\n";
        for (const char* stage : {"live projection", "after rebuild"}) {
            if (std::string(stage) == "after rebuild") rebuild(db);
            const Tables actual = actual_tables(db);
            if (actual == expected) continue;
            std::string key;
            for (const auto& line : actual.events) key += line + "\n";
            key += "\n";
            for (const auto& line : actual.customers) key += line + "\n";
            auto it = std::find_if(mismatches.begin(), mismatches.end(), [&](const auto& m) { return m.first == key; });
            if (it == mismatches.end()) {
                mismatches.push_back({key, {describe_mismatch(expected, actual), {}}});
                it = std::prev(mismatches.end());
            }
            it->second.where.push_back(std::string(stage) + ", " + label);
        }
        fs::remove(db);
    }
    if (errors.empty() && mismatches.empty()) return;
    std::string report = "scenario " + name + ":\n" + errors;
    for (const auto& [key, m] : mismatches) {
        report += "  found in " + std::to_string(m.where.size()) + " of " + std::to_string(2 * orders.size()) +
                  " checks (each order live, then after rebuild):\n";
        for (const auto& w : m.where) report += "    " + w + "\n";
        report += m.diff;
    }
    ADD_FAILURE() << report;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
    std::string out = info.param;
    for (char& c : out)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return out;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenScenario, testing::ValuesIn(scenario_names()), test_name);

// The directory is there and each scenario has what tests/scenarios/README.md says it has.
TEST(GoldenScenarios, EachDirectoryIsACompleteScenario) {
    ASSERT_TRUE(fs::is_directory(kScenarios)) << kScenarios;
    const auto names = scenario_names();
    EXPECT_GE(names.size(), 1u);
    for (const auto& name : names) {
        const fs::path dir = kScenarios / name;
        for (const char* part : {"deliveries", "expected_churn_events.txt", "expected_customers.txt", "README.md"})
            EXPECT_TRUE(fs::exists(dir / part)) << name << " has no " << part;
    }
}

}  // namespace
