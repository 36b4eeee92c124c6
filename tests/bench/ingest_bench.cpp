// Ingest benchmark: a Release `churnwatch serve` on a temp database, driven over loopback
// with keep-alive connections by the same load generator for (a) GET /healthz and (b) POST
// of distinct, correctly signed ~1.2–1.6 KB deliveries; then (c) the same deliveries paced at
// half the measured maximum, for latency. The deliveries are built and signed before each
// timed phase (as one would hand wrk or h2load a prepared request list), so the generator
// spends the shared cores on sending, not on building (~16% of its CPU when it built them
// inline); beyond the prepared ones it builds them inline, and says how many. Prints one
// summary line last:
// ingest webhook_rps=… trivial_rps=… ratio=… p50_ms=… p99_ms=… rss_mb=… fsync_txn_per_s=… durable_speedup=…
//
// Usage: bench_ingest --bin build/release/churnwatch [--seconds 5] [--connections 64]
//                     [--client-threads 1] [--server-threads 1] [--port N: use a running server]
//                     [--prepared-rps 80000: requests prepared per second of the full-rate phase]
//                     [--customers 100000: customers the deliveries are spread over]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "load_generator.h"

using namespace churnwatch::bench;

namespace {

const std::string kSecret = "shjk_bench_client_secret_0123456789abcdef";

std::string arg(int argc, char** argv, const std::string& name, const std::string& def) {
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == "--" + name) return argv[i + 1];
    return def;
}

// Customers the deliveries are spread over (--customers): fewer means longer histories.
uint64_t g_customers = 100000;

std::string webhook_request(uint64_t seq) {
    std::string topic;
    std::string body = synthetic_delivery(seq, g_customers, topic);
    return "POST /webhooks/recharge/" + topic +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "X-Recharge-Hmac-Sha256: " + legacy_signature(kSecret, body) +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

void report(const char* name, const LoadResult& r) {
    std::printf("%-14s requests=%llu rps=%.0f non_2xx=%llu errors=%llu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", name,
                (unsigned long long)r.requests, r.rps(), (unsigned long long)r.non_2xx,
                (unsigned long long)r.errors, r.percentile(50), r.percentile(99), r.percentile(100));
}

// The requests of one timed phase, built and signed beforehand: `per_thread` for each client
// thread (the load generator numbers each thread's requests from 0), using both cores.
class PreparedRequests {
public:
    PreparedRequests(int client_threads, std::size_t per_thread, uint64_t first_thread_tag)
        : tag_(first_thread_tag), pools_(static_cast<std::size_t>(client_threads)) {
        std::vector<std::thread> builders;
        for (auto& pool : pools_) pool.resize(per_thread);
        for (unsigned b = 0; b < 2; ++b) {
            builders.emplace_back([this, b, per_thread] {
                for (std::size_t t = 0; t < pools_.size(); ++t)
                    for (std::size_t i = b; i < per_thread; i += 2) pools_[t][i] = build(static_cast<int>(t), i);
            });
        }
        for (auto& t : builders) t.join();
    }

    // The thread's seq-th request; beyond the prepared ones, built now (counted).
    std::string_view get(int thread, uint64_t seq) {
        const auto& pool = pools_[static_cast<std::size_t>(thread)];
        if (seq < pool.size()) return pool[seq];
        ++built_inline_;
        thread_local std::string inline_request;
        inline_request = build(thread, seq);
        return inline_request;
    }
    uint64_t built_inline() const { return built_inline_.load(); }

private:
    std::string build(int thread, uint64_t seq) const {
        return webhook_request((tag_ + static_cast<uint64_t>(thread)) << 40 | seq);
    }
    uint64_t tag_;
    std::vector<std::vector<std::string>> pools_;
    std::atomic<uint64_t> built_inline_{0};
};

}  // namespace

