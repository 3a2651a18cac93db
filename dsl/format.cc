// dsl::Format: the one canonical layout of a .tern file (`tern fmt`), printed from the token
// stream of dsl::Lex, checked against dsl::Parse before anything is returned.
// Tested by tests/unit/dsl/format_test.cc and tests/fmt/fmt_test.py.
//
// IMPLEMENTATION
// Only a file that parses without errors is formatted, so its tokens follow the grammar of
// spec §3 and one pass over them, shaped like the grammar, finds every pattern, clause,
// stage, group and emit field. Expressions are not rebuilt from the AST: their tokens are
// printed in order with canonical spacing, so parentheses and the author's line breaks stay,
// and a chain of 100k terms costs a loop, not a 100k-deep recursion (the walk recurses only
// into groups, which the parser caps at 64 levels). Where an expression ends is found the
// way the grammar finds it: after an operand, at depth 0 of brackets, anything but an
// operator, '.', '[' or '(' ends it (`emit { a = x b = y }` needs no comma).
//
// The walk produces Elements: one per clause, stage, group bracket, emit field, block
// header and closing brace, and one per own-line comment. An element's first line is a row
// of cells; the elements of one alignment group (the clauses of a pattern, the stages of one
// sequence, the fields of one emit block) pad each cell but the last to the group's widest,
// which is what lines up clause values, stage names, `where` and `=`. Lines after the first
// (kept line breaks, or a comment inside the element) are continuation lines, indented two
// columns past the element's anchor cell (`where`, `=`, the clause value) plus two per
// bracket still open. Comments are attached by position: one on the same line as the token
// before it stays at the end of that output line; one on a line of its own becomes a line
// of its own before what follows it. Because Format then parses its own output and compares
// the patterns (ast::Dump) and the comments with the input's, a mistake here leaves the file
// unchanged with an internal error instead of changing a program.
#include "dsl/format.h"

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "dsl/ast.h"
#include "dsl/diag.h"
#include "dsl/dsl.h"
#include "dsl/lexer.h"

namespace tern::dsl {
namespace {

constexpr int kIndent = 2;

struct Continuation {
  std::string text;
  std::string comment;  // trailing comment
  int extra = 0;        // columns past the anchor's continuation indent (open brackets)
};

// One output line and the continuation lines that belong to it.
struct Element {
  bool is_comment = false;    // an own-line comment: cells[0] is its text
  int indent = 0;
  bool blank_before = false;
  int group = -1;             // alignment group, -1 for none
  size_t anchor = 0;          // cell whose column + 2 indents the continuation lines
  std::vector<std::string> cells;
  std::string comment;        // trailing comment of the first line
  std::vector<Continuation> conts;
};

bool IsWord(const Token& t, std::string_view text, std::string_view word) {
  return (t.kind == TokenKind::kKeyword || t.kind == TokenKind::kName ||
          t.kind == TokenKind::kPunct) &&
         TokenText(text, t) == word;
}

bool IsContiguity(std::string_view s) {
  return s == "next" || s == "followed_by" || s == "followed_by_any" || s == "not_next" ||
         s == "not_followed_by";
}

bool IsClause(std::string_view s) {
  return s == "key" || s == "within" || s == "gap" || s == "skip" || s == "from" || s == "to";
}

// A binary operator, `not` of `not in`, or unary minus / `not` before an operand.
bool IsOperator(const Token& t, std::string_view s) {
  if (t.kind == TokenKind::kPunct) {
    return s == "==" || s == "!=" || s == "<" || s == "<=" || s == ">" || s == ">=" || s == "+" ||
           s == "-" || s == "*" || s == "/" || s == "%";
  }
  return t.kind == TokenKind::kKeyword &&
         (s == "and" || s == "or" || s == "not" || s == "in" || s == "contains" ||
          s == "starts_with" || s == "ends_with" || s == "matches");
}

bool IsLiteralKeyword(std::string_view s) {
  return s == "true" || s == "false" || s == "null" || s == "this";
}

// A token after which an operand is complete: `-` after it is binary, `(` a call, `[` an index.
bool EndsOperand(const Token& t, std::string_view s) {
  switch (t.kind) {
    case TokenKind::kName:
    case TokenKind::kQuotedName:
    case TokenKind::kString:
    case TokenKind::kInt:
    case TokenKind::kDouble:
    case TokenKind::kDuration:
      return true;
    case TokenKind::kKeyword:
      return IsLiteralKeyword(s);
    case TokenKind::kPunct:
      return s == ")" || s == "]";
    default:
      return false;
  }
}

bool StartsOperand(const Token& t, std::string_view s) {
  if (t.kind == TokenKind::kKeyword) return IsLiteralKeyword(s) || s == "not";
  if (t.kind == TokenKind::kPunct) return s == "(" || s == "[" || s == "-";
  return t.kind != TokenKind::kComment && t.kind != TokenKind::kInvalid;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\f' || s.back() == '\v')) {
    s.remove_suffix(1);
  }
  return s;
}

class Formatter {
 public:
  explicit Formatter(std::string_view text) : text_(text), tokens_(Lex(text)) {}

