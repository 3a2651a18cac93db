#!/usr/bin/env node
// Tokenisation test of editors/textmate/tern.tmLanguage.json with vscode-textmate and
// vscode-oniguruma, the engine VS Code uses.
//
//   node tokenize_test.js [REPO]        REPO: the Tern checkout (default: ../.. from here)
//
// 1. The grammar files are what editors/textmate/build-grammar.js generates, and its word
//    lists match the compiler's (dsl/tokens.h, dsl/check.cc, dsl/x3_primitives.h), the Vim
//    syntax and the VS Code manifest.
// 2. Every *.tern file of the repository (patterns/, tests/, bench/, ...) and of the
//    conformance cases (REPO/../shared/conformance, skipped with a message when absent) is
//    tokenised. An independent lexer (tern_lexer.js) reads the same text; every token it finds
//    must carry the expected scope at every character, and no scope of a string, comment or
//    error where none is expected. No line may end inside a string or comment, and every
//    file must end in the initial state.
// 3. Hand-written snippets (SNIPPETS below) must tokenise to exactly the listed scopes.
//
// Exit 0 when all pass, 1 otherwise.
'use strict';

const fs = require('fs');
const path = require('path');
const tm = require('./textmate');
const { lex, classify, KEYWORDS, FUNCTIONS } = require('./tern_lexer');
const { findTern } = require('./tern_files');
const generator = require('../textmate/build-grammar');

const REPO = path.resolve(process.argv[2] || path.join(__dirname, '..', '..'));
const EDITORS = path.join(__dirname, '..');

// ------------------------------------------------------------------ expected scopes

// The scope table of editors/README.md.
const KEYWORD_SCOPES = {
  'keyword.control.pattern.tern': ['pattern'],
  'keyword.control.window.tern': ['within', 'gap'],
  'keyword.control.clause.tern': ['key', 'skip', 'from', 'to'],
  'keyword.control.sequence.tern': ['begin', 'next', 'followed_by', 'followed_by_any',
    'not_next', 'not_followed_by'],
  'keyword.control.stage.tern': ['where'],
  'keyword.control.quantifier.tern': ['times', 'one_or_more', 'optional'],
  'keyword.control.modifier.tern': ['greedy', 'consecutive', 'allow_combinations', 'until'],
  'keyword.control.emit.tern': ['emit', 'on_timeout'],
  'keyword.operator.logical.tern': ['and', 'or', 'not'],
  'keyword.operator.word.tern': ['in', 'contains', 'starts_with', 'ends_with', 'matches'],
  'constant.language.boolean.tern': ['true', 'false'],
  'constant.language.null.tern': ['null'],
  'variable.language.this.tern': ['this'],
};
const KEYWORD_SCOPE = {};
for (const [scope, words] of Object.entries(KEYWORD_SCOPES)) {
  for (const w of words) KEYWORD_SCOPE[w] = scope;
}
const SYMBOL_SCOPE = {
  '==': 'keyword.operator.comparison.tern', '!=': 'keyword.operator.comparison.tern',
  '<=': 'keyword.operator.comparison.tern', '>=': 'keyword.operator.comparison.tern',
  '<': 'keyword.operator.comparison.tern', '>': 'keyword.operator.comparison.tern',
  '=': 'keyword.operator.assignment.tern', '..': 'keyword.operator.range.tern',
  '+': 'keyword.operator.arithmetic.tern', '-': 'keyword.operator.arithmetic.tern',
  '*': 'keyword.operator.arithmetic.tern', '/': 'keyword.operator.arithmetic.tern',
  '%': 'keyword.operator.arithmetic.tern', '.': 'punctuation.accessor.tern',
  ',': 'punctuation.separator.comma.tern',
  '(': 'punctuation.section.parens.begin.tern', ')': 'punctuation.section.parens.end.tern',
  '[': 'punctuation.section.brackets.begin.tern', ']': 'punctuation.section.brackets.end.tern',
  '{': 'punctuation.section.block.begin.tern', '}': 'punctuation.section.block.end.tern',
};
const ROLE_SCOPE = {
  'pattern-name': 'entity.name.function.pattern.tern',
  'stage-decl': 'entity.name.tag.stage.tern',
  'skip-strategy': 'support.constant.skip-strategy.tern',
  'bad-skip-strategy': 'invalid.illegal.skip-strategy.tern',
  stream: 'variable.other.stream.tern',
  'emit-field': 'support.type.property-name.tern',
  function: 'support.function.tern',
  call: 'variable.function.tern',
  member: 'variable.other.member.tern',
  field: 'variable.other.member.tern',
};
const STAGE_REF = 'variable.other.object.stage.tern';

