#include "bench_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace churnwatch::bench {

Spawned spawn_server(const std::string& bin, const std::string& db, const std::vector<std::string>& extra) {
    std::vector<std::string> args{bin, "serve", "--listen", "127.0.0.1:0", "--db", db};
    args.insert(args.end(), extra.begin(), extra.end());
    // Made before the fork: the child makes only async-signal-safe calls.
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe");
    Spawned s;
    s.pid = ::fork();
    if (s.pid == 0) {
        ::dup2(out[1], 1);
        ::close(out[0]);
        int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 2);  // per-delivery logs are part of the cost, but not worth keeping here
        ::execv(argv[0], argv.data());
        std::_Exit(127);
    }
    ::close(out[1]);
    std::string got;
    char buf[256];
    while (got.find('\n') == std::string::npos) {
        ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n <= 0) throw std::runtime_error("churnwatch did not start: " + got);
        got.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    s.port = std::stoi(got.substr(got.rfind(':') + 1));
    return s;
}

void stop_server(Spawned& s) {
    if (s.pid <= 0) return;
    ::kill(s.pid, SIGTERM);
    int st;
    ::waitpid(s.pid, &st, 0);
    s.pid = -1;
}

long peak_rss_kb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

std::string legacy_signature(const std::string& secret, const std::string& body) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx, secret.data(), secret.size());
    EVP_DigestUpdate(ctx, body.data(), body.size());
    unsigned char md[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    static const char* d = "0123456789abcdef";
    std::string hex;
    for (unsigned i = 0; i < n; ++i) {
        hex += d[md[i] >> 4];
        hex += d[md[i] & 15];
    }
    return hex;
}

namespace {

std::string ts(uint64_t seq) {
    // Spread business times over January to October 2026 so the churn tables get realistic
    // months; all of them before the benchmarks were written, since a business time more than
    // a day after a delivery is received gets it quarantined (lib/plausible_times.h).
    uint64_t day = 1 + seq % 28, month = 1 + (seq / 28) % 10;
    char b[64];
    std::snprintf(b, sizeof b, "2026-%02llu-%02lluT%02llu:%02llu:%02llu+00:00", (unsigned long long)month,
                  (unsigned long long)day, (unsigned long long)(seq / 7 % 24), (unsigned long long)(seq % 60),
                  (unsigned long long)(seq / 60 % 60));
    return b;
}

const char* kPadding =
    ",\"analytics_data\":{\"utm_params\":[]},\"presentment_currency\":\"USD\","
    "\"order_interval_unit\":\"day\",\"order_interval_frequency\":30,\"charge_interval_frequency\":30,"
    "\"order_day_of_month\":null,\"order_day_of_week\":null,\"is_prepaid\":false,\"is_skippable\":true,"
    "\"is_swappable\":false,\"sku\":\"COF-250\",\"sku_override\":false,\"variant_title\":\"Whole bean\","
    "\"external_product_id\":{\"ecommerce\":\"8120001\"},\"external_variant_id\":{\"ecommerce\":\"4410001\"},"
    "\"properties\":[{\"name\":\"grind\",\"value\":\"whole\"},{\"name\":\"gift\",\"value\":\"no\"}]";

}  // namespace

