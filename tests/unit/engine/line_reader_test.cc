// Tests of engine::LineReader: line splitting, numbering, CRLF, blank lines, the
// last line without newline, lines longer than a chunk, pipes.
#include "engine/line_reader.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace tern::engine {
namespace {

// A file under the temp directory, removed at scope exit.
class TempFile {
 public:
  explicit TempFile(std::string_view content) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("tern_line_reader_test_" + std::to_string(getpid()) + "_" +
              std::to_string(counter++) + ".jsonl"))
                .string();
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// "N:text" for every line handed out.
std::vector<std::string> ReadAll(std::string_view content, size_t chunk = LineReader::kDefaultChunk) {
  TempFile file(content);
  LineReader reader(chunk);
  std::string error;
  REQUIRE(reader.Open(file.path(), &error));
  std::vector<std::string> lines;
  Line line;
  while (reader.Next(&line)) lines.push_back(std::to_string(line.number) + ":" + std::string(line.text));
  CHECK(reader.error().empty());
  CHECK(reader.bytes_read() == content.size());
  return lines;
}

using Lines = std::vector<std::string>;

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
