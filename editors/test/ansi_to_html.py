#!/usr/bin/env python3
"""Turns a terminal screen captured with `tmux capture-pane -e -p` (text with SGR colour
escapes) into an HTML page in a monospace font, for a headless browser to photograph.
Used by editors/test/nvim_screenshot.sh.

Usage: ansi_to_html.py < screen.ansi > screen.html
Handles what tmux emits: reset, bold, italic, underline (curly too), reverse, the 16
colours, 256 colours (38;5;N / 48;5;N) and RGB (38;2;R;G;B).
"""
import html
import re
import sys

# A dark terminal (Tomorrow Night), as Neovim's default colours expect.
BASE16 = ["#1d1f21", "#cc6666", "#b5bd68", "#f0c674", "#81a2be", "#b294bb", "#8abeb7", "#c5c8c6",
          "#969896", "#ff7b7b", "#c6d07a", "#ffd787", "#96b7d4", "#c9a8d1", "#9fd3cc", "#ffffff"]
FG, BG = "#c5c8c6", "#1d1f21"


def colour256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


def main():
    text = sys.stdin.read()
    state = {}
    out = []
    for line in text.rstrip("\n").split("\n"):
        parts = re.split(r"\x1b\[([0-9;:]*)m", line)
        row = []
        for i, part in enumerate(parts):
            if i % 2 == 1:
                codes = [c for c in re.split(r"[;]", part)] if part else ["0"]
                j = 0
                while j < len(codes):
                    c = codes[j].split(":")[0]
                    c = int(c) if c.isdigit() else 0
                    if c == 0:
                        state = {}
                    elif c == 1:
                        state["bold"] = True
                    elif c == 3:
                        state["italic"] = True
                    elif c == 4:
                        state["underline"] = True
                    elif c == 7:
                        state["reverse"] = True
                    elif c in (22, 23, 24, 27):
                        state.pop({22: "bold", 23: "italic", 24: "underline", 27: "reverse"}[c], None)
                    elif 30 <= c <= 37:
                        state["fg"] = BASE16[c - 30]
                    elif 90 <= c <= 97:
                        state["fg"] = BASE16[c - 90 + 8]
                    elif 40 <= c <= 47:
                        state["bg"] = BASE16[c - 40]
                    elif 100 <= c <= 107:
                        state["bg"] = BASE16[c - 100 + 8]
                    elif c == 39:
                        state.pop("fg", None)
                    elif c == 49:
                        state.pop("bg", None)
                    elif c in (38, 48) and j + 1 < len(codes):
                        key = "fg" if c == 38 else "bg"
                        if codes[j + 1] == "5" and j + 2 < len(codes):
                            state[key] = colour256(int(codes[j + 2]))
                            j += 2
                        elif codes[j + 1] == "2" and j + 4 < len(codes):
                            state[key] = "#%02x%02x%02x" % tuple(int(x) for x in codes[j + 2:j + 5])
                            j += 4
                    j += 1
                continue
            if not part:
                continue
            fg, bg = state.get("fg", FG), state.get("bg", None)
            if state.get("reverse"):
                fg, bg = bg or BG, fg
            style = "color:%s;" % fg
            if bg:
                style += "background:%s;" % bg
            if state.get("bold"):
                style += "font-weight:bold;"
            if state.get("italic"):
                style += "font-style:italic;"
            if state.get("underline"):
                style += "text-decoration:underline wavy #ff7b7b;"
            row.append('<span style="%s">%s</span>' % (style, html.escape(part)))
        out.append("".join(row))
    sys.stdout.write("<!doctype html><meta charset=utf-8><body style='margin:0;background:%s'>"
                     "<pre style='font:15px/1.35 \"DejaVu Sans Mono\",monospace;margin:12px;color:%s'>%s</pre>"
                     % (BG, FG, "\n".join(out)))


if __name__ == "__main__":
    main()
