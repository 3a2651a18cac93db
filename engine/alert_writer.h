// Turns a finished match or timeout into an alert (spec §9): materialises the
// bound events from the shared buffer (payloads are fetched only here),
// evaluates the emit fields and computes the deterministic id.
// Tested by tests/unit/engine/engine_test.cc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "nfa/eval.h"
#include "nfa/nfa.h"
#include "nfa/program.h"
#include "nfa/shared_buffer.h"

namespace tern::engine {

// Appends a value as JSON: events as their payload, lists as arrays.
void AppendValueJson(const nfa::Value& v, std::string& out);

// Thread: engine thread. Locks: none.
class AlertWriter {
 public:
  void Write(const nfa::Program& program, const nfa::SharedBuffer& buffer, nfa::Evaluator& evaluator,
             std::string_view key_bytes, std::string_view key_json, const nfa::Output& output, Alert& alert);

 private:
  struct Binding {
    uint16_t stage;
    const nfa::StoredEvent* event;
  };
  std::vector<Binding> bindings_;  // scratch, in binding order
};

}  // namespace tern::engine
