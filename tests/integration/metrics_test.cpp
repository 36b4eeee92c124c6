// GET /metrics on the real binary: every line must be valid Prometheus text exposition
// (checked by a small validating parser below), and the counters must move as deliveries
// of each outcome arrive.
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "sqlite.h"
#include "test_support.h"

using namespace churnwatch::test;

namespace {

// ---- a validating parser for the text format (version 0.0.4) -------------------------------

struct Sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

struct Family {
    std::string type;  // counter gauge histogram summary untyped
    std::string help;
    std::vector<Sample> samples;
};

struct Exposition {
    std::map<std::string, Family> families;
    std::vector<std::string> errors;  // "line N: what"

    // The value of one series (name + exact labels), or nullopt.
    std::optional<double> get(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
        for (const auto& [_, f] : families)
            for (const auto& s : f.samples)
                if (s.name == name && s.labels == labels) return s.value;
        return std::nullopt;
    }
    double value(const std::string& name,
                 const std::map<std::string, std::string>& labels = {}) const {
        return get(name, labels).value_or(0);
    }
};

bool is_metric_name(const std::string& s) {
    if (s.empty()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
                  (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
        if (!ok) return false;
    }
    return true;
}

bool is_label_name(const std::string& s) {
    return is_metric_name(s) && s.find(':') == std::string::npos && s.rfind("__", 0) != 0;
}

std::optional<double> parse_value(const std::string& s) {
    if (s == "+Inf" || s == "Inf") return INFINITY;
    if (s == "-Inf") return -INFINITY;
    if (s == "NaN") return NAN;
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (*end != '\0') return std::nullopt;
    if (std::isnan(v) || std::isinf(v)) return std::nullopt;  // only the spellings above
    return v;
}

// name{a="x",b="y"} value [timestamp]
bool parse_sample(const std::string& line, Sample& out, std::string& why) {
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    out.name = line.substr(0, i);
    if (!is_metric_name(out.name)) return why = "bad metric name '" + out.name + "'", false;
    if (i < line.size() && line[i] == '{') {
        ++i;
        for (;;) {
            if (i < line.size() && line[i] == '}') {
                ++i;
                break;
            }
            std::size_t eq = line.find('=', i);
            if (eq == std::string::npos) return why = "label without '='", false;
            std::string lname = line.substr(i, eq - i);
            if (!is_label_name(lname)) return why = "bad label name '" + lname + "'", false;
            i = eq + 1;
            if (i >= line.size() || line[i] != '"') return why = "label value not quoted", false;
            ++i;
            std::string lvalue;
            for (;;) {
                if (i >= line.size()) return why = "unterminated label value", false;
                char c = line[i++];
                if (c == '"') break;
                if (c == '\\') {
                    if (i >= line.size()) return why = "dangling escape", false;
                    char e = line[i++];
                    if (e == 'n')
                        lvalue += '\n';
                    else if (e == '\\' || e == '"')
                        lvalue += e;
                    else
                        return why = std::string("bad escape \\") + e, false;
                } else {
                    lvalue += c;
                }
            }
            if (out.labels.count(lname)) return why = "label '" + lname + "' repeated", false;
            out.labels[lname] = lvalue;
            if (i < line.size() && line[i] == ',')
                ++i;
            else if (i >= line.size() || line[i] != '}')
                return why = "expected ',' or '}'", false;
        }
    }
    if (i >= line.size() || line[i] != ' ') return why = "no space before the value", false;
    std::string rest = line.substr(i + 1);
    std::istringstream parts(rest);
    std::string value, timestamp, extra;
    parts >> value >> timestamp >> extra;
    if (!extra.empty()) return why = "trailing text", false;
    auto v = parse_value(value);
    if (!v) return why = "bad value '" + value + "'", false;
    if (!timestamp.empty()) {
        for (char c : timestamp)
            if (!std::isdigit(static_cast<unsigned char>(c)) && c != '-')
                return why = "bad timestamp", false;
    }
    out.value = *v;
    return true;
}

// The family a sample belongs to, given the declared types.
std::string family_of(const std::string& sample, const std::map<std::string, Family>& families) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string s = suffix;
        if (sample.size() > s.size() &&
            sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
            std::string base = sample.substr(0, sample.size() - s.size());
            auto f = families.find(base);
            if (f != families.end() &&
                (f->second.type == "histogram" || f->second.type == "summary"))
                return base;
        }
    }
    return sample;
}

