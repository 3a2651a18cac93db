// Copies the grammar from editors/textmate/ (its one home) into syntaxes/, where the
// extension's package.json points. Run by `vscode:prepublish` (so by `vsce package`), and by
// `npm run copy-grammar` before running the extension from this folder (F5).
'use strict';

const fs = require('fs');
const path = require('path');

const from = path.join(__dirname, '..', '..', 'textmate', 'tern.tmLanguage.json');
const to = path.join(__dirname, '..', 'syntaxes', 'tern.tmLanguage.json');
fs.mkdirSync(path.dirname(to), { recursive: true });
fs.copyFileSync(from, to);
console.log(`copied ${path.relative(process.cwd(), from)} -> ${path.relative(process.cwd(), to)}`);
