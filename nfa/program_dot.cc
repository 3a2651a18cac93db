// The Graphviz picture of a compiled program (`tern explain --dot`), meant to be read
// on its own (it is what goes into code reviews and incident notes): edges labelled with
// their action and their condition as the author wrote it, states grouped in clusters by
// the stage (and group) they belong to, labelled with the stage as written, and the
// pattern's key, windows and skip strategy on top.
// Tested by tests/unit/nfa/program_dot_test.cc and tests/explain_dot_test.py.
#include <string>
#include <string_view>
#include <vector>

#include "nfa/program.h"

namespace tern::nfa {

namespace {

constexpr size_t kLineChars = 50;      // label lines are wrapped at blanks to this width
constexpr size_t kOwnLines = 3;        // lines for the edge's own condition, then cut with "…"
constexpr size_t kOtherLines = 2;      // lines for each condition borrowed from elsewhere
constexpr size_t kTooltipChars = 600;  // the full condition goes to the tooltip, up to this
constexpr size_t kTextChars = 2000;    // bound on the text built for one part of a condition

// The body of a DOT string: quotes and backslashes escaped (a backslash would otherwise
// start an escape such as \N or \l), control characters as blanks. UTF-8 passes as is.
std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// At most `limit` characters (code points) of `s`, cut at a blank where there is one in
// the second half, with "…" where it was cut.
std::string Shorten(std::string_view s, size_t limit) {
  size_t chars = 0;
  size_t bytes = 0;
  for (; bytes < s.size(); ++bytes) {
    if (Continuation(s[bytes])) continue;
    if (chars == limit) break;
    ++chars;
  }
  if (bytes >= s.size()) return std::string(s);
  size_t cut = s.rfind(' ', bytes);
  if (cut == std::string_view::npos || cut < bytes / 2) cut = bytes;
  return std::string(s.substr(0, cut)) + (s[cut] == ' ' ? " …" : "…");
}

size_t Chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += Continuation(c) ? 0 : 1;
  return n;
}

// `s` in lines of at most `width` characters, broken at blanks, at most `max_lines` of
// them: the last one ends with "…" when text was left out, a word longer than a line is
// cut. With `at_operators` a line ends before an `and` / `or` outside parentheses when
// one is in its second half. Continuation lines are indented by two blanks.
std::vector<std::string> Wrap(std::string_view s, size_t width, size_t max_lines, bool at_operators) {
  std::vector<std::string> words;
  for (size_t at = 0; at < s.size();) {
    size_t blank = s.find(' ', at);
    if (blank == std::string_view::npos) blank = s.size();
    if (blank > at) words.emplace_back(s.substr(at, blank - at));
    at = blank + 1;
  }
  std::vector<std::string> lines;
  std::vector<std::string> line;  // words of the line being filled
  std::vector<int> depth;         // parenthesis depth before each of them
  int open = 0;
  size_t chars = 0;
  auto flush = [&](size_t count) {
    std::string text = lines.empty() ? "" : "  ";
    for (size_t k = 0; k < count; ++k) text += (k ? " " : "") + line[k];
    lines.push_back(Shorten(text, width));
    line.erase(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(count));
    depth.erase(depth.begin(), depth.begin() + static_cast<std::ptrdiff_t>(count));
    chars = 2;
    for (size_t k = 0; k < line.size(); ++k) chars += (k ? 1 : 0) + Chars(line[k]);
  };
  bool left_out = false;
  for (size_t w = 0; w < words.size(); ++w) {
    const size_t add = (line.empty() ? 0 : 1) + Chars(words[w]);
    if (!line.empty() && chars + add > width) {
      size_t cut = line.size();
      size_t prefix = 0;
      for (size_t k = 0; k < line.size(); ++k) {
        const bool op = line[k] == "and" || line[k] == "or";
        if (at_operators && k > 0 && op && depth[k] == 0 && prefix >= width / 2) cut = k;
        prefix += (k ? 1 : 0) + Chars(line[k]);
      }
      flush(cut);
      if (lines.size() == max_lines) {
        left_out = true;
        break;
      }
    }
    line.push_back(words[w]);
    depth.push_back(open);
    chars += (line.size() > 1 ? 1 : 0) + Chars(words[w]);
    for (char c : words[w]) open += c == '(' ? 1 : c == ')' ? -1 : 0;
  }
  if (left_out) {
    std::string& last = lines.back();
    if (last.size() < 3 || last.compare(last.size() - 3, 3, "…") != 0) last += " …";
  } else if (!line.empty()) {
    flush(line.size());
  }
  return lines;
}

std::string Duration(int64_t ms) {
  struct Unit {
    int64_t ms;
    const char* name;
  };
  for (Unit u : {Unit{86400000, "d"}, Unit{3600000, "h"}, Unit{60000, "m"}, Unit{1000, "s"}}) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.name;
  }
  return std::to_string(ms) + "ms";
}

