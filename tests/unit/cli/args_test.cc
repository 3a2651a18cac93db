// Tests of the command-line plumbing: options, durations, `args` file words.
#include "cli/args.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace tern::cli {
namespace {

constexpr OptionSpec kSpecs[] = {{"--input", true}, {"--lateness", true}, {"--dot", false}};

TEST_CASE("durations") {
  struct Case {
    const char* text;
    bool ok;
    int64_t ms;
  };
  const Case cases[] = {
      {"0", true, 0},
      {"0ms", true, 0},
      {"250ms", true, 250},
      {"10s", true, 10000},
      {"5m", true, 300000},
      {"2h", true, 7200000},
      {"1d", true, 86400000},
      {"007s", true, 7000},
      {"9223372036854775807ms", true, 9223372036854775807},
      {"9223372036854775808ms", false, 0},
      {"106751991167301d", false, 0},
      {"5", false, 0},
      {"", false, 0},
      {"ms", false, 0},
      {"-1s", false, 0},
      {"1.5s", false, 0},
      {"1 s", false, 0},
      {"1S", false, 0},
      {"1sec", false, 0},
      {"1us", false, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    int64_t ms = -1;
    CHECK(ParseDuration(c.text, &ms) == c.ok);
    if (c.ok) CHECK(ms == c.ms);
  }
}

TEST_CASE("options, values and positionals") {
  std::vector<std::string> words = {"a.tern", "--input", "e.jsonl", "--dot", "b.tern",
                                    "--lateness=2s", "-", "--", "--not-an-option"};
  Args args;
  std::string error;
  REQUIRE(args.Parse(words, kSpecs, &error));
  CHECK(args.Get("--input", "") == "e.jsonl");
  CHECK(args.Get("--lateness", "") == "2s");
  CHECK(args.Has("--dot"));
  CHECK_FALSE(args.help());
  CHECK(args.Get("--missing", "fallback") == "fallback");
  CHECK(args.positional() == std::vector<std::string>{"a.tern", "b.tern", "-", "--not-an-option"});
}

TEST_CASE("the last value wins; help is always known") {
  std::vector<std::string> words = {"--input", "a", "--input", "b", "-h"};
  Args args;
  std::string error;
  REQUIRE(args.Parse(words, kSpecs, &error));
  CHECK(args.Get("--input", "") == "b");
  CHECK(args.help());
}

TEST_CASE("a repeatable option keeps every value in order") {
  std::vector<std::string> words = {"--input", "a", "--dot", "--input=b", "--input", "c"};
  Args args;
  std::string error;
  REQUIRE(args.Parse(words, kSpecs, &error));
  CHECK(args.GetAll("--input") == std::vector<std::string>{"a", "b", "c"});
  CHECK(args.GetAll("--lateness").empty());
}

TEST_CASE("command-line errors") {
  struct Case {
    std::vector<std::string> words;
    const char* error;
  };
  const Case cases[] = {
      {{"--bogus"}, "unknown option '--bogus'"},
      {{"--bogus=1"}, "unknown option '--bogus'"},
      {{"-x"}, "unknown option '-x'"},
      {{"--input"}, "option '--input' needs a value"},
      {{"--dot=yes"}, "option '--dot' takes no value"},
  };
  for (const Case& c : cases) {
    Args args;
    std::string error;
    CHECK_FALSE(args.Parse(c.words, kSpecs, &error));
    CHECK(error == c.error);
  }
}

TEST_CASE("words of an args file") {
  CHECK(SplitWords("--lateness 2s\n") == std::vector<std::string>{"--lateness", "2s"});
  CHECK(SplitWords("  --time-field\t\"event time\"  ") ==
        std::vector<std::string>{"--time-field", "event time"});
  CHECK(SplitWords("") == std::vector<std::string>{});
  CHECK(SplitWords("\"\"") == std::vector<std::string>{""});
  CHECK(SplitWords("--a\n--b \"x\ny\"") == std::vector<std::string>{"--a", "--b", "x\ny"});
}

}  // namespace
}  // namespace tern::cli
