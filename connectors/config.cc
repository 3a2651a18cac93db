// Loads tern.toml: walks the TOML tree, matches each dotted path against the option table
// (connectors/config_table.def), converts and range-checks the values, expands the pattern
// globs. toml++ throws parse_error; it is caught here and becomes a Diagnostic.
// Tested by tests/unit/connectors/config_test.cc.
#include "connectors/config.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "base/byte_size.h"
#include "base/duration.h"
#include "base/spelling.h"

namespace tern::connectors {

namespace {

constexpr OptionInfo kOptions[] = {
#define TERN_OPTION(id, name, member, type, def, range, example, doc) \
  {name, OptionType::type, def, range, example, doc},
#include "connectors/config_table.def"
#undef TERN_OPTION
};
constexpr size_t kOptionCount = std::size(kOptions);

// Properties Tern sets itself from its own options; naming them in a pass-through table
// would make two places disagree.
struct Reserved {
  std::string_view property;
  std::string_view use;
};
constexpr Reserved kReservedConsumer[] = {{"bootstrap.servers", "kafka.brokers"},
                                          {"metadata.broker.list", "kafka.brokers"},
                                          {"group.id", "kafka.group"}};
constexpr Reserved kReservedProducer[] = {{"bootstrap.servers", "kafka.brokers"},
                                          {"metadata.broker.list", "kafka.brokers"}};

// The enum values of a kEnum row: "a|b|c" -> {"a", "b", "c"}.
std::vector<std::string_view> EnumValues(std::string_view range) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t bar = range.find('|', start);
    out.push_back(range.substr(start, bar == std::string_view::npos ? bar : bar - start));
    if (bar == std::string_view::npos) return out;
    start = bar + 1;
  }
}

std::string JoinList(const std::vector<std::string_view>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += values[i];
  }
  return out;
}

std::string_view TomlTypeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string_view Expected(OptionType t) {
  switch (t) {
    case OptionType::kString: return "a string";
    case OptionType::kStringList: return "an array of strings";
    case OptionType::kDuration: return "a duration string such as \"500ms\"";
    case OptionType::kByteSize: return "a size string such as \"1MiB\"";
    case OptionType::kCount: return "an integer";
    case OptionType::kEnum: return "a string";
    case OptionType::kAddress: return "a string \"host:port\"";
    case OptionType::kProperties: return "a table";
  }
  return "";
}

// The value converted per type, before it is stored into its DaemonConfig member.
struct Value {
  std::string text;
  std::vector<std::string> list;
  int64_t ms = 0;
  uint64_t bytes = 0;  // kByteSize
  int64_t count = 0;   // kCount
  size_t index = 0;  // kEnum: position in the row's range
  std::map<std::string, std::string> properties;
};

void Store(std::string* m, Value&& v) { *m = std::move(v.text); }
void Store(std::vector<std::string>* m, Value&& v) { *m = std::move(v.list); }
void Store(int64_t* m, Value&& v) { *m = v.ms; }
void Store(uint64_t* m, Value&& v) { *m = v.bytes; }
void Store(int32_t* m, Value&& v) { *m = static_cast<int32_t>(v.count); }
void Store(std::map<std::string, std::string>* m, Value&& v) { *m = std::move(v.properties); }
template <typename E>
  requires std::is_enum_v<E>
void Store(E* m, Value&& v) {
  *m = static_cast<E>(v.index);
}

void StoreOption(OptionId id, Value&& v, DaemonConfig* c) {
  switch (id) {
#define TERN_OPTION(id, name, member, type, def, range, example, doc) \
  case OptionId::k##id:                                               \
    Store(&c->member, std::move(v));                                  \
    break;
#include "connectors/config_table.def"
#undef TERN_OPTION
  }
}

