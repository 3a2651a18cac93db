// tern_gen: writes a seeded, deterministic JSON Lines stream (card transactions,
// exchange ticks or clickstream) for the benchmark workloads of bench/scenarios/.
// Tested by the CTest smoke runs of bench/scenarios (2,000 events each).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

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

  std::FILE* out = stdout;
  if (!out_path.empty()) {
    out = std::fopen(out_path.c_str(), "wb");
    if (out == nullptr) {
      std::fprintf(stderr, "tern_gen: cannot write '%s': %s\n", out_path.c_str(),
                   std::strerror(errno));
      return 1;
    }
  }
  tern::bench::Generator generator(options);
  std::string chunk;
  chunk.reserve((1u << 20) + 512);
  bool ok = true;
  while (generator.Next(chunk)) {
    if (chunk.size() >= (1u << 20)) {
      ok = ok && std::fwrite(chunk.data(), 1, chunk.size(), out) == chunk.size();
      chunk.clear();
    }
  }
  ok = ok && std::fwrite(chunk.data(), 1, chunk.size(), out) == chunk.size();
  ok = (out == stdout ? std::fflush(out) == 0 : std::fclose(out) == 0) && ok;
  if (!ok) {
    std::fprintf(stderr, "tern_gen: write failed: %s\n", std::strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "lines %llu, keys_seen %llu\n",
               static_cast<unsigned long long>(options.events),
               static_cast<unsigned long long>(generator.keys_seen()));
  return 0;
}
