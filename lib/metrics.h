// Counters, gauges and histograms rendered in the Prometheus text exposition format.
// Thread-safe; cheap enough for the request path (one uncontended mutex per update).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace churnwatch {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
public:
    // Declares a family; its HELP and TYPE lines are rendered even before a sample exists.
    void describe_counter(const std::string& name, const std::string& help);
    void describe_gauge(const std::string& name, const std::string& help);
    void describe_histogram(const std::string& name, const std::string& help,
                            std::vector<double> upper_bounds);

    void inc(const std::string& name, const Labels& labels = {}, double by = 1);
    void set(const std::string& name, const Labels& labels, double value);
    // A gauge computed at scrape time (e.g. the writer's queue depth).
    void gauge_fn(const std::string& name, std::function<double()> fn);
    void observe(const std::string& name, double value, const Labels& labels = {});

    // Current value of a counter/gauge sample (0 if absent) — for tests and reports.
    double value(const std::string& name, const Labels& labels = {}) const;

    std::string render() const;

private:
    struct Histogram {
        std::vector<double> bounds;
        std::vector<uint64_t> counts;  // per bucket, not cumulative; last = +Inf
        double sum = 0;
        uint64_t count = 0;
    };
    struct Family {
        std::string type;  // counter | gauge | histogram
        std::string help;
        std::vector<double> bounds;
        std::map<std::string, double> samples;          // rendered labels → value
        std::map<std::string, Histogram> histograms;    // rendered labels → histogram
        std::function<double()> fn;
    };
    Family& family(const std::string& name, const char* type);

    mutable std::mutex mu_;
    std::map<std::string, Family> families_;
};

// {a="x",b="y"} with Prometheus escaping; "" for no labels.
std::string render_labels(const Labels& labels);

}  // namespace churnwatch
