// Prometheus metrics of the daemon: counters, gauges, labelled series and a fixed-bucket
// histogram whose updates are relaxed atomics (no lock, no allocation once a series
// exists), rendered as text exposition format 0.0.4 for `GET /metrics`.
// Tested by tests/unit/connectors/metrics_test.cc.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tern::connectors {

// A monotonic count. Made by a MetricsRegistry, which owns it for its lifetime.
// Thread: any; meant for one writer (the engine thread) and readers on the HTTP thread.
// Locks: none.
class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (live keys, consumer lag). Integers up to 2^53 are exact.
// Thread: any; one writer expected (Add is a compare-exchange loop). Locks: none.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into fixed buckets (upper bounds, inclusive, e.g. seconds).
// Thread: any; one writer expected. Locks: none. A render running next to Observe() may
// see an observation in _count but not yet in _sum; Prometheus tolerates that.
class Histogram {
 public:
  // `bounds` strictly increasing and finite; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, observations <= it; then +Inf
    double sum = 0;
  };
  Snapshot Read() const;
  std::span<const double> bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1; last is +Inf
  std::atomic<double> sum_{0};
};

// 0.1 ms to 10 s, for end-to-end latency in seconds.
std::vector<double> LatencyBuckets();

// Series of one metric told apart by label values, e.g. consumer lag per
// {topic, partition}. WithLabels() creates a series once (lock, allocation); keep the
// returned reference and update it without either.
// Thread: any. Locks: mu_ guards the series map, never the values.
template <typename Metric>
class Family {
 public:
  explicit Family(std::vector<std::string> label_names) : label_names_(std::move(label_names)) {}

  // The series with these label values (one per label name, in order); made if new.
  // The reference stays valid until Remove() of the same values.
  Metric& WithLabels(std::initializer_list<std::string_view> values);
  // Drops a series (a revoked partition). Whoever holds a reference to it must drop it first.
  void Remove(std::initializer_list<std::string_view> values);

  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls f(label_values, metric) for every series, in label order, under the lock.
  template <typename F>
  void ForEach(F&& f) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [values, metric] : series_) f(values, *metric);
  }

 private:
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;  // label values -> series
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;

// All metrics of one process, in registration order. Created by the daemon at start-up,
// outlives the MetricsServer that renders it. Registering is set-up work; a bad or
// repeated name is a programmer error and aborts.
// Thread: any. Locks: mu_ guards the list of metrics, never the values.
class MetricsRegistry {
 public:
  Counter& AddCounter(std::string name, std::string help);
  Gauge& AddGauge(std::string name, std::string help);
  Histogram& AddHistogram(std::string name, std::string help,
                          std::vector<double> bounds = LatencyBuckets());
  CounterFamily& AddCounterFamily(std::string name, std::string help,
                                  std::vector<std::string> label_names);
  GaugeFamily& AddGaugeFamily(std::string name, std::string help,
                              std::vector<std::string> label_names);

  // Text exposition format 0.0.4: # HELP, # TYPE, then the samples of each metric.
  std::string Render() const;

 private:
  using Metric = std::variant<std::unique_ptr<Counter>, std::unique_ptr<Gauge>,
                              std::unique_ptr<Histogram>, std::unique_ptr<CounterFamily>,
                              std::unique_ptr<GaugeFamily>>;
  struct Entry {
    std::string name;  // [a-zA-Z_:][a-zA-Z0-9_:]*, unique
    std::string help;  // one line
    Metric metric;
  };
  void Register(Entry entry);

  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

}  // namespace tern::connectors