// Scope `a` is `b` or a more specific scope of it, as a theme selector sees it: `b` without
// its `.tern` suffix, plus dot-separated parts (`variable.other.member.quoted.tern` is
// within `variable.other.member.tern`).
const within = (a, b) => a === b || a.startsWith(`${b.replace(/\.tern$/, '')}.`);
const hasScope = (scopes, want) => scopes.some((s) => within(s, want));
const SPECIAL = /^(string|comment|invalid)\./;

// ------------------------------------------------------------------ results

const failures = [];
const counts = { files: 0, lines: 0, tokens: 0, chars: 0, snippets: 0, byKind: {} };
const limits = { bareStageRef: [], fieldAsStage: [] };
function fail(where, message) {
  failures.push(`${where}: ${message}`);
}

// ------------------------------------------------------------------ 1. consistency

function checkConsistency() {
  for (const [file, text] of Object.entries(generator.outputs())) {
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (old !== text) {
      fail(path.relative(REPO, file), 'stale: run node editors/textmate/build-grammar.js');
    }
  }
  const same = (a, b) => a.length === b.length && [...a].every((x) => b.includes(x));
  const lexerWords = [...KEYWORDS];
  const tableWords = Object.keys(KEYWORD_SCOPE);
  if (!same(generator.KEYWORDS, lexerWords) || !same(tableWords, lexerWords)) {
    fail('keywords', 'build-grammar.js, tern_lexer.js and the scope table disagree');
  }
  if (!same(generator.FUNCTIONS, [...FUNCTIONS])) {
    fail('functions', 'build-grammar.js and tern_lexer.js disagree');
  }

  const tokensH = path.join(REPO, 'dsl', 'tokens.h');
  if (fs.existsSync(tokensH)) {
    const m = /kKeywords\s*=\s*\{([^}]*)\}/.exec(fs.readFileSync(tokensH, 'utf8'));
    const words = m ? [...m[1].matchAll(/"([a-z_]+)"/g)].map((x) => x[1]) : [];
    if (!same(words, lexerWords)) {
      fail('dsl/tokens.h', `kKeywords ${JSON.stringify(words)} differ from the grammar's`);
    }
  } else {
    console.log(`note: ${tokensH} not found, keyword list not compared with the compiler`);
  }
  const checkCc = path.join(REPO, 'dsl', 'check.cc');
  if (fs.existsSync(checkCc)) {
    const m = /kFunctions\[\]\s*=\s*\{([\s\S]*?)\n\};/.exec(fs.readFileSync(checkCc, 'utf8'));
    const names = m ? [...m[1].matchAll(/\{"([a-z_]+)"/g)].map((x) => x[1]) : [];
    if (!same(names, [...FUNCTIONS])) {
      fail('dsl/check.cc', `kFunctions ${JSON.stringify(names)} differ from the grammar's`);
    }
  }
  const prims = path.join(REPO, 'dsl', 'x3_primitives.h');
  if (fs.existsSync(prims)) {
    const units = [...fs.readFileSync(prims, 'utf8').matchAll(/unit == "([a-z]+)"/g)]
      .map((x) => x[1]);
    if (!same(units, generator.DURATION_UNITS)) {
      fail('dsl/x3_primitives.h', `duration units ${JSON.stringify(units)} differ`);
    }
  }

  const vim = fs.readFileSync(path.join(EDITORS, 'vim', 'syntax', 'tern.vim'), 'utf8');
  for (const w of [...lexerWords, ...FUNCTIONS]) {
    if (!new RegExp(`\\b${w}\\b`).test(vim)) fail('vim/syntax/tern.vim', `'${w}' missing`);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(EDITORS, 'vscode', 'package.json'),
    'utf8'));
  const g = manifest.contributes.grammars[0];
  const lang = manifest.contributes.languages[0];
  if (g.scopeName !== 'source.tern' || g.language !== lang.id ||
      !lang.extensions.includes('.tern')) {
    fail('vscode/package.json', 'contributes.languages/grammars do not declare source.tern');
  }
}

