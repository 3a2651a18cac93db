// Line splitting over a mapped file or chunks of read(2): a bitmap of the newlines of
// 64 bytes at a time (SSE2), popped one line at a time, and one memmove of the partial
// last line per chunk.
//
// Why the mapping: read(2) copies every byte of the file from the page cache into the
// buffer (the kernel's _copy_to_iter was 5-18% of a W1 replay in perf); a mapping
// hands out lines where the page cache holds them. The mapping is only read in whole
// 64-byte blocks, never past its end (no padding to arrange, clean under ASan); the
// bytes after the last whole block, with the line they may finish, are copied into
// the buffer and read() continues from there, so the end of the file (no final
// newline, a CR, a partial line) has a single code path.
#include "engine/line_reader.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tern::engine {

namespace {

bool IsBlank(const char* begin, const char* end) {
  for (const char* p = begin; p != end; ++p) {
    if (*p != ' ' && *p != '\t' && *p != '\r') return false;
  }
  return true;
}

// Bit i set when p[i] is a newline, for i < n (n <= 64); reads p[0, 64).
uint64_t NewlineBits(const char* p, size_t n) {
  uint64_t bits = 0;
#if defined(__SSE2__)
  const __m128i newline = _mm_set1_epi8('\n');
  for (int k = 0; k < 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    bits |= static_cast<uint64_t>(
                static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, newline))))
            << (16 * k);
  }
#else
  for (size_t i = 0; i < 64; ++i) bits |= static_cast<uint64_t>(p[i] == '\n') << i;
#endif
  return n >= 64 ? bits : bits & ((uint64_t{1} << n) - 1);
}

// A mapped file that another process truncates raises SIGBUS at the next read of a
// page past its new end. The handler maps zero pages over the rest of that mapping,
// so the read finds zeros instead of killing the process, and marks the mapping
// truncated. Zeros hold no newline, so no line cut from the mapping can include them;
// Next() stops with an error at the next chunk of the mapping or where read() takes
// over (LeaveMapping, which also catches a cut inside the last page: zeros there
// without a fault). Faults elsewhere go to the handler installed before ours (or the
// default action). A reader that finds no free region slot reads with read() instead.
struct MappedRegion {
  std::atomic<bool> used{false};
  std::atomic<const char*> begin{nullptr};
  std::atomic<size_t> size{0};
  std::atomic<bool> truncated{false};
};
constexpr int kMaxRegions = 16;
MappedRegion g_regions[kMaxRegions];
struct sigaction g_previous_sigbus;
size_t g_page = 4096;

void OnSigbus(int sig, siginfo_t* info, void* context) {
  const char* addr = static_cast<const char*>(info->si_addr);
  for (MappedRegion& r : g_regions) {
    const char* begin = r.begin.load(std::memory_order_acquire);
    const size_t size = r.size.load(std::memory_order_acquire);
    if (begin == nullptr || addr < begin || addr >= begin + size) continue;
    char* from = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(addr) & ~(g_page - 1));
    const size_t length = static_cast<size_t>(begin + size - from);
    if (mmap(from, length, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
      break;
    }
    r.truncated.store(true, std::memory_order_release);
    return;
  }
  if (g_previous_sigbus.sa_flags & SA_SIGINFO) {
    g_previous_sigbus.sa_sigaction(sig, info, context);
  } else if (g_previous_sigbus.sa_handler != SIG_DFL && g_previous_sigbus.sa_handler != SIG_IGN) {
    g_previous_sigbus.sa_handler(sig);
  } else {
    // The default action: the faulting access runs again without us.
    signal(SIGBUS, SIG_DFL);
  }
}

