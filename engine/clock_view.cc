// Engine clock records as plain values. The layout is Engine::SaveClock's (engine.cc):
// format byte, next seq, fired-until, per partition its flags, latest time and reorder
// buffer seqs, the stream names, the schema's field paths; fixed-width little-endian.
#include "engine/clock_view.h"

#include <bit>
#include <cstring>

namespace tern::engine {

static_assert(std::endian::native == std::endian::little, "state records are little-endian");

namespace {

// Engine::SaveClock's format byte (engine.cc kClockFormat): change both together.
constexpr uint8_t kClockFormat = 1;

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  template <typename T>
  bool Get(T* v) {
    if (s_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, s_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetStr(std::string* v) {
    uint32_t n;
    if (!Get(&n) || s_.size() - pos_ < n) return false;
    v->assign(s_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  // A count of items of at least `min_size` bytes each that the rest can hold.
  bool GetCount(uint32_t* n, size_t min_size) {
    return Get(n) && static_cast<uint64_t>(*n) * min_size <= s_.size() - pos_;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

bool DescribeClock(std::string_view clock, ClockView* out, std::string* error) {
  *out = ClockView{};
  Reader in(clock);
  auto fail = [error](const std::string& what) {
    *error = "engine clock: " + what;
    return false;
  };
  uint8_t format = 0;
  if (!in.Get(&format)) return fail("empty");
  if (format != kClockFormat) return fail("unknown format " + std::to_string(format));
  uint32_t n;
  if (!in.Get(&out->next_seq) || !in.Get(&out->fired_until) || !in.GetCount(&n, 13)) return fail("truncated");
  out->partitions.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    ClockPartitionView& p = out->partitions[i];
    uint8_t flags;
    uint32_t buffered;
    if (!in.Get(&flags) || !in.Get(&p.max_ts) || !in.GetCount(&buffered, 8)) {
      return fail("truncated (partition " + std::to_string(i) + ")");
    }
    p.seen = (flags & 1) != 0;
    p.declared = (flags & 2) != 0;
    p.idle = (flags & 4) != 0;
    p.buffered.resize(buffered);
    for (uint64_t& seq : p.buffered) in.Get(&seq);  // GetCount made room
  }
  if (!in.GetCount(&n, 4)) return fail("truncated (streams)");
  out->stream_names.resize(n);
  for (std::string& name : out->stream_names) {
    if (!in.GetStr(&name)) return fail("truncated (streams)");
  }
  if (!in.GetCount(&n, 4)) return fail("truncated (schema)");
  out->fields.resize(n);
  for (std::string& path : out->fields) {
    if (!in.GetStr(&path)) return fail("truncated (schema)");
  }
  if (!in.done()) return fail("trailing bytes");
  return true;
}

}  // namespace tern::engine