bool Equal(const std::vector<CondInstr>& code, const Program& p, CondRange r) {
  if (code.empty() || code.size() != r.end - r.begin) return false;
  for (size_t k = 0; k < code.size(); ++k) {
    const CondInstr& a = code[k];
    const CondInstr& b = p.cond_code[r.begin + k];
    if (a.op != b.op || a.arg != b.arg) return false;
  }
  return true;
}

// How tightly a piece of condition text binds, to know when it needs parentheses.
enum class Prec : uint8_t { kAtom, kNot, kAnd, kOr };

// What a part of a condition is to the reader.
enum class Role : uint8_t { kPlain, kWhere, kUntil };

// One node of an edge condition, with the text it reads as.
struct Node {
  CondOp op = CondOp::kTrue;
  int a = -1, b = -1;    // operands (earlier nodes)
  Role role = Role::kPlain;
  int32_t stage = -1;    // kWhere: whose `where`
  std::string text;
  Prec prec = Prec::kAtom;
};

std::string Paren(const Node& n) { return n.text.find(' ') == std::string::npos ? n.text : "(" + n.text + ")"; }
std::string ParenIfOr(const Node& n) { return n.prec == Prec::kOr ? "(" + n.text + ")" : n.text; }

void Bound(std::string& s) {
  if (s.size() > kTextChars) s = Shorten(s, kTextChars);
}

// The condition as a tree. The postfix code lists operands before their operator, so
// one forward pass builds every node's text from texts already built (no recursion).
// A subtree whose code is a stage's `where` or an `until` reads as its author's text.
std::vector<Node> Parse(const Program& p, CondId c) {
  const WrittenForm& w = p.written;
  std::vector<Node> nodes;
  std::vector<std::pair<int, uint32_t>> stack;  // node, first instruction of its code
  const CondRange r = p.conds[c];
  for (uint32_t pc = r.begin; pc < r.end; ++pc) {
    const CondInstr& ci = p.cond_code[pc];
    Node n;
    n.op = ci.op;
    uint32_t begin = pc;
    switch (ci.op) {
      case CondOp::kTrue: n.text = "true"; break;
      case CondOp::kExpr:
        n.text = ci.arg < w.expr_source.size() && !w.expr_source[ci.arg].empty() ? w.expr_source[ci.arg]
                 : ci.arg < p.expr_text.size()                                    ? p.expr_text[ci.arg]
                                                                                  : "e" + std::to_string(ci.arg);
        break;
      case CondOp::kNot:
        n.a = stack.back().first;
        begin = stack.back().second;
        stack.pop_back();
        n.text = "not " + Paren(nodes[static_cast<size_t>(n.a)]);
        n.prec = Prec::kNot;
        break;
      case CondOp::kAnd:
      case CondOp::kOr: {
        n.b = stack.back().first;
        stack.pop_back();
        n.a = stack.back().first;
        begin = stack.back().second;
        stack.pop_back();
        const Node& a = nodes[static_cast<size_t>(n.a)];
        const Node& b = nodes[static_cast<size_t>(n.b)];
        if (ci.op == CondOp::kOr) {
          n.text = a.text + " or " + b.text;
          n.prec = Prec::kOr;
        } else if (a.op == CondOp::kTrue || b.op == CondOp::kTrue) {
          n.text = (a.op == CondOp::kTrue ? b : a).text;  // Flink's `true and c` reads as c
          n.prec = (a.op == CondOp::kTrue ? b : a).prec;
        } else {
          n.text = ParenIfOr(a) + " and " + ParenIfOr(b);
          n.prec = Prec::kAnd;
        }
        break;
      }
    }
    const CondRange code{begin, pc + 1};
    for (size_t k = 0; k < w.stages.size() && n.role == Role::kPlain; ++k) {
      if (Equal(w.stages[k].where_code, p, code) && !w.stages[k].where.empty()) {
        n.role = Role::kWhere;
        n.stage = static_cast<int32_t>(k);
        n.text = w.stages[k].where;
      } else if (Equal(w.stages[k].until_code, p, code) && !w.stages[k].until.empty()) {
        n.role = Role::kUntil;
        n.text = w.stages[k].until;
      }
    }
    for (const WrittenGroup& g : w.groups) {
      if (n.role == Role::kPlain && Equal(g.until_code, p, code) && !g.until.empty()) {
        n.role = Role::kUntil;
        n.text = g.until;
      }
    }
    if (n.role != Role::kPlain) {
      n.prec = n.op == CondOp::kAnd ? Prec::kAnd : n.op == CondOp::kOr ? Prec::kOr : Prec::kAtom;
    }
    Bound(n.text);
    nodes.push_back(std::move(n));
    stack.emplace_back(static_cast<int>(nodes.size() - 1), begin);
  }
  return nodes;
}