// A region slot for [begin, begin + size), or -1 when none is free.
int RegisterMapping(const char* begin, size_t size) {
  static std::once_flag installed;
  std::call_once(installed, [] {
    g_page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    struct sigaction action {};
    action.sa_sigaction = OnSigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &g_previous_sigbus);
  });
  for (int i = 0; i < kMaxRegions; ++i) {
    bool expected = false;
    if (!g_regions[i].used.compare_exchange_strong(expected, true)) continue;
    g_regions[i].truncated.store(false);
    g_regions[i].size.store(size, std::memory_order_release);
    g_regions[i].begin.store(begin, std::memory_order_release);
    return i;
  }
  return -1;
}

void UnregisterMapping(int region) {
  if (region < 0) return;
  g_regions[region].begin.store(nullptr, std::memory_order_release);
  g_regions[region].size.store(0, std::memory_order_release);
  g_regions[region].used.store(false, std::memory_order_release);
}

}  // namespace

LineReader::LineReader(size_t chunk_bytes) : capacity_(chunk_bytes < 16 ? 16 : chunk_bytes) {}

LineReader::~LineReader() {
  UnregisterMapping(region_);
  if (map_ != nullptr) munmap(map_, map_size_);
  if (owns_fd_ && fd_ >= 0) close(fd_);
}

void LineReader::Reset() {
  UnregisterMapping(region_);
  region_ = -1;
  if (map_ != nullptr) munmap(map_, map_size_);
  map_ = nullptr;
  map_size_ = 0;
  mapped_ = false;
  map_end_ = 0;
  released_ = 0;
  if (owns_fd_ && fd_ >= 0) close(fd_);
  fd_ = -1;
  owns_fd_ = false;
  if (!buffer_) buffer_ = std::make_unique_for_overwrite<char[]>(capacity_ + kSlack);
  data_ = buffer_.get();
  begin_ = end_ = block_ = 0;
  newlines_ = 0;
  eof_ = false;
  at_start_ = true;
  line_number_ = 0;
  bytes_read_ = 0;
  skipping_ = false;
  skipped_ = 0;
  codec_ = Codec::kNone;
  decompressor_.reset();
  error_.clear();
}

bool LineReader::Open(const std::string& path, std::string* error) {
  Reset();
  if (path == "-") {
    fd_ = STDIN_FILENO;
  } else {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      error_ = "cannot open '" + path + "': " + std::strerror(errno);
      if (error != nullptr) *error = error_;
      eof_ = true;
      return false;
    }
    fd_ = fd;
    owns_fd_ = true;
  }
  if (!DetectInput(path)) {
    if (error != nullptr) *error = error_;
    eof_ = true;
    return false;
  }
  if (fd_ == STDIN_FILENO && !owns_fd_) return true;
  if (codec_ != Codec::kNone || !Map()) {
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  return true;
}

bool LineReader::DetectInput(const std::string& path) {
  char head[4];
  size_t got = 0;
  struct stat st;
  const bool regular = fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  const off_t start = regular ? std::max<off_t>(lseek(fd_, 0, SEEK_CUR), 0) : 0;  // stdin may be a file
  // A regular file is looked at in place; a pipe's first bytes are taken from it (and
  // given back below, to the buffer or the decompressor).
  while (got < sizeof head) {
    const ssize_t n = regular ? pread(fd_, head + got, sizeof head - got, start + static_cast<off_t>(got))
                              : read(fd_, head + got, sizeof head - got);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      error_ = "cannot read '" + path + "': " + std::strerror(errno);
      return false;
    }
  }
  const std::string_view first(head, got);
  codec_ = DetectCodec(first);
  const Codec named = CodecOfName(path);
  if (named != Codec::kNone && codec_ != named) {
    error_ = "'" + path + "' is not " + CodecName(named) + " data (its name says it is" +
             (got == 0 ? ", but it is empty)" : ")");
    return false;
  }
  if (codec_ != Codec::kNone) {
    decompressor_ = Decompressor::Create(codec_);
    if (!regular) decompressor_->Prime(first);
  } else if (!regular) {
    std::memcpy(buffer_.get(), head, got);
    end_ = got;
    bytes_read_ = got;
  }
  return true;
}

