// An independent reading of a .tern file, used as the oracle of tokenize_test.js: the
// lexical rules of dsl/x3_primitives.h (comments, strings and their escapes, back-quoted
// names, numbers and durations, identifiers, keywords, operators) and just enough of the
// grammar of dsl/parser.cc to say what each name is (pattern name, stage declaration, stage
// reference, field, emit field, function, stream, skip strategy).
//
// It shares no regular expression with the TextMate grammar: the grammar matches lines with
// Oniguruma, this scans characters like the C++ lexer does.
'use strict';

// spec §2 / dsl/tokens.h kKeywords
const KEYWORDS = new Set(['pattern', 'key', 'within', 'gap', 'skip', 'from', 'to', 'begin',
  'next', 'followed_by', 'followed_by_any', 'not_next', 'not_followed_by', 'where', 'times',
  'one_or_more', 'optional', 'greedy', 'consecutive', 'allow_combinations', 'until', 'emit',
  'on_timeout', 'and', 'or', 'not', 'in', 'contains', 'starts_with', 'ends_with', 'matches',
  'true', 'false', 'null', 'this']);
const CONTIGUITY = new Set(['begin', 'next', 'followed_by', 'followed_by_any', 'not_next',
  'not_followed_by']);
const FUNCTIONS = new Set(['count', 'sum', 'avg', 'min', 'max', 'first', 'last', 'len', 'abs',
  'lower', 'upper', 'exists', 'coalesce', 'time']);
const SKIP_STRATEGIES = new Set(['no_skip', 'to_next', 'past_last_event', 'to_first',
  'to_last']);
const UNITS = new Set(['ms', 's', 'm', 'h', 'd']);
const SYMBOLS = ['==', '!=', '<=', '>=', '..', '<', '>', '=', '.', '+', '-', '*', '/', '%', ',',
  '(', ')', '[', ']', '{', '}'];

const isIdentStart = (c) => /[A-Za-z_]/.test(c);
const isIdentChar = (c) => /[A-Za-z0-9_]/.test(c);
const isDigit = (c) => c >= '0' && c <= '9';

// Tokens: {kind, text, start, end (offsets), ...}. kind is one of comment, string, backquoted,
// ident, keyword, integer, float, duration, badnumber, symbol, illegal.
function lex(src) {
  const toks = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    const start = i;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '#' || (c === '/' && src[i + 1] === '/')) {
      while (i < n && src[i] !== '\n' && src[i] !== '\r') i++;
      toks.push({ kind: 'comment', style: c === '#' ? 'number-sign' : 'double-slash', start,
        end: i });
      continue;
    }
    if (c === '"' || c === "'") {
      // Ends at the closing quote, or (unterminated) at the end of the line.
      const escapes = [];
      const badEscapes = [];
      let closed = false;
      i++;
      while (i < n && src[i] !== '\n' && src[i] !== '\r') {
        if (src[i] === c) {
          i++;
          closed = true;
          break;
        }
        if (src[i] !== '\\') {
          i++;
          continue;
        }
        const e = src[i + 1];
        if (e === undefined || e === '\n' || e === '\r') {
          i++;
          continue;
        }
        if ('"\'\\/bfnrt'.includes(e)) {
          escapes.push([i, i + 2]);
          i += 2;
        } else if (e === 'u' && /^[0-9A-Fa-f]{4}$/.test(src.slice(i + 2, i + 6))) {
          escapes.push([i, i + 6]);
          i += 6;
        } else {
          badEscapes.push([i, i + 2]);
          i += 2;
        }
      }
      toks.push({ kind: 'string', quote: c, start, end: i, closed, escapes, badEscapes });
      continue;
    }
    if (c === '`') {
      i++;
      while (i < n && src[i] !== '`' && src[i] !== '\n' && src[i] !== '\r') i++;
      const closed = src[i] === '`';
      if (closed) i++;
      toks.push({ kind: 'backquoted', start, end: i, closed, text: src.slice(start, i) });
      continue;
    }
    if (isDigit(c)) {
      const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(src.slice(i, i + 400));
      i += m[0].length;
      const isDouble = m[1] !== undefined || m[2] !== undefined;
      let j = i;
      while (j < n && isIdentChar(src[j])) j++;
      let kind;
      let unitStart;
      if (j > i) {
        kind = !isDouble && UNITS.has(src.slice(i, j)) ? 'duration' : 'badnumber';
        unitStart = i;
        i = j;
      } else {
        kind = isDouble ? 'float' : 'integer';
      }
      toks.push({ kind, start, end: i, unitStart, text: src.slice(start, i) });
      continue;
    }
    if (isIdentStart(c)) {
      while (i < n && isIdentChar(src[i])) i++;
      const text = src.slice(start, i);
      toks.push({ kind: KEYWORDS.has(text) ? 'keyword' : 'ident', text, start, end: i });
      continue;
    }
    const sym = SYMBOLS.find((s) => src.startsWith(s, i));
    if (sym) {
      i += sym.length;
      toks.push({ kind: 'symbol', text: sym, start, end: i });
      continue;
    }
    i++;
    toks.push({ kind: 'illegal', text: c, start, end: i });
  }
  return toks;
}