const OptionInfo* FindOption(std::string_view name) {
  for (const OptionInfo& o : kOptions) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

// "input.time" is a section: a proper prefix of some option name.
bool IsSection(std::string_view name) {
  for (const OptionInfo& o : kOptions) {
    if (o.name.size() > name.size() && o.name.starts_with(name) && o.name[name.size()] == '.') {
      return true;
    }
  }
  return false;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// glob(3) metacharacters in a directory name must not act as a pattern.
std::string EscapeGlob(std::string_view dir) {
  std::string out;
  for (char c : dir) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Expands one glob; appends the regular files it matches (sorted) that are not in *seen.
// Returns false if it matches no regular file; *error then says why.
bool ExpandOne(const std::string& pattern, const std::string& base_dir,
               std::vector<std::string>* files, std::set<std::string>* seen, std::string* error) {
  std::string full = pattern;
  if (!pattern.starts_with('/') && !base_dir.empty()) {
    full = EscapeGlob(base_dir) + (base_dir.ends_with('/') ? "" : "/") + pattern;
  }
  // No GLOB_ERR: an unreadable or missing directory simply matches nothing.
  glob_t g;
  int rc = ::glob(full.c_str(), 0, nullptr, &g);
  size_t added = 0;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string path = g.gl_pathv[i];
      if (!IsRegularFile(path)) continue;
      ++added;
      if (seen->insert(path).second) files->push_back(std::move(path));
    }
  }
  if (rc != GLOB_NOMATCH) ::globfree(&g);
  if (rc != 0 && rc != GLOB_NOMATCH) {
    *error = "cannot expand " + Quote(full);
    return false;
  }
  if (added == 0) {
    *error = "no file matches " + Quote(pattern);
    if (full != pattern) *error += " (looked for " + Quote(full) + ")";
    return false;
  }
  return true;
}

// Byte offsets of the start of every line of a text; [0] == 0.
std::vector<uint32_t> LineStarts(std::string_view text) {
  std::vector<uint32_t> starts{0};
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') starts.push_back(static_cast<uint32_t>(i + 1));
  }
  return starts;
}

// One load of one file. Thread: the caller's. Locks: none.
class Loader {
 public:
  Loader(const SourceFile* file, DiagnosticSink* sink, DaemonConfig* config)
      : file_(file), sink_(sink), config_(config), line_starts_(LineStarts(file->text())) {}

  void Run(const toml::table& root) { Walk(root, ""); }

  bool ok() const { return errors_ == 0; }
  bool was_set(OptionId id) const { return set_at_[static_cast<size_t>(id)].has_value(); }
  // Where each element of a list option was written; empty if the option was not set.
  const std::vector<SourceSpan>& element_spans(OptionId id) const {
    return element_spans_[static_cast<size_t>(id)];
  }

  // Reports an error; returns false so a failed conversion can `return Error(...)`.
  bool Error(SourceSpan span, std::string message, std::string help = {}) {
    ++errors_;
    pending_.push_back({Severity::kError, "", std::move(message), file_, span, std::move(help)});
    return false;
  }

