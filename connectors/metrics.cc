// The metrics registry and its Prometheus text rendering (exposition format 0.0.4:
// https://prometheus.io/docs/instrumenting/exposition_formats/).
// Tested by tests/unit/connectors/metrics_test.cc.
#include "connectors/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tern::connectors {

namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "tern: metrics: %s\n", why.c_str());
  std::abort();
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Prometheus floats: integers without a fraction, others shortest round-trip, and the
// spellings +Inf, -Inf, NaN.
void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    out += std::to_string(static_cast<int64_t>(v));
  } else {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
    out.append(buf, r.ptr);
  }
}

void AppendHelp(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values) {
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    AppendLabelValue(out, values[i]);
    out += '"';
  }
  out += '}';
}

void AppendHeader(std::string& out, const std::string& name, const std::string& help,
                  std::string_view type) {
  out += "# HELP " + name + " ";
  AppendHelp(out, help);
  out += "\n# TYPE " + name + " ";
  out += type;
  out += '\n';
}

std::vector<std::string> Key(std::initializer_list<std::string_view> values) {
  return std::vector<std::string>(values.begin(), values.end());
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      Die("histogram bounds must be finite and strictly increasing");
    }
  }
}

void Histogram::Observe(double v) {
  // First bound >= v: Prometheus buckets are `le` (less or equal). NaN lands in +Inf.
  size_t i = std::isnan(v) ? bounds_.size()
                           : static_cast<size_t>(
                                 std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                 bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(std::initializer_list<std::string_view> values) {
  if (values.size() != label_names_.size()) Die("wrong number of label values");
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Metric>& slot = series_[Key(values)];
  if (!slot) slot = std::make_unique<Metric>();
  return *slot;
}

template <typename Metric>
void Family<Metric>::Remove(std::initializer_list<std::string_view> values) {
  std::lock_guard<std::mutex> lock(mu_);
  series_.erase(Key(values));
}

template class Family<Counter>;
template class Family<Gauge>;

void MetricsRegistry::Register(Entry entry) {
  if (!ValidName(entry.name)) Die("invalid metric name '" + entry.name + "'");
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    if (e.name == entry.name) Die("metric '" + entry.name + "' registered twice");
  }
  entries_.push_back(std::move(entry));
}

Counter& MetricsRegistry::AddCounter(std::string name, std::string help) {
  auto m = std::make_unique<Counter>();
  Counter& ref = *m;
  Register({std::move(name), std::move(help), std::move(m)});
  return ref;
}

Gauge& MetricsRegistry::AddGauge(std::string name, std::string help) {
  auto m = std::make_unique<Gauge>();
  Gauge& ref = *m;
  Register({std::move(name), std::move(help), std::move(m)});
  return ref;
}

Histogram& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                         std::vector<double> bounds) {
  auto m = std::make_unique<Histogram>(std::move(bounds));
  Histogram& ref = *m;
  Register({std::move(name), std::move(help), std::move(m)});
  return ref;
}

CounterFamily& MetricsRegistry::AddCounterFamily(std::string name, std::string help,
                                                 std::vector<std::string> label_names) {
  for (const std::string& l : label_names) {
    if (!ValidName(l) || l.find(':') != std::string::npos) Die("invalid label name '" + l + "'");
  }
  auto m = std::make_unique<CounterFamily>(std::move(label_names));
  CounterFamily& ref = *m;
  Register({std::move(name), std::move(help), std::move(m)});
  return ref;
}

GaugeFamily& MetricsRegistry::AddGaugeFamily(std::string name, std::string help,
                                             std::vector<std::string> label_names) {
  for (const std::string& l : label_names) {
    if (!ValidName(l) || l.find(':') != std::string::npos) Die("invalid label name '" + l + "'");
  }
  auto m = std::make_unique<GaugeFamily>(std::move(label_names));
  GaugeFamily& ref = *m;
  Register({std::move(name), std::move(help), std::move(m)});
  return ref;
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    const std::string& name = e.name;
    if (const auto* c = std::get_if<std::unique_ptr<Counter>>(&e.metric)) {
      AppendHeader(out, name, e.help, "counter");
      out += name + " " + std::to_string((*c)->value()) + "\n";
    } else if (const auto* g = std::get_if<std::unique_ptr<Gauge>>(&e.metric)) {
      AppendHeader(out, name, e.help, "gauge");
      out += name + " ";
      AppendValue(out, (*g)->value());
      out += '\n';
    } else if (const auto* h = std::get_if<std::unique_ptr<Histogram>>(&e.metric)) {
      AppendHeader(out, name, e.help, "histogram");
      Histogram::Snapshot s = (*h)->Read();
      std::span<const double> bounds = (*h)->bounds();
      for (size_t i = 0; i <= bounds.size(); ++i) {
        out += name + "_bucket{le=\"";
        if (i < bounds.size()) {
          AppendValue(out, bounds[i]);
        } else {
          out += "+Inf";
        }
        out += "\"} " + std::to_string(s.cumulative[i]) + "\n";
      }
      out += name + "_sum ";
      AppendValue(out, s.sum);
      out += "\n" + name + "_count " + std::to_string(s.cumulative.back()) + "\n";
    } else if (const auto* cf = std::get_if<std::unique_ptr<CounterFamily>>(&e.metric)) {
      AppendHeader(out, name, e.help, "counter");
      (*cf)->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
        out += name;
        AppendLabels(out, (*cf)->label_names(), values);
        out += " " + std::to_string(c.value()) + "\n";
      });
    } else if (const auto* gf = std::get_if<std::unique_ptr<GaugeFamily>>(&e.metric)) {
      AppendHeader(out, name, e.help, "gauge");
      (*gf)->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
        out += name;
        AppendLabels(out, (*gf)->label_names(), values);
        out += " ";
        AppendValue(out, g.value());
        out += "\n";
      });
    }
  }
  return out;
}

}  // namespace tern::connectors
