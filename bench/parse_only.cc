// tern_parse_only: reads and parses a JSON Lines file with the same LineReader and
// EventParser as `tern replay`, and nothing else. The throughput baseline for replay:
// given the same pattern files, it compiles them into an Engine's schema so that it
// extracts exactly the fields replay extracts, but never pushes an event.
// Tested by the CTest smoke runs (parse_only_smoke, bench_w*_smoke) and, for --generate,
// tests/write_errors_test.py (CTest write_errors_bench).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/output_file.h"
#include "bench/bench_common.h"
#include "bench/card_events.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "engine/line_reader.h"
#include "nfa/event.h"
#include "nfa/schema.h"

namespace {

constexpr const char* kUsage =
    "usage: tern_parse_only [PATTERNS.tern...] [--input] FILE [--time-field ts] [--fields a,b.c,d[0]]\n"
    "       (the fields read are those the patterns read, plus --fields)\n"
    "       tern_parse_only --generate N FILE   (N card-transaction events, seed 1)\n";

int Generate(const char* count_text, const char* path) {
  long long count = std::strtoll(count_text, nullptr, 10);
  tern::OutputFile out;
  if (out.Open(path)) {
    tern::bench::CardEventGenerator generator(1);
    std::string chunk;
    for (long long i = 0; i < count && out.ok(); ++i) {
      generator.Append(chunk);
      if (chunk.size() > (1u << 20)) {
        out.Write(chunk);
        chunk.clear();
      }
    }
    out.Write(chunk);
    out.Close();
  }
  if (out.ok()) return 0;
  std::fprintf(stderr, "tern_parse_only: %s\n", out.error().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string file;
  std::string time_field = "ts";
  std::vector<std::string> fields;
  std::vector<std::string> patterns;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--generate" && i + 2 < argc) return Generate(argv[i + 1], argv[i + 2]);
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--input" && i + 1 < argc) {
      file = argv[++i];
    } else if (tern::bench::EndsWith(arg, ".tern")) {
      patterns.emplace_back(arg);
    } else if (arg == "--time-field" && i + 1 < argc) {
      time_field = argv[++i];
    } else if (arg == "--fields" && i + 1 < argc) {
      std::string list = argv[++i];
      size_t begin = 0;
      while (begin <= list.size()) {
        size_t comma = list.find(',', begin);
        if (comma == std::string::npos) comma = list.size();
        if (comma > begin) fields.push_back(list.substr(begin, comma - begin));
        begin = comma + 1;
      }
    } else if (!arg.empty() && arg[0] != '-' && file.empty()) {
      file = arg;
    } else {
      std::fprintf(stderr, "tern_parse_only: unexpected argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (file.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  // The schema of an engine loaded with the patterns, plus any extra --fields.
  tern::engine::Engine engine;
  if (!tern::bench::CompilePatterns(patterns, engine, "tern_parse_only")) return 1;
  tern::nfa::Schema& schema = engine.schema();
  for (const std::string& field : fields) schema.Intern(tern::bench::FieldPathFromText(field));
  tern::engine::EventParser parser(schema, time_field);
  tern::engine::LineReader reader;
  std::string error;
  if (!reader.Open(file, &error)) {
    std::fprintf(stderr, "tern_parse_only: %s\n", error.c_str());
    return 1;
  }

  auto start = std::chrono::steady_clock::now();
  tern::nfa::StoredEvent event;
  tern::engine::Line line;
  uint64_t events = 0, malformed = 0;
  int64_t checksum = 0;  // keeps the parse from being optimised away
  while (reader.Next(&line)) {
    if (parser.Parse(line.text, event, &error)) {
      ++events;
      // (Not event.strings: strings without escapes stay in the payload.)
      checksum += event.id.ts + static_cast<int64_t>(event.payload.size());
    } else {
      ++malformed;
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!reader.error().empty()) {
    std::fprintf(stderr, "tern_parse_only: %s\n", reader.error().c_str());
    return 1;
  }
  double mb = static_cast<double>(reader.bytes_read()) / 1e6;
  std::printf("events %llu, malformed %llu, fields %u, %.1f MB, %.3f s, %.0f events/s, %.1f MB/s (checksum %lld, DOM fallbacks %llu)\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(malformed),
              schema.size(), mb, seconds, static_cast<double>(events + malformed) / seconds, mb / seconds,
              static_cast<long long>(checksum),
              static_cast<unsigned long long>(parser.dom_fallbacks()));
  return 0;
}
