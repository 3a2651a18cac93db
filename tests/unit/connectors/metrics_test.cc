// Tests of the metrics registry: exact Prometheus text for a small registry, histogram
// buckets, labelled series, and updates racing a render.
#include "connectors/metrics.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace tern::connectors {
namespace {

TEST_CASE("a small registry renders as Prometheus text 0.0.4") {
  MetricsRegistry r;
  Counter& in = r.AddCounter("tern_events_in_total", "Events read from the input topics.");
  Gauge& keys = r.AddGauge("tern_live_keys", "Keys with state.");
  GaugeFamily& lag = r.AddGaugeFamily("tern_consumer_lag", "Messages behind the partition end.",
                                      {"topic", "partition"});
  CounterFamily& by = r.AddCounterFamily("tern_alerts_out_total", "Alerts written,\nper pattern.",
                                         {"pattern"});
  Histogram& latency =
      r.AddHistogram("tern_latency_seconds", "End-to-end latency.", {0.001, 0.01, 0.1});
  in.Add();
  in.Add(41);
  keys.Set(7);
  keys.Add(-2);
  lag.WithLabels({"payments", "1"}).Set(12);
  lag.WithLabels({"payments", "0"}).Set(0.5);
  by.WithLabels({"card \"testing\"\\x"}).Add(3);
  latency.Observe(0.0005);
  latency.Observe(0.001);
  latency.Observe(0.05);
  latency.Observe(3);
  CHECK(r.Render() ==
        "# HELP tern_events_in_total Events read from the input topics.\n"
        "# TYPE tern_events_in_total counter\n"
        "tern_events_in_total 42\n"
        "# HELP tern_live_keys Keys with state.\n"
        "# TYPE tern_live_keys gauge\n"
        "tern_live_keys 5\n"
        "# HELP tern_consumer_lag Messages behind the partition end.\n"
        "# TYPE tern_consumer_lag gauge\n"
        "tern_consumer_lag{topic=\"payments\",partition=\"0\"} 0.5\n"
        "tern_consumer_lag{topic=\"payments\",partition=\"1\"} 12\n"
        "# HELP tern_alerts_out_total Alerts written,\\nper pattern.\n"
        "# TYPE tern_alerts_out_total counter\n"
        "tern_alerts_out_total{pattern=\"card \\\"testing\\\"\\\\x\"} 3\n"
        "# HELP tern_latency_seconds End-to-end latency.\n"
        "# TYPE tern_latency_seconds histogram\n"
        "tern_latency_seconds_bucket{le=\"0.001\"} 2\n"
        "tern_latency_seconds_bucket{le=\"0.01\"} 2\n"
        "tern_latency_seconds_bucket{le=\"0.1\"} 3\n"
        "tern_latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "tern_latency_seconds_sum 3.0515\n"
        "tern_latency_seconds_count 4\n");

  lag.Remove({"payments", "1"});
  std::string after = r.Render();
  CHECK(after.find("partition=\"1\"") == std::string::npos);
  CHECK(after.find("partition=\"0\"") != std::string::npos);
}

TEST_CASE("a series made once is the same series") {
  MetricsRegistry r;
  CounterFamily& f = r.AddCounterFamily("x_total", "x", {"a"});
  Counter& one = f.WithLabels({"1"});
  CHECK(&f.WithLabels({"1"}) == &one);
  CHECK(&f.WithLabels({"2"}) != &one);
}

TEST_CASE("histogram buckets are inclusive upper bounds") {
  Histogram h({1, 2, 4});
  for (double v : {0.0, 1.0, 1.0000001, 2.0, 3.9, 4.0, 4.1, 1e9}) h.Observe(v);
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  Histogram::Snapshot s = h.Read();
  CHECK(s.cumulative == std::vector<uint64_t>{2, 4, 6, 9});
  CHECK(std::isnan(s.sum));
}

TEST_CASE("the latency buckets run from 0.1 ms to 10 s and render plainly") {
  std::vector<double> b = LatencyBuckets();
  CHECK(b.front() == 0.0001);
  CHECK(b.back() == 10);
  MetricsRegistry r;
  r.AddHistogram("l_seconds", "l");
  std::string text = r.Render();
  CHECK(text.find("l_seconds_bucket{le=\"0.0001\"} 0\n") != std::string::npos);
  CHECK(text.find("l_seconds_bucket{le=\"0.00025\"} 0\n") != std::string::npos);
  CHECK(text.find("l_seconds_bucket{le=\"2.5\"} 0\n") != std::string::npos);
  CHECK(text.find("l_seconds_bucket{le=\"10\"} 0\n") != std::string::npos);
  CHECK(text.find("l_seconds_sum 0\nl_seconds_count 0\n") != std::string::npos);
}

TEST_CASE("gauges render infinities and NaN in Prometheus spelling") {
  MetricsRegistry r;
  r.AddGauge("a", "a").Set(std::numeric_limits<double>::infinity());
  r.AddGauge("b", "b").Set(-std::numeric_limits<double>::infinity());
  r.AddGauge("c", "c").Set(std::numeric_limits<double>::quiet_NaN());
  r.AddGauge("d", "d").Set(-3);
  std::string text = r.Render();
  CHECK(text.find("\na +Inf\n") != std::string::npos);
  CHECK(text.find("\nb -Inf\n") != std::string::npos);
  CHECK(text.find("\nc NaN\n") != std::string::npos);
  CHECK(text.find("\nd -3\n") != std::string::npos);
}

TEST_CASE("updates from one thread while another renders lose nothing") {
  MetricsRegistry r;
  Counter& c = r.AddCounter("c_total", "c");
  Histogram& h = r.AddHistogram("h_seconds", "h");
  GaugeFamily& g = r.AddGaugeFamily("g", "g", {"partition"});
  std::thread writer([&] {
    for (int i = 0; i < 20000; ++i) {
      c.Add();
      h.Observe(0.002);
      g.WithLabels({std::to_string(i % 4)}).Set(i);
    }
  });
  for (int i = 0; i < 50; ++i) CHECK(!r.Render().empty());
  writer.join();
  CHECK(c.value() == 20000);
  CHECK(h.Read().cumulative.back() == 20000);
  CHECK(r.Render().find("c_total 20000\n") != std::string::npos);
}

}  // namespace
}  // namespace tern::connectors
