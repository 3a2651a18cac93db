// Which start groups of a routed key spec an event may start, decided for all of
// them at once: each group's start guards (nfa::Nfa::StartGuards, e.g. `amount < 2`
// for `begin a where type == "auth" and amount < 2`) are evaluated once per event
// across every group, through one index per event field over the constants they
// compare it with, and only the groups whose guards all pass are asked
// Nfa::StartIsNoop.
// Tested by tests/unit/engine/start_filter_test.cc and the key-first routing tests
// of tests/unit/engine/engine_test.cc.
//
// IMPLEMENTATION
// The guards of all groups are deduplicated (identical expressions share a memo
// slot, nfa::ExprIdentity) into leaves, and the leaves that compare one field with a
// constant are gathered per (field, kind) into indexes of at most 64 leaves, each
// owning one word of the per-event leaf bitset -- the filter index of Esper and of
// publish/subscribe matchers (Aguilera et al., "Matching events in a content-based
// subscription system", PODC 1999):
// - numbers (`field <cmp> number`): the distinct constants sorted cut the number line
//   into regions (below, at and between the constants, and NaN); every leaf has one
//   truth per region, so one binary search gives the truth of all of them.
// - strings (`field == "s"`, `!=`, `in [...]`, `not in`): a hash table from each
//   constant string to the leaves' truths for it, and the truths for any other string.
// A value an index cannot place (a string against a number index, an integer beyond
// 2^53, a missing field) has its leaves evaluated one by one, as the Nfa would. A
// group passes when every guard leaf it has reads the truth the guard wants; groups
// with no indexable guard always pass (StartIsNoop then decides alone).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "nfa/eval.h"
#include "nfa/event.h"
#include "nfa/nfa.h"
#include "nfa/program.h"

namespace tern::engine {

// Created by the engine for each routed key spec whenever the programs change
// (it points at their Nfa objects, which live as long); rebuilt, not updated.
// Thread: engine thread. Locks: none.
class StartFilter {
 public:
  struct Group {
    nfa::Nfa* nfa;               // decides StartIsNoop for the group
    const nfa::Program* program;  // the Nfa's program
    const nfa::ExprMemo* memo;   // its memo slots: equal slots, equal expressions
  };
  // Triggers are chosen from the first `sample_events` events of every `sample_period`.
  explicit StartFilter(uint32_t sample_events = 1024, uint32_t sample_period = 1u << 20)
      : sample_events_(sample_events), sample_period_(std::max(sample_period, sample_events + 1)) {}
  void Build(const std::vector<Group>& groups);

  // The groups `event` may start (every group it starts, and perhaps others), in no
  // particular order. No allocation once `out` has room for every group.
  void Candidates(const nfa::StoredEvent* event, uint64_t epoch, std::vector<uint32_t>* out);

  // For tests and explain: leaves and indexes built.
  size_t leaves() const { return num_leaves_; }
  size_t indexes() const { return number_.size() + string_.size(); }

 private:
  struct Leaf {
    nfa::Nfa* nfa;  // evaluates it when the index cannot place a value
    nfa::ExprId expr;
  };
  // Leaves on one field, bits 0.. of word `word` of the leaf bitset.
  struct NumberIndex {
    uint32_t slot;
    uint32_t word;
    std::vector<Leaf> leaves;
    std::vector<double> cuts;      // sorted distinct constants, k of them
    std::vector<uint64_t> truths;  // per region: 2i below cuts[i], 2i+1 at it, 2k above all, 2k+1 NaN
  };
  struct StringIndex {
    uint32_t slot;
    uint32_t word;
    std::vector<Leaf> leaves;
    std::vector<std::string> values;  // the distinct constant strings
    std::vector<uint64_t> hashes;     // per value
    std::vector<uint64_t> truths;     // per value
    uint64_t other = 0;               // truths for a string equal to none of them
    std::vector<uint32_t> table;      // open addressing: value index + 1, 0 = empty
  };
  // A group passes when (bits[word] & mask) == want for each of its needs.
  struct Need {
    uint32_t word;
    uint64_t mask;
    uint64_t want;
  };

  static uint64_t EachLeaf(const std::vector<Leaf>& leaves, const nfa::StoredEvent* event, uint64_t epoch);
  uint64_t NumberTruths(const NumberIndex& index, const nfa::StoredEvent* event, uint64_t epoch) const;
  uint64_t StringTruths(const StringIndex& index, const nfa::StoredEvent* event, uint64_t epoch) const;

  std::vector<NumberIndex> number_;
  std::vector<StringIndex> string_;
  std::vector<Need> needs_;
  std::vector<uint32_t> need_begin_;  // group g's needs: [need_begin_[g], need_begin_[g + 1])
  std::vector<uint8_t> never_;        // per group: its guards contradict (it starts nothing)
  std::vector<uint64_t> bits_;        // per event: leaf truths, one word per index
  size_t num_leaves_ = 0;

  // Each group with needs is looked at only when one of them, its *trigger*, holds: the
  // need whose truth was seen least often over a sample of events (recounted every
  // sample period, so the choice follows the stream; it only costs time). Until the
  // first sample is complete every group is looked at.
  void Count();
  void ChooseTriggers();
  bool Passes(uint32_t group) const;
  uint32_t sample_events_;
  uint32_t sample_period_;             // > sample_events_
  uint32_t events_ = 0;                // since Build, modulo sample_period_
  bool triggered_ = false;             // triggers chosen and in use
  std::vector<uint32_t> seen_;         // per leaf bit (word * 64 + bit): events it was true, this sample
  std::vector<uint32_t> always_;       // groups without needs
  std::vector<uint64_t> true_triggers_;   // per word: bits that trigger some group when true
  std::vector<uint64_t> false_triggers_;  // per word: ... when false
  std::vector<uint32_t> trigger_begin_;   // per (word * 64 + bit) * 2 + truth: its groups are
  std::vector<uint32_t> triggered_groups_;  //   triggered_groups_[trigger_begin_[t], trigger_begin_[t + 1])
  std::vector<uint32_t> trigger_scratch_;   // ChooseTriggers: per group, its trigger
  std::vector<uint32_t> count_scratch_;     // ChooseTriggers: groups per trigger
};

}  // namespace tern::engine
