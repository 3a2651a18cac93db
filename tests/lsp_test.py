#!/usr/bin/env python3
"""CTest lsp_session: `tern lsp` driven by a scripted client over pipes, as an editor does.

The session: initialize -> initialized -> didOpen of a file with errors (each diagnostic's
code and exact range, columns in UTF-16 code units after multi-byte characters) ->
didChange that fixes them (no diagnostics) -> hover on a stage reference, a keyword, a
duration, a function -> definition from `last(small)` -> completion at several places ->
documentSymbol -> formatting of a messy document (the edit is `tern fmt -`'s output) ->
a garbage message and a truncated document (answered, the server goes on) -> shutdown ->
exit (status 0). Then a randomized run (fixed seed, a few seconds): garbled documents and
random positions for every request type; every request must get its response (a result
or an error) and the server must stay up.

Usage: lsp_test.py PATH/TO/tern [--transcript FILE] [--seed N] [--random-seconds S]
  --transcript FILE   write the scripted session (requests and answers) as markdown
"""
import argparse
import json
import os
import random
import select
import subprocess
import sys
import time

TIMEOUT = 20.0  # seconds to wait for one answer

BROKEN = """# Card testing — é€😀 in a comment moves every column after it on this line
pattern card_testing {
  key    card_id
  within 0ms
  skip   past_last_event

  begin       small where type == "auth" and amount < 2.00  times 3.. greedy
  followed_by big   where note != "é😀" and merchant != lst(small).merchant  # 😀 then big2
                      and big2.amount > 1
  next big2
  emit { n = count(small) }
}
"""

# BROKEN with its three errors fixed.
FIXED = (BROKEN.replace("within 0ms", "within 90m").replace("lst(small)", "last(small)")
         .replace("                      and big2.amount > 1\n", "").replace("  next big2\n", "\n")
         .replace("emit { n = count(small) }", "emit { n = count(small) total = sum(small.amount) }"))
assert FIXED.count("big2") == 1  # the comment

MESSY = """pattern   messy{key user within 5m
begin a where x==1 followed_by   b where y  >  2
emit{n=count(a)}}
"""

URI = "file:///work/card_testing.tern"
URI_MESSY = "file:///work/messy.tern"


def utf16_len(s):
    return len(s.encode("utf-16-le")) // 2


