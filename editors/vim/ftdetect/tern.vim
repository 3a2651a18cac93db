" Tern pattern files (*.tern). Works in Vim 8+ and Neovim.
autocmd BufRead,BufNewFile *.tern setfiletype tern
