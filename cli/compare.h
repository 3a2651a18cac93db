// How `tern test` compares expected alerts with actual ones (spec §11): an expected
// alert matches an actual one when every member it names is equal there,
// recursively; the two lists are matched as multisets by maximum bipartite matching.
// Tested by tests/unit/cli/compare_test.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::cli {

// A parsed JSON value, owning its data. Only for test comparisons, not the event path.
struct JsonNode {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  bool is_int = false;  // number fits int64 exactly: compare `integer`, else `number`
  int64_t integer = 0;
  double number = 0;    // always set for numbers
  std::string text;     // kString: unescaped
  std::vector<JsonNode> items;             // kArray elements; kObject member values
  std::vector<std::string> member_names;  // kObject, parallel to items, document order
};

// Parses one JSON text; returns false with *error ("not JSON: ...") on failure.
bool ParseJson(std::string_view text, JsonNode* out, std::string* error);

// True when `actual` has everything `expected` names: objects compare only the
// members of `expected` (first occurrence in `actual`), arrays element by element
// with equal length, numbers by value (1 == 1.0), strings/bools/null exactly.
bool Subsumes(const JsonNode& expected, const JsonNode& actual);

struct MatchResult {
  std::vector<size_t> missing;     // indexes into expected that no actual alert matched
  std::vector<size_t> unexpected;  // indexes into actual left unmatched
  bool ok() const { return missing.empty() && unexpected.empty(); }
};

// Maximum matching between expected and actual (an edge where Subsumes holds), found
// with augmenting paths, so the result does not depend on the order of either list.
MatchResult MatchAlerts(const std::vector<JsonNode>& expected, const std::vector<JsonNode>& actual);

}  // namespace tern::cli
