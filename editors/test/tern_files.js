'use strict';
// The .tern files under a directory (hidden folders, node_modules and build* skipped),
// for the grammar tests (tokenize_test.js, vim_syntax_test.js).
const fs = require('fs');
const path = require('path');

function findTern(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name === 'node_modules' || /^build/.test(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findTern(p, out);
    else if (e.isFile() && e.name.endsWith('.tern')) out.push(p);
  }
  return out;
}

module.exports = { findTern };
