// The language server's message loop: framing, JSON-RPC, lifecycle, documents, and the
// requests, each turned into a call of lsp/features.h and its result into JSON.
// Tested by tests/unit/lsp/server_test.cc, tests/lsp_test.py and tests/fuzz/lsp_fuzzer.cc.
#include "lsp/server.h"

#include <simdjson.h>

#include <cstdio>
#include <exception>
#include <stdexcept>

#include "base/json_writer.h"
#include "base/utf8.h"
#include "dsl/format.h"
#include "lsp/features.h"

namespace tern::lsp {

namespace dom = simdjson::dom;

namespace {

constexpr int kSeverityError = 1;
constexpr int kSeverityWarning = 2;
constexpr int kSeverityInformation = 3;

// A member of an object, if the element is an object and has it.
bool Member(const dom::element& e, std::string_view key, dom::element* out) {
  dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return false;
  return o.at_key(key).get(*out) == simdjson::SUCCESS;
}

bool StringMember(const dom::element& e, std::string_view key, std::string_view* out) {
  dom::element m;
  return Member(e, key, &m) && m.get_string().get(*out) == simdjson::SUCCESS;
}

bool BoolMember(const dom::element& e, std::string_view key) {
  dom::element m;
  bool b = false;
  return Member(e, key, &m) && m.get_bool().get(b) == simdjson::SUCCESS && b;
}

// A non-negative integer, clamped to uint32 (LSP uinteger); false for anything else.
bool UintValue(const dom::element& e, uint32_t* out) {
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS) {
    if (i < 0) return false;
    *out = i > 0xFFFFFFFFll ? 0xFFFFFFFFu : static_cast<uint32_t>(i);
    return true;
  }
  if (e.get_uint64().get(u) == simdjson::SUCCESS) {
    *out = 0xFFFFFFFFu;
    return true;
  }
  if (e.get_double().get(d) == simdjson::SUCCESS && d >= 0 && d == static_cast<double>(static_cast<int64_t>(d < 1e18 ? d : 0))) {
    *out = d > 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(d);
    return true;
  }
  return false;
}

bool PositionValue(const dom::element& e, Position* out) {
  dom::element line, character;
  return Member(e, "line", &line) && Member(e, "character", &character) &&
         UintValue(line, &out->line) && UintValue(character, &out->character);
}

// The id of a request as JSON text ("null" when it has none usable).
bool IdText(const dom::element& id, std::string* out) {
  out->clear();
  int64_t i;
  uint64_t u;
  double d;
  std::string_view s;
  switch (id.type()) {
    case dom::element_type::INT64:
      if (id.get_int64().get(i) != simdjson::SUCCESS) return false;
      json::AppendInt(*out, i);
      return true;
    case dom::element_type::UINT64:
      if (id.get_uint64().get(u) != simdjson::SUCCESS) return false;
      *out = std::to_string(u);
      return true;
    case dom::element_type::DOUBLE:
      if (id.get_double().get(d) != simdjson::SUCCESS) return false;
      json::AppendDouble(*out, d);
      return true;
    case dom::element_type::STRING:
      if (id.get_string().get(s) != simdjson::SUCCESS) return false;
      json::AppendString(*out, s);
      return true;
    case dom::element_type::NULL_VALUE:
      *out = "null";
      return true;
    default:
      *out = "null";
      return false;
  }
}

void AppendResponseStart(std::string& body, const std::string& id) {
  body += R"({"jsonrpc":"2.0","id":)";
  body += id;
}

void AppendError(std::string* out, const std::string& id, ErrorCode code, std::string_view message) {
  std::string body;
  AppendResponseStart(body, id);
  body += R"(,"error":{"code":)";
  json::AppendInt(body, static_cast<int>(code));
  body += R"(,"message":)";
  json::AppendString(body, message);
  body += "}}";
  AppendFramed(*out, body);
}

void AppendResult(std::string* out, const std::string& id, std::string_view result) {
  std::string body;
  AppendResponseStart(body, id);
  body += R"(,"result":)";
  body += result;
  body += "}";
  AppendFramed(*out, body);
}

void AppendNotification(std::string* out, std::string_view method, std::string_view params) {
  std::string body = R"({"jsonrpc":"2.0","method":)";
  json::AppendString(body, method);
  body += R"(,"params":)";
  body += params;
  body += "}";
  AppendFramed(*out, body);
}

void AppendPosition(std::string& out, Position p) {
  out += R"({"line":)";
  json::AppendInt(out, p.line);
  out += R"(,"character":)";
  json::AppendInt(out, p.character);
  out += "}";
}

void AppendSymbol(std::string& out, const Symbol& s, const LineIndex& lines) {
  out += R"({"name":)";
  json::AppendString(out, s.name.empty() ? std::string_view("?") : std::string_view(s.name));
  if (!s.detail.empty()) {
    out += R"(,"detail":)";
    json::AppendString(out, s.detail);
  }
  out += R"(,"kind":)";
  json::AppendInt(out, static_cast<int>(s.kind));
  out += R"(,"range":{"start":)";
  Range r = lines.ToRange(s.span);
  AppendPosition(out, r.start);
  out += R"(,"end":)";
  AppendPosition(out, r.end);
  out += R"(},"selectionRange":{"start":)";
  // Inside the range, as LSP requires.
  SourceSpan sel = s.selection;
  if (sel.begin < s.span.begin || sel.end > s.span.end || sel.end < sel.begin) sel = {s.span.begin, s.span.begin};
  r = lines.ToRange(sel);
  AppendPosition(out, r.start);
  out += R"(,"end":)";
  AppendPosition(out, r.end);
  out += R"(},"children":[)";
  for (size_t i = 0; i < s.children.size(); ++i) {
    if (i > 0) out += ',';
    AppendSymbol(out, s.children[i], lines);  // groups nest at most 64 deep (E0107)
  }
  out += "]}";
}

}  // namespace

