// Loads editors/textmate/tern.tmLanguage.json into vscode-textmate with the Oniguruma WASM
// build that VS Code itself uses, and tokenises text line by line. Shared by
// tokenize_test.js and render_html.js.
'use strict';

const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const GRAMMAR_FILE = path.join(__dirname, '..', 'textmate', 'tern.tmLanguage.json');

async function loadGrammar(grammarFile = GRAMMAR_FILE) {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.tern') return null;
      const text = fs.readFileSync(grammarFile, 'utf8');
      return vsctm.parseRawGrammar(text, grammarFile);
    },
  });
  return registry.loadGrammar('source.tern');
}

// Splits like VS Code does (\r\n, \n or \r end a line).
function splitLines(text) {
  return text.split(/\r\n|\r|\n/);
}

// Tokenises `text`. Returns one entry per line: {text, tokens: [{start, end, scopes}],
// endScopes}, where endScopes are the scopes an empty next line would get (the state the
// line leaves behind: a string or comment left open would show up there).
function tokenize(grammar, text) {
  let state = vsctm.INITIAL;
  const lines = [];
  for (const line of splitLines(text)) {
    const r = grammar.tokenizeLine(line, state);
    const tokens = r.tokens.map((t, i) => ({
      start: t.startIndex,
      end: i + 1 < r.tokens.length ? r.tokens[i + 1].startIndex : line.length,
      scopes: t.scopes,
    })).filter((t) => t.end > t.start || line.length === 0);
    state = r.ruleStack;
    const probe = grammar.tokenizeLine('', state);
    lines.push({ text: line, tokens, endScopes: probe.tokens[0].scopes, endDepth: state.depth });
  }
  return lines;
}

// The scopes of the character at `col` of a tokenised line.
function scopesAt(line, col) {
  for (const t of line.tokens) {
    if (col >= t.start && col < t.end) return t.scopes;
  }
  return null;
}

module.exports = { GRAMMAR_FILE, loadGrammar, tokenize, scopesAt, splitLines };
