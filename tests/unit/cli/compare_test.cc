// Tests of the `tern test` comparison: subset semantics and multiset matching.
#include "cli/compare.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace tern::cli {
namespace {

JsonNode J(std::string_view text) {
  JsonNode node;
  std::string error;
  REQUIRE_MESSAGE(ParseJson(text, &node, &error), error);
  return node;
}

bool Sub(std::string_view expected, std::string_view actual) {
  return Subsumes(J(expected), J(actual));
}

std::vector<JsonNode> List(const std::vector<std::string_view>& texts) {
  std::vector<JsonNode> nodes;
  for (auto t : texts) nodes.push_back(J(t));
  return nodes;
}

TEST_CASE("parse errors") {
  JsonNode node;
  std::string error;
  CHECK_FALSE(ParseJson("{\"a\":", &node, &error));
  CHECK(error.rfind("not JSON", 0) == 0);
  CHECK_FALSE(ParseJson("", &node, &error));
}

TEST_CASE("scalars compare exactly, numbers by value") {
  CHECK(Sub("1", "1"));
  CHECK(Sub("1", "1.0"));
  CHECK(Sub("1.0", "1"));
  CHECK(Sub("-0.5", "-5e-1"));
  CHECK_FALSE(Sub("1", "2"));
  CHECK_FALSE(Sub("1", "\"1\""));
  CHECK_FALSE(Sub("\"1\"", "1"));
  CHECK(Sub("9007199254740993", "9007199254740993"));
  CHECK_FALSE(Sub("9007199254740993", "9007199254740992"));  // exact for int64
  CHECK(Sub("\"a\\u00e9\"", "\"a\xC3\xA9\""));               // after unescaping
  CHECK_FALSE(Sub("\"a\"", "\"A\""));
  CHECK(Sub("true", "true"));
  CHECK_FALSE(Sub("true", "false"));
  CHECK_FALSE(Sub("true", "1"));
  CHECK(Sub("null", "null"));
  CHECK_FALSE(Sub("null", "0"));
  // Alerts echo events as received: numbers outside simdjson's range are valid JSON.
  CHECK(Sub("1e400", "2e308"));
  CHECK_FALSE(Sub("1e400", "-1e400"));
  CHECK(Sub(R"({"v":[-9223372036854775809]})", R"({"v":[-9.223372036854775808e18]})"));
  CHECK_FALSE(Sub("null", "{}"));
}

TEST_CASE("objects compare only the members the expected side names") {
  CHECK(Sub("{}", R"({"a":1})"));
  CHECK(Sub(R"({"a":1})", R"({"a":1,"b":2})"));
  CHECK_FALSE(Sub(R"({"a":1,"b":2})", R"({"a":1})"));
  CHECK_FALSE(Sub(R"({"a":null})", R"({})"));  // named means present
  CHECK(Sub(R"({"a":{"x":1}})", R"({"a":{"x":1,"y":2}})"));
  CHECK_FALSE(Sub(R"({"a":{"x":1}})", R"({"a":[1]})"));
  CHECK(Sub(R"({"b":2,"a":1})", R"({"a":1,"b":2})"));  // order does not matter
  CHECK_FALSE(Sub("{}", "[]"));
}

TEST_CASE("lists compare element by element with the same length") {
  CHECK(Sub("[]", "[]"));
  CHECK(Sub("[1,2]", "[1,2]"));
  CHECK_FALSE(Sub("[1,2]", "[2,1]"));
  CHECK_FALSE(Sub("[1]", "[1,2]"));
  CHECK_FALSE(Sub("[1,2]", "[1]"));
  CHECK(Sub(R"([{"id":1},{"id":4}])", R"([{"id":1,"ts":3},{"id":4,"ts":9}])"));
}

TEST_CASE("the spec's example") {
  const char* expected = R"({"pattern":"p","events":{"a":[{"id":1}],"b":[{"id":4}]}})";
  const char* actual =
      R"({"id":"x","pattern":"p","kind":"match","key":null,"start":1,"end":4,"fields":{},)"
      R"("events":{"a":[{"id":1,"ts":1,"v":"x"}],"b":[{"id":4,"ts":4}]}})";
  CHECK(Sub(expected, actual));
  CHECK_FALSE(Sub(R"({"pattern":"p","events":{"a":[{"id":2}],"b":[{"id":4}]}})", actual));
  CHECK_FALSE(Sub(R"({"pattern":"q"})", actual));
}

TEST_CASE("multisets: duplicates count") {
  auto two = List({R"({"p":1})", R"({"p":1})"});
  auto one = List({R"({"p":1,"x":0})"});
  MatchResult r = MatchAlerts(two, one);
  CHECK(r.missing == std::vector<size_t>{1});
  CHECK(r.unexpected.empty());
  r = MatchAlerts(one, List({R"({"p":1,"x":0})", R"({"p":1,"x":0})"}));
  CHECK(r.missing.empty());
  CHECK(r.unexpected == std::vector<size_t>{1});
  CHECK(MatchAlerts(two, List({R"({"p":1,"a":1})", R"({"p":1,"a":2})"})).ok());
  CHECK(MatchAlerts({}, {}).ok());
  r = MatchAlerts({}, one);
  CHECK(r.unexpected == std::vector<size_t>{0});
}

TEST_CASE("matching is maximal where greedy matching fails") {
  // Greedy would give the loose expectation the first actual alert and leave the
  // strict one without a partner.
  auto expected = List({R"({"pattern":"p"})", R"({"pattern":"p","key":"k1"})"});
  auto actual = List({R"({"pattern":"p","key":"k1"})", R"({"pattern":"p","key":"k2"})"});
  CHECK(MatchAlerts(expected, actual).ok());

  // A longer chain needing several augmenting steps.
  expected = List({R"({"a":1})", R"({"a":1,"b":1})", R"({"a":1,"b":1,"c":1})"});
  actual = List({R"({"a":1,"b":1,"c":1})", R"({"a":1,"b":1,"c":2})", R"({"a":1,"b":2})"});
  CHECK(MatchAlerts(expected, actual).ok());

  // Order independence.
  std::reverse(expected.begin(), expected.end());
  CHECK(MatchAlerts(expected, actual).ok());
}

TEST_CASE("what is reported when alerts do not match") {
  auto expected = List({R"({"k":1})", R"({"k":2})", R"({"k":3})"});
  auto actual = List({R"({"k":3})", R"({"k":4})", R"({"k":1})"});
  MatchResult r = MatchAlerts(expected, actual);
  CHECK(r.missing == std::vector<size_t>{1});
  CHECK(r.unexpected == std::vector<size_t>{1});
  CHECK_FALSE(r.ok());
}

}  // namespace
}  // namespace tern::cli
