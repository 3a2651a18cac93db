// Reads an engine clock (Engine::SaveClock's bytes, stored in the state store's
// partition record) into plain values, for `tern state`; the engine itself restores it
// with Engine::LoadClock.
// Tested by tests/unit/state/store_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::engine {

// One engine input partition, as the clock saw it.
struct ClockPartitionView {
  bool seen = false;      // has shown an event (or AdvancePartition)
  bool declared = false;  // AddPartition: holds the watermark back before its first event
  bool idle = false;      // MarkIdle: left out of the global watermark until its next event
  int64_t max_ts = INT64_MIN;    // latest event time, epoch ms; INT64_MIN before any
  std::vector<uint64_t> buffered;  // seqs of the events its reorder buffer holds
};

// Thread: any (a plain value). Locks: none.
struct ClockView {
  uint64_t next_seq = 0;           // the seq the next event gets
  int64_t fired_until = INT64_MIN;  // watermark the window timers last fired against
  std::vector<ClockPartitionView> partitions;  // by engine partition index
  std::vector<std::string> stream_names;       // by stream id (`from`)
  std::vector<std::string> fields;             // the schema's field paths, by slot
};

// Decodes Engine::SaveClock's format (versioned: an unknown version is an error, never
// a guess). False with *error set on a malformed clock.
bool DescribeClock(std::string_view clock, ClockView* out, std::string* error);

}  // namespace tern::engine
