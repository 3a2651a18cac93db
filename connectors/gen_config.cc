// tern_gen_config: prints docs/CONFIGURATION.md (`markdown`), the sample tern.toml
// (`sample`) or the `tern run --help` option list (`help`) from connectors/config_table.def;
// with `--check FILE` compares instead of printing and fails if FILE is stale.
// Tested by the CTests `config_docs_*`, which run the --check form on the checked-in files,
// and tests/write_errors_test.py (a failed write fails it).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "base/output_file.h"
#include "connectors/config.h"

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 4 && std::strcmp(argv[2], "--check") == 0)) {
    std::fputs("usage: tern_gen_config markdown|sample|help [--check FILE]\n", stderr);
    return 2;
  }
  std::string what = argv[1];
  std::string text;
  if (what == "markdown") {
    text = tern::connectors::ConfigMarkdown();
  } else if (what == "sample") {
    text = tern::connectors::SampleConfig();
  } else if (what == "help") {
    text = tern::connectors::ConfigHelp();
  } else {
    std::fprintf(stderr, "tern_gen_config: unknown output '%s'\n", what.c_str());
    return 2;
  }
  if (argc == 2) {
    // Redirected into a checked-in file: a short write must fail, not truncate it.
    tern::OutputFile& out = tern::Stdout();
    out.Write(text);
    if (out.Close()) return 0;
    std::fprintf(stderr, "tern_gen_config: %s\n", out.error().c_str());
    return 1;
  }
  std::ifstream in(argv[3], std::ios::binary);
  std::ostringstream current;
  current << in.rdbuf();
  if (!in || current.str() != text) {
    std::fprintf(stderr,
                 "%s is stale: it no longer matches connectors/config_table.def.\n"
                 "Regenerate it with `ninja gen_config_docs` and commit the result.\n",
                 argv[3]);
    return 1;
  }
  return 0;
}
