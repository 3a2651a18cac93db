// Tests lsp/server.h as a client sees it: lifecycle, errors, documents and each request.
#include "lsp/server.h"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "lsp/framing.h"

namespace tern::lsp {

namespace {

// A client: frames requests, splits and parses the answers.
class Client {
 public:
  std::vector<std::string> Send(const std::string& body) { return SendRaw(Frame(body)); }
  std::vector<std::string> SendRaw(const std::string& bytes) {
    std::string out;
    server.Feed(bytes, &out);
    reader_.Feed(out);
    std::vector<std::string> bodies;
    std::string body, error;
    while (reader_.Next(&body, &error) == MessageReader::Result::kMessage) bodies.push_back(body);
    CHECK(reader_.buffered() == 0);
    return bodies;
  }
  static std::string Frame(const std::string& body) {
    std::string out;
    AppendFramed(out, body);
    return out;
  }
  void Initialize(const std::string& capabilities = "{}") {
    auto r = Send(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":)" +
                  capabilities + "}}");
    REQUIRE(r.size() == 1);
    Send(R"({"jsonrpc":"2.0","method":"initialized","params":{}})");
  }
  std::vector<std::string> Open(const std::string& uri, const std::string& text_json) {
    return Send(R"({"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":")" +
                uri + R"(","languageId":"tern","version":1,"text":)" + text_json + "}}}");
  }
  std::string Request(int id, const std::string& method, const std::string& params) {
    auto r = Send(R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + method +
                  R"(","params":)" + params + "}");
    REQUIRE(r.size() == 1);
    return r[0];
  }

  Server server;

 private:
  MessageReader reader_;
};

simdjson::dom::element Parse(simdjson::dom::parser& parser, const std::string& body) {
  simdjson::dom::element e;
  REQUIRE(parser.parse(body).get(e) == simdjson::SUCCESS);
  return e;
}

int64_t ErrorCodeOf(const std::string& body) {
  simdjson::dom::parser parser;
  int64_t code = 0;
  REQUIRE(Parse(parser, body)["error"]["code"].get(code) == simdjson::SUCCESS);
  return code;
}

constexpr char kPos[] = R"({"textDocument":{"uri":"file:///a.tern"},"position":{"line":%d,"character":%d}})";

std::string PositionParams(int line, int character) {
  char buf[200];
  std::snprintf(buf, sizeof buf, kPos, line, character);
  return buf;
}

}  // namespace

TEST_CASE("server: lifecycle and error codes") {
  Client c;
  // Before initialize.
  CHECK(ErrorCodeOf(c.Request(1, "textDocument/hover", PositionParams(0, 0))) == -32002);
  c.Initialize();
  auto r = c.Send(R"({"jsonrpc":"2.0","id":9,"method":"initialize","params":{}})");
  REQUIRE(r.size() == 1);
  CHECK(ErrorCodeOf(r[0]) == -32600);
  CHECK(ErrorCodeOf(c.Request(2, "textDocument/rename", "{}")) == -32601);
  CHECK(ErrorCodeOf(c.Request(3, "textDocument/hover", "{}")) == -32602);
  CHECK(ErrorCodeOf(c.Request(4, "textDocument/hover", R"({"textDocument":{"uri":"u"},"position":{"line":-1,"character":0}})")) == -32602);
  // Malformed JSON: a ParseError with a null id, and the server goes on.
  r = c.SendRaw(Client::Frame("{\"id\":1,"));
  REQUIRE(r.size() == 1);
  CHECK(ErrorCodeOf(r[0]) == -32700);
  CHECK(r[0].find(R"("id":null)") != std::string::npos);
  r = c.SendRaw("Content-Length: x\r\n\r\n");
  REQUIRE(r.size() == 1);
  CHECK(ErrorCodeOf(r[0]) == -32700);
  // Notifications are never answered, known or not.
  CHECK(c.Send(R"({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":2}})").empty());
  CHECK(c.Send(R"({"jsonrpc":"2.0","method":"workspace/didChangeWatchedFiles","params":{}})").empty());
  // String ids come back as they were.
  std::string hover = c.Send(R"({"jsonrpc":"2.0","id":"h\"1","method":"textDocument/hover","params":)" +
                             PositionParams(0, 0) + "}")[0];
  CHECK(hover == R"({"jsonrpc":"2.0","id":"h\"1","result":null})");
  CHECK(c.Request(5, "shutdown", "null") == R"({"jsonrpc":"2.0","id":5,"result":null})");
  CHECK(ErrorCodeOf(c.Request(6, "textDocument/hover", PositionParams(0, 0))) == -32600);
  CHECK(!c.server.exited());
  c.Send(R"({"jsonrpc":"2.0","method":"exit"})");
  CHECK(c.server.exited());
  CHECK(c.server.exit_code() == 0);
}

