#!/usr/bin/env node
// Renders a .tern file as an HTML page coloured by the scopes that the TextMate grammar
// (editors/textmate/tern.tmLanguage.json, run by vscode-textmate as in VS Code) gives its
// tokens, with a legend of the scopes used. Hovering a token shows its full scope list.
//
//   node render_html.js FILE.tern OUT.html [--png OUT.png]
//
// --png also takes a screenshot with a headless Chromium (Debian's `chromium` package), if
// one is installed.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const tm = require('./textmate');

// A dark palette, one colour per kind of scope. The most specific selector that matches the
// innermost scope wins, as in a TextMate theme.
const THEME = [
  ['comment', '#6a9955', 'italic'],
  ['punctuation.definition.comment', '#6a9955', 'italic'],
  ['string', '#ce9178'],
  ['constant.character.escape', '#d7ba7d'],
  ['invalid', '#f44747', 'underline'],
  ['constant.numeric', '#b5cea8'],
  ['constant.numeric.duration', '#89d185'],
  ['keyword.other.unit', '#89d185', 'bold'],
  ['keyword.control', '#c586c0'],
  ['keyword.control.sequence', '#c586c0', 'bold'],
  ['keyword.control.pattern', '#c586c0', 'bold'],
  ['keyword.operator', '#d4d4d4'],
  ['keyword.operator.logical', '#569cd6'],
  ['keyword.operator.word', '#569cd6'],
  ['constant.language', '#569cd6'],
  ['variable.language', '#569cd6', 'italic'],
  ['entity.name.function', '#dcdcaa', 'bold'],
  ['entity.name.tag', '#4ec9b0', 'bold'],
  ['variable.other.object.stage', '#4ec9b0'],
  ['variable.other.member', '#9cdcfe'],
  ['variable.other.stream', '#4fc1ff'],
  ['support.function', '#dcdcaa'],
  ['variable.function', '#dcdcaa', 'italic'],
  ['support.type.property-name', '#e2c08d'],
  ['support.constant', '#4fc1ff'],
  ['punctuation', '#a0a0a0'],
];
const DEFAULT = '#d4d4d4';

const matches = (scope, selector) => scope === selector || scope.startsWith(`${selector}.`);

function styleOf(scopes) {
  for (let i = scopes.length - 1; i >= 0; i--) {
    let best = null;
    for (const rule of THEME) {
      if (matches(scopes[i], rule[0]) && (!best || rule[0].length > best[0].length)) best = rule;
    }
    if (best) return best;
  }
  return null;
}

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  .replace(/"/g, '&quot;');

async function main() {
  const args = process.argv.slice(2);
  const pngAt = args.indexOf('--png');
  const png = pngAt >= 0 ? path.resolve(args.splice(pngAt, 2)[1]) : null;
  if (args.length !== 2) {
    console.error('usage: node render_html.js FILE.tern OUT.html [--png OUT.png]');
    process.exit(2);
  }
  const [input, output] = args.map((a) => path.resolve(a));
  const grammar = await tm.loadGrammar();
  const lines = tm.tokenize(grammar, fs.readFileSync(input, 'utf8'));
  if (lines.length > 1 && lines[lines.length - 1].text === '') lines.pop();

  const used = new Map(); // selector -> [colour, font style, example scope]
  const body = lines.map((line, i) => {
    const spans = line.tokens.map((t) => {
      const text = line.text.slice(t.start, t.end);
      const scopes = t.scopes.slice(1);
      const rule = styleOf(scopes);
      if (!rule || text.trim() === '') return esc(text);
      if (!used.has(rule[0])) used.set(rule[0], [rule[1], rule[2], scopes[scopes.length - 1]]);
      const cls = `s${THEME.indexOf(rule)}`;
      return `<span class="${cls}" title="${esc(scopes.join(' '))}">${esc(text)}</span>`;
    }).join('');
    return `<span class="ln">${String(i + 1).padStart(3)}</span>${spans}`;
  }).join('\n');

  const css = THEME.map((r, i) => `.s${i}{color:${r[1]};${r[2] === 'bold' ? 'font-weight:bold;'
    : r[2] === 'italic' ? 'font-style:italic;' : r[2] === 'underline'
      ? 'text-decoration:underline wavy;' : ''}}`).join('\n');
  const legend = [...used.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([sel, v]) =>
    `<tr><td><span class="s${THEME.findIndex((r) => r[0] === sel)}">${esc(sel)}</span></td>` +
    `<td>${esc(v[2])}</td></tr>`).join('\n');
  const rel = path.relative(path.join(__dirname, '..', '..'), input);
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>${esc(rel)}: Tern TextMate scopes</title>
<style>
body{background:#1e1e1e;color:${DEFAULT};margin:0;padding:16px 20px;
  font:13px/1.45 "DejaVu Sans Mono",Menlo,Consolas,monospace}
h1{font:600 14px/1.4 "DejaVu Sans",sans-serif;color:#cccccc;margin:0 0 10px}
pre{margin:0;font:inherit}
.ln{color:#5a5a5a;user-select:none;margin-right:16px}
table{margin-top:14px;border-collapse:collapse;font-size:12px}
td{padding:1px 14px 1px 0;color:#8a8a8a}
${css}
</style></head><body>
<h1>${esc(rel)} &mdash; tokenised by editors/textmate/tern.tmLanguage.json (vscode-textmate)</h1>
<pre>${body}</pre>
<table><tr><td>scope selector (colour)</td><td>example scope</td></tr>
${legend}
</table>
</body></html>
`;
  fs.writeFileSync(output, html);
  console.log(`wrote ${output} (${lines.length} lines, ${used.size} scope colours)`);

  if (png) {
    const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find((c) =>
      spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
    if (!chromium) {
      console.log('no screenshot: no chromium on the PATH (Debian: apt-get install chromium)');
      process.exit(77);
    }
    const height = 16 * 2 + 30 + lines.length * 19 + 20 + (used.size + 1) * 17 + 24;
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tern-chromium-'));
    const r = spawnSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu',
      '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--hide-scrollbars',
      `--user-data-dir=${profile}`, `--window-size=1000,${height}`, `--screenshot=${png}`,
      `file://${output}`], { encoding: 'utf8', timeout: 120000 });
    fs.rmSync(profile, { recursive: true, force: true });
    if (r.status !== 0 || !fs.existsSync(png)) {
      console.error(`chromium failed (status ${r.status}): ${r.stderr || r.error}`);
      process.exit(1);
    }
    console.log(`wrote ${png} (1000x${height})`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