def pos_of(text, needle, nth=0, plus=0):
    """LSP position (UTF-16 columns) of the nth occurrence of needle, plus `plus` characters."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += plus
    line = text.count("\n", 0, at)
    line_start = text.rfind("\n", 0, at) + 1
    return {"line": line, "character": utf16_len(text[line_start:at])}


def range_of(text, needle, nth=0, length=None):
    start = pos_of(text, needle, nth)
    n = len(needle) if length is None else length
    end = {"line": start["line"], "character": start["character"] + utf16_len(needle[:n])}
    return {"start": start, "end": end}


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Client:
    def __init__(self, tern, transcript=None):
        self.proc = subprocess.Popen([tern, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.buf = b""
        self.next_id = 1
        self.notes = []  # notifications received, in order
        self.transcript = transcript

    def log(self, direction, obj_or_text):
        if self.transcript is None:
            return
        text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text, indent=2, ensure_ascii=False)
        self.transcript.append((direction, text))

    def send_raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, obj):
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.log("->", obj)
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def read_message(self, deadline):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                headers = self.buf[:end].decode("ascii").split("\r\n")
                length = None
                for h in headers:
                    name, _, value = h.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                check(length is not None, "answer without Content-Length: %r" % self.buf[:200])
                if len(self.buf) >= end + 4 + length:
                    body = self.buf[end + 4:end + 4 + length]
                    self.buf = self.buf[end + 4 + length:]
                    return json.loads(body.decode("utf-8"))
            left = deadline - time.monotonic()
            check(left > 0, "no answer within %.0f s" % TIMEOUT)
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            check(chunk, "the server closed its output (exit status %s): %s" %
                  (self.proc.poll(), self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""))
            self.buf += chunk

    def wait_for(self, pred):
        deadline = time.monotonic() + TIMEOUT
        while True:
            msg = self.read_message(deadline)
            self.log("<-", msg)
            if "id" not in msg:
                self.notes.append(msg)
            if pred(msg):
                return msg

    def request(self, method, params, raw_id=None):
        rid = self.next_id if raw_id is None else raw_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.wait_for(lambda m: m.get("id") == rid and "method" not in m)

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def diagnostics(self, uri, version):
        return self.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                             and m["params"]["uri"] == uri and m["params"].get("version") == version)["params"]["diagnostics"]


def pos_params(uri, pos):
    return {"textDocument": {"uri": uri}, "position": pos}


def scripted_session(tern, transcript):
    c = Client(tern, transcript)
    r = c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {
        "textDocument": {"publishDiagnostics": {"relatedInformation": True}}}})
    caps = r["result"]["capabilities"]
    check(r["result"]["serverInfo"]["name"] == "tern", "serverInfo")
    check(caps["positionEncoding"] == "utf-16", "utf-16 by default")
    check(caps["textDocumentSync"]["change"] == 1, "full sync")
    for cap in ("hoverProvider", "definitionProvider", "documentSymbolProvider", "documentFormattingProvider"):
        check(caps.get(cap) is True, cap)
    check("." in caps["completionProvider"]["triggerCharacters"], "trigger '.'")
    c.notify("initialized", {})

    # -- diagnostics of a broken file: each code and exact range (UTF-16 columns)
    c.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "tern", "version": 1, "text": BROKEN}})
    diags = c.diagnostics(URI, 1)
    got = sorted((d["code"], json.dumps(d["range"], sort_keys=True), d["severity"]) for d in diags)
    want = sorted([
        ("E0316", json.dumps(range_of(BROKEN, "within 0ms"), sort_keys=True), 1),
        ("E0205", json.dumps(range_of(BROKEN, "lst"), sort_keys=True), 1),
        ("E0204", json.dumps(range_of(BROKEN, "big2", 1), sort_keys=True), 1),
    ])
    check(got == want, "diagnostics:\n got  %s\n want %s" % (got, want))
    for d in diags:
        check(d["source"] == "tern" and d["message"], "source and message")
    e0205 = [d for d in diags if d["code"] == "E0205"][0]
    check(e0205["message"] == "unknown function 'lst'", e0205["message"])
    check(e0205["relatedInformation"][0]["message"] == "did you mean 'last'?", "help as relatedInformation")
    check(e0205["relatedInformation"][0]["location"] == {"uri": URI, "range": e0205["range"]}, "related location")

    # -- fixed: no diagnostics
    c.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": FIXED}]})
    check(c.diagnostics(URI, 2) == [], "the fixed file has no diagnostics")

    # -- hover
    h = c.request("textDocument/hover", pos_params(URI, pos_of(FIXED, "last(small)", plus=7)))["result"]
    check(h["contents"]["kind"] == "markdown", "markdown")
    md = h["contents"]["value"]
    check(md.startswith("**stage `small`** of pattern `card_testing`, stage 1 of 2"), md)
    check("- quantifier: `times 3..` (relaxed between iterations), `greedy`" in md, md)
    check("- window: `within 90m` (the pattern's)" in md, md)
    check("- compiled: " in md, md)
    check(h["range"] == range_of(FIXED, "small", 1), "hover range %s" % h["range"])
    md = c.request("textDocument/hover", pos_params(URI, pos_of(FIXED, "followed_by", plus=3)))["result"]["contents"]["value"]
    check(md.startswith("**`followed_by`** (keyword)\n\nRelaxed contiguity"), md)
    md = c.request("textDocument/hover", pos_params(URI, pos_of(FIXED, "90m")))["result"]["contents"]["value"]
    check(md == "**`90m`** = 1 h 30 min = 5400000 ms", md)
    md = c.request("textDocument/hover", pos_params(URI, pos_of(FIXED, "count(")))["result"]["contents"]["value"]
    check("count(list) -> int" in md, md)
    md = c.request("textDocument/hover", pos_params(URI, pos_of(FIXED, "card_testing {")))["result"]["contents"]["value"]
    check(md.startswith("**pattern `card_testing`**") and "- key: `card_id`" in md and "- stages: 2" in md, md)
    check(c.request("textDocument/hover", pos_params(URI, pos_of(FIXED, "é")))["result"] is None, "no hover in a comment")

    # -- definition
    d = c.request("textDocument/definition", pos_params(URI, pos_of(FIXED, "last(small)", plus=5)))["result"]
    check(d == {"uri": URI, "range": range_of(FIXED, "small", 0)}, "definition %s" % d)
    d = c.request("textDocument/definition", pos_params(URI, pos_of(FIXED, ".merchant", plus=2)))["result"]
    check(d is None, "a field has no definition")

    # -- completion
    def labels(pos):
        r = c.request("textDocument/completion", pos_params(URI, pos))["result"]
        return {i["label"]: i for i in r["items"]}
    items = labels(pos_of(FIXED, "\n\n  emit", plus=1))  # the blank line before emit
    for w in ("next", "followed_by", "followed_by_any", "not_next", "not_followed_by", "emit"):
        check(w in items and items[w]["kind"] == 14, "contiguity keyword %s after a stage" % w)
    items = labels(pos_of(FIXED, "note != "))  # start of big's condition
    check(items["small"]["kind"] == 6 and items["big"]["kind"] == 6, "stages in a condition")
    check(items["count"]["kind"] == 3 and items["count"]["detail"] == "count(list) -> int", "functions")
    check("and" not in items, "no operator where an operand comes")
    items = labels(pos_of(FIXED, "small where", plus=6))  # after a stage name
    check({"where", "times", "one_or_more", "optional", "greedy", "consecutive"} <= set(items), "stage suffixes")
    items = labels(pos_of(FIXED, "past_last_event"))
    check(list(items) == ["no_skip", "to_next", "past_last_event", "to_first", "to_last"], "skip strategies")
    items = labels(pos_of(FIXED, "  key", plus=2))
    check({"key", "within", "gap", "skip", "from", "to", "begin"} <= set(items), "clauses")
    check(labels(pos_of(FIXED, ".merchant", plus=1)) == {}, "nothing after `stage.`")

    # -- document symbols
    syms = c.request("textDocument/documentSymbol", {"textDocument": {"uri": URI}})["result"]
    check(len(syms) == 1 and syms[0]["name"] == "card_testing" and syms[0]["kind"] == 5, "pattern symbol")
    check([s["name"] for s in syms[0]["children"]] == ["small", "big"], "stage symbols")
    check(syms[0]["selectionRange"] == range_of(FIXED, "card_testing"), "pattern selection range")
    check(syms[0]["children"][1]["selectionRange"] == range_of(FIXED, "big ", length=3), "stage selection range")

    # -- formatting: one edit replacing the whole messy document with `tern fmt -`'s text
    c.notify("textDocument/didOpen", {"textDocument": {"uri": URI_MESSY, "languageId": "tern", "version": 1, "text": MESSY}})
    check(c.diagnostics(URI_MESSY, 1) == [], "the messy file compiles")
    fmt = subprocess.run([tern, "fmt", "-"], input=MESSY.encode(), capture_output=True)
    check(fmt.returncode == 0, "tern fmt -: %s" % fmt.stderr.decode())
    edits = c.request("textDocument/formatting", {"textDocument": {"uri": URI_MESSY},
                                                  "options": {"tabSize": 2, "insertSpaces": True}})["result"]
    end = {"line": MESSY.count("\n"), "character": 0}
    check(edits == [{"range": {"start": {"line": 0, "character": 0}, "end": end}, "newText": fmt.stdout.decode()}],
          "formatting edit %s" % edits)
    check(fmt.stdout.decode() != MESSY, "the messy text changes")
    c.notify("textDocument/didChange", {"textDocument": {"uri": URI_MESSY, "version": 2},
                                        "contentChanges": [{"text": fmt.stdout.decode()}]})
    edits = c.request("textDocument/formatting", {"textDocument": {"uri": URI_MESSY}, "options": {}})["result"]
    check(edits == [], "a formatted document needs no edit")

    # -- garbage and a truncated document
    c.log("->", "(raw bytes) Content-Length: 7\\r\\n\\r\\n{{{{{{{")
    c.send_raw(b"Content-Length: 7\r\n\r\n{{{{{{{")
    r = c.wait_for(lambda m: "error" in m)
    check(r["id"] is None and r["error"]["code"] == -32700, "parse error %s" % r)
    cut = FIXED[:FIXED.index("last(small)") + 3]
    c.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 3}, "contentChanges": [{"text": cut}]})
    diags = c.diagnostics(URI, 3)
    check(len(diags) == 1 and diags[0]["code"] == "E0101", "the cut file has a syntax error: %s" % diags)
    items = labels({"line": cut.count("\n"), "character": 200})
    check("small" in items or items == {}, "completion in a cut file")
    check(c.request("textDocument/hover", pos_params(URI, pos_of(cut, "90m")))["result"] is not None, "hover in a cut file")
    r = c.request("textDocument/rename", pos_params(URI, {"line": 0, "character": 0}))
    check(r["error"]["code"] == -32601, "unknown method")

    # -- close, shutdown, exit
    c.notify("textDocument/didClose", {"textDocument": {"uri": URI_MESSY}})
    c.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
               and m["params"]["uri"] == URI_MESSY and m["params"]["diagnostics"] == [])
    r = c.request("shutdown", None)
    check(r["result"] is None, "shutdown")
    r = c.request("textDocument/hover", pos_params(URI, {"line": 0, "character": 0}))
    check(r["error"]["code"] == -32600, "requests after shutdown are invalid")
    c.notify("exit", None)
    c.proc.stdin.close()
    status = c.proc.wait(timeout=TIMEOUT)
    check(status == 0, "exit status %s after shutdown and exit" % status)


def garble(rng, text):
    kind = rng.randrange(6)
    if kind == 0:
        return text[:rng.randrange(len(text) + 1)]
    if kind == 1:  # delete a slice
        a = rng.randrange(len(text) + 1)
        return text[:a] + text[a + rng.randrange(40):]
    if kind == 2:  # insert tokens
        a = rng.randrange(len(text) + 1)
        piece = rng.choice(["(", ")", "{", "}", "where", "times", "..", "\"", "`", "é😀", "\r\n", "\r", "#",
                            "followed_by", "pattern", "skip to_first(", "1e999", "99999999999999999999d", "\u0000"])
        return text[:a] + piece * rng.randrange(1, 4) + text[a:]
    if kind == 3:  # deep nesting
        return "pattern p { begin a where " + "(" * rng.randrange(1, 200) + "x"
    if kind == 4:
        return "".join(rng.choice("ab(){}.,=<>\"'` \n\té😀0123456789") for _ in range(rng.randrange(200)))
    return text


def random_position(rng, text):
    lines = text.count("\n") + 1
    return {"line": rng.choice([0, rng.randrange(lines), lines + 5, 2 ** 31 - 1]),
            "character": rng.choice([0, rng.randrange(120), 2 ** 31 - 1])}


def randomized(tern, seed, seconds):
    rng = random.Random(seed)
    c = Client(tern)
    c.request("initialize", {"capabilities": {"general": {"positionEncodings": rng.choice([["utf-16"], ["utf-8", "utf-16"]])}}})
    c.notify("initialized", {})
    text = FIXED
    c.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "tern", "version": 1, "text": text}})
    version = 1
    requests = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        version += 1
        if rng.random() < 0.5:
            text = garble(rng, rng.choice([FIXED, BROKEN, MESSY, text]))
            change = {"text": text}
        else:  # an incremental change, possibly with a range outside the text
            start, stop = random_position(rng, text), random_position(rng, text)
            change = {"range": {"start": start, "end": stop}, "text": rng.choice(["", "x", "é😀", "where ", "\n"])}
        c.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": version}, "contentChanges": [change]})
        for method in ("textDocument/hover", "textDocument/definition", "textDocument/completion"):
            r = c.request(method, pos_params(rng.choice([URI, "file:///nope"]), random_position(rng, text)))
            check("result" in r or "error" in r, "%s: %s" % (method, r))
            requests += 1
        for method in ("textDocument/documentSymbol", "textDocument/formatting"):
            r = c.request(method, {"textDocument": {"uri": URI}, "options": {}})
            check("result" in r or "error" in r, "%s: %s" % (method, r))
            requests += 1
        if rng.random() < 0.1:  # garbage: bad JSON, bad params, wrong types
            junk = rng.choice([b"{", b"[1,2]", b"null", b'{"jsonrpc":"2.0","id":{},"method":"x"}',
                               b'{"jsonrpc":"2.0","id":5,"method":7}', b"\xff\xfe"])
            c.send_raw(b"Content-Length: %d\r\n\r\n" % len(junk) + junk)
            c.wait_for(lambda m: "error" in m)
            r = c.request("textDocument/hover", {"textDocument": "x", "position": "y"})
            check(r.get("error", {}).get("code") == -32602, "invalid params: %s" % r)
            requests += 1
    check(c.proc.poll() is None, "the server is still running")
    c.request("shutdown", None)
    c.notify("exit", None)
    c.proc.stdin.close()
    status = c.proc.wait(timeout=TIMEOUT)
    check(status == 0, "exit status %s" % status)
    print("randomized: seed %d, %d changes, %d requests answered" % (seed, version - 1, requests))


def write_transcript(path, transcript):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# A `tern lsp` session\n\nRecorded by `tests/lsp_test.py --transcript`: "
                "`->` client to server, `<-` server to client (Content-Length framing left out).\n\n")
        for direction, text in transcript:
            f.write("%s\n```json\n%s\n```\n\n" % (direction, text))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tern")
    ap.add_argument("--transcript")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--random-seconds", type=float, default=4.0)
    args = ap.parse_args()
    transcript = [] if args.transcript else None
    try:
        scripted_session(args.tern, transcript)
        print("scripted session: ok")
        if transcript is not None:
            write_transcript(args.transcript, transcript)
        if args.random_seconds > 0:
            randomized(args.tern, args.seed, args.random_seconds)
    except Failure as e:
        print("FAIL: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