  // Hands the errors to the sink in file order (toml++ iterates tables by key, not by line).
  void Flush() {
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const Diagnostic& a, const Diagnostic& b) {
                       return a.span.begin < b.span.begin;
                     });
    for (Diagnostic& d : pending_) sink_->Add(std::move(d));
    pending_.clear();
  }

  SourceSpan Span(const toml::source_region& r) const {
    uint32_t begin = Offset(r.begin);
    uint32_t end = r.end.line == r.begin.line ? Offset(r.end) : begin;
    return {begin, std::max(begin, end)};
  }

 private:
  uint32_t Offset(const toml::source_position& p) const {
    if (p.line == 0 || p.line > line_starts_.size()) return 0;
    uint32_t start = line_starts_[p.line - 1];
    uint32_t line_end = p.line < line_starts_.size() ? line_starts_[p.line] - 1
                                                     : static_cast<uint32_t>(file_->text().size());
    uint32_t col = p.column == 0 ? 0 : p.column - 1;
    return std::min(start + col, line_end);
  }

  void Walk(const toml::table& table, const std::string& prefix) {
    for (auto&& [key, node] : table) {
      std::string name = prefix.empty() ? std::string(key.str())
                                         : prefix + "." + std::string(key.str());
      SourceSpan key_span = Span(key.source());
      if (const OptionInfo* o = FindOption(name)) {
        Apply(*o, node, key_span);
      } else if (IsSection(name)) {
        if (const toml::table* sub = node.as_table()) {
          Walk(*sub, name);
        } else {
          Error(key_span, Quote(name) + " is a section of options, not a value",
                "write its options as " + name + ".<option> = ..., or under [" + name + "]");
        }
      } else {
        Unknown(name, key_span);
      }
    }
  }

  void Unknown(const std::string& name, SourceSpan span) {
    std::vector<std::string> storage;
    for (const OptionInfo& o : kOptions) {
      storage.emplace_back(o.name);
      // Sections too, so "[inptu]" suggests "input".
      for (size_t dot = o.name.find('.'); dot != std::string_view::npos;
           dot = o.name.find('.', dot + 1)) {
        storage.emplace_back(o.name.substr(0, dot));
      }
    }
    std::vector<std::string_view> candidates(storage.begin(), storage.end());
    std::string_view best = ClosestMatch(name, candidates);
    std::string help;
    if (!best.empty()) {
      help = "did you mean " + Quote(best) + "?";
    } else {
      help = "see docs/CONFIGURATION.md or 'tern run --help' for the options";
    }
    Error(span, "unknown option " + Quote(name), help);
  }

  bool TypeError(const OptionInfo& o, const toml::node& node, std::string help = {}) {
    return Error(Span(node.source()),
          "option " + Quote(o.name) + " must be " + std::string(Expected(o.type)) + ", found " +
              std::string(TomlTypeName(node.type())),
          std::move(help));
  }

  void Apply(const OptionInfo& o, const toml::node& node, SourceSpan key_span) {
    size_t index = static_cast<size_t>(&o - kOptions);
    if (set_at_[index]) {
      // toml++ visits keys by name, not by position: blame whichever comes later.
      SourceSpan first = *set_at_[index];
      SourceSpan second = key_span;
      if (second.begin < first.begin) std::swap(first, second);
      set_at_[index] = first;
      Error(second, "option " + Quote(o.name) + " is set twice",
            "first set on line " + std::to_string(file_->Locate(first.begin).line));
      return;
    }
    set_at_[index] = key_span;
    Value value;
    if (Convert(o, node, &value)) {
      StoreOption(static_cast<OptionId>(index), std::move(value), config_);
    }
  }

  bool Convert(const OptionInfo& o, const toml::node& node, Value* out) {
    size_t index = static_cast<size_t>(&o - kOptions);
    SourceSpan span = Span(node.source());
    switch (o.type) {
      case OptionType::kString: {
        const toml::value<std::string>* s = node.as_string();
        if (s == nullptr) return TypeError(o, node);
        if (s->get().empty() && o.range == "non-empty") {
          return Error(span, "option " + Quote(o.name) + " must not be empty");
        }
        out->text = s->get();
        return true;
      }
      case OptionType::kStringList: {
        const toml::array* a = node.as_array();
        if (a == nullptr) {
          std::string help;
          if (const toml::value<std::string>* s = node.as_string()) {
            help = "write a list: [\"" + s->get() + "\"]";
          }
          return TypeError(o, node, help);
        }
        if (a->empty() && o.range == "non-empty") {
          return Error(span, "option " + Quote(o.name) + " needs at least one entry");
        }
        bool ok = true;
        std::vector<SourceSpan> spans;
        for (const toml::node& element : *a) {
          const toml::value<std::string>* s = element.as_string();
          SourceSpan element_span = Span(element.source());
          if (s == nullptr) {
            ok = false;
            Error(element_span, "option " + Quote(o.name) + " must be an array of strings, found " +
                                    std::string(TomlTypeName(element.type())) + " in it");
          } else if (s->get().empty()) {
            ok = false;
            Error(element_span, "option " + Quote(o.name) + " must not contain an empty string");
          } else {
            out->list.push_back(s->get());
            spans.push_back(element_span);
          }
        }
        element_spans_[index] = std::move(spans);
        return ok;
      }
      case OptionType::kDuration: {
        const toml::value<std::string>* s = node.as_string();
        if (s == nullptr) {
          std::string help;
          if (node.is_integer()) help = "durations are strings with a unit, e.g. \"500ms\"";
          return TypeError(o, node, help);
        }
        if (!ParseDuration(s->get(), &out->ms)) {
          return Error(span,
                       "option " + Quote(o.name) + " must be a duration, found " + Quote(s->get()),
                       "an integer directly followed by ms, s, m, h or d, e.g. \"500ms\"");
        }
        size_t dots = o.range.find("..");
        int64_t min = 0;
        int64_t max = 0;
        if (dots != std::string_view::npos && ParseDuration(o.range.substr(0, dots), &min) &&
            ParseDuration(o.range.substr(dots + 2), &max) && (out->ms < min || out->ms > max)) {
          return Error(span, "option " + Quote(o.name) + " is out of range: " + Quote(s->get()) +
                                 " is not within " + std::string(o.range));
        }
        return true;
      }
      case OptionType::kByteSize: {
        const toml::value<std::string>* s = node.as_string();
        if (s == nullptr) {
          std::string help;
          if (node.is_integer()) help = "sizes are strings, e.g. \"1048576\" or \"1MiB\"";
          return TypeError(o, node, help);
        }
        if (!ParseByteSize(s->get(), &out->bytes)) {
          return Error(span,
                       "option " + Quote(o.name) + " must be a size, found " + Quote(s->get()),
                       "an integer, optionally followed by B, KiB, MiB or GiB, e.g. \"1MiB\"");
        }
        size_t dots = o.range.find("..");
        uint64_t min = 0;
        uint64_t max = 0;
        if (dots != std::string_view::npos && ParseByteSize(o.range.substr(0, dots), &min) &&
            ParseByteSize(o.range.substr(dots + 2), &max) &&
            (out->bytes < min || out->bytes > max)) {
          return Error(span, "option " + Quote(o.name) + " is out of range: " + Quote(s->get()) +
                                 " is not within " + std::string(o.range));
        }
        return true;
      }
      case OptionType::kCount: {
        const toml::value<int64_t>* n = node.as_integer();
        if (n == nullptr) return TypeError(o, node);
        out->count = n->get();
        size_t dots = o.range.find("..");
        int64_t min = 0, max = 0;
        auto parse = [](std::string_view t, int64_t* v) {
          auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *v);
          return ec == std::errc() && end == t.data() + t.size();
        };
        if (dots != std::string_view::npos && parse(o.range.substr(0, dots), &min) &&
            parse(o.range.substr(dots + 2), &max) && (out->count < min || out->count > max)) {
          return Error(span, "option " + Quote(o.name) + " is out of range: " + std::to_string(out->count) +
                                 " is not within " + std::string(o.range));
        }
        return true;
      }
      case OptionType::kEnum: {
        const toml::value<std::string>* s = node.as_string();
        if (s == nullptr) return TypeError(o, node);
        std::vector<std::string_view> allowed = EnumValues(o.range);
        auto it = std::find(allowed.begin(), allowed.end(), s->get());
        if (it == allowed.end()) {
          std::string_view best = ClosestMatch(s->get(), allowed);
          return Error(span,
                       "option " + Quote(o.name) + " must be one of " + JoinList(allowed) +
                           "; found " + Quote(s->get()),
                       best.empty() ? std::string() : "did you mean " + Quote(best) + "?");
        }
        out->index = static_cast<size_t>(it - allowed.begin());
        return true;
      }
      case OptionType::kAddress: {
        const toml::value<std::string>* s = node.as_string();
        if (s == nullptr) return TypeError(o, node);
        std::string host;
        uint16_t port = 0;
        std::string why;
        if (!s->get().empty() && !ParseHostPort(s->get(), &host, &port, &why)) {
          return Error(span, "option " + Quote(o.name) + " must be \"host:port\" or empty, found " +
                                 Quote(s->get()) + ": " + why);
        }
        out->text = s->get();
        return true;
      }
      case OptionType::kProperties: {
        const toml::table* t = node.as_table();
        if (t == nullptr) return TypeError(o, node);
        std::span<const Reserved> reserved = kReservedProducer;
        if (o.name == Info(OptionId::kKafkaConsumer).name) reserved = kReservedConsumer;
        size_t before = errors_;
        Flatten(o, *t, "", reserved, out);
        return errors_ == before;
      }
    }
    return false;
  }

  // Pass-through tables: `fetch.wait.max.ms = 10` is TOML for nested tables, so nested
  // tables are joined back into dotted librdkafka property names.
  void Flatten(const OptionInfo& o, const toml::table& table, const std::string& prefix,
               std::span<const Reserved> reserved, Value* out) {
    for (auto&& [key, node] : table) {
      std::string name = prefix.empty() ? std::string(key.str())
                                         : prefix + "." + std::string(key.str());
      std::string full = std::string(o.name) + "." + name;
      if (const toml::table* sub = node.as_table()) {
        Flatten(o, *sub, name, reserved, out);
        continue;
      }
      SourceSpan key_span = Span(key.source());
      std::string text;
      if (const toml::value<std::string>* s = node.as_string()) {
        text = s->get();
      } else if (const toml::value<int64_t>* i = node.as_integer()) {
        text = std::to_string(i->get());
      } else if (const toml::value<double>* d = node.as_floating_point()) {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, d->get());
        text.assign(buf, r.ptr);
      } else if (const toml::value<bool>* b = node.as_boolean()) {
        text = b->get() ? "true" : "false";
      } else {
        Error(Span(node.source()),
              "property " + Quote(name) + " in [" + std::string(o.name) +
                  "] must be a string, number or boolean, found " +
                  std::string(TomlTypeName(node.type())),
              node.is_array() ? "librdkafka lists are one comma-separated string" : "");
        continue;
      }
      bool refused = false;
      for (const Reserved& r : reserved) {
        if (r.property == name) {
          Error(key_span,
                "property " + Quote(name) + " cannot be set in [" + std::string(o.name) + "]",
                "Tern sets it from " + Quote(r.use) + "; set that option instead");
          refused = true;
        }
      }
      if (refused) continue;
      if (!out->properties.emplace(name, std::move(text)).second) {
        Error(key_span, "property " + Quote(name) + " in [" + std::string(o.name) +
                            "] is set twice");
      }
    }
  }

  const SourceFile* file_;
  DiagnosticSink* sink_;
  DaemonConfig* config_;
  std::vector<uint32_t> line_starts_;  // byte offset of each line of file_
  size_t errors_ = 0;                  // errors reported by this load
  std::vector<Diagnostic> pending_;    // errors not yet handed to sink_
  std::optional<SourceSpan> set_at_[kOptionCount];      // key of each option set in the file
  std::vector<SourceSpan> element_spans_[kOptionCount];  // kStringList: each element
};