// ------------------------------------------------------------------ 2. shipped files

// Offsets to (line, column) with the line breaks VS Code uses.
function lineIndex(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\r' && text[i + 1] === '\n') {
      starts.push(i + 2);
      i++;
    } else if (text[i] === '\n' || text[i] === '\r') {
      starts.push(i + 1);
    }
  }
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, col: offset - starts[lo] };
  };
}

function checkFile(grammar, file, label) {
  const text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  const lines = tm.tokenize(grammar, text);
  const at = lineIndex(text);
  counts.files++;
  counts.lines += lines.length;

  lines.forEach((l, i) => {
    const stray = l.endScopes.slice(1).filter((s) => !/^meta\.(declaration|clause)\./.test(s));
    if (stray.length) fail(`${label}:${i + 1}`, `line ends inside ${stray.join(' ')}`);
  });
  const last = lines[lines.length - 1];
  if (last.endDepth !== 1) {
    fail(`${label}:${lines.length}`, `file ends in state ${last.endScopes.join(' ')}`);
  }

  // Checks that every character of [start, end) has `want`, and no string, comment or invalid
  // scope other than `want` and `allowed`.
  const expect = (tok, start, end, want, ...allowed) => {
    for (let o = start; o < end; o++) {
      const { line, col } = at(o);
      const scopes = tm.scopesAt(lines[line], col);
      const where = `${label}:${line + 1}:${col + 1}`;
      const shown = JSON.stringify(text.slice(tok.start, tok.end));
      if (!scopes) {
        fail(where, `${shown}: no token`);
        return false;
      }
      counts.chars++;
      const bad = scopes.filter((s) => SPECIAL.test(s) &&
        ![want, ...allowed].some((a) => within(s, a)));
      if (!hasScope(scopes, want) || bad.length) {
        fail(where, `${shown} (${tok.role || tok.kind}): want ${want}, got ${scopes.join(' ')}`);
        return false;
      }
    }
    return true;
  };

  for (const tok of classify(lex(text))) {
    counts.tokens++;
    const kind = tok.role || tok.kind;
    counts.byKind[kind] = (counts.byKind[kind] || 0) + 1;
    switch (tok.kind) {
      case 'comment': {
        const scope = `comment.line.${tok.style}.tern`;
        expect(tok, tok.start, tok.start + 1, 'punctuation.definition.comment.tern', scope);
        expect(tok, tok.start, tok.end, scope);
        break;
      }
      case 'string': {
        const scope = `string.quoted.${tok.quote === '"' ? 'double' : 'single'}.tern`;
        const bad = 'invalid.illegal.unrecognized-escape.tern';
        expect(tok, tok.start, tok.end, scope, bad);
        for (const [s, e] of tok.escapes) {
          expect(tok, s, e, 'constant.character.escape.tern', scope);
        }
        for (const [s, e] of tok.badEscapes) expect(tok, s, e, bad, scope);
        break;
      }
      case 'keyword':
        expect(tok, tok.start, tok.end, KEYWORD_SCOPE[tok.text]);
        break;
      case 'integer':
      case 'float':
        expect(tok, tok.start, tok.end, `constant.numeric.${tok.kind}.tern`);
        break;
      case 'duration':
        expect(tok, tok.start, tok.end, 'constant.numeric.duration.tern');
        expect(tok, tok.unitStart, tok.end, 'keyword.other.unit.tern');
        break;
      case 'badnumber':
        expect(tok, tok.start, tok.end, 'invalid.illegal.number.tern');
        break;
      case 'symbol':
        expect(tok, tok.start, tok.end, SYMBOL_SCOPE[tok.text]);
        break;
      case 'illegal':
        if (tok.text.charCodeAt(0) < 128) {
          expect(tok, tok.start, tok.end, 'invalid.illegal.character.tern');
        }
        break;
      case 'backquoted':
        if (!tok.closed) {
          expect(tok, tok.start, tok.end, 'invalid.illegal.unterminated-name.tern');
          break;
        }
      // fall through: a back-quoted name has the role of a name
      case 'ident': {
        const where = `${label}:${at(tok.start).line + 1}`;
        let want = ROLE_SCOPE[tok.role];
        if (tok.role === 'stage-ref') {
          want = tok.stageForm ? STAGE_REF : ROLE_SCOPE.field;
          if (!tok.stageForm) limits.bareStageRef.push(`${where} ${tok.text}`);
        } else if (tok.role === 'field' && tok.stageForm && !tok.inKey) {
          want = STAGE_REF;
          limits.fieldAsStage.push(`${where} ${tok.text}`);
        }
        expect(tok, tok.start, tok.end, want);
        break;
      }
      default:
        fail(label, `unknown token kind ${tok.kind}`);
    }
  }
}