void check_histograms(Exposition& e) {
    for (const auto& [name, f] : e.families) {
        if (f.type != "histogram") continue;
        // Group by the labels other than le.
        std::map<std::map<std::string, std::string>, std::vector<const Sample*>> groups;
        for (const auto& s : f.samples) {
            auto key = s.labels;
            key.erase("le");
            groups[key].push_back(&s);
        }
        for (const auto& [labels, samples] : groups) {
            std::vector<std::pair<double, double>> buckets;  // le, count
            std::optional<double> sum, count;
            for (const Sample* s : samples) {
                if (s->name == name + "_bucket") {
                    auto le = s->labels.find("le");
                    if (le == s->labels.end()) {
                        e.errors.push_back(name + ": bucket without le");
                        continue;
                    }
                    auto bound = parse_value(le->second);
                    if (!bound)
                        e.errors.push_back(name + ": bad le '" + le->second + "'");
                    else
                        buckets.emplace_back(*bound, s->value);
                } else if (s->name == name + "_sum") {
                    sum = s->value;
                } else if (s->name == name + "_count") {
                    count = s->value;
                } else {
                    e.errors.push_back(name + ": unexpected sample " + s->name);
                }
            }
            if (buckets.empty()) e.errors.push_back(name + ": no buckets");
            if (!sum || !count) e.errors.push_back(name + ": _sum or _count missing");
            for (std::size_t i = 1; i < buckets.size(); ++i) {
                if (!(buckets[i].first > buckets[i - 1].first))
                    e.errors.push_back(name + ": le not increasing");
                if (buckets[i].second < buckets[i - 1].second)
                    e.errors.push_back(name + ": buckets not cumulative");
            }
            if (!buckets.empty() && !std::isinf(buckets.back().first))
                e.errors.push_back(name + ": last bucket is not le=\"+Inf\"");
            if (!buckets.empty() && count && buckets.back().second != *count)
                e.errors.push_back(name + ": +Inf bucket differs from _count");
        }
    }
}

Exposition parse_exposition(const std::string& text) {
    Exposition e;
    if (!text.empty() && text.back() != '\n') e.errors.push_back("does not end with a newline");
    std::istringstream in(text);
    std::string line;
    int n = 0;
    std::set<std::string> finished;  // families whose samples are over (must be contiguous)
    std::string current;
    std::set<std::string> series;
    auto err = [&](const std::string& what) {
        e.errors.push_back("line " + std::to_string(n) + ": " + what + ": " + line);
    };
    auto enter = [&](const std::string& fam) {
        if (fam == current) return;
        if (finished.count(fam)) err("family " + fam + " is not contiguous");
        if (!current.empty()) finished.insert(current);
        current = fam;
    };
    while (std::getline(in, line)) {
        ++n;
        if (line.empty()) continue;
        if (line[0] == '#') {
            std::istringstream parts(line);
            std::string hash, kind, name;
            parts >> hash >> kind >> name;
            if (kind != "HELP" && kind != "TYPE") continue;  // a plain comment
            if (!is_metric_name(name)) {
                err("bad name in " + kind);
                continue;
            }
            std::string rest;
            std::getline(parts, rest);
            if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
            enter(name);
            Family& f = e.families[name];
            if (kind == "HELP") {
                if (!f.help.empty()) err("second HELP");
                f.help = rest.empty() ? " " : rest;
            } else {
                if (!f.type.empty()) err("second TYPE");
                if (!f.samples.empty()) err("TYPE after samples");
                static const std::set<std::string> types{"counter", "gauge", "histogram", "summary",
                                                         "untyped"};
                if (!types.count(rest)) err("unknown type '" + rest + "'");
                f.type = rest;
            }
            continue;
        }
        Sample s;
        std::string why;
        if (!parse_sample(line, s, why)) {
            err(why);
            continue;
        }
        std::string fam = family_of(s.name, e.families);
        enter(fam);
        Family& f = e.families[fam];
        if (f.type.empty()) f.type = "untyped";
        std::string id = s.name + "{";
        for (const auto& [k, v] : s.labels) id += k + "=" + v + ",";
        if (!series.insert(id).second) err("duplicate series");
        if (f.type == "counter" && !(s.value >= 0)) err("negative or NaN counter");
        f.samples.push_back(std::move(s));
    }
    check_histograms(e);
    return e;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += s + "\n";
    return out;
}