// An edge condition for the reader: the conjuncts about the edge's own stage first
// ("amount < 2", "not (amount < 2)"), then the ones borrowed from elsewhere, each named
// ("not small: amount < 2" where a greedy stage keeps the next stage from taking its
// events, "not until: …").
struct Reading {
  std::vector<std::string> own;     // joined with " and "
  std::vector<std::string> others;  // one line each
  bool never = false;               // `not true`: the edge cannot fire
};

Reading Read(const Program& p, CondId c, int32_t own_stage) {
  std::vector<Node> nodes = Parse(p, c);
  Reading out;
  if (nodes.empty()) return out;
  const Node& root = nodes.back();
  if (root.op == CondOp::kNot && nodes[static_cast<size_t>(root.a)].op == CondOp::kTrue) {
    out.never = true;
    return out;
  }
  auto name = [&p](int32_t stage) {
    return static_cast<size_t>(stage) < p.stages.size() ? p.stages[static_cast<size_t>(stage)].name : "?";
  };
  std::vector<int> todo{static_cast<int>(nodes.size() - 1)};
  while (!todo.empty()) {
    const Node& n = nodes[static_cast<size_t>(todo.back())];
    todo.pop_back();
    if (n.op == CondOp::kAnd && n.role == Role::kPlain) {
      todo.push_back(n.b);
      todo.push_back(n.a);
      continue;
    }
    if (n.op == CondOp::kTrue) continue;
    const Node* inner = n.op == CondOp::kNot ? &nodes[static_cast<size_t>(n.a)] : nullptr;
    if (n.role == Role::kWhere && n.stage == own_stage) {
      out.own.push_back(ParenIfOr(n));
    } else if (inner != nullptr && inner->role == Role::kWhere && inner->stage == own_stage) {
      out.own.push_back("not " + Paren(*inner));
    } else if (n.role == Role::kWhere) {
      out.others.push_back(name(n.stage) + ": " + n.text);
    } else if (inner != nullptr && inner->role == Role::kWhere) {
      out.others.push_back("not " + name(inner->stage) + ": " + inner->text);
    } else if (n.role == Role::kUntil) {
      out.others.push_back("until: " + n.text);
    } else if (inner != nullptr && inner->role == Role::kUntil) {
      out.others.push_back("not until: " + inner->text);
    } else {
      out.own.push_back(ParenIfOr(n));
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& s : parts) out += (out.empty() ? "" : sep) + s;
  return out;
}

struct EdgeText {
  std::string label;    // escaped, lines separated by \n
  std::string tooltip;  // escaped
};

// `head` starts the first line ("take", or the declaration of a `not_*` stage).
EdgeText Describe(const Reading& r, const std::string& head, bool condition_below) {
  std::string first = Join(r.own, " and ");
  std::vector<std::string> rest = r.others;
  if (first.empty() && !rest.empty()) {
    first = rest.front();
    rest.erase(rest.begin());
  }
  std::string full = first;
  for (const std::string& s : rest) full += " and " + s;
  EdgeText t;
  if (first.empty()) {
    t.label = Escape(head) + "\\l";
    t.tooltip = Escape(head);
    return t;
  }
  std::vector<std::string> lines;
  if (condition_below) lines.push_back(head);
  for (std::string& line : Wrap(condition_below ? first : head + ": " + first, kLineChars, kOwnLines, true)) {
    lines.push_back(std::move(line));
  }
  for (const std::string& s : rest) {
    for (std::string& line : Wrap("and " + s, kLineChars, kOtherLines, false)) lines.push_back(std::move(line));
  }
  // Left-justified lines (\l), so that the indented continuation lines show.
  for (const std::string& line : lines) t.label += Escape(line) + "\\l";
  t.tooltip = Escape(Shorten(head + (condition_below ? " " : ": ") + full, kTooltipChars));
  return t;
}

std::string Header(const Program& p) {
  std::string out = p.name;
  std::string key = Join(p.key_paths, ", ");
  out += " — " + (key.empty() ? std::string("no key (one partition)") : "key " + key);
  if (p.within_ms > 0) out += " — within " + Duration(p.within_ms);
  if (p.written.gap_ms > 0) out += " — gap " + Duration(p.written.gap_ms);
  out += " — skip " + std::string(SkipName(p.skip));
  if ((p.skip == SkipKind::kToFirst || p.skip == SkipKind::kToLast) && p.skip_stage < p.stages.size()) {
    out += "(" + p.stages[p.skip_stage].name + ")";
  }
  if (!p.from.empty()) out += " — from " + Join(p.from, ", ");
  return out;
}

class Picture {
 public:
  explicit Picture(const Program& p) : p_(p) {}
  std::string Draw();

 private:
  bool Clustered(StateId s) const {
    const StateType t = p_.states[s].type;
    return !p_.written.stages.empty() && (t == StateType::kNormal || t == StateType::kPending);
  }
  int32_t GroupOfState(StateId s) const {
    return s < p_.written.states.size() ? p_.written.states[s].group : -1;
  }
  void DrawNode(StateId s);
  void Clusters();
  void Edges();

  const Program& p_;
  std::string out_;
};

void Picture::DrawNode(StateId s) {
  const State& st = p_.states[s];
  const std::string stage = st.stage < p_.stages.size() ? p_.stages[st.stage].name : p_.state_names[s];
  const std::string note = s < p_.written.states.size() ? p_.written.states[s].note : "";
  std::string label;
  std::string attrs;
  switch (st.type) {
    case StateType::kFinal:
      label = "match";
      attrs = "shape=doublecircle, style=filled, fillcolor=palegreen";
      break;
    case StateType::kStop:
      label = Escape(stage) + " seen:\\nno match";
      attrs = "shape=octagon, color=red3, fontcolor=red3";
      break;
    case StateType::kPending:
      label = "no " + Escape(stage) + " yet:\\nmatch when the window closes";
      attrs = "shape=box, style=\"rounded,dashed\", color=red3";
      break;
    case StateType::kNormal:
      if (GroupOfState(s) >= 0) {
        label = "next round";
        attrs = "shape=circle, fontsize=9";
      } else {
        label = Escape(p_.written.stages.empty() ? p_.state_names[s] : stage);
        if (!note.empty()) label += "\\n" + Escape(note);
        attrs = "shape=ellipse";
      }
      break;
  }
  if (s == p_.start) attrs += ", penwidth=2";
  std::string tooltip = "s" + std::to_string(s) + " " + p_.state_names[s];
  if (st.window_ms > 0) tooltip += ", window " + Duration(st.window_ms);
  out_ += "s" + std::to_string(s) + " [label=\"" + label + "\", " + attrs + ", tooltip=\"" + Escape(tooltip) + "\"];\n";
}

// One cluster per stage, inside one per group: opened and closed along the stages in
// declaration order (a group's stages are consecutive there), so no recursion. A group
// with `times` or a loop has states per round for each stage inside: those go into its
// cluster as they are, each labelled with its round.
void Picture::Clusters() {
  const WrittenForm& w = p_.written;
  std::vector<int32_t> open;  // groups whose cluster is open, outermost first
  auto indent = [&open] { return std::string(2 * open.size() + 2, ' '); };
  for (size_t k = 0; k < w.stages.size(); ++k) {
    std::vector<int32_t> chain;  // the groups around stage k, outermost first
    for (int32_t g = w.stages[k].group; g >= 0 && static_cast<size_t>(g) < w.groups.size(); g = w.groups[g].parent) {
      chain.insert(chain.begin(), g);
    }
    bool flat = false;  // inside a repeated group: no clusters within it
    for (size_t i = 0; i < chain.size() && !flat; ++i) {
      if (w.groups[chain[i]].repeated) {
        chain.resize(i + 1);
        flat = true;
      }
    }
    size_t common = 0;
    while (common < open.size() && common < chain.size() && open[common] == chain[common]) ++common;
    while (open.size() > common) {
      open.pop_back();
      out_ += indent() + "}\n";
    }
    for (size_t i = common; i < chain.size(); ++i) {
      const int32_t g = chain[i];
      out_ += indent() + "subgraph cluster_group" + std::to_string(g) + " {\n";
      open.push_back(g);
      out_ += indent() + "label=\"" + Escape(w.groups[g].declaration) + "\"; style=rounded; color=gray40;\n";
      for (StateId s = 0; s < p_.states.size(); ++s) {
        if (GroupOfState(s) != g) continue;
        out_ += indent() + "  ";
        DrawNode(s);
      }
    }
    std::vector<StateId> members;
    for (StateId s = 0; s < p_.states.size(); ++s) {
      if (Clustered(s) && p_.states[s].stage == k && GroupOfState(s) < 0) members.push_back(s);
    }
    if (members.empty()) continue;
    if (flat) {
      for (StateId s : members) {
        out_ += indent();
        DrawNode(s);
      }
      continue;
    }
    const std::string& decl = w.stages[k].declaration;
    const bool negation = decl.rfind("not_", 0) == 0;
    out_ += indent() + "subgraph cluster_stage" + std::to_string(k) + " {\n";
    out_ += indent() + "  label=\"" + Escape(decl) + "\"; style=\"rounded,filled\"; fillcolor=" +
            (negation ? "mistyrose" : "gray96") + "; color=" + (negation ? "red3" : "gray60") + ";\n";
    for (StateId s : members) {
      out_ += indent() + "  ";
      DrawNode(s);
    }
    out_ += indent() + "}\n";
  }
  while (!open.empty()) {
    open.pop_back();
    out_ += indent() + "}\n";
  }
}

void Picture::Edges() {
  for (StateId s = 0; s < p_.states.size(); ++s) {
    const State& st = p_.states[s];
    if (st.type == StateType::kStop) continue;  // its self-loop: a stopped run is dropped
    for (uint32_t e = st.first_edge; e < st.first_edge + st.num_edges; ++e) {
      const Edge& edge = p_.edges[e];
      const State& target = p_.states[edge.target];
      const bool stop = target.type == StateType::kStop;
      const int32_t own = static_cast<int32_t>(stop ? target.stage : st.stage);
      Reading r = Read(p_, edge.cond, own);
      if (r.never) continue;
      std::string style;
      EdgeText t;
      if (stop) {
        const std::string decl = target.stage < p_.written.stages.size()
                                     ? p_.written.stages[target.stage].declaration
                                     : p_.stages[target.stage].name;
        t = Describe(r, decl + ":", true);
        style = "style=dashed, color=red3, fontcolor=red3";
      } else {
        std::string head = ActionName(edge.action);
        if (r.own.empty() && r.others.empty() && edge.action != Action::kProceed) head += ": any event";
        t = Describe(r, head, false);
        style = edge.action == Action::kTake     ? "penwidth=1.4"
                : edge.action == Action::kIgnore ? "style=dotted, color=gray45, fontcolor=gray30"
                                                 : "style=dashed, color=blue3, fontcolor=blue3";
      }
      out_ += "  s" + std::to_string(s) + " -> s" + std::to_string(edge.target) + " [label=\"" + t.label +
              "\", tooltip=\"" + t.tooltip + "\", labeltooltip=\"" + t.tooltip + "\", " + style + "];\n";
    }
    if (st.type == StateType::kPending) {
      // Not an edge of the program: a pending run completes when its window closes.
      for (StateId f = 0; f < p_.states.size(); ++f) {
        if (p_.states[f].type != StateType::kFinal) continue;
        out_ += "  s" + std::to_string(s) + " -> s" + std::to_string(f) +
                " [label=\"window closes\\l\", style=dashed, color=gray50, fontcolor=gray40];\n";
        break;
      }
    }
  }
}

std::string Picture::Draw() {
  out_ = "digraph \"" + Escape(p_.name) + "\" {\n";
  out_ += "  graph [rankdir=LR, labelloc=t, labeljust=l, fontname=\"Helvetica\", fontsize=14, label=\"" +
          Escape(Header(p_)) +
          "\\ntake: binds the event and moves on · ignore: skips the event · proceed: moves on, "
          "same event\"];\n";
  out_ += "  node [fontname=\"Helvetica\", fontsize=11];\n";
  out_ += "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  out_ += "  start [shape=point, width=0.15, label=\"\", tooltip=\"start\"];\n";
  Clusters();
  for (StateId s = 0; s < p_.states.size(); ++s) {
    if (Clustered(s)) continue;
    out_ += "  ";
    DrawNode(s);
  }
  out_ += "  start -> s" + std::to_string(p_.start) + ";\n";
  Edges();
  out_ += "}\n";
  return out_;
}

}  // namespace

std::string DumpDot(const Program& p) { return Picture(p).Draw(); }

}  // namespace tern::nfa