ssize_t LineReader::ReadInput(char* out, size_t n) {
  return decompressor_ ? decompressor_->Read(fd_, out, n) : read(fd_, out, n);
}

bool LineReader::Map() {
  struct stat st;
  if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 64) return false;
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (map == MAP_FAILED) return false;
  region_ = RegisterMapping(static_cast<const char*>(map), size);
  if (region_ < 0) {
    munmap(map, size);
    return false;
  }
  madvise(map, size, MADV_SEQUENTIAL);
  map_ = static_cast<char*>(map);
  map_size_ = size;
  mapped_ = true;
  data_ = map_;
  map_end_ = size & ~size_t{63};
  end_ = std::min(map_end_, kDefaultChunk);
  bytes_read_ = map_end_;
  newlines_ = NewlineBits(data_, 64);
  return true;
}

void LineReader::Release() {
  // Every page of the mapping would otherwise stay in the resident set until the end
  // (a 2M-line file: 190 MB of RSS instead of 20). MADV_DONTNEED on a private mapping
  // never written to drops the page table entries only; the pages stay cached.
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t upto = begin_ / page * page;
  if (upto > released_) {
    madvise(map_ + released_, upto - released_, MADV_DONTNEED);
    released_ = upto;
  }
}

bool LineReader::Truncated() {
  if (region_ < 0 || !g_regions[region_].truncated.load(std::memory_order_acquire)) return false;
  error_ = "the file shrank while being read (it had " + std::to_string(map_size_) +
           " bytes when opened); stopped after line " + std::to_string(line_number_);
  eof_ = true;
  return true;
}

bool LineReader::LeaveMapping() {
  // A file cut short inside the mapping's last page reads zeros there, with no SIGBUS.
  struct stat st;
  if (fstat(fd_, &st) == 0 && static_cast<size_t>(st.st_size) < map_end_) {
    g_regions[region_].truncated.store(true, std::memory_order_release);
    return true;  // the caller's Truncated() reports it
  }
  const size_t tail = end_ - begin_;
  if (tail > capacity_) {
    while (capacity_ < tail) capacity_ *= 2;
    buffer_ = std::make_unique_for_overwrite<char[]>(capacity_ + kSlack);
  }
  std::memcpy(buffer_.get(), data_ + begin_, tail);
  if (lseek(fd_, static_cast<off_t>(end_), SEEK_SET) < 0) {
    error_ = std::string("read error: ") + std::strerror(errno);
    eof_ = true;
    return false;
  }
  data_ = buffer_.get();
  mapped_ = false;
  begin_ = block_ = 0;
  end_ = tail;
  newlines_ = 0;  // [begin_, end_) has no newline
  return true;
}

void LineReader::OpenFd(int fd) {
  Reset();
  fd_ = fd;
}

bool LineReader::Refill() {
  if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == capacity_) {
    // One line fills the whole buffer: double it.
    size_t bigger = capacity_ * 2;
    auto grown = std::make_unique_for_overwrite<char[]>(bigger + kSlack);
    std::memcpy(grown.get(), buffer_.get(), end_);
    buffer_ = std::move(grown);
    capacity_ = bigger;
    data_ = buffer_.get();
  }
  while (true) {
    ssize_t n = ReadInput(buffer_.get() + end_, capacity_ - end_);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      bytes_read_ += static_cast<uint64_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (decompressor_) {
      error_ = decompressor_->error();
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    error_ = std::string("read error: ") + std::strerror(errno);
    eof_ = true;
    return false;
  }
}

void LineReader::SkipPartialLine() {
  if (!skipping_) {
    skipping_ = true;
    skipped_ = 0;
    prefix_.clear();
  }
  AddToPrefix(begin_, end_);
  if (end_ > begin_) {
    skipped_ += end_ - begin_;
    skipped_last_ = data_[end_ - 1];
  }
  // Dropped: a refill reads into the whole buffer, and the mapping's pages before
  // begin_ are released at its next chunk. The bitmap already covers up to end_.
  begin_ = end_;
}

