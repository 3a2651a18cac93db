// Tests of engine::LineReader: line splitting, numbering, CRLF, blank lines, the
// last line without newline, lines longer than a chunk, pipes, mapped files.
#include "engine/line_reader.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/temp_file.h"

namespace tern::engine {
namespace {

using tern::testing::TempFile;

using Lines = std::vector<std::string>;

// "N:text" for every line the reader hands out until the end.
Lines Drain(LineReader& reader) {
  Lines lines;
  Line line;
  while (reader.Next(&line)) {
    lines.push_back(std::to_string(line.number) + ":" + std::string(line.text));
  }
  CHECK(reader.error().empty());
  return lines;
}

// The lines of `content` in a file, read both ways, which must agree: Open() (which
// maps a regular file of 64 bytes or more) and OpenFd() (read() alone).
Lines ReadAll(std::string_view content, size_t chunk = LineReader::kDefaultChunk) {
  TempFile file(content);
  LineReader reader(chunk);
  std::string error;
  REQUIRE(reader.Open(file.path(), &error));
  const Lines lines = Drain(reader);
  CHECK(reader.bytes_read() == content.size());

  const int fd = open(file.path().c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  LineReader streaming(chunk);
  streaming.OpenFd(fd);
  CHECK(Drain(streaming) == lines);
  CHECK(streaming.bytes_read() == content.size());
  close(fd);
  return lines;
}

TEST_CASE("lines and numbers") {
  CHECK(ReadAll("a\nb\nc\n") == Lines{"1:a", "2:b", "3:c"});
  CHECK(ReadAll("a\nb\nc") == Lines{"1:a", "2:b", "3:c"});  // no final newline
  CHECK(ReadAll("") == Lines{});
  CHECK(ReadAll("\n\n\n") == Lines{});
  CHECK(ReadAll("x") == Lines{"1:x"});
}

TEST_CASE("CRLF, blank and whitespace-only lines") {
  CHECK(ReadAll("a\r\nb\r\n") == Lines{"1:a", "2:b"});
  CHECK(ReadAll("a\r\n\r\n  \t \n\nb\r") == Lines{"1:a", "5:b"});
  CHECK(ReadAll("  {\"x\": 1}  \n") == Lines{"1:  {\"x\": 1}  "});  // inner blanks stay
  CHECK(ReadAll("a\rb\n") == Lines{"1:a\rb"});                      // only a final CR goes
}

TEST_CASE("a byte order mark is dropped from the first line only") {
  CHECK(ReadAll("\xEF\xBB\xBF{}\n\xEF\xBB\xBF{}\n") == Lines{"1:{}", "2:\xEF\xBB\xBF{}"});
  CHECK(ReadAll("\xEF\xBB\xBF\n{}") == Lines{"2:{}"});
}

TEST_CASE("lines longer than the chunk and chunk boundaries") {
  std::string content;
  Lines want;
  for (int i = 1; i <= 300; ++i) {
    std::string text(static_cast<size_t>((i * 37) % 101), static_cast<char>('a' + i % 26));
    if (i % 7 == 0) text.clear();  // blank: skipped but counted
    content += text;
    content += (i % 3 == 0) ? "\r\n" : "\n";
    if (!text.empty()) want.push_back(std::to_string(i) + ":" + text);
  }
  content += std::string(1000, 'z');  // the last line, no newline, far over the chunk
  want.push_back("301:" + std::string(1000, 'z'));
  for (size_t chunk : {16u, 17u, 64u, 4096u}) {
    CAPTURE(chunk);
    CHECK(ReadAll(content, chunk) == want);
  }
}

TEST_CASE("newlines at every offset of the 64-byte blocks") {
  // Lines of every length 0..200 (runs of blank lines included), so newlines fall on
  // every position of the bitmap blocks and of the chunks.
  std::string content;
  Lines want;
  int number = 0;
  for (int length = 0; length <= 200; ++length) {
    for (int copy = 0; copy < 2; ++copy) {
      ++number;
      std::string text(static_cast<size_t>(length), static_cast<char>('a' + (length + copy) % 26));
      content += text;
      content += '\n';
      if (!text.empty()) want.push_back(std::to_string(number) + ":" + text);
    }
  }
  for (size_t chunk : {16u, 63u, 64u, 65u, 127u, 128u, 1000u, 1u << 20}) {
    CAPTURE(chunk);
    CHECK(ReadAll(content, chunk) == want);
  }
}

// The reader's contract, spelled out the slow way: lines split at '\n', one final
// '\r' dropped, blank lines (spaces, tabs, CRs) skipped but counted, a byte order
// mark dropped from the first line.
Lines Reference(std::string_view content) {
  if (content.starts_with("\xEF\xBB\xBF")) content.remove_prefix(3);
  Lines lines;
  int number = 0;
  while (!content.empty()) {
    const size_t newline = content.find('\n');
    std::string_view text = content.substr(0, newline);
    content.remove_prefix(newline == std::string_view::npos ? content.size() : newline + 1);
    ++number;
    if (text.ends_with('\r')) text.remove_suffix(1);
    if (text.find_first_not_of(" \t\r") != std::string_view::npos) {
      lines.push_back(std::to_string(number) + ":" + std::string(text));
    }
  }
  return lines;
}

TEST_CASE("mapped files: every size around the blocks, every way to end") {
  // The mapping serves whole 64-byte blocks and read() the rest: lines ending before,
  // on and after a block's end, the file cut anywhere (mid-line, after a newline),
  // then ended with nothing, a newline, a CR, CRLF, a blank line.
  const std::string_view endings[] = {"", "\n", "\r", "\r\n", "\n\n", " \n", "\r\n\t"};
  for (size_t size = 0; size <= 200; ++size) {
    for (size_t line_length : {1, 7, 63, 64, 65, 200}) {
      std::string lines;
      for (int k = 0; lines.size() < size; ++k) {
        lines += std::string(line_length - 1, 'x') + static_cast<char>('a' + k % 26) + '\n';
      }
      lines.resize(size);
      for (std::string_view ending : endings) {
        const std::string content = lines + std::string(ending);
        CAPTURE(content);
        CHECK(ReadAll(content, 16) == Reference(content));  // 16: the tail's buffer grows
      }
    }
  }
  for (const std::string& content :
       {"\xEF\xBB\xBF" + std::string(100, 'b') + "\n", std::string(62, 'c') + "\r\n{}",
        std::string(63, 'd') + "\r\n{}",
        std::string(64, ' ') + "\r\n" + std::string(64, '\n') + "{}"}) {
    CAPTURE(content);
    CHECK(ReadAll(content) == Reference(content));
  }
}

TEST_CASE("a mapped file over several chunks: pages handed back behind the reader") {
  // Lines of 1..300 bytes over 9 MiB, so that the pages before the current line are
  // released (every 4 MiB) with lines straddling those points.
  std::string content;
  for (size_t k = 0; content.size() < (size_t{9} << 20); ++k) {
    content += std::string(k * 7919 % 300, static_cast<char>('a' + k % 26));
    content += k % 5 == 0 ? "\r\n" : "\n";
  }
  CHECK(ReadAll(content) == Reference(content));
}

TEST_CASE("a mapped file that grows while it is read") {
  // What was appended after Open() is read too, as with read() alone, and a last line
  // cut where the file ended when it was mapped is finished by what came after.
  TempFile file(std::string(100, 'a') + "\n" + std::string(30, 'b'));
  LineReader reader;
  std::string error;
  REQUIRE(reader.Open(file.path(), &error));
  Line line;
  REQUIRE(reader.Next(&line));
  CHECK(line.text == std::string(100, 'a'));
  std::FILE* f = std::fopen(file.path().c_str(), "ab");
  REQUIRE(f != nullptr);
  std::fputs("bb\n{\"more\":1}\n", f);
  std::fclose(f);
  CHECK(Drain(reader) == Lines{"2:" + std::string(32, 'b'), "3:{\"more\":1}"});
  CHECK(reader.bytes_read() == 101 + 32 + 1 + 11);
}

// Lines "line <k> xxx...", 40-140 bytes, numbered from 1, up to `bytes`.
std::string NumberedLines(size_t bytes) {
  std::string content;
  for (size_t k = 1; content.size() < bytes; ++k) {
    content += "line " + std::to_string(k) + " " + std::string(k * 37 % 100 + 30, 'x') + "\n";
  }
  return content;
}

// Reads `file` after cutting it to `cut` bytes once `before` lines were read; checks
// that every line handed out is whole and the input ends with the shrink error.
void ReadTruncated(const TempFile& file, const Lines& want, size_t before, size_t cut) {
  LineReader reader;
  std::string error;
  REQUIRE(reader.Open(file.path(), &error));
  Line line;
  size_t got = 0;
  for (; got < before; ++got) {
    REQUIRE(reader.Next(&line));
    CHECK(line.text == want[got]);
  }
  REQUIRE(truncate(file.path().c_str(), static_cast<off_t>(cut)) == 0);
  while (reader.Next(&line)) {
    REQUIRE(got < want.size());
    CHECK(line.text == want[got]);
    ++got;
  }
  CHECK(reader.error().find("the file shrank while being read") != std::string::npos);
  // Nothing past the cut was handed out as a line.
  size_t whole = 0;
  for (size_t offset = 0; whole < want.size() && offset + want[whole].size() + 1 <= cut; ++whole) {
    offset += want[whole].size() + 1;
  }
  CHECK(got <= std::max(whole, before));
  CHECK(got >= before);
}

TEST_CASE("a mapped file cut short while it is read: an error, not SIGBUS") {
  const std::string content = NumberedLines(size_t{3} << 20);
  Lines want;
  for (size_t b = 0, e; (e = content.find('\n', b)) != std::string::npos; b = e + 1) {
    want.push_back(content.substr(b, e - b));
  }
  SUBCASE("cut pages before the end: the read past the new end faults") {
    TempFile file(content);
    ReadTruncated(file, want, 10, (size_t{1} << 20) + 123);
  }
  SUBCASE("cut to nothing") {
    TempFile file(content);
    ReadTruncated(file, want, 1, 0);
  }
  SUBCASE("cut inside the mapping's last page: zeros there, no fault") {
    TempFile file(content);
    ReadTruncated(file, want, 10, content.size() - 200);
  }
  SUBCASE("over several chunks of the mapping: stops at the next chunk") {
    const std::string big = NumberedLines(size_t{9} << 20);
    Lines all;
    for (size_t b = 0, e; (e = big.find('\n', b)) != std::string::npos; b = e + 1) {
      all.push_back(big.substr(b, e - b));
    }
    TempFile file(big);
    ReadTruncated(file, all, 10, (size_t{1} << 20) + 123);
  }
  SUBCASE("a file that stays whole reads to the end without error") {
    CHECK(ReadAll(content) == Reference(content));
  }
}

// "N:text", or "N:too long SIZE:PREFIX" for a line over the limit.
std::string Render(const Line& line) {
  std::string out = std::to_string(line.number) + ":";
  if (line.too_long) out += "too long " + std::to_string(line.size) + ":";
  out += line.text;
  return out;
}

// The lines of `content` read with a limit, both ways (mapped and read()), which must
// agree.
Lines ReadLimited(std::string_view content, uint64_t limit, size_t chunk) {
  TempFile file(content);
  Lines lines[2];
  for (int way = 0; way < 2; ++way) {
    LineReader reader(chunk);
    reader.set_max_line(limit);
    int fd = -1;
    if (way == 0) {
      std::string error;
      REQUIRE(reader.Open(file.path(), &error));
    } else {
      fd = open(file.path().c_str(), O_RDONLY);
      REQUIRE(fd >= 0);
      reader.OpenFd(fd);
    }
    Line line;
    while (reader.Next(&line)) {
      CHECK(line.size >= line.text.size());
      if (!line.too_long) CHECK(line.size == line.text.size());
      lines[way].push_back(Render(line));
    }
    CHECK(reader.error().empty());
    CHECK(reader.bytes_read() == content.size());
    if (fd >= 0) close(fd);
  }
  CHECK(lines[0] == lines[1]);
  if (lines[0] != lines[1]) {
    for (size_t i = 0; i < std::min(lines[0].size(), lines[1].size()); ++i) {
      if (lines[0][i] != lines[1][i]) {
        MESSAGE("mapped: " << lines[0][i].substr(0, 80) << "\nread:   "
                           << lines[1][i].substr(0, 80));
        break;
      }
    }
  }
  return lines[0];
}

// Reference() with a limit: a line longer than `limit` (after the BOM and final CR
// are dropped) is "N:too long SIZE:" and its first kTooLongPrefix bytes, blank or not.
Lines ReferenceLimited(std::string_view content, uint64_t limit) {
  if (content.starts_with("\xEF\xBB\xBF")) content.remove_prefix(3);
  Lines lines;
  int number = 0;
  while (!content.empty()) {
    const size_t newline = content.find('\n');
    std::string_view text = content.substr(0, newline);
    content.remove_prefix(newline == std::string_view::npos ? content.size() : newline + 1);
    ++number;
    if (text.ends_with('\r')) text.remove_suffix(1);
    if (text.size() > limit) {
      lines.push_back(std::to_string(number) + ":too long " + std::to_string(text.size()) + ":" +
                      std::string(text.substr(0, LineReader::kTooLongPrefix)));
    } else if (text.find_first_not_of(" \t\r") != std::string_view::npos) {
      lines.push_back(std::to_string(number) + ":" + std::string(text));
    }
  }
  return lines;
}

TEST_CASE("lines over the limit: their prefix and size, the rest of the input goes on") {
  // Lines of many lengths around the limit and around the chunk, over a mapping's
  // blocks and chunks, with CRs, blank ones, a byte order mark, no final newline.
  for (uint64_t limit : {uint64_t{0}, uint64_t{1}, uint64_t{10}, uint64_t{63}, uint64_t{64},
                         uint64_t{100}, uint64_t{1500}}) {
    std::string content = "\xEF\xBB\xBF";
    for (size_t k = 0; k < 120; ++k) {
      const size_t length = k * 131 % 3000;
      content += std::string(length, k % 9 == 0 ? ' ' : static_cast<char>('a' + k % 26));
      if (k % 4 == 0) content += "x\r";
      content += '\n';
    }
    content += std::string(2500, 'z');  // the last line: no newline, over most limits
    for (size_t chunk : {16u, 64u, 1000u, 4096u, 1u << 20}) {
      CAPTURE(limit);
      CAPTURE(chunk);
      CHECK(ReadLimited(content, limit, chunk) == ReferenceLimited(content, limit));
    }
  }
  // A first line over the limit keeps its byte order mark out; a CR that ends a
  // skipped line is not counted.
  const std::string first = "\xEF\xBB\xBF" + std::string(5000, 'q') + "\r\n{}\n";
  CHECK(ReadLimited(first, 100, 16) == ReferenceLimited(first, 100));
  CHECK(ReadLimited(first, 100, 16)[0].starts_with("1:too long 5000:qqq"));
  const std::string cr_last = std::string(200, 'c') + std::string(15, 'd') + "\r\n";
  CHECK(ReadLimited(cr_last, 10, 16) == Lines{"1:too long 215:" + std::string(200, 'c') +
                                              std::string(15, 'd')});
}

TEST_CASE("a line over the limit through a pipe is skipped, not buffered") {
  // 64 MiB in one line between two short ones, through a pipe, with a 1 KiB limit and
  // 64 KiB chunks; the limit is what bounds the buffer (tests/input/hostile_input_test.py
  // measures the resident memory of `tern replay` the same way, with 300 MB).
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  constexpr size_t kHuge = size_t{64} << 20;
  std::thread writer([fd = fds[1]] {
    auto put = [fd](std::string_view s) {
      while (!s.empty()) {
        const ssize_t n = write(fd, s.data(), s.size());
        if (n <= 0) return;
        s.remove_prefix(static_cast<size_t>(n));
      }
    };
    put("{\"a\":1}\n");
    const std::string block(1 << 20, 'x');
    for (size_t sent = 0; sent < kHuge; sent += block.size()) put(block);
    put("\n{\"b\":2}\n");
    close(fd);
  });
  LineReader reader(64 << 10);
  reader.set_max_line(1024);
  reader.OpenFd(fds[0]);
  Lines lines;
  Line line;
  while (reader.Next(&line)) {
    lines.push_back(line.too_long ? std::to_string(line.number) + ":too long " +
                                        std::to_string(line.size) + ":" +
                                        std::to_string(line.text.size())
                                  : Render(line));
  }
  writer.join();
  close(fds[0]);
  CHECK(reader.error().empty());
  CHECK(lines == Lines{"1:{\"a\":1}", "2:too long " + std::to_string(kHuge) + ":1024",
                       "3:{\"b\":2}"});
}

TEST_CASE("a missing file") {
  LineReader reader;
  std::string error;
  CHECK_FALSE(reader.Open("/nonexistent/dir/events.jsonl", &error));
  CHECK(error == "cannot open '/nonexistent/dir/events.jsonl': No such file or directory");
  Line line;
  CHECK_FALSE(reader.Next(&line));
}

TEST_CASE("a pipe delivering short reads") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::thread writer([fd = fds[1]] {
    const char* parts[] = {"{\"a\":", "1}\n{\"b\"", ":2}\r", "\n\n{\"c\":3}"};
    for (const char* p : parts) {
      ssize_t n = write(fd, p, std::char_traits<char>::length(p));
      (void)n;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    close(fd);
  });
  LineReader reader(16);
  reader.OpenFd(fds[0]);
  Lines lines;
  Line line;
  while (reader.Next(&line)) lines.push_back(std::to_string(line.number) + ":" + std::string(line.text));
  writer.join();
  close(fds[0]);
  CHECK(lines == Lines{"1:{\"a\":1}", "2:{\"b\":2}", "4:{\"c\":3}"});
}

TEST_CASE("a reader can be reopened") {
  TempFile first("1\n2\n"), second("3\n");
  LineReader reader(16);
  std::string error;
  Line line;
  REQUIRE(reader.Open(first.path(), &error));
  REQUIRE(reader.Next(&line));
  REQUIRE(reader.Open(second.path(), &error));
  REQUIRE(reader.Next(&line));
  CHECK(line.text == "3");
  CHECK(line.number == 1);
  CHECK_FALSE(reader.Next(&line));
}

}  // namespace
}  // namespace tern::engine
