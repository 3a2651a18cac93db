// The event fields the loaded programs read. Each distinct field path gets a
// slot; an input event is parsed once into one Value per slot, so conditions
// never touch JSON. Append-only: programs compiled later add slots.
// Tested by tests/unit/engine/event_parser_test.cc and tests/unit/compiler/compile_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tern::nfa {

struct FieldSegment {
  std::string name;   // empty for an index segment
  int64_t index = 0;  // negative counts from the end of the array
};

struct FieldPath {
  std::string text;  // canonical form: a.b[0].c ; back-quoted names are stored raw
  std::vector<FieldSegment> segments;
};

// Thread: setup only (compile time); read-only while events flow. Locks: none.
class Schema {
 public:
  // Returns the slot of the path, adding it if new.
  uint32_t Intern(const std::vector<FieldSegment>& segments);
  uint32_t size() const { return static_cast<uint32_t>(paths_.size()); }
  const FieldPath& path(uint32_t slot) const { return paths_[slot]; }
  const std::vector<FieldPath>& paths() const { return paths_; }

  static std::string Canonical(const std::vector<FieldSegment>& segments);

 private:
  std::vector<FieldPath> paths_;
  std::unordered_map<std::string, uint32_t> by_text_;
};

}  // namespace tern::nfa
