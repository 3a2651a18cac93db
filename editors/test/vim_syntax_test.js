#!/usr/bin/env node
// Checks editors/vim/syntax/tern.vim the way tokenize_test.js checks the TextMate grammar:
// Vim (headless, `vim -es`) reports the syntax group of every character of every shipped
// .tern file, and every token found by tern_lexer.js must have the expected group.
//
//   node vim_syntax_test.js [REPO]
//
// Exit 0: passed, 1: failed, 77: skipped (no `vim` on the PATH).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const { lex, classify } = require('./tern_lexer');
const { findTern } = require('./tern_files');

const REPO = path.resolve(process.argv[2] || path.join(__dirname, '..', '..'));

const KEYWORD_GROUP = {};
for (const [group, words] of Object.entries({
  ternPattern: ['pattern'],
  ternWindow: ['within', 'gap'],
  ternClause: ['key', 'skip', 'from', 'to'],
  ternSequence: ['begin', 'next', 'followed_by', 'followed_by_any', 'not_next',
    'not_followed_by'],
  ternStage: ['where'],
  ternQuantifier: ['times', 'one_or_more', 'optional'],
  ternModifier: ['greedy', 'consecutive', 'allow_combinations', 'until'],
  ternEmit: ['emit', 'on_timeout'],
  ternLogical: ['and', 'or', 'not'],
  ternWordOp: ['in', 'contains', 'starts_with', 'ends_with', 'matches'],
  ternBoolean: ['true', 'false'],
  ternNull: ['null'],
  ternThis: ['this'],
})) {
  for (const w of words) KEYWORD_GROUP[w] = group;
}
const OPERATORS = new Set(['==', '!=', '<=', '>=', '<', '>', '=', '+', '-', '*', '/', '%',
  '..']);

// The groups a token may have (at every character), or null for "not checked".
function allowedGroups(tok) {
  const quoted = tok.kind === 'backquoted';
  switch (tok.kind) {
    case 'comment': return ['ternComment', 'ternTodo'];
    case 'string': return ['ternString', 'ternEscape', 'ternBadEscape'];
    case 'keyword': return [KEYWORD_GROUP[tok.text]];
    case 'integer': return ['ternNumber', 'ternKeyPaths']; // `key items[0]`
    case 'float': return ['ternNumber'];
    case 'duration': return ['ternDuration', 'ternUnit'];
    case 'badnumber': return ['ternError'];
    case 'symbol': return OPERATORS.has(tok.text) ? ['ternOperator', 'ternKeyPaths'] : null;
    case 'illegal': return '&|!;'.includes(tok.text) ? ['ternError'] : null;
    default:
  }
  if (quoted && !tok.closed) return ['ternError'];
  switch (tok.role) {
    case 'pattern-name': return ['ternPatternName'];
    case 'stage-decl': return ['ternStageDecl'];
    case 'skip-strategy': return ['ternSkipStrategy', 'ternSkipStageWord'];
    case 'stream': return ['ternStreams'];
    case 'emit-field': return ['ternEmitField'];
    case 'function': return ['ternFunction'];
    case 'call': return ['ternCall'];
    case 'member': return [quoted ? 'ternQuotedName' : 'ternMember'];
    case 'stage-ref': return tok.stageForm ? ['ternStageRef', 'ternSkipStageRef'] : ['ternField'];
    case 'field':
      if (tok.inKey) return ['ternKeyPaths'];
      if (quoted) return ['ternQuotedName'];
      return [tok.stageForm ? 'ternStageRef' : 'ternField'];
    default: return null; // bad-skip-strategy: Vim does not flag it
  }
}

function main() {
  try {
    execFileSync('vim', ['--version'], { stdio: 'ignore' });
  } catch (_) {
    console.log('skipped: vim not installed');
    process.exit(77);
  }
  const files = findTern(REPO, []);
  const conformance = path.resolve(REPO, '..', 'shared', 'conformance');
  if (fs.existsSync(conformance)) findTern(conformance, files);
  files.sort();

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tern-vim-'));
  const list = path.join(tmp, 'files');
  const out = path.join(tmp, 'out.jsonl');
  fs.writeFileSync(list, `${files.join('\n')}\n`);
  const vim = spawnSync('vim', ['-u', 'NONE', '-i', 'NONE', '-N', '-es', '-S',
    path.join(__dirname, 'vim_dump.vim')], {
    env: { ...process.env, TERN_VIM_RTP: path.join(__dirname, '..', 'vim'),
      TERN_VIM_FILES: list, TERN_VIM_OUT: out },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const failures = [];
  if (vim.status !== 0) failures.push(`vim exited with status ${vim.status}`);
  const dumps = fs.existsSync(out)
    ? fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
  fs.rmSync(tmp, { recursive: true, force: true });

  let tokens = 0;
  let lines = 0;
  for (const dump of dumps) {
    const label = path.relative(path.dirname(REPO), dump.file);
    if (dump.error) {
      failures.push(`${label}: ${dump.error}`);
      continue;
    }
    const text = fs.readFileSync(dump.file, 'utf8').replace(/^\uFEFF/, '');
    const starts = [0];
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
    lines += dump.lines.length;
    const groupAt = (offset) => {
      let line = starts.length - 1;
      while (starts[line] > offset) line--;
      const col = offset - starts[line] + 1;
      let group = '';
      for (const [c, g] of dump.lines[line] || []) {
        if (c > col) break;
        group = g;
      }
      return { group, where: `${label}:${line + 1}:${col}` };
    };
    for (const tok of classify(lex(text))) {
      const allowed = allowedGroups(tok);
      if (!allowed) continue;
      tokens++;
      for (let o = tok.start; o < tok.end; o++) {
        if (text[o] === '\r') continue;
        const { group, where } = groupAt(o);
        if (!allowed.includes(group)) {
          failures.push(`${where}: ${JSON.stringify(text.slice(tok.start, tok.end))} ` +
            `(${tok.role || tok.kind}): want ${allowed.join(' or ')}, got ${group || 'none'}`);
          break;
        }
      }
    }
  }
  console.log(`vim: ${dumps.length} files, ${lines} lines, ${tokens} tokens checked`);
  if (failures.length) {
    for (const f of failures.slice(0, 40)) console.log(`FAIL ${f}`);
    if (failures.length > 40) console.log(`... and ${failures.length - 40} more`);
    console.log(`FAILED: ${failures.length} failures`);
    process.exit(1);
  }
  console.log('PASSED');
}

main();
