// `tern state DIR`: what a state directory holds (written by `tern replay --state` or
// the daemon), read only: per partition its checkpoint, positions and watermarks, per
// pattern its keys and partial matches; `--key K` prints one key's partial matches as
// JSON (the events each bound, and when its window closes).
// Tested by tests/state/state_command_test.py and tests/state/corruption_test.py.
#include <algorithm>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "base/json_writer.h"
#include "base/output_file.h"
#include "base/printable.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "engine/clock_view.h"
#include "nfa/snapshot.h"
#include "state/store.h"

namespace tern::cli {

namespace {

constexpr char kStateUsage[] =
    "usage: tern state DIR [--partition NAME] [--pattern P] [--json]\n"
    "       tern state DIR --key K [--pattern P] [--partition NAME]\n"
    "\n"
    "Shows what a state directory holds (written by `tern replay --state DIR` or by\n"
    "`tern run`), without changing it: RocksDB is opened read only, so a running\n"
    "daemon's store can be looked at. Every record read is checked (checksum, layout).\n"
    "\n"
    "Without --key, per partition: its checkpoint number, input positions, settings,\n"
    "per engine input partition its latest event time and watermark (time - lateness)\n"
    "and reorder buffer, then per pattern its live keys, partial matches, held matches\n"
    "(complete matches a skip strategy holds back) and the bytes of its key records,\n"
    "and the number and bytes of the stored events. Times are epoch milliseconds, shown\n"
    "with their UTC date. Keys of a pattern whose program changed since they were\n"
    "written are marked \"(stale: pattern changed)\": the next load drops them.\n"
    "\n"
    "options:\n"
    "  --partition NAME  only this partition (`tern replay` writes one: replay)\n"
    "  --pattern P       only this pattern\n"
    "  --json            the same as one JSON object on one line\n"
    "  --key K           that key's partial matches, as JSON Lines: one object per\n"
    "                    partition and pattern holding the key, {\"partition\",\n"
    "                    \"pattern\", \"key\", \"stale\", \"watermark\", \"partial_matches\",\n"
    "                    \"held_matches\"}; each match {\"state\" (the NFA state it waits\n"
    "                    in, as `tern explain` names it), \"started\", \"window_closes\",\n"
    "                    \"stages\": [{\"stage\", \"ts\", \"position\", \"event\"}, ...]},\n"
    "                    stages oldest first, \"position\" the event's input position\n"
    "                    (replay: its line), \"event\" the event as received.\n"
    "                    \"window_closes\": the watermark at which the match's\n"
    "                    earliest window (its `within` from the first event, or its\n"
    "                    state's window from the last bound event) has closed: it times\n"
    "                    out once the partition's watermark reaches that time; null when\n"
    "                    no window bounds it (and for held matches, which are complete).\n"
    "                    K is the key as JSON (\"c1\" with its quotes, [\"a\",1] for a\n"
    "                    key of several fields) or a string key's bare text (c1)\n"
    "\n"
    "Exit status: 0, 1 when DIR is not a state directory, a partition cannot be\n"
    "opened, a record is damaged (the message names the partition and the key or\n"
    "event) or --key finds nothing, 2 for a bad command line.\n";

constexpr OptionSpec kStateOptions[] = {
    {"--partition", true}, {"--key", true}, {"--pattern", true}, {"--json", false}};

constexpr int64_t kNoTime = INT64_MIN;

// "2024-03-05T09:02:09.155Z" for epoch milliseconds in years 0..9999; empty otherwise.
std::string UtcDate(int64_t ms) {
  constexpr int64_t kMin = -62167219200000;  // 0000-01-01
  constexpr int64_t kMax = 253402300799999;  // 9999-12-31T23:59:59.999
  if (ms < kMin || ms > kMax) return "";
  int64_t days = ms >= 0 ? ms / 86'400'000 : -((-ms + 86'399'999) / 86'400'000);
  int64_t rest = ms - days * 86'400'000;
  // Civil from days (H. Hinnant's algorithm).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char text[160];  // room for any int64 fields (GCC checks), though years stay 0..9999
  std::snprintf(text, sizeof text, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(year), static_cast<long long>(month), static_cast<long long>(day),
                static_cast<long long>(rest / 3'600'000), static_cast<long long>(rest / 60'000 % 60),
                static_cast<long long>(rest / 1000 % 60), static_cast<long long>(rest % 1000));
  return text;
}

// "1709629329155 (2024-03-05T09:02:09.155Z)", or "none" (no time yet).
std::string TimeText(int64_t ms) {
  if (ms == kNoTime) return "none";
  if (ms == INT64_MAX) return "the end of time (every window closed: --finish)";
  std::string date = UtcDate(ms);
  return std::to_string(ms) + (date.empty() ? "" : " (" + date + ")");
}

void AppendTime(std::string& out, int64_t ms) {
  if (ms == kNoTime) {
    out += "null";
  } else {
    json::AppendInt(out, ms);
  }
}

int64_t SatSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b > 0 ? INT64_MIN : INT64_MAX;
  return r;
}

// The `lateness_ms=` entry of a partition's settings (replay and the daemon write it).
bool LatenessOf(const std::string& settings, int64_t* lateness_ms) {
  constexpr std::string_view kEntry = "lateness_ms=";
  size_t at = 0;
  while ((at = settings.find(kEntry, at)) != std::string::npos) {
    if (at == 0 || settings[at - 1] == ';') {
      const char* begin = settings.data() + at + kEntry.size();
      char* end = nullptr;
      const long long v = std::strtoll(begin, &end, 10);
      if (end != begin && (*end == '\0' || *end == ';')) {
        *lateness_ms = v;
        return true;
      }
    }
    at += kEntry.size();
  }
  return false;
}

// A partition's watermark: its latest time less the lateness, as the engine computes it.
int64_t Watermark(const engine::ClockPartitionView& p, int64_t lateness_ms) {
  return p.seen ? SatSub(p.max_ts, lateness_ms) : kNoTime;
}

// The engine's global watermark (Engine::Impl::GlobalWatermark): the smallest of the
// partitions' that count; none while a declared partition has shown nothing.
int64_t GlobalWatermark(const engine::ClockView& clock, int64_t lateness_ms) {
  int64_t wm = INT64_MAX;
  bool any = false;
  for (const engine::ClockPartitionView& p : clock.partitions) {
    if (p.idle) continue;
    if (!p.seen) {
      if (p.declared) return kNoTime;
      continue;
    }
    any = true;
    wm = std::min(wm, Watermark(p, lateness_ms));
  }
  return any ? wm : kNoTime;
}

// One version of a pattern in a partition, counted from its key records.
// Thread: the command's. Locks: none.
struct PatternSummary {
  std::string name;
  uint64_t hash = 0;
  const state::PatternInfo* info = nullptr;  // null: a version the partition record does not list (stale)
  uint64_t keys = 0, runs = 0, held = 0, bytes = 0;
};

// One partition, read and checked; patterns point into meta (never moved once filled).
// Thread: the command's. Locks: none.
struct PartitionSummary {
  std::string name;
  std::string path;
  bool has_checkpoint = false;
  state::PartitionMeta meta;
  engine::ClockView clock;
  bool lateness_known = false;
  int64_t lateness_ms = 0;
  std::vector<PatternSummary> patterns;
  uint64_t events = 0, event_bytes = 0;
};

// The prefix of every key record of pattern `name`, whatever its fingerprint.
std::string AllVersionsPrefix(const std::string& name) {
  std::string prefix = state::PatternPrefix(name, 0);
  prefix.resize(prefix.size() - 8);
  return prefix;
}

// Opens a partition read only and reads its partition record. False with *error.
std::unique_ptr<state::PartitionStore> OpenPartition(const std::string& dir, const std::string& name,
                                                     PartitionSummary* out, std::string* error) {
  state::Status status;
  auto store = state::PartitionStore::OpenForRead(dir, name, &status);
  if (store == nullptr) {
    *error = status.message + " (opened read only)";
    return nullptr;
  }
  out->name = name;
  out->path = store->path();
  status = store->ReadMeta(&out->meta);
  if (status.code == state::Errc::kAbsent) return store;
  if (!status.ok()) {
    *error = status.message;
    return nullptr;
  }
  out->has_checkpoint = true;
  std::string why;
  if (!engine::DescribeClock(out->meta.clock, &out->clock, &why)) {
    *error = "state partition " + name + ", partition record: " + why;
    return nullptr;
  }
  out->lateness_known = LatenessOf(out->meta.settings, &out->lateness_ms);
  for (const state::PatternInfo& p : out->meta.patterns) {
    PatternSummary s;
    s.name = p.name;
    s.hash = state::FingerprintHash(p.fingerprint);
    s.info = &p;
    out->patterns.push_back(std::move(s));
  }
  return store;
}

PatternSummary& SummaryOf(PartitionSummary& part, std::string_view pattern, uint64_t hash) {
  for (PatternSummary& s : part.patterns) {
    if (s.name == pattern && s.hash == hash) return s;
  }
  PatternSummary s;
  s.name.assign(pattern);
  s.hash = hash;
  part.patterns.push_back(std::move(s));
  return part.patterns.back();
}

// A key record, unframed and decoded; false with *error naming the partition and key.
bool DecodeKeyRecord(const std::string& partition, std::string_view pattern, std::string_view key_bytes,
                     std::string_view value, std::string_view* key_json, nfa::KeyRefsView* view,
                     std::string* error) {
  std::string_view payload, refs;
  std::string why;
  const std::string where = "state partition " + partition + ", pattern " + std::string(pattern) + ", key ";
  if (!state::Unframe(value, &payload, &why) || !state::DecodeKey(payload, key_json, &refs)) {
    if (why.empty()) why = "truncated key record";
    *error = where + Printable(std::string(key_bytes)) + " (encoded): " + why;
    return false;
  }
  if (!nfa::DescribeKeyRefs(refs, view, &why)) {
    *error = where + Printable(std::string(*key_json)) + ": " + why;
    return false;
  }
  return true;
}

// An event record, unframed and decoded into `events` (one scratch store per command).
bool DecodeEvent(const std::string& partition, uint64_t seq, std::string_view value, nfa::EventStore& events,
                 std::unordered_map<uint64_t, nfa::StoredEvent*>& by_seq, nfa::StoredEvent** out,
                 std::string* error) {
  std::string_view payload;
  std::string why;
  size_t pos = 0;
  if (!state::Unframe(value, &payload, &why)) {
    *error = "state partition " + partition + ", event " + std::to_string(seq) + ": " + why;
    return false;
  }
  if (!nfa::RestoreEvent(payload, &pos, events, by_seq, out) || pos != payload.size() || (*out)->id.seq != seq) {
    *error = "state partition " + partition + ", event " + std::to_string(seq) +
             ": truncated or malformed event record";
    return false;
  }
  return true;
}

// Reads and checks every record of a partition into *part: each decodes, and every
// event a key or the reorder buffer names is stored (what a load would check).
bool Summarize(state::PartitionStore& store, const std::string& only_pattern, PartitionSummary* part,
               std::string* error) {
  bool ok = true;
  nfa::EventStore events;
  std::unordered_map<uint64_t, nfa::StoredEvent*> by_seq;
  std::unordered_set<uint64_t> stored;
  state::Status status = store.Scan("e", [&](std::string_view key, std::string_view value) {
    uint64_t seq = 0;
    nfa::StoredEvent* e = nullptr;
    if (!state::SplitEventKey(key, &seq)) {
      *error = "state partition " + part->name + ": malformed event key";
      return ok = false;
    }
    if (!DecodeEvent(part->name, seq, value, events, by_seq, &e, error)) return ok = false;
    events.Unref(e);
    by_seq.clear();
    stored.insert(seq);
    ++part->events;
    part->event_bytes += key.size() + value.size();
    return true;
  });
  if (!status.ok()) {
    *error = status.message;
    return false;
  }
  if (!ok) return false;
  for (size_t i = 0; i < part->clock.partitions.size(); ++i) {
    for (uint64_t seq : part->clock.partitions[i].buffered) {
      if (stored.count(seq) == 0) {
        *error = "state partition " + part->name + ": reorder buffer of input partition " + std::to_string(i) +
                 " names event " + std::to_string(seq) + ", which the store does not hold";
        return false;
      }
    }
  }
  auto on_key = [&](std::string_view key, std::string_view value) {
    std::string_view pattern, key_bytes, key_json;
    uint64_t hash = 0;
    if (!state::SplitKeyKey(key, &pattern, &hash, &key_bytes)) {
      *error = "state partition " + part->name + ": malformed key record key";
      return ok = false;
    }
    nfa::KeyRefsView view;
    if (!DecodeKeyRecord(part->name, pattern, key_bytes, value, &key_json, &view, error)) return ok = false;
    for (const auto* runs : {&view.runs, &view.held}) {
      for (const nfa::RunRefsView& run : *runs) {
        for (const auto& [seq, stage] : run.bindings) {
          if (stored.count(seq) > 0) continue;
          *error = "state partition " + part->name + ", pattern " + std::string(pattern) + ", key " +
                   Printable(std::string(key_json)) + ": key record names event " + std::to_string(seq) +
                   ", which the store does not hold";
          return ok = false;
        }
      }
    }
    PatternSummary& s = SummaryOf(*part, pattern, hash);
    ++s.keys;
    s.runs += view.runs.size();
    s.held += view.held.size();
    s.bytes += key.size() + value.size();
    return true;
  };
  const std::string keys = only_pattern.empty() ? std::string("k") : AllVersionsPrefix(only_pattern);
  status = store.Scan(keys, std::move(on_key));
  if (!status.ok()) {
    *error = status.message;
    return false;
  }
  if (!only_pattern.empty()) {
    std::erase_if(part->patterns, [&](const PatternSummary& s) { return s.name != only_pattern; });
  }
  return ok;
}

std::string PositionsText(const state::PartitionMeta& meta) {
  std::string out;
  for (const auto& [input, position] : meta.positions) {
    if (!out.empty()) out += ", ";
    out += Printable(input) + " " + std::to_string(position);
  }
  return out.empty() ? "none" : out;
}

void RenderText(const PartitionSummary& part, std::string& out) {
  out += "partition " + Printable(part.name) + " (" + Printable(part.path) + ")\n";
  if (!part.has_checkpoint) {
    out += "  no checkpoint yet\n";
    return;
  }
  const state::PartitionMeta& meta = part.meta;
  const engine::ClockView& clock = part.clock;
  out += "  checkpoint: " + std::to_string(meta.checkpoint) + "\n";
  out += "  positions: " + PositionsText(meta) + "\n";
  out += "  settings: " + (meta.settings.empty() ? std::string("none") : Printable(meta.settings)) + "\n";
  if (!meta.extra.empty()) out += "  owner's record: " + std::to_string(meta.extra.size()) + " bytes\n";
  const int64_t lateness = part.lateness_known ? part.lateness_ms : 0;
  if (!part.lateness_known) out += "  lateness: not recorded (watermarks below assume 0)\n";
  out += "  watermark: " + TimeText(GlobalWatermark(clock, lateness)) +
         "; windows closed up to " + TimeText(clock.fired_until) + "\n";
  for (size_t i = 0; i < clock.partitions.size(); ++i) {
    const engine::ClockPartitionView& p = clock.partitions[i];
    out += "  input partition " + std::to_string(i) + ": ";
    if (!p.seen) {
      out += "no event yet";
    } else {
      out += "time " + TimeText(p.max_ts) + ", watermark " + TimeText(Watermark(p, lateness));
    }
    out += ", " + std::to_string(p.buffered.size()) + " events in the reorder buffer";
    if (p.idle) out += ", idle";
    out += "\n";
  }
  if (!clock.stream_names.empty()) {
    out += "  streams:";
    for (const std::string& s : clock.stream_names) out += " " + Printable(s);
    out += "\n";
  }
  out += "  next event seq: " + std::to_string(clock.next_seq) + "\n";
  out += "  patterns:" + std::string(part.patterns.empty() ? " none\n" : "\n");
  for (const PatternSummary& s : part.patterns) {
    out += "    " + Printable(s.name) + (s.info == nullptr ? " (stale: pattern changed)" : "") + ": " +
           std::to_string(s.keys) + " keys, " + std::to_string(s.runs) + " partial matches, " +
           std::to_string(s.held) + " held matches, " + std::to_string(s.bytes) + " bytes\n";
  }
  out += "  events: " + std::to_string(part.events) + " records, " + std::to_string(part.event_bytes) +
         " bytes\n";
}

void RenderJson(const PartitionSummary& part, std::string& out) {
  out += "{\"name\":";
  json::AppendString(out, part.name);
  out += ",\"path\":";
  json::AppendString(out, part.path);
  out += ",\"checkpoint\":";
  if (!part.has_checkpoint) {
    out += "null}";
    return;
  }
  const state::PartitionMeta& meta = part.meta;
  const engine::ClockView& clock = part.clock;
  json::AppendInt(out, static_cast<int64_t>(meta.checkpoint));
  out += ",\"positions\":[";
  for (size_t i = 0; i < meta.positions.size(); ++i) {
    out += i > 0 ? ",{\"input\":" : "{\"input\":";
    json::AppendString(out, meta.positions[i].first);
    out += ",\"position\":" + std::to_string(meta.positions[i].second) + "}";
  }
  out += "],\"settings\":";
  json::AppendString(out, meta.settings);
  out += ",\"lateness_ms\":";
  if (part.lateness_known) {
    json::AppendInt(out, part.lateness_ms);
  } else {
    out += "null";
  }
  const int64_t lateness = part.lateness_known ? part.lateness_ms : 0;
  out += ",\"watermark\":";
  AppendTime(out, part.lateness_known ? GlobalWatermark(clock, lateness) : kNoTime);
  out += ",\"fired_until\":";
  AppendTime(out, clock.fired_until);
  out += ",\"next_seq\":" + std::to_string(clock.next_seq);
  out += ",\"inputs\":[";
  for (size_t i = 0; i < clock.partitions.size(); ++i) {
    const engine::ClockPartitionView& p = clock.partitions[i];
    out += i > 0 ? ",{\"partition\":" : "{\"partition\":";
    out += std::to_string(i) + ",\"time\":";
    AppendTime(out, p.seen ? p.max_ts : kNoTime);
    out += ",\"watermark\":";
    AppendTime(out, part.lateness_known ? Watermark(p, lateness) : kNoTime);
    out += ",\"buffered\":" + std::to_string(p.buffered.size());
    out += std::string(",\"idle\":") + (p.idle ? "true" : "false") + "}";
  }
  out += "],\"streams\":[";
  for (size_t i = 0; i < clock.stream_names.size(); ++i) {
    if (i > 0) out += ",";
    json::AppendString(out, clock.stream_names[i]);
  }
  out += "],\"patterns\":[";
  for (size_t i = 0; i < part.patterns.size(); ++i) {
    const PatternSummary& s = part.patterns[i];
    out += i > 0 ? ",{\"name\":" : "{\"name\":";
    json::AppendString(out, s.name);
    out += std::string(",\"stale\":") + (s.info == nullptr ? "true" : "false");
    out += ",\"keys\":" + std::to_string(s.keys) + ",\"partial_matches\":" + std::to_string(s.runs) +
           ",\"held_matches\":" + std::to_string(s.held) + ",\"bytes\":" + std::to_string(s.bytes) + "}";
  }
  out += "],\"events\":{\"records\":" + std::to_string(part.events) + ",\"bytes\":" +
         std::to_string(part.event_bytes) + "}}";
}

// The watermark at which a partial match's earliest window has closed (Nfa::LastOpen
// + 1: a window opened at t for D is closed once the watermark reaches t + D), or
// kNoTime when no window bounds it or it ends past every event time.
int64_t WindowCloses(const state::PatternInfo& info, const nfa::RunRefsView& run) {
  int64_t best = INT64_MAX;
  auto consider = [&best](int64_t from, int64_t length) {
    int64_t end;
    if (!__builtin_add_overflow(from, length, &end)) best = std::min(best, end);
  };
  if (info.within_ms > 0) consider(run.start.ts, info.within_ms);
  if (run.state < info.state_windows.size() && info.state_windows[run.state] > 0) {
    consider(run.prev_ts, info.state_windows[run.state]);
  }
  return best == INT64_MAX ? kNoTime : best;
}

std::string NameOf(const std::vector<std::string>* names, uint32_t index) {
  if (names != nullptr && index < names->size()) return (*names)[index];
  return "#" + std::to_string(index);
}

// The matches of one key record as JSON; false with *error when an event is missing or
// damaged.
bool AppendMatches(state::PartitionStore& store, const PartitionSummary& part, const PatternSummary& pattern,
                   std::string_view key_json, const std::vector<nfa::RunRefsView>& runs, bool held,
                   std::string& out, std::string* error) {
  nfa::EventStore events;
  std::unordered_map<uint64_t, nfa::StoredEvent*> by_seq;
  const state::PatternInfo* info = pattern.info;
  out += "[";
  bool ok = true;
  for (size_t r = 0; ok && r < runs.size(); ++r) {
    const nfa::RunRefsView& run = runs[r];
    out += r > 0 ? ",{\"state\":" : "{\"state\":";
    json::AppendString(out, NameOf(info != nullptr ? &info->state_names : nullptr, run.state));
    out += ",\"started\":";
    json::AppendInt(out, run.start.ts);
    out += ",\"window_closes\":";
    AppendTime(out, held || info == nullptr ? kNoTime : WindowCloses(*info, run));
    out += ",\"stages\":[";
    for (size_t b = 0; ok && b < run.bindings.size(); ++b) {
      const auto [seq, stage] = run.bindings[b];
      nfa::StoredEvent* event = nullptr;
      auto known = by_seq.find(seq);
      if (known != by_seq.end()) {
        event = known->second;
      } else {
        state::Status status = store.Scan(state::EventKey(seq), [&](std::string_view, std::string_view value) {
          ok = DecodeEvent(part.name, seq, value, events, by_seq, &event, error);
          return false;
        });
        if (!status.ok()) {
          *error = status.message;
          return false;
        }
        if (!ok) return false;
        if (event == nullptr) {
          *error = "state partition " + part.name + ", pattern " + pattern.name + ", key " +
                   Printable(std::string(key_json)) + ": names event " + std::to_string(seq) +
                   ", which the store does not hold";
          return false;
        }
      }
      out += b > 0 ? ",{\"stage\":" : "{\"stage\":";
      json::AppendString(out, NameOf(info != nullptr ? &info->stage_names : nullptr, stage));
      out += ",\"ts\":";
      json::AppendInt(out, event->ts());
      out += ",\"position\":" + std::to_string(event->position) + ",\"event\":";
      if (event->payload.empty()) {
        out += "null";
      } else {
        out += event->payload;  // the event as received: one JSON object
      }
      out += "}";
    }
    out += "]}";
  }
  out += "]";
  return ok;
}

int KeyReport(const std::string& dir, const std::vector<std::string>& partitions, const std::string& key,
              const std::string& only_pattern) {
  std::string quoted;
  json::AppendString(quoted, key);
  size_t found = 0;
  bool pattern_seen = only_pattern.empty();
  for (const std::string& name : partitions) {
    PartitionSummary part;
    std::string error;
    auto store = OpenPartition(dir, name, &part, &error);
    if (store == nullptr) {
      std::fprintf(stderr, "tern state: %s: %s\n", Printable(dir).c_str(), Printable(error).c_str());
      return kExitFailed;
    }
    if (!only_pattern.empty()) {
      for (const PatternSummary& s : part.patterns) pattern_seen |= s.name == only_pattern;
    }
    std::string lines;
    bool ok = true;
    state::Status status = store->Scan(
        only_pattern.empty() ? std::string("k") : AllVersionsPrefix(only_pattern),
        [&](std::string_view record_key, std::string_view value) {
          std::string_view pattern, key_bytes, key_json;
          uint64_t hash = 0;
          nfa::KeyRefsView view;
          if (!state::SplitKeyKey(record_key, &pattern, &hash, &key_bytes)) {
            error = "state partition " + part.name + ": malformed key record key";
            return ok = false;
          }
          pattern_seen = true;
          if (!DecodeKeyRecord(part.name, pattern, key_bytes, value, &key_json, &view, &error)) return ok = false;
          if (key_json != key && key_json != quoted) return true;
          const PatternSummary& s = SummaryOf(part, pattern, hash);
          std::string line = "{\"partition\":";
          json::AppendString(line, part.name);
          line += ",\"pattern\":";
          json::AppendString(line, s.name);
          line += ",\"key\":";
          line += key_json;  // JSON as the engine wrote it
          line += std::string(",\"stale\":") + (s.info == nullptr ? "true" : "false");
          line += ",\"watermark\":";
          AppendTime(line, part.has_checkpoint ? GlobalWatermark(part.clock, part.lateness_ms) : kNoTime);
          line += ",\"partial_matches\":";
          if (!AppendMatches(*store, part, s, key_json, view.runs, false, line, &error)) return ok = false;
          line += ",\"held_matches\":";
          if (!AppendMatches(*store, part, s, key_json, view.held, true, line, &error)) return ok = false;
          line += "}\n";
          lines += line;
          ++found;
          return true;
        });
    if (!status.ok()) error = status.message;
    if (!status.ok() || !ok) {
      std::fprintf(stderr, "tern state: %s: %s\n", Printable(dir).c_str(), Printable(error).c_str());
      return kExitFailed;
    }
    Stdout().Write(lines);
  }
  if (found == 0) {
    std::string where = only_pattern.empty() ? "" : " of pattern " + only_pattern;
    if (!pattern_seen) {
      std::fprintf(stderr, "tern state: %s: no pattern %s holds state there\n", Printable(dir).c_str(),
                   Printable(only_pattern).c_str());
    } else {
      std::fprintf(stderr, "tern state: %s: no partial or held matches%s for key %s\n", Printable(dir).c_str(),
                   Printable(where).c_str(), Printable(key).c_str());
    }
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

int StateCommand(std::span<const std::string> words) {
  Args args;
  std::string error;
  if (!args.Parse(words, kStateOptions, &error)) return UsageError("state", error);
  if (args.help()) {
    Stdout().Write(kStateUsage);
    return kExitOk;
  }
  if (args.positional().size() != 1) return UsageError("state", "expected one state directory");
  const std::string& dir = args.positional()[0];
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    std::fprintf(stderr, "tern state: no state directory %s%s\n", Printable(dir).c_str(),
                 std::filesystem::exists(dir, ec) ? " (not a directory)" : "");
    return kExitFailed;
  }
  std::vector<std::string> partitions = state::ListPartitions(dir);
  if (partitions.empty()) {
    std::fprintf(stderr, "tern state: %s holds no state partition (none of its directories is a store)\n",
                 Printable(dir).c_str());
    return kExitFailed;
  }
  if (args.Has("--partition")) {
    const std::string& only = args.Get("--partition", "");
    if (std::find(partitions.begin(), partitions.end(), only) == partitions.end()) {
      std::string list;
      for (const std::string& p : partitions) list += (list.empty() ? "" : ", ") + p;
      std::fprintf(stderr, "tern state: %s: no partition %s (it holds %s)\n", Printable(dir).c_str(),
                   Printable(only).c_str(), Printable(list).c_str());
      return kExitFailed;
    }
    partitions = {only};
  }
  const std::string only_pattern = args.Get("--pattern", "");
  if (args.Has("--key")) return KeyReport(dir, partitions, args.Get("--key", ""), only_pattern);

  const bool as_json = args.Has("--json");
  std::string out;
  if (as_json) {
    out += "{\"dir\":";
    json::AppendString(out, dir);
    out += ",\"partitions\":[";
  }
  for (size_t i = 0; i < partitions.size(); ++i) {
    PartitionSummary part;
    auto store = OpenPartition(dir, partitions[i], &part, &error);
    if (store == nullptr || !Summarize(*store, only_pattern, &part, &error)) {
      std::fprintf(stderr, "tern state: %s: %s\n", Printable(dir).c_str(), Printable(error).c_str());
      return kExitFailed;
    }
    if (as_json) {
      if (i > 0) out += ",";
      RenderJson(part, out);
    } else {
      if (i > 0) out += "\n";
      RenderText(part, out);
    }
  }
  if (as_json) out += "]}\n";
  Stdout().Write(out);
  return kExitOk;
}

}  // namespace tern::cli
