// The Tern language server: JSON-RPC 2.0 over the LSP base protocol, as bytes in and
// bytes out, with no I/O of its own (cli/lsp.cc connects it to stdin and stdout; tests
// and the fuzzer feed it directly).
// Tested by tests/unit/lsp/server_test.cc, tests/lsp_test.py and tests/fuzz/lsp_fuzzer.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "lsp/document.h"
#include "lsp/framing.h"
#include "lsp/text_position.h"

namespace simdjson::dom {
class element;
class parser;
}  // namespace simdjson::dom

namespace tern::lsp {

// JSON-RPC and LSP error codes.
enum class ErrorCode : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kServerNotInitialized = -32002,
};

// One session with one client. Created by `tern lsp` (or a test), fed every byte the
// client sends, in order; answers are appended to the caller's string.
// Thread: one. Locks: none.
class Server {
 public:
  // `log` receives one line per problem worth telling a human (to stderr in `tern lsp`).
  explicit Server(std::function<void(std::string_view)> log = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Handles every complete message in `bytes` (after what earlier calls left unfinished),
  // appending framed responses and notifications to *out. Diagnostics are published once
  // per call for each document that changed during it: a burst of changes read at once is
  // analysed once, at its last version.
  void Feed(std::string_view bytes, std::string* out);

  bool exited() const { return exited_; }                 // the client sent `exit`
  int exit_code() const { return shutdown_ ? 0 : 1; }     // LSP: 0 only after `shutdown`

 private:
  struct Document {
    std::string uri;
    std::string text;
    int64_t version = 0;
    std::shared_ptr<const Analysis> analysis;  // of `text`; null when stale
    std::unique_ptr<LineIndex> lines;          // over analysis->text()
    bool publish = false;                      // diagnostics due at the end of this Feed
  };
  struct Request;

  void HandleMessage(std::string_view body, std::string* out);
  void Dispatch(Request& r, std::string* out);
  void PublishDiagnostics(Document& doc, std::string* out);
  Document* FindDocument(const simdjson::dom::element& params, std::string* error);
  Document& Analyzed(Document& doc);
  // The open document (null if not open) and the offset of params.position; false with
  // *error when the params are not those of a position request.
  bool Locate(const simdjson::dom::element& params, Document** doc, uint32_t* offset, std::string* error);
  // A position request: `answer` writes the result for the open document and offset;
  // the result is null when the document is not open or `answer` writes nothing.
  bool AtPosition(const simdjson::dom::element& params, std::string* result, std::string* error,
                  const std::function<void(Document&, uint32_t, std::string*)>& answer);

  // Request handlers: the result as JSON text, or false with *error set.
  bool Initialize(const simdjson::dom::element& params, std::string* result);
  bool Hover(const simdjson::dom::element& params, std::string* result, std::string* error);
  bool Definition(const simdjson::dom::element& params, std::string* result, std::string* error);
  bool Completion(const simdjson::dom::element& params, std::string* result, std::string* error);
  bool Symbols(const simdjson::dom::element& params, std::string* result, std::string* error);
  bool Formatting(const simdjson::dom::element& params, std::string* result, std::string* error);
  // Notification handlers: false with *error set on bad params (logged, never answered).
  bool DidOpen(const simdjson::dom::element& params, std::string* error);
  bool DidChange(const simdjson::dom::element& params, std::string* error);
  bool DidClose(const simdjson::dom::element& params, std::string* out, std::string* error);

  void AppendRange(std::string& out, const LineIndex& lines, SourceSpan span) const;
  void Log(std::string_view line) const;

  std::function<void(std::string_view)> log_;
  MessageReader reader_;
  std::unique_ptr<simdjson::dom::parser> parser_;
  // Holds the JSON `null` that stands for absent params (a default-constructed element
  // points at no document: reading it is undefined behaviour).
  std::unique_ptr<simdjson::dom::parser> null_parser_;
  std::map<std::string, Document> documents_;  // by URI
  PositionEncoding encoding_ = PositionEncoding::kUtf16;
  bool related_information_ = false;  // the client shows relatedInformation
  bool initialized_ = false;          // `initialize` answered
  bool shutdown_ = false;             // `shutdown` answered
  bool exited_ = false;               // `exit` received: nothing more is read
};

}  // namespace tern::lsp