// Parses `file` over *config; expands patterns.files against the file's directory if
// `expand` is set.
bool Parse(const SourceFile& file, DaemonConfig* config, DiagnosticSink* sink, bool expand) {
  Loader loader(&file, sink, config);
  try {
    toml::table root = toml::parse(file.text(), file.path());
    loader.Run(root);
  } catch (const toml::parse_error& e) {
    loader.Error(loader.Span(e.source()), "invalid TOML: " + std::string(e.description()));
  }
  if (expand && loader.ok()) {
    std::string base_dir = DirName(file.path());
    if (!loader.was_set(OptionId::kPatternsFiles)) {
      // The default globs have no place in the file to point at.
      loader.Flush();
      return ExpandPatternFiles(base_dir, config, sink);
    }
    // Each glob is reported where it is written.
    const std::vector<SourceSpan>& spans = loader.element_spans(OptionId::kPatternsFiles);
    std::vector<std::string> files;
    std::set<std::string> seen;
    for (size_t i = 0; i < spans.size(); ++i) {
      std::string error;
      if (!ExpandOne(config->pattern_globs[i], base_dir, &files, &seen, &error)) {
        loader.Error(spans[i], "option 'patterns.files': " + error);
      }
    }
    config->pattern_files = std::move(files);
  }
  loader.Flush();
  return loader.ok();
}

}  // namespace