// ---- the parser itself must catch what it claims to ----------------------------------------

TEST(ExpositionParser, AcceptsValidAndRejectsInvalidText) {
    std::string good =
        "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\\\\\\n\"} 3\n"
        "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1.5\nh_count "
        "2\n"
        "g NaN\n";
    auto e = parse_exposition(good);
    EXPECT_TRUE(e.errors.empty()) << join(e.errors);
    EXPECT_EQ(e.value("a_total", {{"x", "1"}, {"y", "q\"\\\n"}}), 3);
    for (const std::string bad : {
             "a{x=1} 3\n",                            // unquoted label value
             "a 3 4 5\n",                             // trailing text
             "a three\n",                             // bad value
             "1a 3\n",                                // bad name
             "# TYPE a counter\n# TYPE a gauge\n",    // second TYPE
             "# TYPE a_total counter\na_total -1\n",  // negative counter
             "a 1\nb 1\na{x=\"2\"} 1\n",              // not contiguous
             "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count "
             "1\n",
             "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  // no +Inf
             "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",        // no _sum
             "a 1",                                                             // no final newline
         }) {
        EXPECT_FALSE(parse_exposition(bad).errors.empty()) << bad;
    }
}

// ---- the real server -----------------------------------------------------------------------

Exposition scrape(int port) {
    auto r = http_request(port, "GET", "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["content-type"].rfind("text/plain; version=0.0.4", 0), 0u)
        << r.headers["content-type"];
    auto e = parse_exposition(r.body);
    EXPECT_TRUE(e.errors.empty()) << join(e.errors) << "\n--- body ---\n" << r.body;
    return e;
}

void expect_conventions(const Exposition& e) {
    for (const auto& [name, f] : e.families) {
        EXPECT_TRUE(name.rfind("churnwatch_", 0) == 0 || name.rfind("process_", 0) == 0) << name;
        EXPECT_FALSE(f.help.empty()) << name << " has no HELP";
        if (f.type == "counter") {
            EXPECT_EQ(name.substr(name.size() - 6), "_total") << name;
        }
        if (f.type == "histogram") {
            bool unit =
                name.ends_with("_seconds") || name.ends_with("_bytes") || name.ends_with("_size");
            EXPECT_TRUE(unit) << name << ": histogram name should carry its unit";
        }
    }
}

using L = std::map<std::string, std::string>;

TEST(Metrics, EveryLineIsValidExpositionAndTheFamiliesAreThere) {
    TempDir dir;
    ServerProcess server(dir);
    auto e = scrape(server.port());
    expect_conventions(e);
    for (const char* family :
         {"churnwatch_deliveries_total", "churnwatch_deliveries_rejected_total",
          "churnwatch_ack_duration_seconds", "churnwatch_writer_queue_depth",
          "churnwatch_writer_commit_batch_size", "churnwatch_writer_commit_duration_seconds",
          "churnwatch_writer_commits_total", "churnwatch_churn_events_total",
          "churnwatch_reactivations_total", "churnwatch_build_info",
          "churnwatch_http_connections", "churnwatch_http_idle_connections_closed_total",
          "churnwatch_database_bytes", "churnwatch_database_disk_available_bytes",
          "process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total",
          "process_start_time_seconds", "process_max_fds"}) {
        EXPECT_TRUE(e.families.count(family)) << family;
    }
    EXPECT_EQ(e.families["churnwatch_writer_commit_batch_size"].type, "histogram");
    EXPECT_EQ(e.families["churnwatch_churn_events_total"].type, "counter");
    EXPECT_EQ(e.families["process_cpu_seconds_total"].type, "counter");
    EXPECT_EQ(e.families["churnwatch_http_idle_connections_closed_total"].type, "counter");
    EXPECT_EQ(e.value("churnwatch_http_idle_connections_closed_total"), 0);
    // The counters an operator alerts on have their series at 0 before anything happened: a
    // series that appears with its first failure hides that failure from rate()/increase().
    using L = std::map<std::string, std::string>;
    for (const auto& [name, labels] : std::vector<std::pair<std::string, L>>{
             {"churnwatch_projection_failures_total", {}},
             {"churnwatch_writer_commits_total", {{"outcome", "ok"}}},
             {"churnwatch_writer_commits_total", {{"outcome", "failed"}}},
             {"churnwatch_projected_deliveries_total", {{"outcome", "applied"}}},
             {"churnwatch_projected_deliveries_total", {{"outcome", "quarantined"}}},
             {"churnwatch_churn_events_total", {{"reason", "cancelled"}, {"category", "voluntary"}}},
             {"churnwatch_churn_events_total", {{"reason", "deactivated"}, {"category", "voluntary"}}},
             {"churnwatch_churn_events_total", {{"reason", "max_retries"}, {"category", "involuntary"}}},
             {"churnwatch_churn_events_total", {{"reason", "expired"}, {"category", "natural"}}},
             {"churnwatch_reactivations_total", {}},
             {"churnwatch_churn_events_retracted_total", {}}}) {
        EXPECT_EQ(e.get(name, labels), 0.0) << name << " " << labels.size();
    }
    // Which build: the version and the commit it was built from (12 hex digits, or
    // "unknown" outside a git checkout).
    ASSERT_EQ(e.families["churnwatch_build_info"].samples.size(), 1u);
    const auto& build = e.families["churnwatch_build_info"].samples[0];
    EXPECT_EQ(build.value, 1);
    EXPECT_EQ(build.labels.at("version"), CHURNWATCH_VERSION);
    const std::string commit = build.labels.count("commit") ? build.labels.at("commit") : "";
    EXPECT_TRUE(commit == "unknown" ||
                (commit.size() == 12 && commit.find_first_not_of("0123456789abcdef") == std::string::npos))
        << commit;
    double rss = e.value("process_resident_memory_bytes");
    EXPECT_GT(rss, 1 << 20);
    EXPECT_LT(rss, 4.0 * (1 << 30));
    EXPECT_GE(e.value("process_open_fds"), 3);
    // The database's file and WAL (migrated: many pages), and the space left beside them.
    // (A checkpoint may move pages from one to the other in between: compare loosely.)
    const double files = static_cast<double>(std::filesystem::file_size(server.db()) +
                                             std::filesystem::file_size(server.db() + "-wal"));
    EXPECT_NEAR(e.value("churnwatch_database_bytes"), files, files / 2);
    EXPECT_GT(e.value("churnwatch_database_bytes"), 10 * 4096);
    EXPECT_GT(e.value("churnwatch_database_disk_available_bytes"), 0);
    double start = e.value("process_start_time_seconds");
    EXPECT_NEAR(start, static_cast<double>(now_seconds()), 120);
    server.stop();
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

// The lag gauge counts accepted deliveries the projection has not reached: a quarantined
// delivery (which the projection never sees) must not hold it above 0. It did, until the
// next accepted delivery arrived; the suggested lag alert would then fire for nothing.
TEST(Metrics, ProjectionLagReturnsToZeroAfterQuarantinedDeliveries) {
    TempDir dir;
    ServerProcess server(dir);
    int port = server.port();
    const std::string target = "/webhooks/recharge/subscription/cancelled";
    ASSERT_EQ(post_webhook(port, target, example_payload("subscription_cancelled.2021-11.json")).status, 200);
    EXPECT_TRUE(eventually([&] { return scrape(port).value("churnwatch_projection_lag") == 0; }));
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(post_webhook(port, target, "not json " + std::to_string(i)).status, 200);
    EXPECT_EQ(query_int(server.db(), "SELECT count(*) FROM deliveries WHERE status = 'quarantined'"), 3);
    EXPECT_TRUE(eventually([&] { return scrape(port).value("churnwatch_projection_lag") == 0; }))
        << scrape(port).value("churnwatch_projection_lag");
    // And after a restart, where the gauge starts from the stored rows.
    server.stop();
    ServerProcess again(dir, {.db = server.db()});
    EXPECT_EQ(scrape(again.port()).value("churnwatch_projection_lag"), 0);
}

// A read transaction held open elsewhere keeps checkpoints from copying the WAL: the gauge
// shows the frames waiting, and falls back once the reader lets go. (The gauge was only
// wired in unit tests: serve's observer chain dropped checkpoints, so it stayed 0.)
TEST(Metrics, AWalAReaderHoldsBackShowsInTheGauge) {
    TempDir dir;
    ServerProcess server(dir);
    const int port = server.port();
    const std::string target = "/webhooks/recharge/subscription/cancelled";
    ASSERT_EQ(post_webhook(port, target, example_payload("subscription_cancelled.2021-11.json")).status, 200);
    churnwatch::sql::Database reader(server.db(), churnwatch::sql::OpenMode::ReadOnly);
    reader.exec("BEGIN");
    EXPECT_EQ(first_text(reader, "SELECT count(*) > 0 FROM deliveries"), "1");  // the snapshot is taken
    for (int i = 0; i < 20; ++i)
        ASSERT_EQ(post_webhook(port, target, "not json " + std::to_string(i)).status, 200);
    EXPECT_TRUE(eventually([&] { return scrape(port).value("churnwatch_wal_uncheckpointed_frames") > 0; }))
        << scrape(port).value("churnwatch_wal_uncheckpointed_frames");
    reader.exec("COMMIT");
    EXPECT_TRUE(eventually([&] { return scrape(port).value("churnwatch_wal_uncheckpointed_frames") == 0; }))
        << scrape(port).value("churnwatch_wal_uncheckpointed_frames");
}

// A projection that fails (here a trigger refuses to advance its watermark; in life a full
// disk) is retried every 200 ms: counted, and logged with SQLite's error at most once per
// 10 s. Deliveries whose rules fail are quarantined and logged too. Neither was logged, so
// an operator saw a counter move and nothing to say why.
TEST(Metrics, ProjectionFailuresAndQuarantinesAreLogged) {
    TempDir dir;
    std::string path;
    {
        // The triggers go in while no server runs: done while it ran, the projection could
        // first fail on the lock they took, and that error would be the one line logged.
        ServerProcess first(dir);
        path = first.db();
        first.stop();
        churnwatch::sql::Database db(path);
        db.exec("CREATE TRIGGER no_watermark BEFORE INSERT ON service_state"
                " WHEN NEW.key = 'projected_through' BEGIN SELECT RAISE(ABORT, 'watermark refused'); END");
        db.exec("CREATE TRIGGER no_watermark_update BEFORE UPDATE ON service_state"
                " WHEN NEW.key = 'projected_through' BEGIN SELECT RAISE(ABORT, 'watermark refused'); END");
    }
    ServerProcess server(dir, {.db = path});
    int port = server.port();
    ASSERT_EQ(post_webhook(port, "/webhooks/recharge/subscription/cancelled",
                           example_payload("subscription_cancelled.2021-11.json")).status, 200);
    EXPECT_TRUE(eventually([&] { return scrape(port).value("churnwatch_projection_failures_total") >= 3; }));
    EXPECT_NE(server.log().find("\"event\":\"projection_failed\""), std::string::npos) << server.log();
    EXPECT_NE(server.log().find("watermark refused"), std::string::npos);
    // Rate-limited: one line for the first failures, not one per retry.
    std::string log = server.log();
    std::size_t lines = 0;
    for (auto at = log.find("projection_failed"); at != std::string::npos; at = log.find("projection_failed", at + 1)) ++lines;
    EXPECT_EQ(lines, 1u) << log;
    {
        churnwatch::sql::Database db(server.db());
        db.set_busy_timeout(5000);
        // One transaction: between the drops and the create the projection would succeed.
        db.exec("BEGIN IMMEDIATE; DROP TRIGGER no_watermark; DROP TRIGGER no_watermark_update;"
                " CREATE TRIGGER no_customers BEFORE INSERT ON customers"
                " BEGIN SELECT RAISE(ABORT, 'customers refused'); END; COMMIT");
    }
    EXPECT_TRUE(eventually([&] { return scrape(port).value("churnwatch_projection_lag") == 0; }));
    EXPECT_NE(server.log().find("\"event\":\"projection_quarantined\",\"deliveries\":1"), std::string::npos)
        << server.log();
    EXPECT_EQ(query_text(server.db(), "SELECT reason FROM deliveries"), "rules failed: step failed: customers refused");
    server.stop();
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

// At --max-connections with every connection busy with a request, new clients wait in the
// kernel's queue, unanswered: the operator sees it in the log and the open-connections gauge
// (it was silent). (Idle keep-alive connections would give way instead: bad_input_test.)
TEST(Metrics, TheConnectionLimitIsLoggedAndConnectionsAreCounted) {
    TempDir dir;
    ServerProcess server(dir, {.args = {"--max-connections", "3"}});
    const int port = server.port();
    auto c1 = std::make_unique<HttpConnection>(port);
    HttpConnection c2(port);
    ASSERT_EQ(c1->request("GET", "/healthz").status, 200);
    ASSERT_EQ(c2.request("GET", "/healthz").status, 200);
    // Each begins its next request: not idle, so neither gives way.
    ASSERT_TRUE(c1->send_raw("GET /healthz HTTP/1.1\r\n"));
    ASSERT_TRUE(c2.send_raw("GET /healthz HTTP/1.1\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // The scrape's own connection is the third: the limit is reached while it is open.
    EXPECT_EQ(scrape(port).value("churnwatch_http_connections"), 3);
    EXPECT_TRUE(eventually([&] { return server.log().find("\"event\":\"connection_limit\"") != std::string::npos; }))
        << server.log();
    HttpConnection c3(port);  // accepting resumed when the scrape's connection closed
    ASSERT_EQ(c3.request("GET", "/healthz").status, 200);
    // Busy too: were it idle, the next scrape could close it to take its place before the
    // server has seen c1 leave, and the gauge would never read 3.
    ASSERT_TRUE(c3.send_raw("GET /healthz HTTP/1.1\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    c1.reset();  // one leaves: room for the next scrape
    EXPECT_TRUE(eventually([&] { return scrape(port).value("churnwatch_http_connections") == 3; }));
    server.stop();
    EXPECT_EQ(sanitizer_report(server.log()), "");
}

// SIGHUP on a plain-HTTP server changes nothing, and says so: an operator who expected a
// configuration reload learned nothing from silence.
TEST(Metrics, SighupWithoutTlsSaysItReloadsNothing) {
    TempDir dir;
    ServerProcess server(dir);
    ::kill(server.pid(), SIGHUP);
    EXPECT_TRUE(eventually([&] { return server.log().find("\"event\":\"reload\"") != std::string::npos; }))
        << server.log();
    EXPECT_EQ(http_request(server.port(), "GET", "/healthz").status, 200);
    EXPECT_EQ(server.stop(), 0);
}

// Recharge deletes a topic's webhook after 20 failed retries: the gauge of each topic's
// latest authentic delivery shows one gone quiet, and a restart reads it back from the
// database rather than starting without it.
TEST(Metrics, EachTopicsLastDeliveryTimeIsKeptAcrossARestart) {
    TempDir dir;
    const std::string db = dir.file("last.db");
    const L cancelled_topic{{"topic", "subscription/cancelled"}};
    const L paid_topic{{"topic", "charge/max_retries_reached"}};
    {
        ServerProcess server(dir, {.db = db});
        const std::string target = "/webhooks/recharge/subscription/cancelled";
        ASSERT_EQ(post_webhook(server.port(), target, example_payload("subscription_cancelled.2021-11.json")).status,
                  200);
        // Not authentic: no sign of life from Recharge.
        EXPECT_EQ(http_request(server.port(), "POST", "/webhooks/recharge/charge/max_retries_reached", {},
                               example_payload("charge_max_retries_reached.2021-11.json"))
                      .status,
                  401);
        auto e = scrape(server.port());
        expect_conventions(e);
        EXPECT_EQ(e.families["churnwatch_last_delivery_timestamp_seconds"].type, "gauge");
        EXPECT_NEAR(e.value("churnwatch_last_delivery_timestamp_seconds", cancelled_topic),
                    static_cast<double>(now_seconds()), 60);
        EXPECT_FALSE(e.get("churnwatch_last_delivery_timestamp_seconds", paid_topic));
        server.stop();
    }
    churnwatch::sql::Database(db).exec("UPDATE deliveries SET received_at = '2026-01-02 03:04:05.123456'");
    ServerProcess again(dir, {.db = db});
    auto e = scrape(again.port());
    EXPECT_EQ(e.value("churnwatch_last_delivery_timestamp_seconds", cancelled_topic), 1767323045);
    EXPECT_FALSE(e.get("churnwatch_last_delivery_timestamp_seconds", paid_topic));
    again.stop();
    EXPECT_EQ(sanitizer_report(again.log()), "");
}

TEST(Metrics, CountersMoveAsDeliveriesArrive) {
    TempDir dir;
    ServerProcess server(dir);
    int port = server.port();
    const std::string cancelled = example_payload("subscription_cancelled.2021-11.json");
    const std::string target = "/webhooks/recharge/subscription/cancelled";
    const L accepted{{"topic", "subscription/cancelled"}, {"outcome", "accepted"}};
    const L duplicate{{"topic", "subscription/cancelled"}, {"outcome", "duplicate"}};
    const L quarantined{{"topic", "subscription/cancelled"}, {"outcome", "quarantined"}};
    const L churned{{"reason", "cancelled"}, {"category", "voluntary"}};

    auto before = scrape(port);
    EXPECT_EQ(before.value("churnwatch_deliveries_total", accepted), 0);
    EXPECT_EQ(before.value("churnwatch_churn_events_total", churned), 0);

    // accepted, then the same delivery again: a duplicate
    ASSERT_EQ(post_webhook(port, target, cancelled).status, 200);
    auto after_one = scrape(port);
    EXPECT_EQ(after_one.value("churnwatch_deliveries_total", accepted), 1);
    EXPECT_EQ(after_one.value("churnwatch_deliveries_total", duplicate), 0);
    ASSERT_EQ(post_webhook(port, target, cancelled).status, 200);
    // rejected: wrong secret (mismatch), no signature (missing), twice each
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(post_webhook(port, target, cancelled, {}, "not_the_secret_at_all_123456").status,
                  401);
        EXPECT_EQ(http_request(port, "POST", target, {}, cancelled).status, 401);
    }
    // quarantined: authentic but not JSON
    ASSERT_EQ(post_webhook(port, target, "not json at all").status, 200);

    auto e = scrape(port);
    expect_conventions(e);
    EXPECT_EQ(e.value("churnwatch_deliveries_total", accepted), 1);
    EXPECT_EQ(e.value("churnwatch_deliveries_total", duplicate), 1);
    EXPECT_EQ(e.value("churnwatch_deliveries_total", quarantined), 1);
    EXPECT_EQ(e.value("churnwatch_deliveries_rejected_total", {{"reason", "signature_mismatch"}}),
              2);
    EXPECT_EQ(e.value("churnwatch_deliveries_rejected_total", {{"reason", "signature_missing"}}),
              2);
    // The cancellation churned customer 71001: the projection counts it moments after the
    // ack, so this scrape may come first.
    EXPECT_TRUE(eventually([&] { return scrape(port).value("churnwatch_churn_events_total", churned) == 1; }))
        << scrape(port).value("churnwatch_churn_events_total", churned);
    EXPECT_EQ(
        query_int(server.db(), "SELECT count(*) FROM churn_events WHERE reason = 'cancelled'"), 1);

    // Every answered delivery went through the ack histogram; every stored or duplicate one
    // through a group commit (probes aside, none were sent).
    EXPECT_EQ(e.value("churnwatch_ack_duration_seconds_count"), 3);
    double committed = e.value("churnwatch_writer_commit_batch_size_sum");
    EXPECT_EQ(committed, 3);
    double commits = e.value("churnwatch_writer_commit_duration_seconds_count");
    EXPECT_GE(commits, 1);
    EXPECT_LE(commits, 3);
    EXPECT_EQ(e.value("churnwatch_writer_commits_total", {{"outcome", "ok"}}), commits);
    EXPECT_GT(e.value("churnwatch_writer_commit_duration_seconds_sum"), 0);

    // Too large: rejected by reason before the body is read.
    ServerProcess small(dir, {.db = dir.file("small.db"), .args = {"--max-body", "100"}});
    EXPECT_EQ(post_webhook(small.port(), target, cancelled).status, 413);
    EXPECT_EQ(scrape(small.port())
                  .value("churnwatch_deliveries_rejected_total", {{"reason", "body_too_large"}}),
              1);
    for (ServerProcess* p : {&server, &small}) {
        EXPECT_EQ(p->stop(), 0);
        EXPECT_EQ(sanitizer_report(p->log()), "");
    }
}

}  // namespace
