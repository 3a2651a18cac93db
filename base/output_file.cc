// OutputFile: stdio writes with the first failure remembered.
#include "base/output_file.h"

#include <cerrno>
#include <cstdarg>
#include <cstring>

namespace tern {

OutputFile::~OutputFile() {
  if (owned_ && file_ != nullptr) std::fclose(file_);
}

bool OutputFile::Open(const std::string& path) {
  name_ = "'" + path + "'";
  file_ = std::fopen(path.c_str(), "wb");
  owned_ = file_ != nullptr;
  if (file_ == nullptr) Fail(errno);
  return file_ != nullptr;
}

void OutputFile::Fail(int error_number) {
  int expected = 0;
  // A failing stdio call that left errno at 0 still failed: call it an I/O error.
  error_number_.compare_exchange_strong(expected, error_number != 0 ? error_number : EIO,
                                        std::memory_order_relaxed);
}

void OutputFile::Write(std::string_view text) {
  if (file_ == nullptr || !ok() || text.empty()) return;
  errno = 0;
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) Fail(errno);
}

void OutputFile::Put(char c) {
  if (file_ == nullptr || !ok()) return;
  errno = 0;
  if (std::fputc(static_cast<unsigned char>(c), file_) == EOF) Fail(errno);
}

void OutputFile::Print(const char* format, ...) {
  if (file_ == nullptr || !ok()) return;
  std::va_list args;
  va_start(args, format);
  errno = 0;
  if (std::vfprintf(file_, format, args) < 0) Fail(errno);
  va_end(args);
}

bool OutputFile::Flush() {
  if (file_ == nullptr || !ok()) return ok();
  errno = 0;
  if (std::fflush(file_) != 0) {
    Fail(errno);
  } else if (std::ferror(file_) != 0) {
    Fail(EIO);  // an earlier write failed outside this class; its errno is gone
  }
  return ok();
}

bool OutputFile::Close() {
  if (file_ == nullptr) return ok();
  Flush();
  if (!owned_) return ok();  // a wrapped stream stays usable (other threads may write)
  errno = 0;
  if (std::fclose(file_) != 0) Fail(errno);
  owned_ = false;
  file_ = nullptr;
  return ok();
}

std::string OutputFile::error() const {
  int error_number = error_number_.load(std::memory_order_relaxed);
  if (error_number == 0) return "";
  return "cannot write " + name_ + ": " + std::strerror(error_number);
}

std::string OutputFile::TakeError() {
  if (ok() || reported_.exchange(true)) return "";
  return error();
}

OutputFile& Stdout() {
  static OutputFile out(stdout, "standard output");
  return out;
}

}  // namespace tern
