// Routing keys and the static relevance filter (see routing.h).
#include "engine/routing.h"

#include <deque>

#include "engine/key_table.h"
#include "nfa/eval.h"
#include "nfa/nfa.h"
#include "nfa/shared_buffer.h"

namespace tern::engine {

uint64_t RouteHash(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return Fmix64(h);
}

bool RouteKey(std::span<const uint32_t> key_slots, const nfa::StoredEvent& event, std::string* bytes,
              uint64_t* hash) {
  bytes->clear();
  if (key_slots.empty()) {
    *hash = 0;
    return false;
  }
  for (uint32_t slot : key_slots) EncodeKeyPart(event.slot(slot), *bytes);
  *hash = RouteHash(*bytes);
  return true;
}

struct RelevanceFilter::Impl {
  struct ProgramFilter {
    std::unique_ptr<nfa::Nfa> nfa;
    std::vector<uint8_t> stream_allowed;  // by stream id, for programs with `from`
  };

  std::vector<std::shared_ptr<const nfa::Program>> programs;
  nfa::EventStore events;  // unused: the scratch NFAs never bind an event
  nfa::SharedBuffer buffer{&events};
  nfa::Evaluator evaluator;
  nfa::MemoStore memo_store;
  std::deque<nfa::ExprMemo> memos;  // per program; a deque, as each Nfa points at its own
  std::vector<ProgramFilter> filters;
  std::vector<std::string> stream_names;
  uint64_t epoch = 0;
};

RelevanceFilter::RelevanceFilter(std::vector<std::shared_ptr<const nfa::Program>> programs)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.programs = std::move(programs);
  for (const auto& program : m.programs) {
    nfa::ExprMemo& memo = m.memos.emplace_back();
    memo.store = &m.memo_store;
    memo.slot.resize(program->exprs.size());
    for (uint32_t& s : memo.slot) s = m.memo_store.Add();
    m.filters.push_back({std::make_unique<nfa::Nfa>(program.get(), &m.buffer, &m.evaluator, &memo), {}});
  }
}

RelevanceFilter::~RelevanceFilter() = default;

const std::vector<std::shared_ptr<const nfa::Program>>& RelevanceFilter::programs() const { return impl_->programs; }

uint32_t RelevanceFilter::StreamId(std::string_view name) {
  Impl& m = *impl_;
  for (uint32_t i = 0; i < m.stream_names.size(); ++i) {
    if (m.stream_names[i] == name) return i;
  }
  const auto id = static_cast<uint32_t>(m.stream_names.size());
  m.stream_names.emplace_back(name);
  for (size_t p = 0; p < m.programs.size(); ++p) {
    bool allowed = false;
    for (const std::string& s : m.programs[p]->from) allowed = allowed || s == name;
    m.filters[p].stream_allowed.push_back(allowed ? 1 : 0);
  }
  return id;
}

bool RelevanceFilter::MayConcern(size_t program, const nfa::StoredEvent& event) {
  Impl& m = *impl_;
  Impl::ProgramFilter& f = m.filters[program];
  if (!m.programs[program]->from.empty() && event.stream < f.stream_allowed.size() &&
      f.stream_allowed[event.stream] == 0) {
    return false;  // the engine shows the program no event of another stream
  }
  return !f.nfa->IsNoop(&event, ++m.epoch);
}

}  // namespace tern::engine
