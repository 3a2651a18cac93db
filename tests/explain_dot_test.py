#!/usr/bin/env python3
"""`tern explain --dot` on every shipped pattern (patterns/*.tern) and every conformance
pattern: the output is structurally sound DOT (one digraph per pattern, balanced braces
outside strings, every node an edge names is declared, no expression ids in labels) and,
when Graphviz's `dot` is installed, `dot -Tsvg` accepts it without errors or warnings.

usage: explain_dot_test.py TERN REPO_DIR [CONFORMANCE_DIR]
"""
import glob
import os
import re
import shutil
import subprocess
import sys

NODE = re.compile(r'^\s*(\w+) \[')
EDGE = re.compile(r'^\s*(\w+) -> (\w+)')


def strip_strings(line):
    """The line with the contents of DOT strings removed (escapes included)."""
    out, in_string, k = [], False, 0
    while k < len(line):
        c = line[k]
        if in_string:
            if c == '\\':
                k += 1
            elif c == '"':
                in_string = False
                out.append(c)
        else:
            if c == '"':
                in_string = True
            out.append(c)
        k += 1
    if in_string:
        raise ValueError("unterminated string: " + line)
    return ''.join(out)


def check_structure(text, patterns):
    """Problems found in the DOT of one file, as strings."""
    problems = []
    graphs = text.count('digraph "')
    if graphs != patterns:
        problems.append("%d digraphs for %d patterns" % (graphs, patterns))
    depth, declared, used = 0, set(), set()
    for line in text.splitlines():
        try:
            bare = strip_strings(line)
        except ValueError as e:
            problems.append(str(e))
            continue
        depth += bare.count('{') - bare.count('}')
        if depth < 0:
            problems.append("unbalanced '}': " + line)
            depth = 0
        m = EDGE.match(bare)
        if m:
            used.update(m.groups())
        elif NODE.match(bare) and not bare.strip().startswith(('graph', 'node', 'edge')):
            declared.add(NODE.match(bare).group(1))
        if re.search(r'label="(take|ignore|proceed) \(?!?e\d', line):
            problems.append("an expression id in a label: " + line)
        if depth == 0 and bare.strip() == '}':
            missing = used - declared
            if missing:
                problems.append("edges name undeclared nodes: " + ", ".join(sorted(missing)))
            declared, used = set(), set()
    if depth != 0:
        problems.append("unbalanced '{': depth %d at the end" % depth)
    return problems


def main():
    tern, repo = sys.argv[1], sys.argv[2]
    conformance = sys.argv[3] if len(sys.argv) > 3 else os.path.join(repo, "..", "shared", "conformance")
    files = sorted(glob.glob(os.path.join(repo, "patterns", "*.tern")))
    files += sorted(glob.glob(os.path.join(conformance, "**", "*.tern"), recursive=True))
    if not files:
        print("explain_dot_test: no pattern files found")
        return 1
    dot = shutil.which("dot")
    if dot is None:
        print("explain_dot_test: Graphviz 'dot' is not installed: structural checks only, "
              "no rendering (apt-get install graphviz to render)")
    failures, rendered = 0, 0
    for path in files:
        r = subprocess.run([tern, "explain", "--dot", path], capture_output=True, text=True)
        if r.returncode != 0:
            print("FAIL %s: tern explain --dot exited %d\n%s" % (path, r.returncode, r.stderr))
            failures += 1
            continue
        with open(path, encoding="utf-8") as f:
            patterns = len(re.findall(r'^\s*pattern\s', f.read(), re.M))
        problems = check_structure(r.stdout, patterns)
        if dot is not None and not problems:
            # One file per digraph: dot renders only the first graph of its input to stdout.
            for k, graph in enumerate(re.split(r'(?m)^(?=digraph )', r.stdout)):
                if not graph.strip():
                    continue
                d = subprocess.run([dot, "-Tsvg"], input=graph, capture_output=True, text=True)
                if d.returncode != 0 or d.stderr.strip() or "<svg" not in d.stdout:
                    problems.append("dot -Tsvg (graph %d): exit %d: %s" % (k, d.returncode, d.stderr.strip()))
                rendered += 1
        if problems:
            failures += 1
            print("FAIL %s:\n  %s" % (path, "\n  ".join(problems)))
    print("explain_dot_test: %d files, %d failed%s" %
          (len(files), failures, ", %d graphs rendered to SVG" % rendered if dot else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
