#include "metrics.h"

#include <cmath>
#include <cstdio>

namespace churnwatch {

namespace {

void append_escaped_label_value(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
}

// The rendered labels of the sample being updated: one buffer per thread, reused, so an
// update allocates nothing once its sample exists.
std::string& labels_key(Labels labels) {
    thread_local std::string key;
    key.clear();
    render_labels(labels, key);
    return key;
}

// map[key], allocating the key only for a new entry.
template <typename Map>
typename Map::mapped_type& entry(Map& map, std::string_view key) {
    auto it = map.find(key);
    if (it == map.end()) it = map.emplace(std::string(key), typename Map::mapped_type{}).first;
    return it->second;
}

std::string format_number(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        std::snprintf(buf, sizeof buf, "%.9g", v);
    }
    return buf;
}

std::string with_le(const std::string& labels, const std::string& le) {
    std::string le_pair = "le=\"" + le + "\"";
    if (labels.empty()) return "{" + le_pair + "}";
    return labels.substr(0, labels.size() - 1) + "," + le_pair + "}";
}

}  // namespace

void render_labels(Labels labels, std::string& out) {
    if (labels.size() == 0) return;
    out += '{';
    bool first = true;
    for (const Label& l : labels) {
        if (!first) out += ',';
        first = false;
        out += l.name;
        out += "=\"";
        append_escaped_label_value(out, l.value);
        out += '"';
    }
    out += '}';
}

Metrics::Family& Metrics::family(std::string_view name, const char* type) {
    auto& f = entry(families_, name);
    if (f.type.empty()) f.type = type;
    return f;
}

void Metrics::describe_counter(std::string_view name, const std::string& help) {
    std::lock_guard lock(mu_);
    family(name, "counter").help = help;
}

void Metrics::describe_gauge(std::string_view name, const std::string& help) {
    std::lock_guard lock(mu_);
    family(name, "gauge").help = help;
}

void Metrics::describe_histogram(std::string_view name, const std::string& help,
                                 std::vector<double> upper_bounds) {
    std::lock_guard lock(mu_);
    auto& f = family(name, "histogram");
    f.help = help;
    f.bounds = std::move(upper_bounds);
}

void Metrics::inc(std::string_view name, Labels labels, double by) {
    const std::string& key = labels_key(labels);
    std::lock_guard lock(mu_);
    entry(family(name, "counter").samples, key) += by;
}

void Metrics::set(std::string_view name, Labels labels, double value) {
    const std::string& key = labels_key(labels);
    std::lock_guard lock(mu_);
    entry(family(name, "gauge").samples, key) = value;
}

void Metrics::gauge_fn(std::string_view name, std::function<double()> fn) {
    std::lock_guard lock(mu_);
    family(name, "gauge").fn = std::move(fn);
}

void Metrics::observe(std::string_view name, double value, Labels labels) {
    const std::string& key = labels_key(labels);
    std::lock_guard lock(mu_);
    auto& f = family(name, "histogram");
    auto& h = entry(f.histograms, key);
    if (h.counts.empty()) {
        h.bounds = f.bounds;
        h.counts.assign(h.bounds.size() + 1, 0);
    }
    std::size_t i = 0;
    while (i < h.bounds.size() && value > h.bounds[i]) ++i;
    ++h.counts[i];
    h.sum += value;
    ++h.count;
}

double Metrics::value(std::string_view name, Labels labels) const {
    const std::string& key = labels_key(labels);
    std::lock_guard lock(mu_);
    auto f = families_.find(name);
    if (f == families_.end()) return 0;
    if (f->second.fn) return f->second.fn();
    auto s = f->second.samples.find(key);
    return s == f->second.samples.end() ? 0 : s->second;
}

std::string Metrics::render() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& [name, f] : families_) {
        if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
        out += "# TYPE " + name + " " + f.type + "\n";
        if (f.fn) out += name + " " + format_number(f.fn()) + "\n";
        for (const auto& [labels, v] : f.samples) out += name + labels + " " + format_number(v) + "\n";
        for (const auto& [labels, h] : f.histograms) {
            uint64_t cumulative = 0;
            for (std::size_t i = 0; i < h.bounds.size(); ++i) {
                cumulative += h.counts[i];
                out += name + "_bucket" + with_le(labels, format_number(h.bounds[i])) + " " +
                       std::to_string(cumulative) + "\n";
            }
            out += name + "_bucket" + with_le(labels, "+Inf") + " " + std::to_string(h.count) + "\n";
            out += name + "_sum" + labels + " " + format_number(h.sum) + "\n";
            out += name + "_count" + labels + " " + std::to_string(h.count) + "\n";
        }
    }
    return out;
}

}  // namespace churnwatch
