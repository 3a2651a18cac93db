// A file under the temp directory holding given bytes, removed at scope exit (unit
// tests that read files: the line reader, the decompressor).
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace tern::testing {

class TempFile {
 public:
  explicit TempFile(std::string_view content, std::string_view suffix = ".jsonl") {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() / ("tern_test_" + std::to_string(getpid()) + "_" +
                                                        std::to_string(counter++) + std::string(suffix)))
                .string();
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace tern::testing
