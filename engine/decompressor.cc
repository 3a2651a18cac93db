// gzip through zlib's inflate (gzip wrapper only, windowBits 15 + 16), zstd through
// ZSTD_decompressStream. Both keep one input chunk and decompress straight into the
// caller's buffer, so a file of any size is read in a few hundred KiB plus the codec's
// window (32 KiB for gzip, up to 8 MiB for zstd's default levels; zstd refuses frames
// that want more than its default limit of 128 MiB).
#include "engine/decompressor.h"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tern::engine {

namespace {

constexpr unsigned char kGzipMagic[] = {0x1f, 0x8b};
constexpr unsigned char kZstdMagic[] = {0x28, 0xb5, 0x2f, 0xfd};

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

class GzipDecompressor : public Decompressor {
 public:
  GzipDecompressor() {
    stream_.zalloc = Z_NULL;
    stream_.zfree = Z_NULL;
    stream_.opaque = Z_NULL;
    ok_ = inflateInit2(&stream_, 15 + 16) == Z_OK;  // 16: a gzip header, not zlib's
  }
  ~GzipDecompressor() override {
    if (ok_) inflateEnd(&stream_);
  }

  ssize_t Read(int fd, char* out, size_t n) override {
    if (!error_.empty()) return -1;
    if (!ok_) {
      error_ = "cannot start gzip decompression (out of memory)";
      return -1;
    }
    stream_.next_out = reinterpret_cast<Bytef*>(out);
    // zlib counts in uInt: at most 1 GiB per call is plenty.
    stream_.avail_out = static_cast<uInt>(std::min<size_t>(n, size_t{1} << 30));
    const uInt want = stream_.avail_out;
    while (stream_.avail_out == want) {
      if (in_begin_ == in_end_ && !Fill(fd) && !error_.empty()) return -1;
      if (in_begin_ == in_end_ && !in_member_) return 0;  // the end, after a whole member
      if (!in_member_) {
        // The next member of a concatenation (cat a.gz b.gz) starts a stream of its own.
        if (started_ && inflateReset(&stream_) != Z_OK) {
          error_ = "cannot restart gzip decompression";
          return -1;
        }
        in_member_ = true;
        started_ = true;
      }
      stream_.next_in = reinterpret_cast<Bytef*>(in_.get() + in_begin_);
      stream_.avail_in = static_cast<uInt>(in_end_ - in_begin_);
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      in_begin_ = in_end_ - stream_.avail_in;
      if (rc == Z_STREAM_END) {
        in_member_ = false;
      } else if (rc == Z_BUF_ERROR) {
        // No progress: inflate wants input. At the end of the file that is a member cut
        // short (with the input used up, a call still flushes what inflate held back).
        if (in_begin_ == in_end_ && eof_) {
          error_ = "truncated gzip data: the file ends inside a compressed stream";
          return -1;
        }
      } else if (rc != Z_OK) {
        error_ = std::string("corrupt gzip data: ") +
                 (stream_.msg != nullptr ? stream_.msg : rc == Z_MEM_ERROR ? "out of memory" : "invalid data");
        return -1;
      }
    }
    return static_cast<ssize_t>(want - stream_.avail_out);
  }

 private:
  z_stream stream_{};
  bool ok_ = false;
  bool in_member_ = false;  // inside a gzip member: its end has not been read
  bool started_ = false;    // a member was started (the next needs inflateReset)
};

class ZstdDecompressor : public Decompressor {
 public:
  ZstdDecompressor() : context_(ZSTD_createDCtx()) {}
  ~ZstdDecompressor() override { ZSTD_freeDCtx(context_); }

  ssize_t Read(int fd, char* out, size_t n) override {
    if (!error_.empty()) return -1;
    if (context_ == nullptr) {
      error_ = "cannot start zstd decompression (out of memory)";
      return -1;
    }
    ZSTD_outBuffer output{out, n, 0};
    while (true) {
      if (in_begin_ == in_end_ && !Fill(fd) && !error_.empty()) return -1;
      ZSTD_inBuffer input{in_.get() + in_begin_, in_end_ - in_begin_, 0};
      const size_t rc = ZSTD_decompressStream(context_, &output, &input);
      in_begin_ += input.pos;
      if (ZSTD_isError(rc)) {
        error_ = std::string("corrupt zstd data: ") + ZSTD_getErrorName(rc);
        return -1;
      }
      // rc == 0: a frame ended and is flushed. Only a call that did something says so
      // (one given nothing answers how much input it wants next).
      if (input.pos > 0 || output.pos > 0) in_frame_ = rc != 0;
      if (output.pos > 0) return static_cast<ssize_t>(output.pos);
      if (in_begin_ == in_end_ && eof_) {
        if (in_frame_) {
          error_ = "truncated zstd data: the file ends inside a compressed frame";
          return -1;
        }
        return 0;
      }
    }
  }

 private:
  ZSTD_DCtx* context_;
  bool in_frame_ = false;  // inside a frame: its end has not been decoded and flushed
};

}  // namespace

Codec DetectCodec(std::string_view head) {
  if (head.size() >= 2 && std::memcmp(head.data(), kGzipMagic, 2) == 0) return Codec::kGzip;
  if (head.size() >= 4 && std::memcmp(head.data(), kZstdMagic, 4) == 0) return Codec::kZstd;
  return Codec::kNone;
}

Codec CodecOfName(std::string_view path) {
  if (EndsWith(path, ".gz")) return Codec::kGzip;
  if (EndsWith(path, ".zst") || EndsWith(path, ".zstd")) return Codec::kZstd;
  return Codec::kNone;
}

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kGzip: return "gzip";
    case Codec::kZstd: return "zstd";
    default: return "plain";
  }
}

std::unique_ptr<Decompressor> Decompressor::Create(Codec codec) {
  if (codec == Codec::kGzip) return std::make_unique<GzipDecompressor>();
  if (codec == Codec::kZstd) return std::make_unique<ZstdDecompressor>();
  return nullptr;
}

Decompressor::Decompressor() : in_(std::make_unique_for_overwrite<char[]>(kInputChunk)) {}

void Decompressor::Prime(std::string_view bytes) {
  // Only before the first Read: the chunk is empty.
  const size_t n = std::min(bytes.size(), kInputChunk);
  std::memcpy(in_.get(), bytes.data(), n);
  in_begin_ = 0;
  in_end_ = n;
  consumed_ += n;
}

bool Decompressor::Fill(int fd) {
  if (eof_) return false;
  while (true) {
    const ssize_t n = read(fd, in_.get(), kInputChunk);
    if (n > 0) {
      in_begin_ = 0;
      in_end_ = static_cast<size_t>(n);
      consumed_ += static_cast<uint64_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    error_ = std::string("read error: ") + std::strerror(errno);
    return false;
  }
}

}  // namespace tern::engine
