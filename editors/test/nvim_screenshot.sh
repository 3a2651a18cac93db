#!/usr/bin/env bash
# Photographs Neovim editing a .tern file with `tern lsp` attached: the diagnostics as
# the server publishes them, then a hover. Writes docs/images/nvim-lsp-diagnostics.png
# and docs/images/nvim-lsp-hover.png. By hand, not in CI: it needs neovim (0.7 or
# later), tmux and chromium (apt-get install neovim tmux chromium).
# Usage: editors/test/nvim_screenshot.sh PATH/TO/tern
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TERN="$(realpath "${1:?usage: nvim_screenshot.sh PATH/TO/tern}")"
for tool in nvim tmux chromium; do
  command -v "$tool" > /dev/null || { echo "nvim_screenshot: $tool is not installed"; exit 1; }
done
work="$(mktemp -d)"
socket="$work/tmux.sock"
trap 'tmux -S "$socket" kill-server 2> /dev/null || true; rm -rf "$work"' EXIT

# Neovim 0.7's API (vim.lsp.start arrived in 0.8): start the server, attach the buffer.
cat > "$work/init.lua" << LUA
vim.opt.runtimepath:append('$ROOT/editors/vim')
vim.cmd('filetype plugin on')
vim.cmd('syntax on')
vim.opt.background = 'dark'
vim.opt.number = true
vim.opt.signcolumn = 'yes'
vim.diagnostic.config({ virtual_text = { prefix = '●' }, severity_sort = true })
vim.cmd('highlight SignColumn ctermbg=NONE')
vim.cmd('highlight NormalFloat ctermbg=237 ctermfg=252')
vim.cmd('highlight FloatBorder ctermbg=237 ctermfg=244')
vim.api.nvim_create_autocmd('FileType', {
  pattern = 'tern',
  callback = function(args)
    local id = vim.lsp.start_client({ name = 'tern', cmd = { '$TERN', 'lsp' }, root_dir = '$work' })
    vim.lsp.buf_attach_client(args.buf, id)
  end,
})
LUA
cat > "$work/card_testing.tern" << 'TERN'
# Card testing, being written: tern lsp checks it as you type.
pattern card_testing {
  key    card_id
  within 10m
  skip   past_last_event

  begin       small where type == "auth" and amount < big.amount times 3.. greedy
  followed_by big   where type == "auth" and amount >= 500
                      and merchant != lst(small).merchant

  emit {
    card       = card_id
    tiny_count = count(small)
    big_amount = big.amount
  }
}
TERN

shoot() {  # NAME: the screen as it is now, as NAME.png in docs/images/
  tmux -S "$socket" capture-pane -t shot -p -e > "$work/$1.ansi"
  python3 "$ROOT/editors/test/ansi_to_html.py" < "$work/$1.ansi" > "$work/$1.html"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1290,490 \
    --screenshot="$ROOT/docs/images/$1.png" "file://$work/$1.html" 2> /dev/null
  echo "nvim_screenshot: docs/images/$1.png"
}

tmux -S "$socket" new-session -d -s shot -x 128 -y 20 \
  "cd '$work' && nvim -u '$work/init.lua' card_testing.tern"
sleep 3  # the server's first diagnostics
tmux -S "$socket" send-keys -t shot ':9' Enter
sleep 0.3
tmux -S "$socket" send-keys -t shot ':lua vim.diagnostic.open_float()' Enter
sleep 1
shoot nvim-lsp-diagnostics
tmux -S "$socket" send-keys -t shot Escape ':13' Enter '0f(l'
sleep 0.3
tmux -S "$socket" send-keys -t shot ':lua vim.lsp.buf.hover()' Enter
sleep 1.5
shoot nvim-lsp-hover