  // Walks the whole file; false when its structure is not what the grammar allows.
  bool Run();
  std::string Render() const;

 private:
  std::string_view Text(const Token& t) const { return TokenText(text_, t); }
  // The n-th non-comment token from the cursor, or null at the end.
  const Token* Peek(int n = 0) const;
  bool PeekIs(std::string_view word) const {
    const Token* t = Peek();
    return t != nullptr && IsWord(*t, text_, word);
  }
  void Fail() { ok_ = false; }

  // Comments before the next token when it starts a new element at `indent`.
  void LeadingComments(int indent);
  // Comments before the next token of the current element.
  void InnerComments(int extra);
  // Starts an element at the next token.
  void Begin(int indent, int group, size_t anchor, bool closing = false);
  // Starts the next cell of the current element's first line.
  void Cell();
  // Prints the next token into the current element. `keep_break`: start a continuation
  // line if the author broke the line before it; `extra`: that line's extra indent.
  void Take(bool keep_break = false, int extra = 0);
  // Takes the next token, which must be `word`.
  void Expect(std::string_view word);
  void Skip();  // drops the next token (an optional comma), keeping its comments

  void Pattern();
  void Sequence(int indent, bool top);
  void StageTail();
  void Expression();
  void EmitBlock(int indent);

  Element& E() { return elements_[current_]; }
  std::string& Line() { return first_line_ ? E().cells.back() : E().conts.back().text; }
  int NewGroup() { return groups_++; }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool ok_ = true;

  std::vector<Element> elements_;
  int groups_ = 0;
  bool at_block_start_ = true;  // no blank line before the next element
  bool force_blank_ = false;    // a blank line before the next element (between patterns)

