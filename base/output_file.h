// Writing to standard output or to a file while remembering the first failure, so a
// command can write freely and check once at the end: a write, flush or close that
// fails (a full disk, a closed pipe with SIGPIPE ignored, an I/O error) is an error with
// a message naming the output, never a quiet loss behind exit status 0.
// Tested by tests/unit/base/output_file_test.cc and tests/write_errors_test.py.
#pragma once

#include <atomic>
#include <cstdio>
#include <string>
#include <string_view>

namespace tern {

// One output stream. Created by a command (a file it opens) or once per process
// (Stdout()); an opened file is closed by Close() or, errors then unreported, by the
// destructor. Once a call has failed, later writes are skipped and every check fails.
// Thread: any; stdio locks the FILE and the first error is kept atomically.
// Locks: the FILE's.
class OutputFile {
 public:
  OutputFile() = default;
  // Wraps a stream opened elsewhere (not closed here); `name` is how messages call it.
  OutputFile(std::FILE* file, std::string name) : file_(file), name_(std::move(name)) {}
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Creates or truncates `path`. False with error() set when it cannot be opened.
  bool Open(const std::string& path);
  bool is_open() const { return file_ != nullptr; }

  void Write(std::string_view text);
  void Put(char c);
  void Print(const char* format, ...) __attribute__((format(printf, 2, 3)));

  // Hands buffered bytes to the OS. False if this or any earlier call failed.
  bool Flush();
  // Flushes and checks the stream's error flag (which also catches writes made around
  // this class), then closes an opened file (fclose reports delayed errors; the file
  // takes no more writes). A wrapped stream stays open. False if anything failed.
  bool Close();

  bool ok() const { return error_number_.load(std::memory_order_relaxed) == 0; }
  // "cannot write 'out.jsonl': No space left on device"; empty while ok().
  std::string error() const;
  // error() the first time it is asked for after a failure, then "": the failure is
  // reported once, by whichever caller gets to it first.
  std::string TakeError();

 private:
  void Fail(int error_number);

  std::FILE* file_ = nullptr;        // null when not open or closed
  bool owned_ = false;               // opened by Open(): fclose in Close()
  std::string name_;                 // "'path'" or "standard output"
  std::atomic<int> error_number_{0};  // errno of the first failure; 0 while ok
  std::atomic<bool> reported_{false};
};

// The process's standard output; `tern`'s main() closes it and reports its error.
OutputFile& Stdout();

}  // namespace tern