void LineReader::AddToPrefix(size_t begin, size_t end) {
  const size_t keep = kTooLongPrefix + (at_start_ ? 3 : 0);  // room for a byte order mark
  if (prefix_.size() < keep) {
    prefix_.append(data_ + begin, std::min(end - begin, keep - prefix_.size()));
  }
}

void LineReader::FinishSkippedLine(size_t begin, size_t line_end, Line* line) {
  skipping_ = false;
  AddToPrefix(begin, line_end);
  uint64_t size = skipped_ + (line_end - begin);
  const char last = line_end > begin ? data_[line_end - 1] : skipped_last_;
  if (last == '\r') --size;
  std::string_view text = prefix_;
  if (at_start_) {
    at_start_ = false;
    if (text.starts_with("\xEF\xBB\xBF")) {
      text.remove_prefix(3);
      size -= 3;
    }
  }
  line->text = text.substr(0, std::min<uint64_t>(kTooLongPrefix, size));
  line->size = size;
  line->too_long = true;
  line->number = line_number_;
}

bool LineReader::Next(Line* line) {
  if (fd_ < 0 || !error_.empty()) return false;
  while (true) {
    const char* base = data_;
    const size_t line_begin = begin_;
    size_t line_end;
    // The next newline: from the bitmap, or the next block's, or after a refill.
    while (newlines_ == 0 && block_ + 64 < end_) {
      block_ += 64;
      newlines_ = NewlineBits(base + block_, end_ - block_);
    }
    if (newlines_ != 0) {
      line_end = block_ + static_cast<size_t>(__builtin_ctzll(newlines_));
      newlines_ &= newlines_ - 1;
      begin_ = line_end + 1;
    } else if (!eof_) {
      // [begin_, end_) has no newline. Over the limit (give or take a byte order mark
      // and a final CR, which do not count), the line is dropped as it is read.
      const size_t pending = end_ - begin_;
      if (skipping_ || (pending > 4 && pending - 4 > max_line_)) SkipPartialLine();
      // Read more, then look again from begin_ (which the refill moves to 0; the
      // bitmap of a block cut short by end_ is redone).
      if (mapped_) {
        if (end_ < map_end_) {
          // The next chunk of the mapping (end_ stops at each, off the per-line path).
          if (Truncated()) return false;
          Release();
          end_ = std::min(map_end_, end_ + kDefaultChunk);
          continue;
        }
        if (!LeaveMapping() || Truncated()) return false;
      }
      if (!Refill() && !error_.empty()) return false;
      block_ = begin_;
      newlines_ = block_ < end_ ? NewlineBits(data_ + block_, end_ - block_) : 0;
      continue;
    } else if (begin_ < end_ || skipping_) {
      line_end = end_;  // the last line has no newline
      begin_ = block_ = end_;
    } else {
      return false;
    }
    ++line_number_;
    if (skipping_) {
      FinishSkippedLine(line_begin, line_end, line);
      return true;
    }
    size_t text_begin = line_begin;
    if (at_start_) {
      at_start_ = false;
      if (line_end - text_begin >= 3 && std::memcmp(base + text_begin, "\xEF\xBB\xBF", 3) == 0) {
        text_begin += 3;
      }
    }
    if (line_end > text_begin && base[line_end - 1] == '\r') --line_end;
    const size_t size = line_end - text_begin;
    // Over the limit, but whole in the buffer: the same Line as after skipping (even
    // if it is blank, so that the outcome does not depend on chunk sizes).
    line->too_long = size > max_line_;
    if (!line->too_long && IsBlank(base + text_begin, base + line_end)) continue;
    line->text =
        std::string_view(base + text_begin, line->too_long ? std::min(size, kTooLongPrefix) : size);
    line->size = size;
    line->number = line_number_;
    return true;
  }
}

}  // namespace tern::engine
