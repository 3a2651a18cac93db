// The LSP base protocol: header blocks, Content-Length, bounded buffering.
// Tested by tests/unit/lsp/framing_test.cc.
#include "lsp/framing.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace tern::lsp {

namespace {

constexpr std::string_view kHeaderEnd = "\r\n\r\n";
constexpr std::string_view kLengthName = "content-length";

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The Content-Length of a header block (without its final blank line), or an error.
bool ParseHeaders(std::string_view block, uint64_t* length, std::string* error) {
  bool found = false;
  while (!block.empty()) {
    size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
    if (line.empty()) continue;  // a stray blank line before the headers
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      *error = "bad header line (no ':')";
      return false;
    }
    if (!EqualsIgnoreCase(Trim(line.substr(0, colon)), kLengthName)) continue;  // Content-Type, ...
    std::string_view value = Trim(line.substr(colon + 1));
    if (value.empty() || value.size() > 15 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      *error = "bad Content-Length value";
      return false;
    }
    uint64_t n = 0;
    for (char c : value) n = n * 10 + static_cast<uint64_t>(c - '0');
    *length = n;
    found = true;
  }
  if (!found) *error = "no Content-Length header";
  return found;
}

}  // namespace

void MessageReader::Feed(std::string_view bytes) {
  if (skip_ > 0 && pos_ == buffer_.size()) {
    const size_t n = std::min<size_t>(skip_, bytes.size());
    skip_ -= n;
    bytes.remove_prefix(n);
  }
  buffer_.append(bytes);
}

void MessageReader::Compact() {
  if (pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ >= (1u << 16)) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
}

MessageReader::Result MessageReader::Next(std::string* body, std::string* error) {
  if (skip_ > 0) {
    const size_t n = std::min(skip_, buffered());
    pos_ += n;
    skip_ -= n;
    if (skip_ > 0) {
      Compact();
      return Result::kNeedMore;
    }
  }
  std::string_view rest(buffer_.data() + pos_, buffer_.size() - pos_);
  if (resync_) {
    // Drop bytes up to the next header that looks like the start of a message.
    size_t at = rest.find("Content-Length");
    if (at == std::string_view::npos) {
      const size_t keep = std::min(rest.size(), kLengthName.size());
      pos_ = buffer_.size() - keep;
      Compact();
      return Result::kNeedMore;
    }
    pos_ += at;
    rest.remove_prefix(at);
    resync_ = false;
  }
  const size_t end = rest.substr(0, kMaxHeaderBytes + kHeaderEnd.size()).find(kHeaderEnd);
  if (end == std::string_view::npos) {
    if (rest.size() <= kMaxHeaderBytes) {
      Compact();
      return Result::kNeedMore;
    }
    *error = "header block longer than " + std::to_string(kMaxHeaderBytes) + " bytes";
    pos_ = buffer_.size();
    resync_ = true;
    Compact();
    return Result::kError;
  }
  uint64_t length = 0;
  const size_t body_begin = end + kHeaderEnd.size();
  if (!ParseHeaders(rest.substr(0, end), &length, error)) {
    pos_ += body_begin;
    Compact();
    return Result::kError;
  }
  if (length > kMaxBodyBytes) {
    *error = "message of " + std::to_string(length) + " bytes is over the limit of " +
             std::to_string(kMaxBodyBytes) + " bytes (skipped)";
    pos_ += body_begin;
    skip_ = static_cast<size_t>(length);
    const size_t n = std::min(skip_, buffered());
    pos_ += n;
    skip_ -= n;
    Compact();
    return Result::kError;
  }
  if (rest.size() - body_begin < length) return Result::kNeedMore;
  body->assign(rest.substr(body_begin, static_cast<size_t>(length)));
  pos_ += body_begin + static_cast<size_t>(length);
  Compact();
  return Result::kMessage;
}

void AppendFramed(std::string& out, std::string_view body) {
  out += "Content-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out.append(body);
}

}  // namespace tern::lsp