// Gives every ident and backquoted token a `role`:
//   pattern-name, stage-decl, skip-strategy, bad-skip-strategy, stream, emit-field,
//   function (builtin), call (other), member (after '.'), stage-ref, field
// and, for stage-ref and field, `stageForm`: whether it is written in a form the TextMate
// grammar recognises as a stage reference (`name.x`, `name[i]`, the lone argument of count,
// sum, avg, min, max, first, last or time, the stage of skip to_first/to_last).
function classify(toks) {
  const sig = toks.filter((t) => t.kind !== 'comment');
  const is = (t, kind, text) => t !== undefined && t.kind === kind &&
    (text === undefined || (Array.isArray(text) ? text.includes(t.text) : t.text === text));
  const STAGE_FNS = ['count', 'sum', 'avg', 'min', 'max', 'first', 'last', 'time'];

  // Patterns: from one `pattern` keyword to the next. Their stage names first.
  let stages = new Set();
  const stagesOf = new Map(); // index of a pattern keyword -> Set of its stage names
  let current = null;
  const declAt = (k) => {
    let p = k - 1;
    while (is(sig[p], 'symbol', '(')) p--;
    return is(sig[p], 'keyword', [...CONTIGUITY]);
  };
  for (let k = 0; k < sig.length; k++) {
    const t = sig[k];
    if (is(t, 'keyword', 'pattern')) {
      current = new Set();
      stagesOf.set(k, current);
    } else if (t.kind === 'ident' && declAt(k) && current) {
      current.add(t.text);
    }
  }

  let clause = null; // 'key' | 'from' while inside such a clause
  for (let k = 0; k < sig.length; k++) {
    const t = sig[k];
    const prev = sig[k - 1];
    const next = sig[k + 1];
    if (stagesOf.has(k)) stages = stagesOf.get(k);
    if (t.kind === 'keyword') {
      clause = t.text === 'key' || t.text === 'from' ? t.text : null;
      continue;
    }
    if (clause === 'key' && !(t.kind === 'ident' || t.kind === 'backquoted' ||
        t.kind === 'integer' || is(t, 'symbol', ['.', ',', '[', ']', '-']))) {
      clause = null;
    }
    if (clause === 'from' && !(t.kind === 'ident' || is(t, 'symbol', ','))) clause = null;
    if (t.kind !== 'ident' && t.kind !== 'backquoted') continue;
    const quoted = t.kind === 'backquoted';

    if (!quoted && is(prev, 'keyword', 'pattern')) {
      t.role = 'pattern-name';
    } else if (!quoted && declAt(k)) {
      t.role = 'stage-decl';
    } else if (!quoted && is(prev, 'keyword', 'skip')) {
      t.role = SKIP_STRATEGIES.has(t.text) ? 'skip-strategy' : 'bad-skip-strategy';
    } else if (!quoted && is(prev, 'symbol', '(') && is(sig[k - 2], 'ident', ['to_first',
      'to_last']) && is(sig[k - 3], 'keyword', 'skip')) {
      t.role = 'stage-ref';
      t.stageForm = true;
    } else if (clause === 'key') {
      t.role = 'field';
      t.inKey = true;
    } else if (clause === 'from') {
      t.role = 'stream';
    } else if (is(next, 'symbol', '=')) {
      t.role = 'emit-field';
    } else if (!quoted && is(next, 'symbol', '(')) {
      t.role = FUNCTIONS.has(t.text) ? 'function' : 'call';
    } else if (is(prev, 'symbol', '.')) {
      t.role = 'member';
    } else {
      const stageForm = !quoted && (is(next, 'symbol', ['.', '[']) ||
        (is(prev, 'symbol', '(') && is(sig[k - 2], 'ident', STAGE_FNS) &&
         is(next, 'symbol', [')', '.', '['])));
      t.role = !quoted && stages.has(t.text) ? 'stage-ref' : 'field';
      t.stageForm = stageForm;
    }
  }
  return toks;
}

module.exports = { lex, classify, KEYWORDS, FUNCTIONS };