std::span<const OptionInfo> ConfigOptions() { return kOptions; }

const OptionInfo& Info(OptionId id) { return kOptions[static_cast<size_t>(id)]; }

std::string_view TypeName(OptionType type) {
  switch (type) {
    case OptionType::kString: return "string";
    case OptionType::kStringList: return "list of strings";
    case OptionType::kDuration: return "duration";
    case OptionType::kByteSize: return "byte size";
    case OptionType::kCount: return "integer";
    case OptionType::kEnum: return "enum";
    case OptionType::kAddress: return "host:port";
    case OptionType::kProperties: return "table";
  }
  return "";
}

std::string_view Name(TimeFormat v) {
  return EnumValues(Info(OptionId::kInputTimeFormat).range)[static_cast<size_t>(v)];
}
std::string_view Name(LatePolicy v) {
  return EnumValues(Info(OptionId::kInputLatePolicy).range)[static_cast<size_t>(v)];
}
std::string_view Name(LogLevel v) {
  return EnumValues(Info(OptionId::kLogLevel).range)[static_cast<size_t>(v)];
}
std::string_view Name(StateOnCorruption v) {
  return EnumValues(Info(OptionId::kStateOnCorruption).range)[static_cast<size_t>(v)];
}
std::string_view Name(LogFormat v) {
  return EnumValues(Info(OptionId::kLogFormat).range)[static_cast<size_t>(v)];
}

