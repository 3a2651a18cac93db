// StartFilter: the start guards of many programs evaluated once per event, through
// indexes over their constants (see start_filter.h).
#include "engine/start_filter.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "engine/key_table.h"

namespace tern::engine {

namespace {

using nfa::Op;
using nfa::Value;
using nfa::ValueKind;

enum class LeafKind : uint8_t { kNone, kNumber, kString };

constexpr double kExactLimit = 9007199254740992.0;  // 2^53: integers up to it are exact doubles

// `v` as a double that orders exactly as CompareNumbersOp orders it against any
// other such number; false for integers beyond 2^53.
bool ExactDouble(const Value& v, double* x) {
  if (v.kind == ValueKind::kDouble) {
    *x = v.d;
    return true;
  }
  if (v.kind != ValueKind::kInt || v.i > int64_t{1} << 53 || v.i < -(int64_t{1} << 53)) return false;
  *x = static_cast<double>(v.i);
  return true;
}

LeafKind Classify(const nfa::Program& p, nfa::ExprId e) {
  const nfa::ExprInfo& info = p.exprs[e];
  if (info.uses_stages || info.simple_op == Op::kPop) return LeafKind::kNone;
  const Value& c = p.consts[info.simple_const];
  double x;
  switch (info.simple_op) {
    case Op::kEq:
    case Op::kNe:
      if (c.kind == ValueKind::kString) return LeafKind::kString;
      [[fallthrough]];
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: return ExactDouble(c, &x) && x == x ? LeafKind::kNumber : LeafKind::kNone;
    case Op::kIn:
    case Op::kNotIn: return c.kind == ValueKind::kValueList ? LeafKind::kString : LeafKind::kNone;
    default: return LeafKind::kNone;
  }
}

// The truth of `number <op> constant` by the number's order against the constant:
// bit 0 less, 1 equal, 2 greater, 3 unordered (NaN), as CompareNumbersOp decides.
unsigned OrderTruth(Op op) {
  switch (op) {
    case Op::kLt: return 0b0001;
    case Op::kLe: return 0b0011;
    case Op::kEq: return 0b0010;
    case Op::kNe: return 0b1101;
    case Op::kGe: return 0b0110;
    default: return 0b0100;  // kGt
  }
}

// The truth of a string leaf for the string `s`, as FastCompare decides it.
bool StringTruth(Op op, const Value& c, std::string_view s) {
  auto equal = [&](const Value& v) { return v.kind == ValueKind::kString && std::string_view(v.str, v.len) == s; };
  if (op == Op::kEq || op == Op::kNe) return equal(c) == (op == Op::kEq);
  bool found = false;
  for (uint32_t k = 0; k < c.len && !found; ++k) found = equal(c.values[k]);
  return found == (op == Op::kIn);
}

}  // namespace

void StartFilter::Build(const std::vector<Group>& groups) {
  number_.clear();
  string_.clear();
  needs_.clear();
  need_begin_.assign(1, 0);
  never_.assign(groups.size(), 0);
  num_leaves_ = 0;

  struct LeafInfo {
    Leaf leaf;
    LeafKind kind;
    uint32_t slot;
    Op op;
    const Value* constant;
    uint32_t word = 0;  // of its index
    uint32_t bit = 0;   // in the word
  };
  std::vector<LeafInfo> infos;
  std::unordered_map<uint32_t, uint32_t> leaf_of;  // memo slot -> infos index
  std::vector<std::vector<std::pair<uint32_t, bool>>> wants(groups.size());  // (leaf, truth wanted)
  for (size_t g = 0; g < groups.size(); ++g) {
    const Group& group = groups[g];
    for (const nfa::Nfa::StartGuard& guard : group.nfa->StartGuards()) {
      const LeafKind kind = Classify(*group.program, guard.expr);
      if (kind == LeafKind::kNone) continue;
      const nfa::ExprInfo& info = group.program->exprs[guard.expr];
      auto [it, added] = leaf_of.try_emplace(group.memo->slot[guard.expr], static_cast<uint32_t>(infos.size()));
      if (added) {
        infos.push_back({{group.nfa, guard.expr}, kind, info.simple_slot, info.simple_op,
                         &group.program->consts[info.simple_const]});
      }
      wants[g].push_back({it->second, guard.fires_when});
    }
  }
  num_leaves_ = infos.size();

  // Indexes: the leaves of one (kind, field), at most 64 to an index, in order of
  // first appearance.
  uint32_t words = 0;
  for (LeafInfo& leaf : infos) {
    std::vector<Leaf>* leaves = nullptr;
    if (leaf.kind == LeafKind::kNumber) {
      auto it = std::find_if(number_.begin(), number_.end(),
                             [&](const NumberIndex& x) { return x.slot == leaf.slot && x.leaves.size() < 64; });
      if (it == number_.end()) it = number_.insert(number_.end(), NumberIndex{leaf.slot, words++, {}, {}, {}});
      leaves = &it->leaves;
      leaf.word = it->word;
    } else {
      auto it = std::find_if(string_.begin(), string_.end(),
                             [&](const StringIndex& x) { return x.slot == leaf.slot && x.leaves.size() < 64; });
      if (it == string_.end()) {
        it = string_.insert(string_.end(), StringIndex{leaf.slot, words++, {}, {}, {}, {}, 0, {}});
      }
      leaves = &it->leaves;
      leaf.word = it->word;
    }
    leaf.bit = static_cast<uint32_t>(leaves->size());
    leaves->push_back(leaf.leaf);
  }
  bits_.assign(words, 0);
  auto leaves_of = [&](uint32_t word) {
    std::vector<const LeafInfo*> out;
    for (const LeafInfo& leaf : infos) {
      if (leaf.word == word) out.push_back(&leaf);
    }
    return out;
  };

  for (NumberIndex& index : number_) {
    const std::vector<const LeafInfo*> leaves = leaves_of(index.word);
    std::vector<double> constants;
    for (const LeafInfo* leaf : leaves) {
      double x = 0;
      ExactDouble(*leaf->constant, &x);
      constants.push_back(x);
    }
    index.cuts = constants;
    std::sort(index.cuts.begin(), index.cuts.end());
    index.cuts.erase(std::unique(index.cuts.begin(), index.cuts.end()), index.cuts.end());
    const size_t k = index.cuts.size();
    index.truths.assign(2 * k + 2, 0);
    for (size_t j = 0; j < leaves.size(); ++j) {
      const size_t at = static_cast<size_t>(std::lower_bound(index.cuts.begin(), index.cuts.end(), constants[j]) -
                                            index.cuts.begin());
      const unsigned truth = OrderTruth(leaves[j]->op);
      for (size_t r = 0; r < index.truths.size(); ++r) {
        unsigned order;  // of a value in region r against the leaf's constant
        if (r == 2 * k + 1) {
          order = 3;
        } else if (r == 2 * k || at < r / 2) {
          order = 2;
        } else {
          order = at == r / 2 && (r & 1) != 0 ? 1 : 0;
        }
        index.truths[r] |= uint64_t{(truth >> order) & 1u} << j;
      }
    }
  }

  for (StringIndex& index : string_) {
    const std::vector<const LeafInfo*> leaves = leaves_of(index.word);
    for (const LeafInfo* leaf : leaves) {
      const Value& c = *leaf->constant;
      const Value* values = c.kind == ValueKind::kValueList ? c.values : &c;
      const uint32_t n = c.kind == ValueKind::kValueList ? c.len : 1;
      for (uint32_t k = 0; k < n; ++k) {
        if (values[k].kind != ValueKind::kString) continue;
        std::string s(values[k].str, values[k].len);
        if (std::find(index.values.begin(), index.values.end(), s) == index.values.end()) {
          index.values.push_back(std::move(s));
        }
      }
    }
    auto truths = [&](std::string_view s, bool other) {
      uint64_t bits = 0;
      for (size_t j = 0; j < leaves.size(); ++j) {
        // A string equal to no constant is only `!=` and `not in` every one of them.
        const Op op = leaves[j]->op;
        const bool t = other ? op == Op::kNe || op == Op::kNotIn : StringTruth(op, *leaves[j]->constant, s);
        bits |= uint64_t{t} << j;
      }
      return bits;
    };
    for (const std::string& s : index.values) {
      index.hashes.push_back(HashKey(s));
      index.truths.push_back(truths(s, false));
    }
    index.other = truths({}, true);
    size_t size = 4;
    while (size < index.values.size() * 2) size *= 2;
    index.table.assign(size, 0);
    for (uint32_t i = 0; i < index.values.size(); ++i) {
      size_t s = index.hashes[i] & (size - 1);
      while (index.table[s] != 0) s = (s + 1) & (size - 1);
      index.table[s] = i + 1;
    }
  }

  for (size_t g = 0; g < groups.size(); ++g) {
    const size_t first = needs_.size();
    for (const auto& [leaf, truth] : wants[g]) {
      const LeafInfo& info = infos[leaf];
      const uint64_t bit = uint64_t{1} << info.bit;
      auto need = std::find_if(needs_.begin() + static_cast<ptrdiff_t>(first), needs_.end(),
                               [&](const Need& n) { return n.word == info.word; });
      if (need == needs_.end()) need = needs_.insert(needs_.end(), Need{info.word, 0, 0});
      if ((need->mask & bit) != 0 && ((need->want & bit) != 0) != truth) never_[g] = 1;  // both ways
      need->mask |= bit;
      if (truth) need->want |= bit;
    }
    need_begin_.push_back(static_cast<uint32_t>(needs_.size()));
  }
  always_.clear();
  for (uint32_t g = 0; g < groups.size(); ++g) {
    if (!never_[g] && need_begin_[g] == need_begin_[g + 1]) always_.push_back(g);
  }
  seen_.assign(words * 64, 0);
  events_ = 0;
  triggered_ = false;
}

uint64_t StartFilter::EachLeaf(const std::vector<Leaf>& leaves, const nfa::StoredEvent* event, uint64_t epoch) {
  uint64_t bits = 0;
  for (size_t j = 0; j < leaves.size(); ++j) {
    bits |= uint64_t{leaves[j].nfa->EventExprTruth(leaves[j].expr, event, epoch)} << j;
  }
  return bits;
}

uint64_t StartFilter::NumberTruths(const NumberIndex& index, const nfa::StoredEvent* event, uint64_t epoch) const {
  const Value& v = event->slot(index.slot);
  double x;
  if (!ExactDouble(v, &x)) return EachLeaf(index.leaves, event, epoch);
  const size_t k = index.cuts.size();
  if (x != x) return index.truths[2 * k + 1];
  const size_t at = static_cast<size_t>(std::lower_bound(index.cuts.begin(), index.cuts.end(), x) - index.cuts.begin());
  return index.truths[at < k && index.cuts[at] == x ? 2 * at + 1 : 2 * at];
}

uint64_t StartFilter::StringTruths(const StringIndex& index, const nfa::StoredEvent* event, uint64_t epoch) const {
  const Value& v = event->slot(index.slot);
  if (v.kind != ValueKind::kString) return EachLeaf(index.leaves, event, epoch);
  const std::string_view s(v.str, v.len);
  const uint64_t hash = HashKey(s);
  const size_t mask = index.table.size() - 1;
  for (size_t at = hash & mask; index.table[at] != 0; at = (at + 1) & mask) {
    const uint32_t i = index.table[at] - 1;
    if (index.hashes[i] == hash && index.values[i] == s) return index.truths[i];
  }
  return index.other;
}

bool StartFilter::Passes(uint32_t group) const {
  for (uint32_t n = need_begin_[group]; n < need_begin_[group + 1]; ++n) {
    if ((bits_[needs_[n].word] & needs_[n].mask) != needs_[n].want) return false;
  }
  return true;
}

void StartFilter::Count() {
  for (size_t w = 0; w < bits_.size(); ++w) {
    for (uint64_t t = bits_[w]; t != 0; t &= t - 1) ++seen_[w * 64 + static_cast<size_t>(__builtin_ctzll(t))];
  }
}

void StartFilter::ChooseTriggers() {
  const size_t words = bits_.size();
  true_triggers_.assign(words, 0);
  false_triggers_.assign(words, 0);
  // Scratch kept between samples: choosing again allocates nothing.
  std::vector<uint32_t>& trigger = trigger_scratch_;  // per group: (word * 64 + bit) * 2 + truth
  std::vector<uint32_t>& count = count_scratch_;
  trigger.assign(never_.size(), UINT32_MAX);
  count.assign(words * 128 + 1, 0);
  for (uint32_t g = 0; g < never_.size(); ++g) {
    if (never_[g] || need_begin_[g] == need_begin_[g + 1]) continue;
    uint32_t best_seen = UINT32_MAX;
    for (uint32_t n = need_begin_[g]; n < need_begin_[g + 1]; ++n) {
      const Need& need = needs_[n];
      for (uint64_t m = need.mask; m != 0; m &= m - 1) {
        const uint32_t bit = static_cast<uint32_t>(__builtin_ctzll(m));
        const uint32_t truth = (need.want >> bit) & 1u;
        const uint32_t leaf = need.word * 64 + bit;
        const uint32_t times = truth != 0 ? seen_[leaf] : sample_events_ - seen_[leaf];
        if (times < best_seen) {
          best_seen = times;
          trigger[g] = leaf * 2 + truth;
        }
      }
    }
    const uint32_t t = trigger[g];
    ++count[t + 1];
    (t & 1u ? true_triggers_ : false_triggers_)[t / 128] |= uint64_t{1} << ((t / 2) % 64);
  }
  for (size_t t = 1; t < count.size(); ++t) count[t] += count[t - 1];
  trigger_begin_ = count;
  triggered_groups_.assign(count.back(), 0);
  for (uint32_t g = 0; g < never_.size(); ++g) {
    if (trigger[g] != UINT32_MAX) triggered_groups_[count[trigger[g]]++] = g;
  }
  triggered_ = true;
}

void StartFilter::Candidates(const nfa::StoredEvent* event, uint64_t epoch, std::vector<uint32_t>* out) {
  for (const NumberIndex& index : number_) bits_[index.word] = NumberTruths(index, event, epoch);
  for (const StringIndex& index : string_) bits_[index.word] = StringTruths(index, event, epoch);
  out->assign(always_.begin(), always_.end());
  if (events_ < sample_events_) {
    // Sampling: every group is looked at, and the leaves' truths are counted.
    Count();
    if (++events_ == sample_events_) ChooseTriggers();
    if (!triggered_) {
      for (uint32_t g = 0; g < never_.size(); ++g) {
        if (!never_[g] && need_begin_[g] != need_begin_[g + 1] && Passes(g)) out->push_back(g);
      }
      return;
    }
  } else if (++events_ == sample_period_) {
    events_ = 0;
    seen_.assign(seen_.size(), 0);
  }
  for (uint32_t w = 0; w < bits_.size(); ++w) {
    for (int truth = 0; truth < 2; ++truth) {
      for (uint64_t m = truth != 0 ? bits_[w] & true_triggers_[w] : ~bits_[w] & false_triggers_[w]; m != 0; m &= m - 1) {
        const uint32_t t = (w * 64 + static_cast<uint32_t>(__builtin_ctzll(m))) * 2 + static_cast<uint32_t>(truth);
        for (uint32_t i = trigger_begin_[t]; i < trigger_begin_[t + 1]; ++i) {
          if (Passes(triggered_groups_[i])) out->push_back(triggered_groups_[i]);
        }
      }
    }
  }
}

}  // namespace tern::engine
