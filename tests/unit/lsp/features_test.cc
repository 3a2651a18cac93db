// Tests lsp/features.h on analysed documents: hover, definition, completion, symbols,
// and the vocabulary table against the lexer's keywords.
#include "lsp/features.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "dsl/lexer.h"
#include "lsp/vocabulary.h"

namespace tern::lsp {

namespace {

constexpr char kCard[] =
    "pattern card_testing {\n"
    "  key card_id\n"
    "  within 90m\n"
    "  skip to_last(small)\n"
    "  begin small where type == \"auth\" and amount < 2.00 times 3.. greedy\n"
    "  followed_by big where amount >= 500 and merchant != last(small).merchant\n"
    "  emit { n = count(small) total = sum(small.amount) }\n"
    "}\n";

uint32_t At(std::string_view text, std::string_view needle, size_t nth = 0, size_t plus = 0) {
  size_t at = text.find(needle);
  for (size_t i = 0; i < nth; ++i) at = text.find(needle, at + 1);
  REQUIRE(at != std::string_view::npos);
  return static_cast<uint32_t>(at + plus);
}

std::vector<std::string> Labels(const std::vector<CompletionItem>& items) {
  std::vector<std::string> out;
  for (const CompletionItem& i : items) out.push_back(i.label);
  return out;
}

bool Has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("vocabulary: the 35 keywords lex as keywords, the rest as names") {
  size_t keywords = 0;
  for (const Word& w : Words()) {
    auto tokens = dsl::Lex(w.word);
    REQUIRE(tokens.size() == 1);
    if (w.kind == WordKind::kSkip) {
      CHECK(tokens[0].kind == dsl::TokenKind::kName);
    } else {
      CHECK(tokens[0].kind == dsl::TokenKind::kKeyword);
      ++keywords;
    }
    CHECK(!w.doc.empty());
  }
  CHECK(keywords == 35);
  CHECK(Functions().size() == 14);
}

TEST_CASE("hover: stage, reference, pattern, keyword, duration, function") {
  auto a = Analyze("card.tern", kCard);
  REQUIRE(a->diagnostics.empty());
  const std::string_view text = a->text();

  auto h = HoverAt(*a, At(text, "last(small)", 0, 6));
  REQUIRE(h);
  CHECK(h->markdown.find("**stage `small`** of pattern `card_testing`, stage 1 of 2") == 0);
  CHECK(h->markdown.find("- quantifier: `times 3..` (relaxed between iterations), `greedy`") != std::string::npos);
  CHECK(h->markdown.find("- condition: `type == \"auth\" and amount < 2.00`") != std::string::npos);
  CHECK(h->markdown.find("- window: `within 90m` (the pattern's)") != std::string::npos);
  CHECK(h->markdown.find("- compiled: ") != std::string::npos);
  CHECK(h->span.begin == At(text, "last(small)", 0, 5));
  CHECK(h->span.end == At(text, "last(small)", 0, 10));

  h = HoverAt(*a, At(text, "big"));
  REQUIRE(h);
  CHECK(h->markdown.find("- contiguity: `followed_by`") != std::string::npos);
  CHECK(h->markdown.find("- quantifier: one event") != std::string::npos);

  h = HoverAt(*a, At(text, "card_testing"));
  REQUIRE(h);
  CHECK(h->markdown.find("**pattern `card_testing`**") == 0);
  CHECK(h->markdown.find("- key: `card_id`") != std::string::npos);
  CHECK(h->markdown.find("- skip: `to_last(small)`") != std::string::npos);
  CHECK(h->markdown.find("- stages: 2 (`small`, `big`)") != std::string::npos);

  h = HoverAt(*a, At(text, "90m", 0, 1));
  REQUIRE(h);
  CHECK(h->markdown == "**`90m`** = 1 h 30 min = 5400000 ms");

  h = HoverAt(*a, At(text, "followed_by"));
  REQUIRE(h);
  CHECK(h->markdown.find("**`followed_by`** (keyword)") == 0);

  h = HoverAt(*a, At(text, "count("));
  REQUIRE(h);
  CHECK(h->markdown.find("count(list) -> int") != std::string::npos);

  h = HoverAt(*a, At(text, "to_last"));
  REQUIRE(h);
  CHECK(h->markdown.find("(skip strategy)") != std::string::npos);

  CHECK(!HoverAt(*a, At(text, ".merchant", 0, 2)));  // a field
  CHECK(!HoverAt(*a, At(text, "\"auth\"", 0, 1)));   // a string
}

TEST_CASE("hover and definition in a pattern that does not check or does not parse") {
  // E0204 (a forward reference): Check drops the pattern, Parse keeps it.
  auto a = Analyze("x.tern", "pattern p {\n  begin a where b.x > 1\n  next b\n}\n");
  REQUIRE(!a->diagnostics.empty());
  const std::string_view text = a->text();
  auto def = DefinitionAt(*a, At(text, "b.x"));
  REQUIRE(def);
  CHECK(def->begin == At(text, "next b", 0, 5));
  auto h = HoverAt(*a, At(text, "b.x"));
  REQUIRE(h);
  CHECK(h->markdown.find("- not compiled: the pattern has errors") != std::string::npos);

  // A syntax error: only the tokens know the stages.
  auto broken = Analyze("y.tern", "pattern q {\n  begin a where x >\n  next b where a.y ==\n");
  const std::string_view t2 = broken->text();
  def = DefinitionAt(*broken, At(t2, "a.y"));
  REQUIRE(def);
  CHECK(def->begin == At(t2, "a where"));
}

TEST_CASE("definition: references, skip, declaration; not fields") {
  auto a = Analyze("card.tern", kCard);
  const std::string_view text = a->text();
  const uint32_t small = At(text, "small where");
  for (uint32_t offset : {At(text, "last(small)", 0, 5), At(text, "to_last(small)", 0, 9),
                          At(text, "count(small)", 0, 8), At(text, "sum(small", 0, 4), small}) {
    auto def = DefinitionAt(*a, offset);
    REQUIRE(def);
    CHECK(def->begin == small);
    CHECK(def->end == small + 5);
  }
  CHECK(!DefinitionAt(*a, At(text, "merchant")));
  CHECK(!DefinitionAt(*a, At(text, "card_id")));
}

TEST_CASE("completion: by context") {
  const std::string text =
      "pattern p {\n"
      "  key user\n"
      "  \n"                                   // clauses
      "  begin login where type == \"login\" \n"  // after an operand
      "  followed_by buy where \n"             // operands
      "  skip \n"
      "}\n"
      "\n";
  auto a = Analyze("c.tern", text);
  auto labels = Labels(CompleteAt(*a, At(text, "  \n", 0, 2)));
  CHECK(Has(labels, "within"));
  CHECK(Has(labels, "begin"));
  CHECK(!Has(labels, "where"));

  labels = Labels(CompleteAt(*a, At(text, "\"login\" ", 0, 8)));
  CHECK(Has(labels, "and"));
  CHECK(Has(labels, "followed_by"));
  CHECK(Has(labels, "times"));

  labels = Labels(CompleteAt(*a, At(text, "buy where ", 0, 10)));
  CHECK(Has(labels, "login"));
  CHECK(Has(labels, "buy"));
  CHECK(Has(labels, "count"));
  CHECK(Has(labels, "this"));
  CHECK(!Has(labels, "and"));

  labels = Labels(CompleteAt(*a, At(text, "login where", 0, 6)));  // right after the stage name
  CHECK(Has(labels, "where"));
  CHECK(Has(labels, "one_or_more"));
  CHECK(Has(labels, "not_followed_by"));

  labels = Labels(CompleteAt(*a, At(text, "skip ", 0, 5)));
  CHECK(labels == std::vector<std::string>{"no_skip", "to_next", "past_last_event", "to_first", "to_last"});

  labels = Labels(CompleteAt(*a, static_cast<uint32_t>(text.size())));
  CHECK(labels == std::vector<std::string>{"pattern"});

  // A word being typed: the context is before it.
  labels = Labels(CompleteAt(*a, At(text, "type ==", 0, 2)));
  CHECK(Has(labels, "login"));
  CHECK(!Has(labels, "buy"));  // not declared yet

  // Kinds.
  for (const CompletionItem& item : CompleteAt(*a, At(text, "buy where ", 0, 10))) {
    if (item.label == "login") CHECK(item.kind == CompletionKind::kVariable);
    if (item.label == "sum") {
      CHECK(item.kind == CompletionKind::kFunction);
      CHECK(item.detail == "sum(list) -> number");
    }
    if (item.label == "this") CHECK(item.kind == CompletionKind::kKeyword);
  }

  // Inside a comment or a string: nothing; after `stage.`: nothing.
  auto b = Analyze("d.tern", "# begin \npattern p { begin a where x == \"ab\" and a. }");
  CHECK(CompleteAt(*b, 8).empty());
  CHECK(CompleteAt(*b, static_cast<uint32_t>(std::string_view(b->text()).find("ab\"") + 1)).empty());
  CHECK(CompleteAt(*b, static_cast<uint32_t>(std::string_view(b->text()).find("a. ") + 2)).empty());
}

TEST_CASE("completion: a half-typed file") {
  const std::string text = "pattern p {\n  begin a where x > 1\n  next b where count(";
  auto a = Analyze("h.tern", text);
  auto labels = Labels(CompleteAt(*a, static_cast<uint32_t>(text.size())));
  CHECK(Has(labels, "a"));
  CHECK(Has(labels, "b"));
  CHECK(Has(labels, "first"));
}

TEST_CASE("symbols: patterns with stages, groups nested") {
  auto a = Analyze("s.tern",
                   "pattern p { begin a next (b followed_by c) times 2 }\npattern q { begin z }\n");
  auto symbols = DocumentSymbols(*a);
  REQUIRE(symbols.size() == 2);
  CHECK(symbols[0].name == "p");
  CHECK(symbols[0].kind == SymbolKind::kClass);
  REQUIRE(symbols[0].children.size() == 2);
  CHECK(symbols[0].children[0].name == "a");
  CHECK(symbols[0].children[0].kind == SymbolKind::kField);
  CHECK(symbols[0].children[1].name == "(b c)");
  CHECK(symbols[0].children[1].kind == SymbolKind::kNamespace);
  REQUIRE(symbols[0].children[1].children.size() == 2);
  CHECK(symbols[0].children[1].children[1].name == "c");
  CHECK(symbols[1].name == "q");
}

}  // namespace tern::lsp