  // The element being built.
  size_t current_ = 0;
  bool first_line_ = true;
  bool need_break_ = false;  // the next token starts a continuation line (after a comment)
  bool cell_start_ = true;   // the next token starts a cell: no space before it
  const Token* prev_ = nullptr;
  bool prev_unary_ = false;  // prev_ is a unary minus
};

const Token* Formatter::Peek(int n) const {
  for (size_t i = pos_; i < tokens_.size(); ++i) {
    if (tokens_[i].kind == TokenKind::kComment) continue;
    if (n-- == 0) return &tokens_[i];
  }
  return nullptr;
}

void Formatter::LeadingComments(int indent) {
  while (pos_ < tokens_.size() && tokens_[pos_].kind == TokenKind::kComment) {
    const Token& c = tokens_[pos_++];
    std::string text(TrimRight(Text(c)));
    if (c.newlines_before == 0 && !elements_.empty()) {
      Element& last = elements_.back();
      std::string& slot = last.conts.empty() ? last.comment : last.conts.back().comment;
      if (slot.empty() && !last.is_comment) {
        slot = std::move(text);
        continue;
      }
    }
    Element e;
    e.is_comment = true;
    e.indent = indent;
    e.blank_before = !at_block_start_ && (force_blank_ || c.newlines_before >= 2);
    e.cells.push_back(std::move(text));
    elements_.push_back(std::move(e));
    at_block_start_ = false;
    force_blank_ = false;
  }
}

void Formatter::InnerComments(int extra) {
  while (pos_ < tokens_.size() && tokens_[pos_].kind == TokenKind::kComment) {
    const Token& c = tokens_[pos_++];
    std::string text(TrimRight(Text(c)));
    std::string& slot = first_line_ ? E().comment : E().conts.back().comment;
    if (c.newlines_before == 0 && slot.empty() && !need_break_) {
      slot = std::move(text);
    } else {
      E().conts.push_back({std::move(text), {}, extra});  // a comment line of its own
      first_line_ = false;
    }
    need_break_ = true;
  }
}

void Formatter::Begin(int indent, int group, size_t anchor, bool closing) {
  const Token* t = Peek();
  Element e;
  e.indent = indent;
  e.group = group;
  e.anchor = anchor;
  e.blank_before =
      !closing && !at_block_start_ && (force_blank_ || (t != nullptr && t->newlines_before >= 2));
  e.cells.emplace_back();
  elements_.push_back(std::move(e));
  current_ = elements_.size() - 1;
  at_block_start_ = false;
  force_blank_ = false;
  first_line_ = true;
  need_break_ = false;
  cell_start_ = true;
  prev_ = nullptr;
  prev_unary_ = false;
}

void Formatter::Cell() {
  InnerComments(0);
  if (first_line_ && !need_break_) {
    E().cells.emplace_back();
    cell_start_ = true;
  }
}

void Formatter::Take(bool keep_break, int extra) {
  InnerComments(extra);
  if (pos_ >= tokens_.size()) {
    Fail();
    return;
  }
  const Token& t = tokens_[pos_++];
  std::string_view s = Text(t);
  if (need_break_ || (keep_break && t.newlines_before > 0)) {
    E().conts.push_back({{}, {}, extra});
    first_line_ = false;
    need_break_ = false;
  } else if (!cell_start_ && prev_ != nullptr) {
    std::string_view p = Text(*prev_);
    bool space = true;
    if (s == ")" || s == "]" || s == "," || s == "." || s == "..") {
      space = false;
    } else if (p == "(" || p == "[" || p == "." || prev_unary_) {
      space = false;
    } else if (p == "{" && s == "}") {
      space = false;
    } else if (p == "..") {
      space = t.kind != TokenKind::kInt;
    } else if (s == "(" || s == "[") {
      space = !EndsOperand(*prev_, p);  // a call or an index attaches
    }
    if (space) Line() += ' ';
  }
  Line() += s;
  cell_start_ = false;
  prev_unary_ = s == "-" && t.kind == TokenKind::kPunct &&
                (prev_ == nullptr || !EndsOperand(*prev_, Text(*prev_)));
  prev_ = &t;
}

void Formatter::Expect(std::string_view word) {
  if (!PeekIs(word)) {
    Fail();
    return;
  }
  Take();
}

void Formatter::Skip() {
  InnerComments(0);
  if (pos_ < tokens_.size()) ++pos_;
}

bool Formatter::Run() {
  at_block_start_ = true;
  while (ok_ && Peek() != nullptr) {
    LeadingComments(0);
    Pattern();
    if (Peek() != nullptr) force_blank_ = true;
  }
  LeadingComments(0);
  return ok_;
}

void Formatter::Pattern() {
  Begin(0, -1, 0);
  Expect("pattern");
  Take();  // the name
  Expect("{");
  at_block_start_ = true;
  int clauses = NewGroup();
  while (ok_ && Peek() != nullptr && Peek()->kind == TokenKind::kKeyword &&
         IsClause(Text(*Peek()))) {
    LeadingComments(kIndent);
    Begin(kIndent, clauses, 1);
    Take();
    Cell();
    // Paths, names, a duration, a string or a skip strategy: up to the next keyword.
    while (ok_ && Peek() != nullptr && Peek()->kind != TokenKind::kKeyword && !PeekIs("}")) Take();
  }
  if (!PeekIs("begin")) return Fail();
  Sequence(kIndent, true);
  while (ok_ && (PeekIs("emit") || PeekIs("on_timeout"))) {
    LeadingComments(kIndent);
    EmitBlock(kIndent);
  }
  LeadingComments(kIndent);
  Begin(0, -1, 0, true);
  Expect("}");
}

// A top-level sequence (`begin` first) or the inside of a group (no keyword first). Stages
// with a contiguity keyword share one alignment group: keywords padded so the names line up,
// names padded so `where` lines up. A group's own lines align with nothing: `followed_by (`.
void Formatter::Sequence(int indent, bool top) {
  int group = NewGroup();
  for (bool first = true; ok_; first = false) {
    bool has_keyword = top || !first;
    if (!first) {
      const Token* t = Peek();
      if (t == nullptr || t->kind != TokenKind::kKeyword || !IsContiguity(Text(*t))) break;
    }
    LeadingComments(indent);
    const Token* head = Peek(has_keyword ? 1 : 0);
    if (head == nullptr) return Fail();
    bool is_group = IsWord(*head, text_, "(");
    Begin(indent, is_group ? -1 : (has_keyword ? group : -1), has_keyword ? 2 : 1);
    if (has_keyword) {
      Take();
      Cell();
    }
    if (!is_group) {
      Take();  // the stage name
      StageTail();
      continue;
    }
    Take();  // (
    at_block_start_ = true;
    Sequence(indent + kIndent, false);
    LeadingComments(indent + kIndent);
    Begin(indent, -1, 0, true);
    Expect(")");
    StageTail();
  }
}

// `where` and the quantifier and modifiers of a stage, single-spaced on the line where the
// condition ends.
void Formatter::StageTail() {
  while (ok_) {
    const Token* t = Peek();
    if (t == nullptr || t->kind != TokenKind::kKeyword) return;
    std::string_view s = Text(*t);
    if (s == "where") {
      Cell();
      Take();
      Expression();
    } else if (s == "until") {
      Take();
      Expression();
    } else if (s == "times") {
      Take();
      Take();  // the count
      if (PeekIs("..")) {
        Take();
        if (Peek() != nullptr && Peek()->kind == TokenKind::kInt) Take();
      }
    } else if (s == "within") {
      Take();
      Take();  // the duration
    } else if (s == "one_or_more" || s == "optional" || s == "greedy" || s == "consecutive" ||
               s == "allow_combinations") {
      Take();
    } else {
      return;
    }
  }
}

// One expression, token by token, up to the first token that cannot continue it.
void Formatter::Expression() {
  int depth = 0;              // open ( and [ since the expression began
  bool want_operand = true;   // at depth 0: an operand must come next
  bool not_in = false;        // the last token is the `not` of `not in`
  bool first = true;
  while (ok_) {
    const Token* t = Peek();
    if (t == nullptr) break;
    std::string_view s = Text(*t);
    bool punct = t->kind == TokenKind::kPunct;
    bool opener = punct && (s == "(" || s == "[");
    bool closer = punct && (s == ")" || s == "]");
    if (depth == 0) {
      if (closer) break;
      bool fits = want_operand ? StartsOperand(*t, s) || (not_in && s == "in")
                               : IsOperator(*t, s) || opener || s == ".";
      if (!fits) break;
      not_in = !want_operand && s == "not";  // `x not in [...]`
    }
    int line_depth = depth - (closer ? 1 : 0);
    Take(!first, kIndent * line_depth);
    first = false;
    if (opener) {
      ++depth;
    } else if (closer) {
      --depth;
      want_operand = false;
    } else if (depth == 0) {
      want_operand = IsOperator(*t, s) || s == ".";
    }
  }
  if (depth != 0) Fail();
}

void Formatter::EmitBlock(int indent) {
  Begin(indent, -1, 0);
  if (PeekIs("on_timeout")) Take();
  Expect("emit");
  Expect("{");
  if (pos_ < tokens_.size() && IsWord(tokens_[pos_], text_, "}")) {  // emit {}
    Take();
    return;
  }
  at_block_start_ = true;
  int fields = NewGroup();
  while (ok_ && Peek() != nullptr && !PeekIs("}")) {
    LeadingComments(indent + kIndent);
    Begin(indent + kIndent, fields, 1);
    Take();  // the field name
    Cell();
    Expect("=");
    Expression();
    if (PeekIs(",")) Skip();
  }
  LeadingComments(indent + kIndent);
  Begin(indent, -1, 0, true);
  Expect("}");
}

std::string Formatter::Render() const {
  // Widths of the padded cells of each alignment group.
  std::vector<std::vector<size_t>> widths(static_cast<size_t>(groups_));
  for (const Element& e : elements_) {
    if (e.group < 0) continue;
    std::vector<size_t>& w = widths[static_cast<size_t>(e.group)];
    for (size_t i = 0; i + 1 < e.cells.size(); ++i) {
      if (w.size() <= i) w.resize(i + 1, 0);
      w[i] = std::max(w[i], e.cells[i].size());
    }
  }
  std::string out;
  auto end_line = [&out](std::string_view comment) {
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (!comment.empty()) {
      out += "  ";
      out += comment;
    }
    out += '\n';
  };
  for (const Element& e : elements_) {
    if (e.blank_before && !out.empty()) out += '\n';
    out.append(static_cast<size_t>(e.indent), ' ');
    size_t column = static_cast<size_t>(e.indent);
    size_t anchor_column = column;
    size_t anchor = std::min(e.anchor, e.cells.size() - 1);
    for (size_t i = 0; i < e.cells.size(); ++i) {
      if (i == anchor) anchor_column = column;
      out += e.cells[i];
      if (i + 1 == e.cells.size()) break;
      size_t width = e.cells[i].size();
      if (e.group >= 0) width = std::max(width, widths[static_cast<size_t>(e.group)][i]);
      out.append(width - e.cells[i].size() + 1, ' ');
      column += width + 1;
    }
    end_line(e.comment);
    for (const Continuation& c : e.conts) {
      out.append(anchor_column + kIndent + static_cast<size_t>(c.extra), ' ');
      out += c.text;
      end_line(c.comment);
    }
  }
  return out;
}

// The texts of the comments, in order, and the dumps of the patterns: what formatting must
// not change.
struct Meaning {
  std::vector<std::string> comments;
  std::vector<std::string> patterns;
  bool operator==(const Meaning&) const = default;
};

Meaning MeaningOf(std::string_view text, const ast::File& file) {
  Meaning m;
  for (const Token& t : Lex(text)) {
    if (t.kind == TokenKind::kComment) m.comments.emplace_back(TrimRight(TokenText(text, t)));
  }
  for (const ast::Pattern& p : file.patterns) m.patterns.push_back(ast::Dump(p));
  return m;
}

}  // namespace

bool Format(const SourceFile& source, DiagnosticSink& sink, std::string* out) {
  // Diagnostics point at `source` (the caller's); the shared_ptr does not own it.
  std::shared_ptr<const SourceFile> input(&source, [](const SourceFile*) {});
  DiagnosticSink parse_sink;
  ast::File before = Parse(input, parse_sink);
  if (parse_sink.has_errors()) {
    for (const Diagnostic& d : parse_sink.diagnostics()) sink.Add(d);
    return false;
  }
  Formatter formatter(source.text());
  std::string formatted;
  bool walked = formatter.Run();
  if (walked) formatted = formatter.Render();

  bool same = false;
  if (walked) {
    auto output = std::make_shared<const SourceFile>(source.path(), formatted);
    DiagnosticSink output_sink;
    ast::File after = Parse(output, output_sink);
    same = !output_sink.has_errors() &&
           MeaningOf(source.text(), before) == MeaningOf(formatted, after);
  }
  if (!same) {
    Report(sink, &source, {0, 0}, Diag::kInternal,
           {"formatter bug: the formatted text would change the program; file left unchanged"});
    return false;
  }
  *out = std::move(formatted);
  return true;
}

}  // namespace tern::dsl