// ------------------------------------------------------------------ 3. snippets

// Each token is [text, scopes below source.tern]. Whitespace-only tokens are left out, but
// for those in a string or comment.
const KW = (k) => KEYWORD_SCOPE[k];
const DECL = 'meta.declaration.stage.tern';
const PAT = 'meta.declaration.pattern.tern';
const PNAME = 'entity.name.function.pattern.tern';
const KEYC = 'meta.clause.key.tern';
const SKIPC = 'meta.clause.skip.tern';
const STR = 'string.quoted.double.tern';
const SQ = 'string.quoted.single.tern';
const MEMBER = 'variable.other.member.tern';
const BQ = 'variable.other.member.quoted.tern';
const sym = (s) => SYMBOL_SCOPE[s];
const stageDecl = (kw, name) => [[kw, `${DECL} ${KW(kw)}`],
  [name, `${DECL} entity.name.tag.stage.tern`]];
const dq = (body, inner) => [['"', `${STR} punctuation.definition.string.begin.tern`],
  ...(inner || [[body, STR]]), ['"', `${STR} punctuation.definition.string.end.tern`]];
const dur = (n, u) => [[n, 'constant.numeric.duration.tern'],
  [u, 'constant.numeric.duration.tern keyword.other.unit.tern']];

const SNIPPETS = [
  {
    name: 'pattern name, clauses, a stage',
    src: 'pattern p1 { key user_id within 10m begin a where x == 1 }',
    tokens: [['pattern', `${PAT} ${KW('pattern')}`], ['p1', `${PAT} ${PNAME}`],
      ['{', sym('{')], ['key', `${KEYC} ${KW('key')}`], ['user_id', `${KEYC} ${MEMBER}`],
      ['within', KW('within')], ...dur('10', 'm'), ...stageDecl('begin', 'a'),
      ['where', KW('where')], ['x', MEMBER], ['==', sym('==')],
      ['1', 'constant.numeric.integer.tern'], ['}', sym('}')]],
  },
  {
    name: 'a duration vs identifiers with digits (s1, m2) and a unit-like field (ms)',
    src: 'begin s1 where s1.at > 10s and ms < 250ms and m2 == 5',
    tokens: [...stageDecl('begin', 's1'), ['where', KW('where')], ['s1', STAGE_REF],
      ['.', sym('.')], ['at', MEMBER], ['>', sym('>')], ...dur('10', 's'), ['and', KW('and')],
      ['ms', MEMBER], ['<', sym('<')], ...dur('250', 'ms'), ['and', KW('and')], ['m2', MEMBER],
      ['==', sym('==')], ['5', 'constant.numeric.integer.tern']],
  },
  {
    name: 'numbers: float, exponent, negative, range, and malformed ones',
    src: 'x == 3.14 or x == 1e6 or x == -7 or x == 2.5e-3 or 5min or 1.5s or 10s1 times 2..5',
    tokens: [['x', MEMBER], ['==', sym('==')], ['3.14', 'constant.numeric.float.tern'],
      ['or', KW('or')], ['x', MEMBER], ['==', sym('==')], ['1e6', 'constant.numeric.float.tern'],
      ['or', KW('or')], ['x', MEMBER], ['==', sym('==')], ['-', sym('-')],
      ['7', 'constant.numeric.integer.tern'], ['or', KW('or')], ['x', MEMBER], ['==', sym('==')],
      ['2.5e-3', 'constant.numeric.float.tern'], ['or', KW('or')],
      ['5min', 'invalid.illegal.number.tern'], ['or', KW('or')],
      ['1.5s', 'invalid.illegal.number.tern'], ['or', KW('or')],
      ['10s1', 'invalid.illegal.number.tern'], ['times', KW('times')],
      ['2', 'constant.numeric.integer.tern'], ['..', sym('..')],
      ['5', 'constant.numeric.integer.tern']],
  },
  {
    name: 'a string holding // and # and an escaped quote is one string',
    src: 'url == "http://x/#a \\"q\\" \\u00e9\\n" // real comment: begin where',
    tokens: [['url', MEMBER], ['==', sym('==')],
      ...dq(null, [['http://x/#a ', STR], ['\\"', `${STR} constant.character.escape.tern`],
        ['q', STR], ['\\"', `${STR} constant.character.escape.tern`], [' ', STR],
        ['\\u00e9', `${STR} constant.character.escape.tern`],
        ['\\n', `${STR} constant.character.escape.tern`]]),
      ['//', 'comment.line.double-slash.tern punctuation.definition.comment.tern'],
      [' real comment: begin where', 'comment.line.double-slash.tern']],
  },
  {
    name: "single quotes, \\' and an invalid escape",
    src: "s == 'it\\'s \"x\" C:\\W'",
    tokens: [['s', MEMBER], ['==', sym('==')],
      ["'", `${SQ} punctuation.definition.string.begin.tern`], ['it', SQ],
      ["\\'", `${SQ} constant.character.escape.tern`], ['s "x" C:', SQ],
      ['\\W', `${SQ} invalid.illegal.unrecognized-escape.tern`],
      ["'", `${SQ} punctuation.definition.string.end.tern`]],
  },
  {
    name: 'a comment holding keywords and a string quote',
    src: '# followed_by b where "unterminated\nbegin a',
    tokens: [['#', 'comment.line.number-sign.tern punctuation.definition.comment.tern'],
      [' followed_by b where "unterminated', 'comment.line.number-sign.tern'],
      ...stageDecl('begin', 'a')],
  },
  {
    name: 'an unterminated string stops at the end of its line',
    src: 'begin a where t == "open\nfollowed_by b',
    tokens: [...stageDecl('begin', 'a'), ['where', KW('where')], ['t', MEMBER],
      ['==', sym('==')], ['"', `${STR} punctuation.definition.string.begin.tern`],
      ['open', STR], ...stageDecl('followed_by', 'b')],
  },
  {
    name: 'stages named like functions (last, count) vs calls of those functions',
    src: 'begin last where x > 1 followed_by count where count.n > last.x and ' +
      'first(last).y < len(count) + count(last)',
    tokens: [...stageDecl('begin', 'last'), ['where', KW('where')], ['x', MEMBER],
      ['>', sym('>')], ['1', 'constant.numeric.integer.tern'], ...stageDecl('followed_by', 'count'),
      ['where', KW('where')], ['count', STAGE_REF], ['.', sym('.')], ['n', MEMBER], ['>', sym('>')],
      ['last', STAGE_REF], ['.', sym('.')], ['x', MEMBER], ['and', KW('and')],
      ['first', 'support.function.tern'], ['(', sym('(')], ['last', STAGE_REF], [')', sym(')')],
      ['.', sym('.')], ['y', MEMBER], ['<', sym('<')], ['len', 'support.function.tern'],
      ['(', sym('(')], ['count', MEMBER], [')', sym(')')], ['+', sym('+')],
      ['count', 'support.function.tern'], ['(', sym('(')], ['last', STAGE_REF], [')', sym(')')]],
  },
  {
    name: 'identifiers that start with a keyword are not keywords',
    src: 'begin begin_x where notes contains "a" and index in [1, 2] and to_x not in [nextval]',
    tokens: [...stageDecl('begin', 'begin_x'), ['where', KW('where')], ['notes', MEMBER],
      ['contains', KW('contains')], ...dq('a'), ['and', KW('and')], ['index', MEMBER],
      ['in', KW('in')], ['[', sym('[')], ['1', 'constant.numeric.integer.tern'], [',', sym(',')],
      ['2', 'constant.numeric.integer.tern'], [']', sym(']')], ['and', KW('and')],
      ['to_x', MEMBER], ['not', KW('not')], ['in', KW('in')], ['[', sym('[')],
      ['nextval', MEMBER], [']', sym(']')]],
  },
  {
    name: 'skip strategies, a stage in to_first, a misspelt strategy',
    src: 'skip to_first(b)\nskip past_last_event\nskip past_last',
    tokens: [['skip', `${SKIPC} ${KW('skip')}`],
      ['to_first', `${SKIPC} support.constant.skip-strategy.tern`],
      ['(', `${SKIPC} ${sym('(')}`], ['b', `${SKIPC} ${STAGE_REF}`], [')', `${SKIPC} ${sym(')')}`],
      ['skip', `${SKIPC} ${KW('skip')}`],
      ['past_last_event', `${SKIPC} support.constant.skip-strategy.tern`],
      ['skip', `${SKIPC} ${KW('skip')}`],
      ['past_last', `${SKIPC} invalid.illegal.skip-strategy.tern`]],
  },
  {
    name: 'key paths are fields, from names streams, to takes a string',
    src: 'key user.id, tags[-1], `user-agent`\nfrom clicks, views to "alerts"',
    tokens: [['key', `${KEYC} ${KW('key')}`], ['user', `${KEYC} ${MEMBER}`],
      ['.', `${KEYC} ${sym('.')}`], ['id', `${KEYC} ${MEMBER}`], [',', `${KEYC} ${sym(',')}`],
      ['tags', `${KEYC} ${MEMBER}`], ['[', `${KEYC} ${sym('[')}`], ['-', `${KEYC} ${sym('-')}`],
      ['1', `${KEYC} constant.numeric.integer.tern`], [']', `${KEYC} ${sym(']')}`],
      [',', `${KEYC} ${sym(',')}`],
      ['`', `${KEYC} ${BQ} punctuation.definition.variable.begin.tern`],
      ['user-agent', `${KEYC} ${BQ}`],
      ['`', `${KEYC} ${BQ} punctuation.definition.variable.end.tern`],
      ['from', `meta.clause.from.tern ${KW('from')}`],
      ['clicks', 'meta.clause.from.tern variable.other.stream.tern'],
      [',', `meta.clause.from.tern ${sym(',')}`],
      ['views', 'meta.clause.from.tern variable.other.stream.tern'],
      ['to', KW('to')], ...dq('alerts')],
  },
  {
    name: 'emit fields, back-quoted names, this, null, booleans, a stage index',
    src: 'emit { n = small[-1].x, `a-b` = this.`x.y`, ok = true != false, z = null }',
    tokens: [['emit', KW('emit')], ['{', sym('{')], ['n', 'support.type.property-name.tern'],
      ['=', sym('=')], ['small', STAGE_REF], ['[', sym('[')], ['-', sym('-')],
      ['1', 'constant.numeric.integer.tern'], [']', sym(']')], ['.', sym('.')], ['x', MEMBER],
      [',', sym(',')],
      ['`', 'support.type.property-name.quoted.tern punctuation.definition.variable.begin.tern'],
      ['a-b', 'support.type.property-name.quoted.tern'],
      ['`', 'support.type.property-name.quoted.tern punctuation.definition.variable.end.tern'],
      ['=', sym('=')], ['this', KW('this')], ['.', sym('.')],
      ['`', `${BQ} punctuation.definition.variable.begin.tern`], ['x.y', BQ],
      ['`', `${BQ} punctuation.definition.variable.end.tern`], [',', sym(',')],
      ['ok', 'support.type.property-name.tern'], ['=', sym('=')], ['true', KW('true')],
      ['!=', sym('!=')], ['false', KW('false')], [',', sym(',')],
      ['z', 'support.type.property-name.tern'], ['=', sym('=')], ['null', KW('null')],
      ['}', sym('}')]],
  },
  {
    name: 'names declared on the next line, groups, quantifiers and modifiers',
    src: 'pattern\n  multi {\n  begin\n    (a next\n      b) times 2..3 optional\n' +
      '  followed_by ((c)) one_or_more greedy consecutive until d.x within 5s\n' +
      '  not_followed_by e\n}',
    tokens: [['pattern', `${PAT} ${KW('pattern')}`], ['multi', `${PAT} ${PNAME}`],
      ['{', sym('{')], ['begin', `${DECL} ${KW('begin')}`],
      ['(', `${DECL} punctuation.section.parens.begin.tern`],
      ['a', `${DECL} entity.name.tag.stage.tern`], ...stageDecl('next', 'b'), [')', sym(')')],
      ['times', KW('times')], ['2', 'constant.numeric.integer.tern'], ['..', sym('..')],
      ['3', 'constant.numeric.integer.tern'], ['optional', KW('optional')],
      ['followed_by', `${DECL} ${KW('followed_by')}`],
      ['(', `${DECL} punctuation.section.parens.begin.tern`],
      ['(', `${DECL} punctuation.section.parens.begin.tern`],
      ['c', `${DECL} entity.name.tag.stage.tern`], [')', sym(')')], [')', sym(')')],
      ['one_or_more', KW('one_or_more')], ['greedy', KW('greedy')],
      ['consecutive', KW('consecutive')], ['until', KW('until')], ['d', STAGE_REF],
      ['.', sym('.')], ['x', MEMBER], ['within', KW('within')], ...dur('5', 's'),
      ...stageDecl('not_followed_by', 'e'), ['}', sym('}')]],
  },
  {
    name: 'on_timeout, gap, allow_combinations, matches, starts_with/ends_with, functions',
    src: 'gap 2h followed_by_any x where y matches "^a.*" allow_combinations ' +
      'on_timeout emit { t = abs(coalesce(p, 0)) + foo(1) }',
    tokens: [['gap', KW('gap')], ...dur('2', 'h'), ...stageDecl('followed_by_any', 'x'),
      ['where', KW('where')], ['y', MEMBER], ['matches', KW('matches')], ...dq('^a.*'),
      ['allow_combinations', KW('allow_combinations')], ['on_timeout', KW('on_timeout')],
      ['emit', KW('emit')], ['{', sym('{')], ['t', 'support.type.property-name.tern'],
      ['=', sym('=')], ['abs', 'support.function.tern'], ['(', sym('(')],
      ['coalesce', 'support.function.tern'], ['(', sym('(')], ['p', MEMBER], [',', sym(',')],
      ['0', 'constant.numeric.integer.tern'], [')', sym(')')], [')', sym(')')], ['+', sym('+')],
      ['foo', 'variable.function.tern'], ['(', sym('(')], ['1', 'constant.numeric.integer.tern'],
      [')', sym(')')], ['}', sym('}')]],
  },
  {
    name: 'not Tern: && and a lone !, an unterminated back-quote',
    src: 'a && !b or `open',
    tokens: [['a', MEMBER], ['&', 'invalid.illegal.character.tern'],
      ['&', 'invalid.illegal.character.tern'], ['!', 'invalid.illegal.character.tern'],
      ['b', MEMBER], ['or', KW('or')], ['`open', 'invalid.illegal.unterminated-name.tern']],
  },
];