TEST_CASE("server: exit without shutdown is status 1") {
  Client c;
  c.Initialize();
  c.Send(R"({"jsonrpc":"2.0","method":"exit"})");
  CHECK(c.server.exited());
  CHECK(c.server.exit_code() == 1);
}

TEST_CASE("server: initialize result and position encoding") {
  Client c;
  auto r = c.Send(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"general":{"positionEncodings":["utf-16","utf-8"]}}}})");
  REQUIRE(r.size() == 1);
  simdjson::dom::parser parser;
  auto e = Parse(parser, r[0]);
  std::string_view s;
  CHECK(e["result"]["capabilities"]["positionEncoding"].get(s) == simdjson::SUCCESS);
  CHECK(s == "utf-8");
  int64_t change = 0;
  CHECK(e["result"]["capabilities"]["textDocumentSync"]["change"].get(change) == simdjson::SUCCESS);
  CHECK(change == 1);
  CHECK(e["result"]["serverInfo"]["name"].get(s) == simdjson::SUCCESS);
  CHECK(s == "tern");
}

TEST_CASE("server: diagnostics with ranges in UTF-16, help, close clears") {
  Client c;
  c.Initialize();
  // Line 1: "  # é😀" then a stage; E0204 at `b` (a forward reference) on line 2.
  auto r = c.Open("file:///a.tern",
                  R"("pattern p {  # é😀\n  begin a where b.x > 1 # é😀\n  next b\n}\n")");
  REQUIRE(r.size() == 1);
  simdjson::dom::parser parser;
  auto e = Parse(parser, r[0]);
  std::string_view s;
  REQUIRE(e["method"].get(s) == simdjson::SUCCESS);
  CHECK(s == "textDocument/publishDiagnostics");
  simdjson::dom::array diags;
  REQUIRE(e["params"]["diagnostics"].get(diags) == simdjson::SUCCESS);
  REQUIRE(diags.size() >= 1);
  auto d = diags.at(0);
  CHECK(d["code"].get(s) == simdjson::SUCCESS);
  CHECK(s == "E0204");
  int64_t v = -1;
  CHECK(d["range"]["start"]["line"].get(v) == simdjson::SUCCESS);
  CHECK(v == 1);
  CHECK(d["range"]["start"]["character"].get(v) == simdjson::SUCCESS);
  CHECK(v == 16);
  CHECK(d["range"]["end"]["character"].get(v) == simdjson::SUCCESS);
  CHECK(v == 17);
  CHECK(d["severity"].get(v) == simdjson::SUCCESS);
  CHECK(v == 1);
  CHECK(d["source"].get(s) == simdjson::SUCCESS);
  CHECK(s == "tern");

  // Hover after the emoji: UTF-16 columns.
  std::string hover = c.Request(7, "textDocument/hover", PositionParams(1, 16));
  CHECK(hover.find("stage `b`") != std::string::npos);

  // Incremental change: replace `b.x` by `a.x` (range edits applied in order).
  r = c.Send(R"({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///a.tern","version":2},"contentChanges":[{"range":{"start":{"line":1,"character":16},"end":{"line":1,"character":17}},"text":"a"}]}})");
  REQUIRE(r.size() == 1);
  CHECK(r[0].find(R"("version":2,"diagnostics":[])") != std::string::npos);

  // Several changes in one read: diagnostics once, for the last version.
  std::string burst;
  for (int i = 3; i <= 10; ++i) {
    burst += Client::Frame(R"({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///a.tern","version":)" +
                           std::to_string(i) + R"(},"contentChanges":[{"text":"pattern p { begin a within 0ms }"}]}})");
  }
  r = c.SendRaw(burst);
  REQUIRE(r.size() == 1);
  CHECK(r[0].find(R"("version":10,)") != std::string::npos);
  CHECK(r[0].find("E0316") != std::string::npos);

  r = c.Send(R"({"jsonrpc":"2.0","method":"textDocument/didClose","params":{"textDocument":{"uri":"file:///a.tern"}}})");
  REQUIRE(r.size() == 1);
  CHECK(r[0] == R"({"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"file:///a.tern","diagnostics":[]}})");
  CHECK(c.Request(8, "textDocument/hover", PositionParams(0, 0)) == R"({"jsonrpc":"2.0","id":8,"result":null})");
}

