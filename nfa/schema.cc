// Field path interning.
#include "nfa/schema.h"

namespace tern::nfa {

std::string Schema::Canonical(const std::vector<FieldSegment>& segments) {
  std::string out;
  for (const auto& s : segments) {
    if (s.name.empty()) {
      out += '[';
      out += std::to_string(s.index);
      out += ']';
    } else {
      if (!out.empty()) out += ".";
      out += s.name;
    }
  }
  return out;
}

uint32_t Schema::Intern(const std::vector<FieldSegment>& segments) {
  // The lookup key separates segments with control characters so that a back-quoted
  // name containing '.' or '[' never collides with a nested path.
  std::string key;
  for (const auto& s : segments) {
    if (s.name.empty()) {
      key += '\x1e';
      key += std::to_string(s.index);
    } else {
      key += '\x1f';
      key += s.name;
    }
  }
  auto it = by_text_.find(key);
  if (it != by_text_.end()) return it->second;
  uint32_t slot = static_cast<uint32_t>(paths_.size());
  paths_.push_back({Canonical(segments), segments});
  by_text_.emplace(std::move(key), slot);
  return slot;
}

}  // namespace tern::nfa
