// Text listing (`tern explain`), identities and fingerprint of a compiled program.
// The Graphviz picture is nfa/program_dot.cc.
#include "nfa/program.h"

#include <string>

namespace tern::nfa {

const char* ActionName(Action a) {
  switch (a) {
    case Action::kTake: return "take";
    case Action::kIgnore: return "ignore";
    case Action::kProceed: return "proceed";
  }
  return "?";
}

namespace {

const char* TypeName(StateType t) {
  switch (t) {
    case StateType::kNormal: return "normal";
    case StateType::kFinal: return "final";
    case StateType::kStop: return "stop";
    case StateType::kPending: return "pending";
  }
  return "?";
}

}  // namespace

const char* SkipName(SkipKind k) {
  switch (k) {
    case SkipKind::kNoSkip: return "no_skip";
    case SkipKind::kToNext: return "to_next";
    case SkipKind::kPastLastEvent: return "past_last_event";
    case SkipKind::kToFirst: return "to_first";
    case SkipKind::kToLast: return "to_last";
  }
  return "?";
}

namespace {

// Conditions print as the expressions' indexes combined: e1, !e2, (e1 & !e3), true.
std::string CondText(const Program& p, CondId c) {
  std::vector<std::string> st;
  const CondRange r = p.conds[c];
  for (uint32_t pc = r.begin; pc < r.end; ++pc) {
    const CondInstr& ci = p.cond_code[pc];
    switch (ci.op) {
      case CondOp::kTrue: st.push_back("true"); break;
      case CondOp::kExpr: st.push_back("e" + std::to_string(ci.arg)); break;
      case CondOp::kNot: st.back() = "!" + st.back(); break;
      case CondOp::kAnd:
      case CondOp::kOr: {
        std::string b = st.back();
        st.pop_back();
        st.back() = "(" + st.back() + (ci.op == CondOp::kAnd ? " & " : " | ") + b + ")";
        break;
      }
    }
  }
  return st.empty() ? "true" : st.back();
}

}  // namespace

namespace {

void AppendBytes(std::string& out, const void* data, size_t n) {
  out.append(static_cast<const char*>(data), n);
}

void AppendU32(std::string& out, uint32_t v) { AppendBytes(out, &v, sizeof v); }

// A constant, kind first; lists element by element.
void AppendConst(std::string& out, const Value& v) {
  out.push_back(static_cast<char>(v.kind));
  switch (v.kind) {
    case ValueKind::kBool: out.push_back(v.b ? 1 : 0); break;
    case ValueKind::kInt: AppendBytes(out, &v.i, sizeof v.i); break;
    case ValueKind::kDouble: AppendBytes(out, &v.d, sizeof v.d); break;
    case ValueKind::kString:
    case ValueKind::kJson:
      AppendU32(out, v.len);
      AppendBytes(out, v.str, v.len);
      break;
    case ValueKind::kValueList:
      AppendU32(out, v.len);
      for (uint32_t k = 0; k < v.len; ++k) AppendConst(out, v.values[k]);
      break;
    default: break;
  }
}

}  // namespace

std::string ExprIdentity(const Program& p, ExprId expr) {
  const ExprInfo& info = p.exprs[expr];
  if (info.uses_stages) return {};
  std::string out;
  for (uint32_t pc = info.begin; pc < info.end; ++pc) {
    const Instr& in = p.code[pc];
    out.push_back(static_cast<char>(in.op));
    switch (in.op) {
      case Op::kConst: AppendConst(out, p.consts[in.arg]); break;
      case Op::kMatches: {
        const std::string& source = p.regex_sources[in.arg];
        AppendU32(out, static_cast<uint32_t>(source.size()));
        out += source;
        break;
      }
      case Op::kJumpIfFalse:
      case Op::kJumpIfTrue: AppendU32(out, in.arg - info.begin); break;
      default: AppendU32(out, in.arg); break;
    }
  }
  return out;
}

namespace {

void AppendWalk(const Program& p, StateId s, size_t depth, std::string& out) {
  const State& st = p.states[s];
  out.push_back('{');
  // The compiler never builds PROCEED cycles; the depth bound only guards a broken
  // program (Nfa's walks give up on it the same way, so the identity need not be exact).
  if (depth > p.states.size()) {
    out.push_back('!');
    out.push_back('}');
    return;
  }
  for (uint32_t e = st.first_edge; e < st.first_edge + st.num_edges; ++e) {
    const Edge& edge = p.edges[e];
    out.push_back(static_cast<char>('a' + static_cast<int>(edge.action)));
    const CondRange r = p.conds[edge.cond];
    for (uint32_t pc = r.begin; pc < r.end; ++pc) {
      const CondInstr& ci = p.cond_code[pc];
      out.push_back(static_cast<char>('A' + static_cast<int>(ci.op)));
      if (ci.op != CondOp::kExpr) continue;
      std::string identity = ExprIdentity(p, ci.arg);
      AppendU32(out, static_cast<uint32_t>(identity.size()));
      out += identity;  // empty: reads the partial match, unknown to the start check
    }
    if (edge.action == Action::kProceed) AppendWalk(p, edge.target, depth + 1, out);
  }
  out.push_back('}');
}

}  // namespace

std::string StartIdentity(const Program& p) {
  std::string out;
  AppendWalk(p, p.start, 0, out);
  return out;
}

std::string Dump(const Program& p) {
  std::string out = "pattern " + p.name + "\n";
  out += "  key:";
  if (p.key_paths.empty()) out += " (global)";
  for (const auto& k : p.key_paths) out += " " + k;
  out += "\n  within: " + (p.within_ms > 0 ? std::to_string(p.within_ms) + "ms" : std::string("none"));
  out += "\n  skip: " + std::string(SkipName(p.skip));
  if (p.skip == SkipKind::kToFirst || p.skip == SkipKind::kToLast) out += "(" + p.stages[p.skip_stage].name + ")";
  out += "\n  expressions:";
  for (size_t e = 0; e < p.expr_text.size(); ++e) out += "\n    e" + std::to_string(e) + " = " + p.expr_text[e];
  out += "\n  states: " + std::to_string(p.states.size()) + ", edges: " + std::to_string(p.edges.size()) +
         ", expressions: " + std::to_string(p.exprs.size()) + "\n";
  for (StateId s = 0; s < p.states.size(); ++s) {
    const State& st = p.states[s];
    out += "  s" + std::to_string(s) + " " + p.state_names[s] + " [" + TypeName(st.type);
    if (s == p.start) out += ", start";
    if (st.window_ms > 0) out += ", window " + std::to_string(st.window_ms) + "ms";
    out += "]\n";
    for (uint32_t e = st.first_edge; e < st.first_edge + st.num_edges; ++e) {
      const Edge& edge = p.edges[e];
      out += "    " + std::string(ActionName(edge.action)) + " -> s" + std::to_string(edge.target) + " " +
             p.state_names[edge.target] + " if " + CondText(p, edge.cond) + "\n";
    }
  }
  return out;
}

std::string Fingerprint(const Program& p) {
  std::string out = Dump(p);
  auto fields = [&](const char* what, const std::vector<EmitField>& list) {
    out += what;
    for (const EmitField& f : list) out += " " + f.name + "=e" + std::to_string(f.expr);
    out += "\n";
  };
  if (p.has_emit) fields("emit:", p.emit);
  if (p.has_timeout) fields("on_timeout:", p.timeout_emit);
  out += "from:";
  for (const std::string& s : p.from) out += " " + s;
  out += "\nto: " + p.to + "\n";
  return out;
}

}  // namespace tern::nfa