int main(int argc, char** argv) {
    std::string bin = arg(argc, argv, "bin", "build/release/churnwatch");
    double seconds = std::atof(arg(argc, argv, "seconds", "5").c_str());
    int connections = std::atoi(arg(argc, argv, "connections", "64").c_str());
    int client_threads = std::atoi(arg(argc, argv, "client-threads", "1").c_str());
    g_customers = std::max<uint64_t>(1, std::strtoull(arg(argc, argv, "customers", "100000").c_str(), nullptr, 10));
    std::string server_threads = arg(argc, argv, "server-threads", "1");

    std::string dir = std::filesystem::temp_directory_path().string() + "/churnwatch-bench-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    // --port N drives an already running server (started with this benchmark's secret),
    // e.g. to profile it; otherwise a fresh one is started on a temp database.
    int external_port = std::atoi(arg(argc, argv, "port", "0").c_str());
    Spawned server;
    if (external_port) server.port = external_port;
    else server = spawn_server(bin, dir + "/bench.db", {"--secret", kSecret, "--threads", server_threads});

    LoadOptions o;
    o.port = server.port;
    o.connections = connections;
    o.threads = client_threads;
    o.duration = std::chrono::milliseconds(static_cast<long>(seconds * 1000));

    // --only webhook skips the other phases (for profiling the webhook path alone).
    bool webhook_only = arg(argc, argv, "only", "") == "webhook";
    const std::string trivial_req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    LoadResult trivial;
    if (!webhook_only) trivial = run_load(o, [&](int, uint64_t) { return std::string_view(trivial_req); });
    report("trivial", trivial);

    // Each client thread numbers its own deliveries in a disjoint range: all distinct.
    double prepared_rps = std::atof(arg(argc, argv, "prepared-rps", "80000").c_str());
    auto per_thread = [&](double rps) {
        return static_cast<std::size_t>(rps * seconds / client_threads) + 1000;
    };
    LoadResult webhook;
    {
        PreparedRequests full(client_threads, per_thread(prepared_rps), 0);
        webhook = run_load(o, [&](int t, uint64_t seq) { return full.get(t, seq); });
        report("webhook", webhook);
        if (full.built_inline()) std::printf("webhook: %llu requests built inline\n", (unsigned long long)full.built_inline());
    }

    if (webhook_only) {
        stop_server(server);
        std::filesystem::remove_all(dir);
        return 0;
    }
    LoadOptions half = o;
    half.target_rps = webhook.rps() / 2;
    LoadResult paced;
    {
        PreparedRequests prepared(client_threads, per_thread(half.target_rps * 1.1), 16);
        paced = run_load(half, [&](int t, uint64_t seq) { return prepared.get(t, seq); });
    }
    report("webhook_half", paced);

    long rss_kb = server.pid > 0 ? peak_rss_kb(server.pid) : 0;
    stop_server(server);
    // The server's last writes are still going to disk: let them finish, so the probe
    // measures the disk's commit rate undisturbed (the larger, stricter denominator).
    ::sync();
    double fsync = fsync_commits_per_second(dir, 2.0);
    std::filesystem::remove_all(dir);

    bool clean = webhook.non_2xx == 0 && webhook.errors == 0 && paced.non_2xx == 0 && trivial.non_2xx == 0;
    if (!clean) std::printf("WARNING: some requests failed; the figures below are not valid\n");
    std::printf("ingest webhook_rps=%.0f trivial_rps=%.0f ratio=%.2f p50_ms=%.2f p99_ms=%.2f rss_mb=%.0f "
                "fsync_txn_per_s=%.0f durable_speedup=%.1f\n",
                webhook.rps(), trivial.rps(), trivial.rps() > 0 ? webhook.rps() / trivial.rps() : 0,
                paced.percentile(50), paced.percentile(99), rss_kb / 1024.0, fsync,
                fsync > 0 ? webhook.rps() / fsync : 0);
    return clean ? 0 : 1;
}