// One message, decoded.
struct Server::Request {
  std::string method;
  std::string id;        // JSON text; "null" for notifications
  bool is_request = false;
  dom::element params;   // a JSON null when absent
};

Server::Server(std::function<void(std::string_view)> log)
    : log_(std::move(log)),
      parser_(std::make_unique<dom::parser>()),
      null_parser_(std::make_unique<dom::parser>()) {}

Server::~Server() = default;

void Server::Log(std::string_view line) const {
  if (log_) log_(line);
}

void Server::Feed(std::string_view bytes, std::string* out) {
  if (exited_) return;
  reader_.Feed(bytes);
  std::string body, error;
  while (!exited_) {
    MessageReader::Result r = reader_.Next(&body, &error);
    if (r == MessageReader::Result::kNeedMore) break;
    if (r == MessageReader::Result::kError) {
      Log("bad message framing: " + error);
      AppendError(out, "null", ErrorCode::kParseError, error);
      continue;
    }
    try {
      HandleMessage(body, out);
    } catch (const std::exception& e) {
      // Memory exhaustion or a bug: say so and keep serving.
      Log(std::string("internal error: ") + e.what());
      AppendError(out, "null", ErrorCode::kInternalError, e.what());
    }
  }
  if (exited_) return;
  for (auto& [uri, doc] : documents_) {
    if (doc.publish) PublishDiagnostics(doc, out);
  }
}

