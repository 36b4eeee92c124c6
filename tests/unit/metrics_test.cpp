// Metrics: samples keyed by their rendered labels (one reused buffer per thread), and the
// Prometheus text they render to.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "metrics.h"

using namespace churnwatch;

TEST(Metrics, LabelSetsAreKeptApartAndEscaped) {
    Metrics m;
    m.describe_counter("a_total", "Things.");
    m.inc("a_total", {{"x", "1"}});
    m.inc("a_total", {{"x", "22"}});
    m.inc("a_total", {{"x", "1"}}, 2);
    m.inc("a_total", {{"x", "q\"\\\n"}, {"y", ""}});
    EXPECT_EQ(m.value("a_total", {{"x", "1"}}), 3);
    EXPECT_EQ(m.value("a_total", {{"x", "22"}}), 1);
    EXPECT_EQ(m.value("a_total", {{"x", "2"}}), 0);
    EXPECT_EQ(m.value("a_total"), 0);
    EXPECT_EQ(m.render(),
              "# HELP a_total Things.\n# TYPE a_total counter\n"
              "a_total{x=\"1\"} 3\na_total{x=\"22\"} 1\na_total{x=\"q\\\"\\\\\\n\",y=\"\"} 1\n");
}

TEST(Metrics, GaugesAndHistograms) {
    Metrics m;
    m.describe_histogram("h_seconds", "Durations.", {0.1, 1});
    m.observe("h_seconds", 0.05);
    m.observe("h_seconds", 0.5);
    m.observe("h_seconds", 5);
    m.observe("h_seconds", 0.5, {{"k", "v"}});
    m.set("g", {{"version", "1.0"}}, 7);
    m.set("g", {{"version", "1.0"}}, 8);
    EXPECT_EQ(m.value("g", {{"version", "1.0"}}), 8);
    std::string text = m.render();
    EXPECT_NE(text.find("h_seconds_bucket{le=\"0.1\"} 1\nh_seconds_bucket{le=\"1\"} 2\n"
                        "h_seconds_bucket{le=\"+Inf\"} 3\nh_seconds_sum 5.55\nh_seconds_count 3\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("h_seconds_bucket{k=\"v\",le=\"1\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("g{version=\"1.0\"} 8\n"), std::string::npos) << text;
}

TEST(Metrics, ThreadsUpdatingDifferentLabelsDoNotMixThem) {
    Metrics m;
    auto work = [&m](const char* label) {
        for (int i = 0; i < 20000; ++i) m.inc("t_total", {{"thread", label}});
    };
    std::thread a(work, "a"), b(work, "bb");
    a.join();
    b.join();
    EXPECT_EQ(m.value("t_total", {{"thread", "a"}}), 20000);
    EXPECT_EQ(m.value("t_total", {{"thread", "bb"}}), 20000);
}
