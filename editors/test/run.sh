#!/usr/bin/env bash
# Tokenisation test of the Tern TextMate grammar (editors/textmate) with vscode-textmate and
# vscode-oniguruma, the engine VS Code uses (tokenize_test.js), then of the Vim syntax
# (vim_syntax_test.js, skipped without vim).
#
#   editors/test/run.sh [REPO]      REPO: the Tern checkout (default: the one holding this script)
#
# Installs the two npm packages (package-lock.json) with `npm ci` when node_modules is missing.
# Exit 0: passed; 1: failed; 77: skipped because Node.js is not installed (CTest's
# SKIP_RETURN_CODE). On Debian: apt-get install nodejs npm.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "${1:-$here/../..}" && pwd)

if ! command -v node >/dev/null 2>&1; then
  echo "skipped: node not installed (apt-get install nodejs npm)"
  exit 77
fi

cd "$here"
if [ ! -d node_modules/vscode-textmate ] || [ ! -d node_modules/vscode-oniguruma ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "skipped: npm not installed, needed once to install the test's packages (apt-get install npm)"
    exit 77
  fi
  echo "npm ci (editors/test)"
  npm ci --no-audit --no-fund
fi

echo "node $(node --version)"
node tokenize_test.js "$repo"
# The Vim syntax file, when vim is installed (77: skipped, and so not a failure).
rc=0
node vim_syntax_test.js "$repo" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
  exit "$rc"
fi
