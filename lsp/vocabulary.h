// The words of the language with one line of documentation each (from the language spec,
// ../shared/spec/LANGUAGE.md): the 35 reserved words, the skip strategies, the functions.
// Used by hover and completion.
// Tested by tests/unit/lsp/features_test.cc.
#pragma once

#include <span>
#include <string_view>

namespace tern::lsp {

enum class WordKind {
  kClause,      // pattern key within gap skip from to emit on_timeout
  kContiguity,  // begin next followed_by followed_by_any not_next not_followed_by
  kStageSuffix, // where times one_or_more optional greedy consecutive allow_combinations until
  kOperator,    // and or not in contains starts_with ends_with matches
  kValue,       // true false null this
  kSkip,        // no_skip to_next past_last_event to_first to_last (names, not keywords)
};

struct Word {
  std::string_view word;
  WordKind kind;
  std::string_view doc;  // one line of markdown
};

struct Function {
  std::string_view name;
  std::string_view signature;  // `count(list) -> int`
  std::string_view doc;        // one line
};

// The 35 reserved words then the 5 skip strategies.
std::span<const Word> Words();
std::span<const Function> Functions();

const Word* FindWord(std::string_view word);
const Function* FindFunction(std::string_view name);

}  // namespace tern::lsp
