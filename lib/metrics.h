// Counters, gauges and histograms rendered in the Prometheus text exposition format.
// Thread-safe; cheap enough for the request path: one uncontended mutex per update, and no
// allocation once a sample exists (names and labels are looked up as views).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace churnwatch {

// A label as the caller has it: the views need only live for the call.
struct Label {
    std::string_view name;
    std::string_view value;
};
using Labels = std::initializer_list<Label>;

class Metrics {
public:
    // Declares a family; its HELP and TYPE lines are rendered even before a sample exists.
    void describe_counter(std::string_view name, const std::string& help);
    void describe_gauge(std::string_view name, const std::string& help);
    void describe_histogram(std::string_view name, const std::string& help,
                            std::vector<double> upper_bounds);

    void inc(std::string_view name, Labels labels = {}, double by = 1);
    void set(std::string_view name, Labels labels, double value);
    // A gauge computed at scrape time (e.g. the writer's queue depth).
    void gauge_fn(std::string_view name, std::function<double()> fn);
    void observe(std::string_view name, double value, Labels labels = {});

    // Current value of a counter/gauge sample (0 if absent) — for tests and reports.
    double value(std::string_view name, Labels labels = {}) const;

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
        std::map<std::string, double, std::less<>> samples;        // rendered labels → value
        std::map<std::string, Histogram, std::less<>> histograms;  // rendered labels → histogram
        std::function<double()> fn;
    };
    Family& family(std::string_view name, const char* type);

    mutable std::mutex mu_;
    std::map<std::string, Family, std::less<>> families_;
};

// {a="x",b="y"} with Prometheus escaping; "" for no labels. Appends to `out`.
void render_labels(Labels labels, std::string& out);

}  // namespace churnwatch
