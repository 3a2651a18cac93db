// Tests of engine::Decompressor and of LineReader over gzip and zstd input: the lines of
// the plain file whatever the chunk sizes, concatenated members and frames, a pipe, and
// clear errors (never a short read) for files cut short or corrupt.
#include "engine/decompressor.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "engine/line_reader.h"
#include "tests/unit/temp_file.h"

namespace tern::engine {
namespace {

std::string Gzip(std::string_view data) {
  z_stream s{};
  REQUIRE(deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&s, data.size()) + 64, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

// With a checksum, as the zstd command writes by default: damage is always detected.
std::string Zstd(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1);
  const size_t n = ZSTD_compress2(context, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(context);
  REQUIRE(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

using tern::testing::TempFile;

// Lines "line <k> xxx...", of 30-130 bytes, up to `bytes`.
std::string SomeLines(size_t bytes) {
  std::string content;
  for (size_t k = 1; content.size() < bytes; ++k) {
    content += "line " + std::to_string(k) + " " + std::string(k * 37 % 100 + 20, static_cast<char>('a' + k % 26)) +
               "\n";
  }
  return content;
}

// Everything the decompressor hands out for `compressed` (from a file), `n` bytes per Read.
std::string DecompressAll(Codec codec, std::string_view compressed, size_t n, std::string* error) {
  TempFile file(compressed, ".bin");
  const int fd = open(file.path().c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  auto d = Decompressor::Create(codec);
  std::string out, chunk(n, '\0');
  while (true) {
    const ssize_t got = d->Read(fd, chunk.data(), n);
    if (got <= 0) {
      if (got < 0) *error = d->error();
      break;
    }
    out.append(chunk.data(), static_cast<size_t>(got));
  }
  CHECK(d->consumed() == compressed.size());
  close(fd);
  return out;
}

// The lines a LineReader hands out for the file, or "error: ..." last.
std::vector<std::string> Lines(const std::string& path, size_t chunk = LineReader::kDefaultChunk) {
  LineReader reader(chunk);
  std::string error;
  std::vector<std::string> out;
  if (!reader.Open(path, &error)) return {"error: " + error};
  Line line;
  while (reader.Next(&line)) out.emplace_back(line.text);
  if (!reader.error().empty()) out.push_back("error: " + reader.error());
  return out;
}

std::vector<std::string> Split(const std::string& content) {
  std::vector<std::string> out;
  for (size_t b = 0, e; (e = content.find('\n', b)) != std::string::npos; b = e + 1) {
    out.push_back(content.substr(b, e - b));
  }
  return out;
}

TEST_CASE("codecs by magic bytes and by name") {
  CHECK(DetectCodec("\x1f\x8b\x08\x00") == Codec::kGzip);
  CHECK(DetectCodec("\x28\xb5\x2f\xfd") == Codec::kZstd);
  CHECK(DetectCodec("{\"ts\"") == Codec::kNone);
  CHECK(DetectCodec("\x28\xb5") == Codec::kNone);  // too short for zstd's
  CHECK(DetectCodec("") == Codec::kNone);
  CHECK(CodecOfName("a/events.jsonl.gz") == Codec::kGzip);
  CHECK(CodecOfName("events.zst") == Codec::kZstd);
  CHECK(CodecOfName("events.zstd") == Codec::kZstd);
  CHECK(CodecOfName("events.jsonl") == Codec::kNone);
  CHECK(CodecOfName("gz") == Codec::kNone);
}

TEST_CASE("decompressing whole streams, any output size") {
  const std::string data = SomeLines(700'000);
  for (Codec codec : {Codec::kGzip, Codec::kZstd}) {
    const std::string compressed = codec == Codec::kGzip ? Gzip(data) : Zstd(data);
    for (size_t n : {size_t{1}, size_t{7}, size_t{4096}, size_t{1} << 22}) {
      CAPTURE(CodecName(codec));
      CAPTURE(n);
      if (n == 1 && codec == Codec::kGzip) {
        // One byte per call over 700 KB: a smaller input keeps the test quick.
        const std::string small = data.substr(0, 20'000);
        std::string error;
        CHECK(DecompressAll(codec, Gzip(small), n, &error) == small);
        CHECK(error.empty());
        continue;
      }
      std::string error;
      CHECK(DecompressAll(codec, compressed, n, &error) == data);
      CHECK(error.empty());
    }
  }
}

TEST_CASE("concatenated gzip members and zstd frames are one stream") {
  const std::string a = SomeLines(50'000), b = SomeLines(30'000);
  std::string error;
  CHECK(DecompressAll(Codec::kGzip, Gzip(a) + Gzip(b), 4096, &error) == a + b);
  CHECK(DecompressAll(Codec::kZstd, Zstd(a) + Zstd(b), 4096, &error) == a + b);
  CHECK(DecompressAll(Codec::kGzip, Gzip("") + Gzip(b), 4096, &error) == b);
  CHECK(error.empty());
}

TEST_CASE("a stream cut short or damaged is an error, never a short read") {
  const std::string data = SomeLines(300'000);
  for (Codec codec : {Codec::kGzip, Codec::kZstd}) {
    CAPTURE(CodecName(codec));
    const std::string compressed = codec == Codec::kGzip ? Gzip(data) : Zstd(data);
    const std::string name = CodecName(codec);
    for (size_t cut : {size_t{3}, size_t{10}, compressed.size() / 2, compressed.size() - 1}) {
      CAPTURE(cut);
      std::string error;
      const std::string got = DecompressAll(codec, compressed.substr(0, cut), 65536, &error);
      CHECK(error.find("truncated " + name + " data") == 0);
      CHECK(data.starts_with(got));
      // (Cut inside the trailer, all the data may have come out: the error is still there.)
      if (cut <= compressed.size() / 2) CHECK(got.size() < data.size());
    }
    std::string damaged = compressed;
    for (size_t i = damaged.size() / 2; i < damaged.size() / 2 + 32; ++i) {
      damaged[i] = static_cast<char>(damaged[i] ^ 0x55);
    }
    std::string error;
    DecompressAll(codec, damaged, 65536, &error);
    CHECK(error.find("corrupt " + name + " data: ") == 0);
    error.clear();
    DecompressAll(codec, compressed + "garbage after the end", 65536, &error);
    CHECK(error.find("corrupt " + name + " data: ") == 0);
  }
}

TEST_CASE("LineReader: compressed files give the plain file's lines") {
  const std::string data = SomeLines(size_t{6} << 20) + "no final newline";
  const std::vector<std::string> want = [&] {
    auto lines = Split(data);
    lines.push_back("no final newline");
    return lines;
  }();
  TempFile gz(Gzip(data), ".jsonl.gz"), zst(Zstd(data), ".jsonl.zst"), unnamed(Zstd(data), ".jsonl");
  CHECK(Lines(gz.path()) == want);
  CHECK(Lines(zst.path()) == want);
  CHECK(Lines(unnamed.path()) == want);  // by its magic bytes alone
  CHECK(Lines(gz.path(), 100) == want);   // lines longer than the chunk
  LineReader reader;
  std::string error;
  REQUIRE(reader.Open(gz.path(), &error));
  CHECK(reader.codec() == Codec::kGzip);
  Line line;
  while (reader.Next(&line)) {
  }
  CHECK(reader.bytes_read() == data.size());
  CHECK(reader.file_position() == Gzip(data).size());
}

TEST_CASE("LineReader: a compressed file cut short ends with an error after its whole lines") {
  const std::string data = SomeLines(2'000'000);
  const std::string compressed = Zstd(data);
  TempFile cut(compressed.substr(0, compressed.size() / 2), ".zst");
  const std::vector<std::string> lines = Lines(cut.path());
  REQUIRE(!lines.empty());
  CHECK(lines.back().find("error: truncated zstd data") == 0);
  const std::vector<std::string> all = Split(data);
  REQUIRE(lines.size() - 1 < all.size());
  for (size_t i = 0; i + 1 < lines.size(); ++i) CHECK(lines[i] == all[i]);  // whole lines only
}

TEST_CASE("LineReader: a name that promises a codec the bytes do not have") {
  TempFile plain("{\"ts\":1}\n", ".jsonl.gz"), empty("", ".zst");
  LineReader reader;
  std::string error;
  CHECK(!reader.Open(plain.path(), &error));
  CHECK(error == "'" + plain.path() + "' is not gzip data (its name says it is)");
  CHECK(!reader.Open(empty.path(), &error));
  CHECK(error == "'" + empty.path() + "' is not zstd data (its name says it is, but it is empty)");
}

TEST_CASE("LineReader: standard input, plain or compressed, found by its first bytes") {
  const std::string data = SomeLines(300'000);
  for (const std::string& bytes : {data, Gzip(data), Zstd(data), std::string("ab\n"), std::string("x")}) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const int saved = dup(STDIN_FILENO);
    REQUIRE(dup2(fds[0], STDIN_FILENO) >= 0);
    close(fds[0]);
    std::thread writer([&] {
      // A byte at a time first: the magic bytes may come in pieces.
      for (size_t i = 0; i < bytes.size();) {
        const size_t n = i < 8 ? 1 : bytes.size() - i;
        const ssize_t w = write(fds[1], bytes.data() + i, n);
        if (w <= 0) break;
        i += static_cast<size_t>(w);
      }
      close(fds[1]);
    });
    const std::vector<std::string> lines = Lines("-");
    writer.join();
    dup2(saved, STDIN_FILENO);
    close(saved);
    if (bytes == "ab\n") {
      CHECK(lines == std::vector<std::string>{"ab"});
    } else if (bytes == "x") {
      CHECK(lines == std::vector<std::string>{"x"});
    } else {
      CHECK(lines == Split(data));
    }
  }
}

}  // namespace
}  // namespace tern::engine