std::string synthetic_delivery(uint64_t seq, uint64_t customers, std::string& topic) {
    uint64_t customer = 1 + seq % customers;
    uint64_t sub = 1000000 + customer * 2 + (seq / customers) % 2;
    std::string at = ts(seq);
    std::string n = std::to_string(seq);
    switch (seq % 4) {
        case 0:
        case 1: {
            bool cancel = seq % 8 == 1;
            topic = cancel ? "subscription/cancelled" : "subscription/updated";
            return "{\"subscription\":{\"id\":" + std::to_string(sub) + ",\"address_id\":61001,\"customer_id\":" +
                   std::to_string(customer) + ",\"status\":\"" + (cancel ? "cancelled" : "active") +
                   "\",\"cancelled_at\":" + (cancel ? "\"" + at + "\"" : "null") +
                   ",\"cancellation_reason\":" + (cancel ? "\"Too expensive\"" : "null") +
                   ",\"cancellation_reason_comments\":null,\"created_at\":\"2026-01-01T00:00:00+00:00\","
                   "\"expire_after_specific_number_of_charges\":null,\"has_queued_charges\":true,"
                   "\"max_retries_reached\":false,\"next_charge_scheduled_at\":\"2026-12-01\",\"price\":\"24.00\","
                   "\"product_title\":\"Single-origin coffee 250g #" + n + "\",\"quantity\":1,\"updated_at\":\"" + at +
                   "\"" + kPadding + "}}";
        }
        case 2:
            topic = "charge/paid";
            return "{\"charge\":{\"id\":" + std::to_string(5000000 + seq) +
                   ",\"address_id\":61001,\"charge_attempts\":1,\"created_at\":\"" + at +
                   "\",\"currency\":\"USD\",\"customer\":{\"id\":" + std::to_string(customer) +
                   ",\"email\":\"c" + std::to_string(customer) + "@example.com\",\"external_customer_id\":{\"ecommerce\":\"555\"},"
                   "\"hash\":\"c3c3c3\"},\"error\":null,\"error_type\":null,\"external_variant_id_not_found\":false,"
                   "\"line_items\":[{\"purchase_item_id\":" + std::to_string(sub) +
                   ",\"purchase_item_type\":\"subscription\",\"quantity\":1,\"title\":\"Coffee\",\"unit_price\":\"24.00\","
                   "\"total_price\":\"24.00\",\"external_product_id\":{\"ecommerce\":\"8120003\"},"
                   "\"external_variant_id\":{\"ecommerce\":\"4410003\"}}],\"processed_at\":\"" + at +
                   "\",\"retry_date\":null,\"scheduled_at\":\"2026-08-01\",\"status\":\"success\",\"subtotal_price\":\"24.00\","
                   "\"total_price\":\"24.00\",\"type\":\"recurring\",\"note\":\"delivery " + n + "\",\"updated_at\":\"" + at +
                   "\",\"analytics_data\":{\"utm_params\":[]},\"tags\":\"subscription,recurring\",\"taxable\":true}}";
        default:
            topic = "customer/updated";
            return "{\"customer\":{\"id\":" + std::to_string(customer) +
                   ",\"analytics_data\":{\"utm_params\":[]},\"created_at\":\"2026-01-01T00:00:00\",\"email\":\"c" +
                   std::to_string(customer) + "@example.com\",\"external_customer_id\":{\"ecommerce\":\"" + n +
                   "\"},\"first_charge_processed_at\":\"2026-01-01T00:00:07\",\"first_name\":\"Grace\","
                   "\"has_payment_method_in_dunning\":false,\"has_valid_payment_method\":true,"
                   "\"hash\":\"a1b2c3d4e5f6a7b8c9d0e1\",\"last_name\":\"Hopper\",\"phone\":\"+1 555 0100\","
                   "\"subscriptions_active_count\":1,\"subscriptions_total_count\":2,\"tax_exempt\":false,"
                   "\"billing_address\":{\"address1\":\"3030 Nebraska Avenue\",\"city\":\"Los Angeles\","
                   "\"province\":\"California\",\"zip\":\"90404\",\"country_code\":\"US\"},"
                   "\"apply_credit_to_next_recurring_charge\":false,\"updated_at\":\"" + at + "\"}}";
    }
}

double fsync_commits_per_second(const std::string& dir, double seconds) {
    std::string path = dir + "/fsync-probe.db";
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     " CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB);", nullptr, nullptr, nullptr);
    sqlite3_stmt* ins = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO t (body) VALUES (?)", -1, &ins, nullptr);
    std::string body(1400, 'x');
    auto start = std::chrono::steady_clock::now();
    long n = 0;
    double elapsed = 0;
    while (elapsed < seconds) {
        sqlite3_bind_blob(ins, 1, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
        sqlite3_step(ins);  // autocommit: one FULL commit per row
        sqlite3_reset(ins);
        ++n;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    sqlite3_finalize(ins);
    sqlite3_close(db);
    return n / elapsed;
}

}  // namespace churnwatch::bench