void Server::HandleMessage(std::string_view body, std::string* out) {
  dom::element root;
  if (auto error = parser_->parse(body.data(), body.size()).get(root); error != simdjson::SUCCESS) {
    AppendError(out, "null", ErrorCode::kParseError,
                std::string("not JSON: ") + simdjson::error_message(error));
    return;
  }
  if (root.type() != dom::element_type::OBJECT) {
    AppendError(out, "null", ErrorCode::kInvalidRequest, "a message must be a JSON object");
    return;
  }
  Request r;
  dom::element id, method, params;
  const bool has_id = Member(root, "id", &id);
  std::string_view method_name;
  if (!Member(root, "method", &method)) {
    // A response to a request of ours (we send none): nothing to do. Without an id either,
    // it is no message at all.
    if (!has_id) AppendError(out, "null", ErrorCode::kInvalidRequest, "no method");
    return;
  }
  r.is_request = has_id;
  if (has_id && !IdText(id, &r.id)) {
    AppendError(out, "null", ErrorCode::kInvalidRequest, "an id must be a number or a string");
    return;
  }
  if (method.get_string().get(method_name) != simdjson::SUCCESS) {
    if (r.is_request) AppendError(out, r.id, ErrorCode::kInvalidRequest, "the method must be a string");
    return;
  }
  r.method = std::string(method_name);
  if (Member(root, "params", &params)) {
    r.params = params;
  } else if (null_parser_->parse("null", 4).get(r.params) != simdjson::SUCCESS) {
    throw std::runtime_error("cannot parse null");
  }
  Dispatch(r, out);
}

void Server::Dispatch(Request& r, std::string* out) {
  const std::string& m = r.method;
  if (!r.is_request) {
    std::string error;
    bool ok = true;
    if (m == "exit") {
      exited_ = true;
    } else if (!initialized_ || shutdown_) {
      // LSP: notifications before `initialize` are dropped; after `shutdown` only `exit` counts.
    } else if (m == "textDocument/didOpen") {
      ok = DidOpen(r.params, &error);
    } else if (m == "textDocument/didChange") {
      ok = DidChange(r.params, &error);
    } else if (m == "textDocument/didClose") {
      ok = DidClose(r.params, out, &error);
    }
    // initialized, $/cancelRequest (requests are answered in order, before a cancel can
    // arrive), $/setTrace, didSave, workspace/*: nothing to do.
    if (!ok) Log(m + ": " + error);
    return;
  }
  if (m == "initialize") {
    if (initialized_) {
      AppendError(out, r.id, ErrorCode::kInvalidRequest, "initialize was already received");
      return;
    }
    std::string result;
    Initialize(r.params, &result);
    initialized_ = true;
    AppendResult(out, r.id, result);
    return;
  }
  if (!initialized_) {
    AppendError(out, r.id, ErrorCode::kServerNotInitialized, "the server is not initialized yet");
    return;
  }
  if (shutdown_) {
    AppendError(out, r.id, ErrorCode::kInvalidRequest, "the server is shut down");
    return;
  }
  if (m == "shutdown") {
    shutdown_ = true;
    AppendResult(out, r.id, "null");
    return;
  }
  using Handler = bool (Server::*)(const dom::element&, std::string*, std::string*);
  static const std::pair<std::string_view, Handler> kHandlers[] = {
      {"textDocument/hover", &Server::Hover},
      {"textDocument/definition", &Server::Definition},
      {"textDocument/completion", &Server::Completion},
      {"textDocument/documentSymbol", &Server::Symbols},
      {"textDocument/formatting", &Server::Formatting},
  };
  for (const auto& [name, handler] : kHandlers) {
    if (name != m) continue;
    std::string result, error;
    if ((this->*handler)(r.params, &result, &error)) {
      AppendResult(out, r.id, result);
    } else {
      AppendError(out, r.id, ErrorCode::kInvalidParams, error);
    }
    return;
  }
  AppendError(out, r.id, ErrorCode::kMethodNotFound, "unknown method " + m);
}

