// OutputFile: writes that fail are remembered and reported once, with the output's name.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "base/output_file.h"

namespace tern {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("OutputFile writes a file and closes it cleanly") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("tern_output_file_" + std::to_string(getpid()))).string();
  OutputFile out;
  REQUIRE(out.Open(path));
  out.Write("one ");
  out.Put('2');
  out.Print(" %s %d\n", "three", 4);
  CHECK(out.Flush());
  CHECK(out.Close());
  CHECK(out.ok());
  CHECK(out.error().empty());
  CHECK(out.TakeError().empty());
  CHECK(ReadAll(path) == "one 2 three 4\n");
  std::filesystem::remove(path);
}

TEST_CASE("OutputFile remembers the first failure and reports it once") {
  OutputFile out;
  REQUIRE(out.Open("/dev/full"));
  out.Write("buffered by stdio: the device refuses it only when flushed\n");
  CHECK_FALSE(out.Flush());
  CHECK_FALSE(out.ok());
  out.Write("skipped after the failure");
  CHECK_FALSE(out.Close());
  CHECK(out.error() == "cannot write '/dev/full': No space left on device");
  CHECK(out.TakeError() == out.error());
  CHECK(out.TakeError().empty());  // once
  CHECK_FALSE(out.ok());           // but still failed
}

TEST_CASE("OutputFile: a failure at close alone still fails") {
  OutputFile out;
  REQUIRE(out.Open("/dev/full"));
  out.Write("x");
  CHECK(out.Close() == false);
  CHECK(out.error() == "cannot write '/dev/full': No space left on device");
}

TEST_CASE("OutputFile: an open that fails names the file and the reason") {
  OutputFile out;
  CHECK_FALSE(out.Open("/nonexistent-dir/x.jsonl"));
  CHECK_FALSE(out.is_open());
  CHECK(out.error() == "cannot write '/nonexistent-dir/x.jsonl': No such file or directory");
  out.Write("ignored");
  CHECK_FALSE(out.Close());
}

TEST_CASE("OutputFile wrapping a stream catches errors of writes made around it") {
  std::FILE* full = std::fopen("/dev/full", "w");
  REQUIRE(full != nullptr);
  {
    OutputFile out(full, "the device");
    std::fputs("written behind the wrapper's back\n", full);
    std::fflush(full);  // fails and sets the stream's error flag
    CHECK_FALSE(out.Close());
    CHECK(out.error().starts_with("cannot write the device: "));
  }
  std::fclose(full);  // not the wrapper's to close
}

}  // namespace
}  // namespace tern
