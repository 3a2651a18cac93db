#!/usr/bin/env python3
"""CTests doc_paths and doc_paths_self_test: every repository path that a comment or
a document names exists.

Scans *.md, *.h, *.cc, *.def, *.py, *.sh, *.tern, *.cmake and CMakeLists.txt (not
build*/, out/ or hidden folders) for tokens that look like repository paths: they
start with a top-level folder (base/, dsl/, ..., ../shared/), are not the tail of a
longer path (build/release/cli/tern is not cli/tern), and end in a file extension
or a slash. Each must name something that exists, relative to the repository root
or to the folder of the file that names it or one of that folder's parents (CMake
paths and Markdown links are relative; tests/unit/cli/sources.cmake names paths
relative to tests/unit/).

- A placeholder in angle brackets matches any text, and so does a `*`:
  `bench/results/<date>-<short commit>.md` must match at least one existing file.
- `../shared/` paths are checked only when ../shared exists next to the repository.
- Paths that are legitimately absent (files a test creates in a temporary folder)
  go in ALLOW below, with the file that names them and the reason.

Usage: doc_paths_test.py [REPO]      scan REPO (default: this script's repository)
       doc_paths_test.py --self-test check the scanner on a made-up tree
"""
import fnmatch
import glob
import os
import re
import sys
import tempfile

TOP_FOLDERS = ["base", "dsl", "compiler", "nfa", "engine", "state", "connectors", "cli",
               "patterns", "tests", "bench", "docs", "scripts", "../shared"]
SCANNED = (".md", ".h", ".cc", ".def", ".py", ".sh", ".tern", ".cmake")
SKIPPED_TOP = ("build", "out")  # build trees (build*/) and local output, as in .gitignore

# (file that names the path, path pattern, why it need not exist). Keep it short.
ALLOW = [
    ("tests/unit/connectors/config_test.cc", "patterns/*",
     "files of the temporary folder the test creates"),
    ("tests/doc_paths_test.py", "*", "the made-up tree of the self-test"),
    ("docs/architecture.md", "state/", "the planned persistence module, named as not written yet"),
]

PATH_RE = re.compile(
    r"(?<![\w./\-])((?:%s)/(?:[\w.\-/*]|<[^<>\n]*>)*)" % "|".join(re.escape(t) for t in TOP_FOLDERS))
ENDS_LIKE_PATH = re.compile(r"(/|\.[A-Za-z0-9_]+)$")
PLACEHOLDER = re.compile(r"<[^<>]*>")


def candidates(text_line):
    """The path-like tokens of one line."""
    for m in PATH_RE.finditer(text_line):
        token = m.group(1).rstrip(".")  # a sentence may end right after a path
        if ENDS_LIKE_PATH.search(token) and not token.endswith("../"):
            yield token


def exists(token, root, file_dir):
    pattern = PLACEHOLDER.sub("*", token)
    base = file_dir
    while True:  # the file's folder, its parents, the root
        path = os.path.join(base, pattern)
        if ("*" in pattern and glob.glob(path)) or os.path.exists(path):
            return True
        if os.path.samefile(base, root):
            return False
        base = os.path.dirname(base)


def allowed(rel_file, token):
    return any(fnmatch.fnmatch(rel_file, f) and fnmatch.fnmatch(token, p) for f, p, _ in ALLOW)


def scanned_files(root):
    for folder, dirs, files in os.walk(root):
        at_top = os.path.samefile(folder, root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__"
                         and not (at_top and d.startswith(SKIPPED_TOP)))
        for name in sorted(files):
            if name.endswith(SCANNED) or name == "CMakeLists.txt":
                yield os.path.join(folder, name)


def scan(root):
    """['file:line: path'] for every named path that does not exist."""
    shared = os.path.isdir(os.path.join(root, "..", "shared"))
    missing = []
    for path in scanned_files(root):
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        for number, line in enumerate(lines, 1):
            for token in candidates(line):
                if token.startswith("../shared/") and not shared:
                    continue
                if exists(token, root, os.path.dirname(path)) or allowed(rel, token):
                    continue
                missing.append("%s:%d: %s" % (rel, number, token))
    return missing


def self_test():
    """The scanner finds made-up paths and nothing else in a small tree."""
    with tempfile.TemporaryDirectory() as root:
        def write(rel, text):
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        write("nfa/nfa.h", "// Tested by tests/unit/nfa/nfa_test.cc.\n")  # made up
        write("tests/unit/nfa/step_test.cc", "// Tests nfa/nfa.h, see docs/guide.md.\n")  # guide made up
        write("tests/unit/cli/sources.cmake", "set(S nfa/step_test.cc cli/none_test.cc)\n")  # from tests/unit/
        write("docs/notes.md", "Results go to `bench/results/<date>-<short commit>.md`; see\n"
                               "[the guide](../cli/README.md) and tests/cases/, build/release/cli/tern,\n"
                               "and tests/cases/<area>/<case>/. A dsl/parser is not a file.\n"
                               "Made up: engine/reorder.cc and `tests/fixtures/`.\n")
        write("bench/results/2026-01-01-abc1234.md", "\n")
        write("cli/README.md", "# cli\nSee nfa/*.h and connectors/*.cc.\n")  # connectors/*.cc matches nothing
        write("tests/cases/time/gap/pattern.tern", "# see ../shared/spec/LANGUAGE.md\n")
        write("tests/unit/connectors/config_test.cc", "// creates patterns/a.tern in a temp folder\n")
        write("build/release/notes.md", "nfa/not_scanned.h\n")
        got = scan(root)
        want = ["cli/README.md:2: connectors/*.cc",
                "tests/unit/cli/sources.cmake:1: cli/none_test.cc",
                "docs/notes.md:4: engine/reorder.cc",
                "docs/notes.md:4: tests/fixtures/",
                "nfa/nfa.h:1: tests/unit/nfa/nfa_test.cc",
                "tests/unit/nfa/step_test.cc:1: docs/guide.md"]
        want.sort()
        # ../shared/ is checked only when it exists next to the tree (it does not here).
        if sorted(got) != want:
            print("doc_paths_test: self-test FAILED\n  got:  %s\n  want: %s" % (sorted(got), want))
            return 1
    print("doc_paths_test: self-test ok (%d made-up paths found, nothing else)" % len(want))
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) > 2:
        print(__doc__)
        return 2
    root = os.path.abspath(sys.argv[1] if len(sys.argv) == 2
                           else os.path.join(os.path.dirname(__file__), ".."))
    missing = scan(root)
    for line in missing:
        print("%s   (no such path)" % line)
    if missing:
        print("doc_paths_test: %d named paths do not exist: fix the reference, or add the path to "
              "ALLOW in tests/doc_paths_test.py if it is legitimately absent" % len(missing))
        return 1
    print("doc_paths_test: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