bool Server::Initialize(const dom::element& params, std::string* result) {
  // positionEncoding (LSP 3.17): UTF-8 when the client offers it, else the default UTF-16.
  encoding_ = PositionEncoding::kUtf16;
  dom::element caps, general, encodings, text_document, publish;
  if (Member(params, "capabilities", &caps)) {
    dom::array list;
    if (Member(caps, "general", &general) && Member(general, "positionEncodings", &encodings) &&
        encodings.get_array().get(list) == simdjson::SUCCESS) {
      for (dom::element e : list) {
        std::string_view s;
        if (e.get_string().get(s) == simdjson::SUCCESS && s == "utf-8") encoding_ = PositionEncoding::kUtf8;
      }
    }
    related_information_ = Member(caps, "textDocument", &text_document) &&
                           Member(text_document, "publishDiagnostics", &publish) &&
                           BoolMember(publish, "relatedInformation");
  }
  *result = R"({"capabilities":{"positionEncoding":)";
  *result += encoding_ == PositionEncoding::kUtf8 ? R"("utf-8")" : R"("utf-16")";
  *result +=
      R"(,"textDocumentSync":{"openClose":true,"change":1},"hoverProvider":true,)"
      R"("definitionProvider":true,"completionProvider":{"triggerCharacters":[".","("]},)"
      R"("documentSymbolProvider":true,"documentFormattingProvider":true},)"
      R"("serverInfo":{"name":"tern"}})";
  return true;
}

Server::Document* Server::FindDocument(const dom::element& params, std::string* error) {
  dom::element td;
  std::string_view uri;
  if (!Member(params, "textDocument", &td) || !StringMember(td, "uri", &uri)) {
    *error = "params.textDocument.uri is missing";
    return nullptr;
  }
  auto it = documents_.find(std::string(uri));
  return it == documents_.end() ? nullptr : &it->second;
}

Server::Document& Server::Analyzed(Document& doc) {
  if (doc.analysis == nullptr) {
    doc.analysis = Analyze(doc.uri, doc.text);
    doc.lines = std::make_unique<LineIndex>(doc.analysis->text(), encoding_);
  }
  return doc;
}

bool Server::DidOpen(const dom::element& params, std::string* error) {
  dom::element td, version;
  std::string_view uri, text;
  if (!Member(params, "textDocument", &td) || !StringMember(td, "uri", &uri) ||
      !StringMember(td, "text", &text)) {
    *error = "params.textDocument needs uri and text";
    return false;
  }
  Document& doc = documents_[std::string(uri)];
  doc.uri = std::string(uri);
  doc.text = std::string(text);
  int64_t v = 0;
  doc.version = Member(td, "version", &version) && version.get_int64().get(v) == simdjson::SUCCESS ? v : 0;
  doc.analysis = nullptr;
  doc.publish = true;
  return true;
}

bool Server::DidChange(const dom::element& params, std::string* error) {
  dom::element td, changes, version;
  std::string_view uri;
  dom::array list;
  if (!Member(params, "textDocument", &td) || !StringMember(td, "uri", &uri) ||
      !Member(params, "contentChanges", &changes) || changes.get_array().get(list) != simdjson::SUCCESS) {
    *error = "params needs textDocument.uri and contentChanges";
    return false;
  }
  auto it = documents_.find(std::string(uri));
  if (it == documents_.end()) {
    *error = "document not open: " + std::string(uri);
    return false;
  }
  Document& doc = it->second;
  for (dom::element change : list) {
    std::string_view text;
    if (!StringMember(change, "text", &text)) {
      *error = "a content change without text";
      return false;
    }
    dom::element range, start, end;
    if (!Member(change, "range", &range)) {
      doc.text = std::string(text);  // full text
      continue;
    }
    Position a, b;
    if (!Member(range, "start", &start) || !Member(range, "end", &end) || !PositionValue(start, &a) ||
        !PositionValue(end, &b)) {
      *error = "a content change with a bad range";
      return false;
    }
    // An incremental change: positions in the text as it is before this change.
    uint32_t from = OffsetIn(doc.text, encoding_, a), to = OffsetIn(doc.text, encoding_, b);
    if (from > to) std::swap(from, to);
    if (doc.text.size() - (to - from) + text.size() > MessageReader::kMaxBodyBytes) {
      *error = "document too large";
      return false;
    }
    doc.text.replace(from, to - from, text);
  }
  int64_t v = 0;
  if (Member(td, "version", &version) && version.get_int64().get(v) == simdjson::SUCCESS) doc.version = v;
  doc.analysis = nullptr;
  doc.publish = true;
  return true;
}

bool Server::DidClose(const dom::element& params, std::string* out, std::string* error) {
  dom::element td;
  std::string_view uri;
  if (!Member(params, "textDocument", &td) || !StringMember(td, "uri", &uri)) {
    *error = "params.textDocument.uri is missing";
    return false;
  }
  auto it = documents_.find(std::string(uri));
  if (it == documents_.end()) return true;
  documents_.erase(it);
  std::string p = R"({"uri":)";
  json::AppendString(p, uri);
  p += R"(,"diagnostics":[]})";
  AppendNotification(out, "textDocument/publishDiagnostics", p);
  return true;
}

void Server::AppendRange(std::string& out, const LineIndex& lines, SourceSpan span) const {
  Range r = lines.ToRange(span);
  out += R"({"start":)";
  AppendPosition(out, r.start);
  out += R"(,"end":)";
  AppendPosition(out, r.end);
  out += "}";
}

void Server::PublishDiagnostics(Document& doc, std::string* out) {
  doc.publish = false;
  Analyzed(doc);
  const Analysis& a = *doc.analysis;
  const std::string_view text = a.text();
  std::string p = R"({"uri":)";
  json::AppendString(p, doc.uri);
  p += R"(,"version":)";
  json::AppendInt(p, doc.version);
  p += R"(,"diagnostics":[)";
  bool first = true;
  for (const Diagnostic& d : a.diagnostics) {
    if (!first) p += ',';
    first = false;
    SourceSpan span = d.file != nullptr ? d.span : SourceSpan{};
    if (span.end > text.size()) span.end = static_cast<uint32_t>(text.size());
    if (span.begin > span.end) span.begin = span.end;
    if (span.begin == span.end && span.begin < text.size() && text[span.begin] != '\n' && text[span.begin] != '\r') {
      // An empty span points at a character: show that character.
      size_t n = Utf8SequenceLength(text, span.begin);
      span.end = span.begin + static_cast<uint32_t>(n == 0 ? 1 : n);
    }
    std::string range;
    AppendRange(range, *doc.lines, span);
    p += R"({"range":)";
    p += range;
    p += R"(,"severity":)";
    json::AppendInt(p, d.severity == Severity::kError     ? kSeverityError
                       : d.severity == Severity::kWarning ? kSeverityWarning
                                                          : kSeverityInformation);
    if (!d.code.empty()) {
      p += R"(,"code":)";
      json::AppendString(p, d.code);
    }
    p += R"(,"source":"tern","message":)";
    // Clients that do not show relatedInformation get the help in the message.
    json::AppendString(p, d.help.empty() || related_information_ ? d.message : d.message + "\nhelp: " + d.help);
    if (!d.help.empty()) {
      p += R"(,"relatedInformation":[{"location":{"uri":)";
      json::AppendString(p, doc.uri);
      p += R"(,"range":)";
      p += range;
      p += R"(},"message":)";
      json::AppendString(p, d.help);
      p += "}]";
    }
    p += "}";
  }
  p += "]}";
  AppendNotification(out, "textDocument/publishDiagnostics", p);
}

// ---------------------------------------------------------------- requests on a position

bool Server::Locate(const dom::element& params, Document** doc, uint32_t* offset, std::string* error) {
  *doc = FindDocument(params, error);
  if (!error->empty()) return false;
  dom::element pos;
  Position p;
  if (!Member(params, "position", &pos) || !PositionValue(pos, &p)) {
    *error = "params.position is missing or not a position";
    return false;
  }
  if (*doc != nullptr) *offset = Analyzed(**doc).lines->ToOffset(p);
  return true;
}

bool Server::AtPosition(const dom::element& params, std::string* result, std::string* error,
                        const std::function<void(Document&, uint32_t, std::string*)>& answer) {
  Document* doc = nullptr;
  uint32_t offset = 0;
  if (!Locate(params, &doc, &offset, error)) return false;
  result->clear();
  if (doc != nullptr) answer(*doc, offset, result);
  if (result->empty()) *result = "null";
  return true;
}

bool Server::Hover(const dom::element& params, std::string* result, std::string* error) {
  return AtPosition(params, result, error, [this](Document& doc, uint32_t offset, std::string* out) {
    std::optional<HoverInfo> h = HoverAt(*doc.analysis, offset);
    if (!h) return;
    *out = R"({"contents":{"kind":"markdown","value":)";
    json::AppendString(*out, h->markdown);
    *out += R"(},"range":)";
    AppendRange(*out, *doc.lines, h->span);
    *out += "}";
  });
}

bool Server::Definition(const dom::element& params, std::string* result, std::string* error) {
  return AtPosition(params, result, error, [this](Document& doc, uint32_t offset, std::string* out) {
    std::optional<SourceSpan> span = DefinitionAt(*doc.analysis, offset);
    if (!span) return;
    *out = R"({"uri":)";
    json::AppendString(*out, doc.uri);
    *out += R"(,"range":)";
    AppendRange(*out, *doc.lines, *span);
    *out += "}";
  });
}

bool Server::Completion(const dom::element& params, std::string* result, std::string* error) {
  Document* doc = nullptr;
  uint32_t offset = 0;
  if (!Locate(params, &doc, &offset, error)) return false;
  *result = R"({"isIncomplete":false,"items":[)";
  if (doc != nullptr) {
    std::vector<CompletionItem> items = CompleteAt(*doc->analysis, offset);
    for (size_t i = 0; i < items.size(); ++i) {
      const CompletionItem& item = items[i];
      if (i > 0) *result += ',';
      *result += R"({"label":)";
      json::AppendString(*result, item.label);
      *result += R"(,"kind":)";
      json::AppendInt(*result, static_cast<int>(item.kind));
      if (!item.detail.empty()) {
        *result += R"(,"detail":)";
        json::AppendString(*result, item.detail);
      }
      if (!item.documentation.empty()) {
        *result += R"(,"documentation":{"kind":"markdown","value":)";
        json::AppendString(*result, item.documentation);
        *result += "}";
      }
      // Plain text, no snippet; the list's order is the order of relevance.
      *result += R"(,"insertText":)";
      json::AppendString(*result, item.label);
      *result += R"(,"insertTextFormat":1,"sortText":)";
      char sort[24];
      std::snprintf(sort, sizeof sort, "%04zu", i);
      json::AppendString(*result, sort);
      *result += "}";
    }
  }
  *result += "]}";
  return true;
}

bool Server::Symbols(const dom::element& params, std::string* result, std::string* error) {
  Document* doc = FindDocument(params, error);
  if (!error->empty()) return false;
  *result = "[";
  if (doc != nullptr) {
    Analyzed(*doc);
    std::vector<Symbol> symbols = DocumentSymbols(*doc->analysis);
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (i > 0) *result += ',';
      AppendSymbol(*result, symbols[i], *doc->lines);
    }
  }
  *result += "]";
  return true;
}

bool Server::Formatting(const dom::element& params, std::string* result, std::string* error) {
  Document* doc = FindDocument(params, error);
  if (!error->empty()) return false;
  *result = "[]";
  if (doc == nullptr) return true;
  Analyzed(*doc);
  const Analysis& a = *doc->analysis;
  DiagnosticSink sink;
  std::string formatted;
  // A file with syntax errors is left as it is: an empty list of edits (what editors
  // handle best; the errors are in the diagnostics already).
  if (!dsl::Format(*a.source, sink, &formatted) || formatted == a.text()) return true;
  *result = R"([{"range":)";
  AppendRange(*result, *doc->lines, {0, static_cast<uint32_t>(a.text().size())});
  *result += R"(,"newText":)";
  json::AppendString(*result, formatted);
  *result += "}]";
  return true;
}

}  // namespace tern::lsp
