// Streaming gzip (zlib) and zstd (libzstd) decompression of a file descriptor, for the
// line reader: compressed recordings are read as they come, in bounded memory.
// Tested by tests/unit/engine/decompressor_test.cc.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tern::engine {

enum class Codec { kNone, kGzip, kZstd };

// The codec whose magic bytes `head` (a file's first bytes, up to 4) starts with.
Codec DetectCodec(std::string_view head);
// The codec a file name's extension promises (.gz, .zst, .zstd), or kNone.
Codec CodecOfName(std::string_view path);
// "gzip", "zstd" or "plain".
const char* CodecName(Codec codec);

// Created by LineReader::Open for a compressed input; owned by the reader, lives as
// long as the input. Reads compressed bytes from the descriptor in chunks of
// kInputChunk and hands out decompressed ones. Concatenated gzip members and zstd
// frames read as one stream. The end of the file inside a member or frame, and bytes
// that are not valid compressed data, are errors (never a silent short read).
// Thread: the reader's. Locks: none.
class Decompressor {
 public:
  static constexpr size_t kInputChunk = size_t{1} << 18;  // 256 KiB per read()

  // For kGzip or kZstd.
  static std::unique_ptr<Decompressor> Create(Codec codec);
  virtual ~Decompressor() = default;

  // Compressed bytes already read from the descriptor (a pipe's first bytes, read to
  // find the codec): they come first.
  void Prime(std::string_view bytes);

  // Decompresses into out[0, n) (n > 0), reading `fd` as needed. Returns the bytes
  // produced (> 0), 0 at the end of the input after a complete member or frame, or -1
  // with error() set: "truncated gzip data: the file ends inside a compressed stream",
  // "corrupt zstd data: ...", "read error: ...".
  virtual ssize_t Read(int fd, char* out, size_t n) = 0;

  const std::string& error() const { return error_; }
  // Compressed bytes read so far (primed ones included).
  uint64_t consumed() const { return consumed_; }

 protected:
  Decompressor();
  // Reads the next chunk of compressed input into in_ when it is used up. False at the
  // end of the file (eof_) or on an error (error_ set).
  bool Fill(int fd);

  std::unique_ptr<char[]> in_;  // kInputChunk bytes of compressed input
  size_t in_begin_ = 0;         // [in_begin_, in_end_) not yet handed to the codec
  size_t in_end_ = 0;
  bool eof_ = false;            // read() returned 0
  uint64_t consumed_ = 0;       // compressed bytes read from the descriptor
  std::string error_;
};

}  // namespace tern::engine
