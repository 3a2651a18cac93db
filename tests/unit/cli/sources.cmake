# Unit tests of the command line (paths relative to tests/unit/), linked against
# tern_cli_lib. The input-side tests (engine/event_parser_test.cc,
# engine/line_reader_test.cc) sit in tests/unit/engine/ and are picked up there.
set(TERN_CLI_TEST_SOURCES
  cli/args_test.cc
  cli/compare_test.cc
)
