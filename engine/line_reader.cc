// Chunked line splitting over read(2): one memchr per line, one memmove of the
// partial last line per chunk.
#include "engine/line_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tern::engine {

namespace {

bool IsBlank(const char* begin, const char* end) {
  for (const char* p = begin; p != end; ++p) {
    if (*p != ' ' && *p != '\t' && *p != '\r') return false;
  }
  return true;
}

}  // namespace

LineReader::LineReader(size_t chunk_bytes) : capacity_(chunk_bytes < 16 ? 16 : chunk_bytes) {}

LineReader::~LineReader() {
  if (owns_fd_ && fd_ >= 0) close(fd_);
}

void LineReader::Reset() {
  if (owns_fd_ && fd_ >= 0) close(fd_);
  fd_ = -1;
  owns_fd_ = false;
  if (!buffer_) buffer_ = std::make_unique<char[]>(capacity_);
  begin_ = end_ = scanned_ = 0;
  eof_ = false;
  at_start_ = true;
  line_number_ = 0;
  bytes_read_ = 0;
  error_.clear();
}

bool LineReader::Open(const std::string& path, std::string* error) {
  Reset();
  if (path == "-") {
    fd_ = STDIN_FILENO;
    return true;
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error_ = "cannot open '" + path + "': " + std::strerror(errno);
    if (error != nullptr) *error = error_;
    eof_ = true;
    return false;
  }
#ifdef POSIX_FADV_SEQUENTIAL
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  fd_ = fd;
  owns_fd_ = true;
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
    scanned_ -= begin_;
    begin_ = 0;
  }
  if (end_ == capacity_) {
    // One line fills the whole buffer: double it.
    size_t bigger = capacity_ * 2;
    auto grown = std::make_unique<char[]>(bigger);
    std::memcpy(grown.get(), buffer_.get(), end_);
    buffer_ = std::move(grown);
    capacity_ = bigger;
  }
  while (true) {
    ssize_t n = read(fd_, buffer_.get() + end_, capacity_ - end_);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      bytes_read_ += static_cast<uint64_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    error_ = std::string("read error: ") + std::strerror(errno);
    eof_ = true;
    return false;
  }
}

bool LineReader::Next(Line* line) {
  if (fd_ < 0 || !error_.empty()) return false;
  while (true) {
    char* base = buffer_.get();
    size_t line_begin = begin_;
    size_t line_end;
    const void* newline = std::memchr(base + scanned_, '\n', end_ - scanned_);
    if (newline != nullptr) {
      line_end = static_cast<size_t>(static_cast<const char*>(newline) - base);
      begin_ = scanned_ = line_end + 1;
    } else if (!eof_) {
      scanned_ = end_;
      if (!Refill() && !error_.empty()) return false;
      continue;
    } else if (begin_ < end_) {
      line_end = end_;  // the last line has no newline
      begin_ = scanned_ = end_;
    } else {
      return false;
    }
    ++line_number_;
    if (at_start_) {
      at_start_ = false;
      if (line_end - line_begin >= 3 && std::memcmp(base + line_begin, "\xEF\xBB\xBF", 3) == 0) {
        line_begin += 3;
      }
    }
    if (line_end > line_begin && base[line_end - 1] == '\r') --line_end;
    if (IsBlank(base + line_begin, base + line_end)) continue;
    line->text = std::string_view(base + line_begin, line_end - line_begin);
    line->number = line_number_;
    return true;
  }
}

}  // namespace tern::engine