TEST_CASE("server: help text in relatedInformation, and in the message for other clients") {
  const std::string text = R"("pattern p { begin a where amout > 1 or count(a) > 1 next b where a.x == 1 } pattern p { begin c }")";
  for (bool related : {true, false}) {
    Client c;
    c.Initialize(related ? R"({"textDocument":{"publishDiagnostics":{"relatedInformation":true}}})" : "{}");
    auto r = c.Open("file:///a.tern", text);
    REQUIRE(r.size() == 1);
    CHECK(r[0].find("E0201") != std::string::npos);
    CHECK(r[0].find(R"("relatedInformation":[{"location":{"uri":"file:///a.tern")") != std::string::npos);
    CHECK((r[0].find("\\nhelp: first declared") != std::string::npos) == !related);
  }
}

TEST_CASE("server: definition, completion, symbols, formatting") {
  Client c;
  c.Initialize();
  c.Open("file:///a.tern", R"("pattern p {\n  begin small where x < 2 times 3..\n  next big where x > last(small).x\n}\n")");
  std::string def = c.Request(1, "textDocument/definition", PositionParams(2, 28));
  CHECK(def == R"({"jsonrpc":"2.0","id":1,"result":{"uri":"file:///a.tern","range":{"start":{"line":1,"character":8},"end":{"line":1,"character":13}}}})");
  std::string completion = c.Request(2, "textDocument/completion", PositionParams(2, 17));
  CHECK(completion.find(R"({"label":"small","kind":6)") != std::string::npos);
  CHECK(completion.find(R"({"label":"count","kind":3,"detail":"count(list) -> int")") != std::string::npos);
  std::string symbols = c.Request(3, "textDocument/documentSymbol", R"({"textDocument":{"uri":"file:///a.tern"}})");
  CHECK(symbols.find(R"({"name":"p","kind":5,)") != std::string::npos);
  CHECK(symbols.find(R"({"name":"small","detail":"begin times 3..","kind":8,)") != std::string::npos);

  const std::string fmt_params = R"({"textDocument":{"uri":"file:///a.tern"},"options":{"tabSize":2,"insertSpaces":true}})";
  std::string edits = c.Request(4, "textDocument/formatting", fmt_params);
  CHECK(edits.find(R"("result":[{"range":{"start":{"line":0,"character":0},"end":{"line":4,"character":0}},"newText":)") != std::string::npos);
  // Formatted text: no edits. A syntax error: no edits either.
  simdjson::dom::parser parser;
  std::string_view formatted;
  REQUIRE(Parse(parser, edits)["result"].at(0)["newText"].get(formatted) == simdjson::SUCCESS);
  std::string again;
  for (char ch : formatted) {
    if (ch == '\n') again += "\\n";
    else if (ch == '"') again += "\\\"";
    else again += ch;
  }
  c.Send(R"({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///a.tern","version":2},"contentChanges":[{"text":")" + again + R"("}]}})");
  CHECK(c.Request(5, "textDocument/formatting", fmt_params) == R"({"jsonrpc":"2.0","id":5,"result":[]})");
  c.Send(R"({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///a.tern","version":3},"contentChanges":[{"text":"pattern p { begin"}]}})");
  CHECK(c.Request(6, "textDocument/formatting", fmt_params) == R"({"jsonrpc":"2.0","id":6,"result":[]})");
}

}  // namespace tern::lsp
