// Tests of engine::KcatEnvelopeParser: what kcat 1.7 prints with -J (captured from
// `kcat -C -J` against `tern kafka-mock`), members in any order, and the reasons given
// for lines that are not envelopes.
#include "engine/kcat_envelope.h"

#include <doctest/doctest.h>

#include <string>

namespace tern::engine {
namespace {

// "topic[partition]@offset payload" or "null" for a null payload, or "error: ...".
std::string Read(KcatEnvelopeParser& parser, std::string_view line) {
  KcatRecord r;
  std::string error;
  if (!parser.Parse(line, &r, &error)) return "error: " + error;
  return std::string(r.topic) + "[" + std::to_string(r.partition) + "]@" + std::to_string(r.offset) + " " +
         (r.null_payload ? std::string("null") : std::string(r.payload));
}

TEST_CASE("kcat -J envelopes as kcat 1.7 prints them") {
  KcatEnvelopeParser p;
  CHECK(Read(p, R"({"topic":"ev","partition":0,"offset":0,"tstype":"create","ts":1796593229474,"broker":1,)"
                R"("key":null,"payload":"{\"ts\":1,\"a\":\"x\\\"y\"}"})") == R"(ev[0]@0 {"ts":1,"a":"x\"y"})");
  CHECK(Read(p, R"({"topic":"ev","partition":1,"offset":7,"tstype":"create","ts":1796593229522,"broker":1,)"
                R"("headers":["h1","v1","h2","v2"],"key":"k1","payload":"{\"ts\":3}"})") == R"(ev[1]@7 {"ts":3})");
  CHECK(Read(p, R"({"topic":"ev","partition":2,"offset":1,"tstype":"create","ts":1,"broker":1,"key":"k",)"
                R"("payload":null})") == "ev[2]@1 null");
  // Any order, other members ignored, an empty payload, a large offset.
  CHECK(Read(p, R"({"payload":"","offset":1099511627776,"extra":[1,{"a":2}],"partition":65535,"topic":"t.x-1"})") ==
        "t.x-1[65535]@1099511627776 ");
  CHECK(Read(p, R"({"topic":"t","partition":0,"offset":0,"payload":"line\nbreak \u00e9"})") ==
        "t[0]@0 line\nbreak \xc3\xa9");
}

TEST_CASE("lines that are not envelopes, with the reason") {
  KcatEnvelopeParser p;
  CHECK(Read(p, "not json") == "error: not JSON");
  CHECK(Read(p, "") == "error: not JSON");
  CHECK(Read(p, "[1,2]") == "error: not a JSON object");
  CHECK(Read(p, "{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"payload\":\"\xff\"}") ==
        "error: not JSON: not valid UTF-8");
  CHECK(Read(p, R"({"partition":0,"offset":0,"payload":"x"})") == "error: no \"topic\"");
  CHECK(Read(p, R"({"topic":"t","offset":0,"payload":"x"})") == "error: no \"partition\"");
  CHECK(Read(p, R"({"topic":"t","partition":0,"payload":"x"})") == "error: no \"offset\"");
  CHECK(Read(p, R"({"topic":"t","partition":0,"offset":0})") == "error: no \"payload\"");
  CHECK(Read(p, R"({"topic":"","partition":0,"offset":0,"payload":"x"})") == "error: \"topic\" is not a topic name");
  CHECK(Read(p, R"({"topic":1,"partition":0,"offset":0,"payload":"x"})") == "error: \"topic\" is not a topic name");
  CHECK(Read(p, R"({"topic":"t","partition":-1,"offset":0,"payload":"x"})") ==
        "error: \"partition\" is not an integer from 0 to 2147483647");
  CHECK(Read(p, R"({"topic":"t","partition":"0","offset":0,"payload":"x"})") ==
        "error: \"partition\" is not an integer from 0 to 2147483647");
  CHECK(Read(p, R"({"topic":"t","partition":2147483648,"offset":0,"payload":"x"})") ==
        "error: \"partition\" is not an integer from 0 to 2147483647");
  CHECK(Read(p, R"({"topic":"t","partition":0,"offset":1.5,"payload":"x"})") ==
        "error: \"offset\" is not an integer >= 0");
  CHECK(Read(p, R"({"topic":"t","partition":0,"offset":0,"payload":{"ts":1}})") ==
        "error: \"payload\" is not a string");
  // The parser goes on after an error.
  CHECK(Read(p, R"({"topic":"t","partition":3,"offset":9,"payload":"ok"})") == "t[3]@9 ok");
}

}  // namespace
}  // namespace tern::engine
