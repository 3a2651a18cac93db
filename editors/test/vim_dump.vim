" Used by vim_syntax_test.js: for every file named in $TERN_VIM_FILES (one per line), writes
" one JSON line to $TERN_VIM_OUT: per line of the file, the runs [start column (1-based),
" syntax group] of editors/vim/syntax/tern.vim.
"   vim -u NONE -i NONE -N -es -S vim_dump.vim
set nocompatible
let &runtimepath = $TERN_VIM_RTP . ',' . &runtimepath
filetype plugin on
syntax on
let s:out = []
for s:file in readfile($TERN_VIM_FILES)
  let v:errmsg = ''
  silent! execute 'edit! ' . fnameescape(s:file)
  if &filetype !=# 'tern' || v:errmsg !=# ''
    call add(s:out, json_encode({'file': s:file,
          \ 'error': 'filetype ' . &filetype . ', error: ' . v:errmsg}))
    continue
  endif
  let s:lines = []
  for s:lnum in range(1, line('$'))
    let s:runs = []
    let s:prev = ''
    for s:col in range(1, len(getline(s:lnum)))
      let s:name = synIDattr(synID(s:lnum, s:col, 1), 'name')
      if s:name !=# s:prev
        call add(s:runs, [s:col, s:name])
        let s:prev = s:name
      endif
    endfor
    call add(s:lines, s:runs)
  endfor
  call add(s:out, json_encode({'file': s:file, 'lines': s:lines}))
endfor
call writefile(s:out, $TERN_VIM_OUT)
qall!
