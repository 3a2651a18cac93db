// Reads a JSON Lines file (mapped into memory, or in big chunks, or decompressed as it
// is read when it is gzip or zstd) and hands out one line at a time as a string_view,
// with its 1-based line number. Blank lines are skipped but counted.
// Tested by tests/unit/engine/line_reader_test.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/decompressor.h"

namespace tern::engine {

struct Line {
  std::string_view text;  // without '\n' and a trailing '\r'; valid until the next Next().
                          // Of a line longer than the reader's limit: its first bytes only
  uint64_t number = 0;    // 1-based line number in the file
  uint64_t size = 0;      // bytes of the whole line, as `text` counts them
  bool too_long = false;  // longer than the reader's limit: `text` is only its first
                          // bytes (at most LineReader::kTooLongPrefix)
};

// Created by whoever replays a file (cli replay, benches); owns its buffer, mapping and
// fd. A regular file opened by Open() is mapped and its lines are handed out from the
// mapping up to its last whole 64-byte block; the rest, and pipes, stdin and OpenFd(),
// go through read() into the buffer (whatever was appended to the file since it was
// opened is read too). A line longer than the chunk grows the buffer, so any line
// length works, up to the limit set by set_max_line(): a longer line is handed out
// as its first kTooLongPrefix bytes with its full size (Line::too_long), after being
// skipped in bounded memory (the buffer never grows past about twice the limit plus a
// chunk; mapped pages behind the reader are released). After warm-up Next() does not
// allocate (a line over the limit copies its prefix). A mapped file truncated by
// another process while being read ends the input with an error (a SIGBUS handler
// catches the read past the new end); the lines handed out before are whole.
// A gzip or zstd input (found by its first bytes; a name ending in .gz, .zst or .zstd
// must have them) is never mapped: it is decompressed chunk by chunk into the buffer
// (engine/decompressor.h), and its end inside a compressed stream, or bytes that do
// not decompress, end the input with an error after the last whole line before them.
// Thread: one reader thread. Locks: none.
class LineReader {
 public:
  static constexpr size_t kDefaultChunk = size_t{1} << 22;  // 4 MiB per read()
  static constexpr size_t kTooLongPrefix = 1024;  // bytes of a too-long line handed out

  explicit LineReader(size_t chunk_bytes = kDefaultChunk);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Opens a file (mapped when it is an uncompressed regular file of at least 64
  // bytes); "-" reads standard input. Compressed input is recognised by its magic
  // bytes. On failure returns false and sets *error to e.g. "cannot open 'x.jsonl':
  // No such file or directory" or "'x.gz' is not gzip data (its name says it is)".
  bool Open(const std::string& path, std::string* error);
  // Reads from an already open descriptor; the reader does not close it.
  void OpenFd(int fd);

  // The next non-blank line. Returns false at the end of input or on a read error
  // (then error() is non-empty). A leading UTF-8 byte order mark is dropped.
  bool Next(Line* line);

  // Lines longer than `bytes` (without the newline, a final '\r' and a first line's
  // byte order mark) are too long; the default is no limit. Set before reading.
  void set_max_line(uint64_t bytes) { max_line_ = bytes; }

  const std::string& error() const { return error_; }
  // Bytes of input read (decompressed ones for a compressed file).
  uint64_t bytes_read() const { return bytes_read_; }
  // How far into the file the reader is, in the file's own bytes (compressed ones for
  // a compressed file; mapped: up to the current line): for progress reports.
  uint64_t file_position() const {
    if (decompressor_) return decompressor_->consumed();
    return mapped_ ? begin_ : bytes_read_;
  }
  Codec codec() const { return codec_; }
  uint64_t line_number() const { return line_number_; }  // of the last line handed out or skipped

 private:
  // Maps the open regular file fd_ if it is worth it; false leaves it to read().
  bool Map();
  // Hands the mapped pages before the current line back (their page table entries, not
  // the page cache), so that the reader's resident memory stays about one chunk.
  void Release();
  // True (and error_ set, input ended) once the SIGBUS handler found the mapped file
  // shorter than when it was mapped.
  bool Truncated();
  // Moves the mapping's unread bytes into the buffer and leaves the rest of the file
  // to read(), from the end of the last whole block. False (and error_) when the file
  // cannot be positioned there.
  bool LeaveMapping();
  // Moves the unread tail to the front, grows the buffer if it is full, and reads
  // until the buffer is full or the input ends. Returns false when nothing new came.
  bool Refill();
  // read(2) into `out`, through the decompressor if there is one; as read() returns.
  ssize_t ReadInput(char* out, size_t n);
  // Finds the codec of the open input from its first bytes (pread of a regular file;
  // a pipe's are read into the buffer or handed to the decompressor). False (and
  // error_) when a name's promise is broken or the first bytes cannot be read.
  bool DetectInput(const std::string& path);
  void Reset();
  // [begin_, end_) holds no newline and more input is needed: once the line is over
  // the limit, its prefix is kept and the bytes read so far are dropped.
  void SkipPartialLine();
  // Appends data_[begin, end) to prefix_ up to its kTooLongPrefix bytes.
  void AddToPrefix(size_t begin, size_t end);
  // Hands out the line that skipping ended at line_end (the rest of it: [begin, line_end)).
  void FinishSkippedLine(size_t begin, size_t line_end, Line* line);

  std::unique_ptr<char[]> buffer_;
  const char* data_ = nullptr;  // the bytes lines are cut from: buffer_ or map_;
                                // begin_, end_ and block_ are offsets into it
  char* map_ = nullptr;         // the whole file, mapped read-only (or nullptr)
  size_t map_size_ = 0;         // bytes mapped
  bool mapped_ = false;         // data_ is map_: end_ advances one chunk at a time
                                // (a multiple of 64) up to map_end_
  size_t map_end_ = 0;          // end of the mapping's last whole 64-byte block, after
                                // which read() takes over
  int region_ = -1;             // the mapping's slot in the SIGBUS handler's table
  size_t released_ = 0;         // mapping bytes [0, released_) handed back by Release();
                                // a multiple of the page size
  size_t capacity_ = 0;       // bytes in buffer_; >= chunk size (or the tail of a mapping)
  static constexpr size_t kSlack = 64;  // bytes allocated past capacity_: a newline
                                        // bitmap reads whole 64-byte blocks
  size_t begin_ = 0;          // first unread byte
  size_t end_ = 0;            // one past the last valid byte
  size_t block_ = 0;          // the 64-byte block newlines_ covers (cut at end_);
                              // begin_ <= block_ + 64, block_ <= end_ (or both 0)
  uint64_t newlines_ = 0;     // bit i: buffer_[block_ + i] is a newline not yet handed
                              // out; [begin_, first such newline) holds none
  int fd_ = -1;
  bool owns_fd_ = false;
  bool eof_ = false;
  bool at_start_ = true;      // nothing handed out yet (BOM check)
  uint64_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
  uint64_t max_line_ = UINT64_MAX;  // see set_max_line()
  bool skipping_ = false;           // inside a line over the limit, whose bytes before
                                    // begin_ were dropped
  uint64_t skipped_ = 0;            // bytes of that line dropped so far
  char skipped_last_ = 0;           // the last byte dropped (a '\r' before a newline)
  std::string prefix_;              // its first kTooLongPrefix bytes
  Codec codec_ = Codec::kNone;
  std::unique_ptr<Decompressor> decompressor_;  // set for a compressed input
  std::string error_;
};

}  // namespace tern::engine
