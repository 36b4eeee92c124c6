// A small closed-loop HTTP/1.1 load generator for benchmarks: C connections kept alive,
// spread over T threads (epoll, one per thread), each connection sending its next request as
// soon as the answer to the previous one arrives. Requests come from a callback (so every
// webhook can be distinct and signed), and every latency is recorded.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace churnwatch::bench {

struct LoadOptions {
    int port = 0;
    int connections = 64;
    int threads = 1;
    std::chrono::milliseconds duration{5000};
    double target_rps = 0;  // 0: as fast as possible; else paced (open-loop-ish) across connections
};

struct LoadResult {
    uint64_t requests = 0;
    uint64_t non_2xx = 0;
    uint64_t errors = 0;  // connection failures / malformed answers
    double seconds = 0;
    std::vector<double> latencies_ms;  // one per completed request
    double rps() const { return seconds > 0 ? requests / seconds : 0; }
    double percentile(double p) const;  // p in [0, 100]
};

// make_request(thread, sequence) returns a complete raw HTTP/1.1 request. The view must stay
// valid until the same thread's next call (it is sent before that).
using RequestFactory = std::function<std::string_view(int thread, uint64_t seq)>;

LoadResult run_load(const LoadOptions& options, const RequestFactory& make_request);

}  // namespace churnwatch::bench
