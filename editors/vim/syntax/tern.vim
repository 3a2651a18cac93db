" Vim syntax file
" Language:   Tern pattern language (*.tern)
" Spec:       shared/spec/LANGUAGE.md; the same scopes as editors/textmate (editors/README.md)
" Works in Vim 8+ and Neovim.

if exists('b:current_syntax')
  finish
endif
let s:cpo_save = &cpo
set cpo&vim

syn case match
syn iskeyword @,48-57,_

" Comments: # or // to the end of the line.
syn keyword ternTodo        contained TODO FIXME XXX NOTE
" (ternComment is defined at the end, see there.)

" Strings: "..." or '...' with JSON escapes (and \'), on one line.
syn match   ternEscape      contained "\\\%([\"'\\/bfnrt]\|u\x\{4}\)"
syn match   ternBadEscape   contained "\\\%([\"'\\/bfnrtu]\)\@!."
syn match   ternBadEscape   contained "\\u\%(\x\{4}\)\@!"
syn region  ternString      start=+"+ skip=+\\\\\|\\"+ end=+"+ end=+$+ oneline contains=ternEscape,ternBadEscape
syn region  ternString      start=+'+ skip=+\\\\\|\\'+ end=+'+ end=+$+ oneline contains=ternEscape,ternBadEscape

" Back-quoted field names: `user-agent`.
syn match   ternQuotedName  "`[^`]*`"
syn match   ternError       "`[^`]*$"

" Numbers and durations (250ms 10s 5m 2h 1d); a number running into letters is an error.
syn match   ternError       "\<\d\+\%(\.\d\+\)\=\%([eE][+-]\=\d\+\)\=\w\+"
syn match   ternNumber      "\<\d\+\%(\.\d\+\%([eE][+-]\=\d\+\)\=\|[eE][+-]\=\d\+\)\>"
syn match   ternNumber      "\<\d\+\>\%(\.\d\)\@!"
syn match   ternDuration    "\<\d\+\%(ms\|s\|m\|h\|d\)\>" contains=ternUnit
syn match   ternUnit        contained "\a\+"

" Names in expressions. Order matters: later matches win at the same position.
syn match   ternField       "\<\h\w*\>"
syn match   ternStageRef    "\<\h\w*\>\ze\s*\%(\.\.\@!\|\[\)"
syn match   ternMember      "\%(\.\.\)\@2<!\.\@1<=\<\h\w*\>"
syn match   ternCall        "\<\h\w*\>\ze\s*("
syn match   ternFunction    "\<\%(count\|sum\|avg\|min\|max\|first\|last\|len\|abs\|lower\|upper\|exists\|coalesce\|time\)\>\ze\s*("
syn match   ternStageRef    "\%(\<\%(count\|sum\|avg\|min\|max\|first\|last\|time\)\s*(\s*\)\@<=\<\h\w*\>\ze\s*[).[]"
syn match   ternEmitField   "\<\h\w*\>\ze\s*=\%(=\)\@!"
syn match   ternEmitField   "`[^`]\+`\ze\s*=\%(=\)\@!"

" Operators.
syn match   ternOperator    "==\|!=\|<=\|>=\|[<>=+*/%-]"
syn match   ternOperator    "\.\."
syn match   ternError       "&\|!\%(=\)\@!\||\|;"

" Reserved words (spec §2). `syn keyword` wins over the matches above.
syn keyword ternPattern     pattern nextgroup=ternPatternName skipwhite skipnl skipempty
syn match   ternPatternName contained "\<\h\w*\>"
syn keyword ternWindow      within gap
syn keyword ternClause      to
" `key a.b[0], c` names fields (never stages); `from s1, s2` names input streams.
syn keyword ternClause      key nextgroup=ternKeyPaths skipwhite skipnl skipempty
syn match   ternKeyPaths    contained "\%(`[^`]*`\|\h\w*\)\%(\s*\%(\.\s*\%(`[^`]*`\|\h\w*\)\|\[\s*-\=\d\+\s*\]\|,\s*\%(`[^`]*`\|\h\w*\)\)\)*"
syn keyword ternClause      from nextgroup=ternStreams skipwhite skipnl skipempty
syn match   ternStreams     contained "\h\w*\%(\s*,\s*\h\w*\)*"
syn keyword ternClause      skip nextgroup=ternSkipStrategy,ternSkipStage skipwhite skipnl skipempty
syn keyword ternSkipStrategy contained no_skip to_next past_last_event
syn match   ternSkipStage   contained "\<to_\%(first\|last\)\>\s*(\s*\h\w*\s*)" contains=ternSkipStageWord,ternSkipStageRef
syn match   ternSkipStageWord contained "\<to_\%(first\|last\)\>"
syn match   ternSkipStageRef  contained "(\@1<=\s*\zs\h\w*"
" A stage is declared after a contiguity keyword, or after the ( of a group that follows one.
syn keyword ternSequence    begin next followed_by followed_by_any not_next not_followed_by nextgroup=ternStageDecl,ternGroupOpen skipwhite skipnl skipempty
syn match   ternGroupOpen   contained "(" nextgroup=ternStageDecl,ternGroupOpen skipwhite skipnl skipempty
syn match   ternStageDecl   contained "\<\%(\%(where\|times\|one_or_more\|optional\|greedy\|consecutive\|allow_combinations\|until\|within\|emit\|on_timeout\|not_next\|not_followed_by\)\>\)\@!\h\w*\>"
syn keyword ternStage       where
syn keyword ternQuantifier  times one_or_more optional
syn keyword ternModifier    greedy consecutive allow_combinations until
syn keyword ternEmit        emit on_timeout
syn keyword ternLogical     and or not
syn keyword ternWordOp      in
" `contains` is an option name of :syn keyword, so these four are a match.
syn match   ternWordOp      "\<\%(contains\|starts_with\|ends_with\|matches\)\>"
syn keyword ternBoolean     true false
syn keyword ternNull        null
syn keyword ternThis        this

" Comments come last: at the same position the item defined last wins (`//` over `/`).
syn match   ternComment     "#.*$"  contains=ternTodo,@Spell
syn match   ternComment     "//.*$" contains=ternTodo,@Spell

hi def link ternTodo          Todo
hi def link ternComment       Comment
hi def link ternString        String
hi def link ternEscape        SpecialChar
hi def link ternBadEscape     Error
hi def link ternQuotedName    Identifier
hi def link ternNumber        Number
hi def link ternDuration      Number
hi def link ternUnit          Type
hi def link ternField         Identifier
hi def link ternMember        Identifier
hi def link ternKeyPaths      Identifier
hi def link ternStreams       Type
hi def link ternStageRef      Special
hi def link ternStageDecl     Tag
hi def link ternPatternName   Function
hi def link ternCall          Function
hi def link ternFunction      Function
hi def link ternEmitField     Label
hi def link ternOperator      Operator
hi def link ternError         Error
hi def link ternPattern       Keyword
hi def link ternWindow        Statement
hi def link ternClause        Statement
hi def link ternSkipStrategy  Constant
hi def link ternSkipStageWord Constant
hi def link ternSkipStageRef  Special
hi def link ternSequence      Conditional
hi def link ternGroupOpen     Delimiter
hi def link ternStage         Keyword
hi def link ternQuantifier    Repeat
hi def link ternModifier      Repeat
hi def link ternEmit          Keyword
hi def link ternLogical       Operator
hi def link ternWordOp        Operator
hi def link ternBoolean       Boolean
hi def link ternNull          Constant
hi def link ternThis          Constant

let b:current_syntax = 'tern'
let &cpo = s:cpo_save
unlet s:cpo_save
