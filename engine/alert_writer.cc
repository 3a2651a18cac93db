// Alert materialisation and JSON rendering.
#include "engine/alert_writer.h"

#include <algorithm>
#include <cstdio>

#include "base/json_writer.h"

namespace tern::engine {

namespace {

// FNV-1a, 64 bit: stable across runs, platforms and versions.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void Add(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ull;
    }
  }
  void Add(std::string_view s) {
    uint64_t n = s.size();
    Add(&n, sizeof n);
    Add(s.data(), s.size());
  }
  template <typename T>
  void AddPod(T v) {
    Add(&v, sizeof v);
  }
};

}  // namespace

void AppendValueJson(const nfa::Value& v, std::string& out) {
  switch (v.kind) {
    case nfa::ValueKind::kMissing:
    case nfa::ValueKind::kNull: out += "null"; break;
    case nfa::ValueKind::kBool: out += v.b ? "true" : "false"; break;
    case nfa::ValueKind::kInt: json::AppendInt(out, v.i); break;
    case nfa::ValueKind::kDouble: json::AppendDouble(out, v.d); break;
    case nfa::ValueKind::kString: json::AppendString(out, v.as_string()); break;
    case nfa::ValueKind::kJson: out.append(v.str, v.len); break;
    case nfa::ValueKind::kEvent: out += v.event->payload; break;
    case nfa::ValueKind::kEventList:
      out += "[";
      for (uint32_t k = 0; k < v.len; ++k) {
        if (k > 0) out += ",";
        out += v.events[k]->payload;
      }
      out += "]";
      break;
    case nfa::ValueKind::kValueList:
      out += "[";
      for (uint32_t k = 0; k < v.len; ++k) {
        if (k > 0) out += ",";
        AppendValueJson(v.values[k], out);
      }
      out += "]";
      break;
  }
}

void AlertWriter::Write(const nfa::Program& program, const nfa::SharedBuffer& buffer, nfa::Evaluator& evaluator,
                        std::string_view key_bytes, std::string_view key_json, const nfa::Output& output,
                        Alert& alert) {
  bindings_.clear();
  for (nfa::NodeId n = output.node; n != nfa::kNoNode; n = buffer.node(n).parent) {
    const nfa::Node& node = buffer.node(n);
    bindings_.push_back({node.stage, node.event});
  }
  std::reverse(bindings_.begin(), bindings_.end());

  bool timeout = output.kind == nfa::OutputKind::kTimeout;
  alert.start = bindings_.empty() ? output.start.ts : bindings_.front().event->ts();
  alert.end = timeout ? output.end : (bindings_.empty() ? output.end : bindings_.back().event->ts());
  alert.key_json.assign(key_json);
  alert.bound.clear();
  for (const Binding& b : bindings_) alert.bound.push_back({b.event->partition, b.event->position, b.event->offset});

  Fnv id;
  id.Add(program.name);
  id.Add(key_bytes);
  id.AddPod<uint8_t>(timeout ? 1 : 0);
  for (const Binding& b : bindings_) {
    id.AddPod<uint16_t>(b.stage);
    id.AddPod<uint64_t>(b.event->position);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id.h));
  alert.id = hex;

  std::string& out = alert.json;
  out.clear();
  out += "{\"id\":\"";
  out += hex;
  out += "\",\"pattern\":";
  json::AppendString(out, program.name);
  out += timeout ? ",\"kind\":\"timeout\",\"key\":" : ",\"kind\":\"match\",\"key\":";
  out += key_json;
  out += ",\"start\":";
  json::AppendInt(out, alert.start);
  out += ",\"end\":";
  json::AppendInt(out, alert.end);
  out += ",\"fields\":{";
  const auto& fields = timeout ? program.timeout_emit : program.emit;
  if (!fields.empty()) {
    nfa::EvalContext ctx;
    ctx.program = &program;
    ctx.buffer = &buffer;
    ctx.node = output.node;
    ctx.event = bindings_.empty() ? nullptr : bindings_.back().event;
    for (size_t f = 0; f < fields.size(); ++f) {
      if (f > 0) out += ",";
      json::AppendString(out, fields[f].name);
      out += ":";
      AppendValueJson(evaluator.Evaluate(ctx, fields[f].expr), out);
    }
  }
  out += "},\"events\":{";
  bool first_stage = true;
  for (uint16_t s = 0; s < program.stages.size(); ++s) {
    bool any = false;
    for (const Binding& b : bindings_) {
      if (b.stage != s) continue;
      if (!any) {
        if (!first_stage) out += ",";
        first_stage = false;
        json::AppendString(out, program.stages[s].name);
        out += ":[";
      } else {
        out += ",";
      }
      any = true;
      out += b.event->payload;
    }
    if (any) out += "]";
  }
  out += "}}";
}

}  // namespace tern::engine