DaemonConfig DefaultConfig() {
  // The defaults go through the same loader as a file: one quoted dotted key per row.
  std::string text;
  for (const OptionInfo& o : kOptions) {
    text += "\"" + std::string(o.name) + "\" = " + std::string(o.default_toml) + "\n";
  }
  SourceFile file("<defaults>", std::move(text));
  DaemonConfig config;
  DiagnosticSink sink;
  if (!Parse(file, &config, &sink, /*expand=*/false)) {
    // The table is wrong: tests/unit/connectors/config_test.cc catches this before a release.
    std::fputs(RenderAll(sink.diagnostics()).c_str(), stderr);
    std::abort();
  }
  return config;
}

bool ParseConfig(const SourceFile& file, DaemonConfig* config, DiagnosticSink* sink) {
  *config = DefaultConfig();
  return Parse(file, config, sink, /*expand=*/true);
}

bool LoadConfig(const std::string& path, std::unique_ptr<SourceFile>* file, DaemonConfig* config,
                DiagnosticSink* sink) {
  std::ifstream in(path, std::ios::binary);
  struct stat st;
  if (!in || (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) {
    int err = in ? EISDIR : errno;
    sink->Error(nullptr, {}, "", "cannot read config file " + Quote(path) + ": " +
                                     std::strerror(err));
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  *file = std::make_unique<SourceFile>(path, text.str());
  return ParseConfig(**file, config, sink);
}

bool ExpandPatternFiles(const std::string& base_dir, DaemonConfig* config, DiagnosticSink* sink) {
  std::vector<std::string> files;
  std::set<std::string> seen;
  bool ok = true;
  for (const std::string& pattern : config->pattern_globs) {
    std::string error;
    if (!ExpandOne(pattern, base_dir, &files, &seen, &error)) {
      ok = false;
      sink->Error(nullptr, {}, "", "option 'patterns.files' (default " +
                                       std::string(Info(OptionId::kPatternsFiles).default_toml) +
                                       "): " + error);
    }
  }
  config->pattern_files = std::move(files);
  return ok;
}

std::vector<std::string> ApplyEnvironment(DaemonConfig* config) {
  std::vector<std::string> applied;
  const char* brokers = std::getenv("TERN_KAFKA_BROKERS");
  if (brokers != nullptr && *brokers != '\0') {
    config->brokers = brokers;
    applied.push_back("kafka.brokers = \"" + config->brokers + "\" (from TERN_KAFKA_BROKERS)");
  }
  return applied;
}

bool ParseHostPort(std::string_view text, std::string* host, uint16_t* port, std::string* error) {
  auto fail = [error](std::string why) {
    *error = std::move(why);
    return false;
  };
  std::string_view h;
  std::string_view rest;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after the IPv6 host");
    h = text.substr(1, close - 1);
    rest = text.substr(close + 1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("missing ':port'");
    h = text.substr(0, colon);
    rest = text.substr(colon);
    if (h.find(':') != std::string_view::npos) {
      return fail("write an IPv6 host in brackets, e.g. [::1]:9464");
    }
  }
  if (h.empty()) return fail("missing host");
  if (!rest.starts_with(':')) return fail("missing ':port'");
  std::string_view digits = rest.substr(1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() ||
      value > 65535) {
    return fail("port " + Quote(digits) + " is not a number from 0 to 65535");
  }
  *host = std::string(h);
  *port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace tern::connectors
