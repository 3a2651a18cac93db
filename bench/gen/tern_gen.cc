// tern_gen: writes a seeded, deterministic JSON Lines stream (card transactions,
// exchange ticks or clickstream) for the benchmark workloads of bench/scenarios/.
// Tested by the CTest smoke runs of bench/scenarios (2,000 events each) and
// tests/write_errors_test.py (CTest write_errors_bench: a failed write fails it).
#include <cstdio>
#include <string>
#include <string_view>

#include "base/output_file.h"
#include "bench/gen/generator.h"

namespace {

void Usage(std::FILE* to) {
  std::fputs(
      "usage: tern_gen [--OPTION VALUE]... [--out FILE]   (stdout without --out)\n"
      "       at the end prints 'lines N, keys_seen N' on stderr\n"
      "       tern_gen --version                          (output format version)\n"
      "options (a '_' may replace a '-'):\n",
      to);
  std::fputs(tern::bench::GenOptionHelp(), to);
}

}  // namespace

int main(int argc, char** argv) {
  tern::bench::GenOptions options;
  std::string out_path;
  std::string error;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      Usage(stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("%d\n", tern::bench::kGeneratorVersion);
      return 0;
    }
    if (arg.substr(0, 2) != "--" || i + 1 >= argc) {
      std::fprintf(stderr, "tern_gen: unexpected argument '%s'\n", argv[i]);
      Usage(stderr);
      return 2;
    }
    std::string_view value = argv[++i];
    if (arg == "--out") {
      out_path = value;
    } else if (!tern::bench::SetGenOption(options, arg.substr(2), value, &error)) {
      std::fprintf(stderr, "tern_gen: %s\n", error.c_str());
      return 2;
    }
  }

  tern::OutputFile file;
  if (!out_path.empty() && !file.Open(out_path)) {
    std::fprintf(stderr, "tern_gen: %s\n", file.error().c_str());
    return 1;
  }
  tern::OutputFile& out = out_path.empty() ? tern::Stdout() : file;
  tern::bench::Generator generator(options);
  std::string chunk;
  chunk.reserve((1u << 20) + 512);
  while (generator.Next(chunk)) {
    if (chunk.size() >= (1u << 20)) {
      out.Write(chunk);
      chunk.clear();
      if (!out.ok()) break;  // the rest would be lost too
    }
  }
  out.Write(chunk);
  if (!out.Close()) {
    std::fprintf(stderr, "tern_gen: %s\n", out.error().c_str());
    return 1;
  }
  std::fprintf(stderr, "lines %llu, keys_seen %llu\n",
               static_cast<unsigned long long>(options.events),
               static_cast<unsigned long long>(generator.keys_seen()));
  return 0;
}