function checkSnippets(grammar) {
  for (const snip of SNIPPETS) {
    counts.snippets++;
    const got = [];
    for (const l of tm.tokenize(grammar, snip.src)) {
      for (const t of l.tokens) {
        const text = l.text.slice(t.start, t.end);
        const scopes = t.scopes.slice(1).join(' ');
        if (text.trim() !== '' || /\b(string|comment)\./.test(scopes)) got.push([text, scopes]);
      }
    }
    const want = snip.tokens;
    const n = Math.max(got.length, want.length);
    for (let i = 0; i < n; i++) {
      const g = got[i] || ['<none>', ''];
      const w = want[i] || ['<none>', ''];
      if (g[0] !== w[0] || g[1] !== w[1]) {
        fail(`snippet "${snip.name}" token ${i + 1}`,
          `want ${JSON.stringify(w[0])} = ${w[1]}\n    got  ${JSON.stringify(g[0])} = ${g[1]}`);
        break;
      }
    }
  }
}

// ------------------------------------------------------------------ main

async function main() {
  checkConsistency();
  const grammar = await tm.loadGrammar();
  checkSnippets(grammar);

  const sets = [['repository', REPO, findTern(REPO, [])]];
  const conformance = path.resolve(REPO, '..', 'shared', 'conformance');
  if (fs.existsSync(conformance)) {
    sets.push(['conformance', conformance, findTern(conformance, [])]);
  } else {
    console.log(`skipped: conformance cases (${conformance} not found)`);
  }
  for (const [name, root, files] of sets) {
    for (const f of files.sort()) checkFile(grammar, f, path.relative(path.dirname(REPO), f));
    console.log(`${name}: ${files.length} .tern files under ${root}`);
  }

  console.log(`tokenised ${counts.files} files, ${counts.lines} lines; checked ` +
    `${counts.tokens} tokens (${counts.chars} characters) and ${counts.snippets} snippets`);
  console.log(`tokens by kind: ${Object.entries(counts.byKind).sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const show = (list) => list.slice(0, 3).join('; ') + (list.length > 3 ? '; ...' : '');
  console.log(`grammar limits (expected, not failures): ${limits.bareStageRef.length} stage ` +
    `references written as a bare name are scoped as fields${limits.bareStageRef.length
      ? ` (${show(limits.bareStageRef)})` : ''}; ${limits.fieldAsStage.length} fields written ` +
    `like a stage (name.x, name[i], count(name)) are scoped as stages${limits.fieldAsStage.length
      ? ` (${show(limits.fieldAsStage)})` : ''}`);
  if (failures.length) {
    for (const f of failures.slice(0, 40)) console.log(`FAIL ${f}`);
    if (failures.length > 40) console.log(`... and ${failures.length - 40} more`);
    console.log(`FAILED: ${failures.length} failures`);
    process.exit(1);
  }
  console.log('PASSED');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
