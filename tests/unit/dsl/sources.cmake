set(TERN_DSL_TEST_SOURCES parser_test.cc check_test.cc regex_test.cc lexer_test.cc format_test.cc)
