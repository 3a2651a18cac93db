#!/usr/bin/env bash
# Makes a state format snapshot, tests/state_compat/<version>/, in a NEW folder (README.md
# next to this script says when and why): copies the inputs of FROM (its *.tern files,
# part1.jsonl, part2.jsonl, keys and args), writes the state of part1.jsonl with today's
# tern, and records what `tern state` shows of it and the alerts of its continuation.
# Refuses an existing folder: a snapshot is never rewritten.
#
# usage: tests/state_compat/make_snapshot.sh v<N> [FROM]
#   FROM  a folder holding the inputs (default: the latest tests/state_compat/v<N>/)
#   TERN  environment: the tern binary (default: build/release/cli/tern of this repository)
#
# The snapshot is made only when part 1's alerts followed by the continuation's equal one
# replay of part1.jsonl + part2.jsonl (--open-end, and without it for --finish), and two
# continuations print the same bytes. Each part is replayed as events.jsonl in a folder of
# its own, as tests/state_compat/compat_test.py does, so the stream (the input file's stem)
# has one name in every part and in the whole.
set -euo pipefail
export LC_ALL=C   # *.tern in byte order, as compat_test.py sorts them

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() {
  echo "make_snapshot.sh: $*" >&2
  exit 1
}

[[ $# -ge 1 && $# -le 2 && $1 =~ ^v[0-9]+$ ]] || die "usage: make_snapshot.sh v<N> [FROM]"
version=$1
dest=$here/$version
[[ ! -e $dest ]] || die "$dest exists: a snapshot is never rewritten; make v<N+1> (README.md)"

if [[ $# -eq 2 ]]; then
  from=$(cd "$2" && pwd)
else
  latest=$(cd "$here" && ls -d v[0-9]*/ 2>/dev/null | tr -d / | sort -V | tail -n 1 || true)
  [[ -n $latest ]] || die "no snapshot to take the inputs from: give FROM"
  from=$here/$latest
fi
tern=${TERN:-$repo/build/release/cli/tern}
[[ -x $tern ]] || die "no tern binary at $tern (set TERN)"
tern=$(cd "$(dirname "$tern")" && pwd)/$(basename "$tern")

for f in part1.jsonl part2.jsonl keys; do
  [[ -f $from/$f ]] || die "$from has no $f"
done
compgen -G "$from/*.tern" >/dev/null || die "$from has no *.tern file"

work=$(mktemp -d "${TMPDIR:-/tmp}/tern_state_snapshot.XXXXXX")
trap 'rm -rf "$work"' EXIT
new=$work/$version
mkdir "$new"
cp "$from"/*.tern "$from/part1.jsonl" "$from/part2.jsonl" "$from/keys" "$new/"
args=()
if [[ -f $from/args ]]; then
  cp "$from/args" "$new/"
  read -r -a args < "$new/args" || true   # one line of options, split at white space
fi
patterns=("$new"/*.tern)

mkdir "$work/p1" "$work/p2" "$work/whole"
cp "$new/part1.jsonl" "$work/p1/events.jsonl"
cp "$new/part2.jsonl" "$work/p2/events.jsonl"
cat "$new/part1.jsonl" "$new/part2.jsonl" > "$work/whole/events.jsonl"

replay() {  # replay OUT ERR ARG...: fails the script unless tern exits 0
  local out=$1 err=$2
  shift 2
  "$tern" replay "${patterns[@]}" "$@" ${args[@]+"${args[@]}"} > "$out" 2> "$err" ||
    die "tern replay $*: exit $?: $(cat "$err")"
}

# Part 1 writes the state. Nothing opens it before it is copied into the snapshot.
cd "$work"
replay part1_alerts.jsonl part1.err --input p1/events.jsonl --state written
cp -R written "$new/state"

# What `tern state` shows of it, from a copy named `state` in the current folder, so the
# paths it prints ("partition replay (state/replay)", "dir", "path") are the same anywhere.
mkdir look
cp -R written look/state
(
  cd look
  "$tern" state state > "$new/expected_state.txt" || die "tern state failed"
  "$tern" state state --json > "$new/expected_state.json" || die "tern state --json failed"
  : > "$new/expected_keys.jsonl"
  while IFS= read -r key || [[ -n $key ]]; do
    [[ -n $key ]] || continue
    "$tern" state state --key "$key" >> "$new/expected_keys.jsonl" || die "tern state --key $key failed"
  done < "$new/keys"
)

# The continuations, each from a fresh copy; the open one twice (determinism).
for run in open open_again finish; do
  mkdir "c_$run"
  cp -R written "c_$run/state"
  extra=()
  [[ $run == finish ]] && extra=(--finish)
  (cd "c_$run" && replay alerts.jsonl err --input ../p2/events.jsonl --state state ${extra[@]+"${extra[@]}"})
  if grep -q "changed since" "c_$run/err"; then
    die "the continuation dropped partial matches: $(cat "c_$run/err")"
  fi
done
cmp -s c_open/alerts.jsonl c_open_again/alerts.jsonl ||
  die "two continuations of the same state printed different alerts"
cp c_open/alerts.jsonl "$new/expected_alerts.jsonl"
cp c_finish/alerts.jsonl "$new/expected_alerts_finish.jsonl"

replay whole_open.jsonl whole_open.err --input whole/events.jsonl --open-end
replay whole_finish.jsonl whole_finish.err --input whole/events.jsonl
cat part1_alerts.jsonl c_open/alerts.jsonl | cmp -s - whole_open.jsonl ||
  die "part 1's alerts + the continuation's differ from one replay --open-end of the whole"
cat part1_alerts.jsonl c_finish/alerts.jsonl | cmp -s - whole_finish.jsonl ||
  die "part 1's alerts + the continuation --finish's differ from one replay of the whole"

# Every key record should be checked by --key: compare the key lines with the key counts.
python3 - "$new" <<'EOF' || die "the keys file does not name every stored key"
import json, sys
d = sys.argv[1]
part = json.load(open(d + "/expected_state.json"))["partitions"][0]
records = sum(p["keys"] for p in part["patterns"])
lines = sum(1 for l in open(d + "/expected_keys.jsonl") if l.strip())
for p in part["patterns"]:
    print("  %-16s keys %d, partial matches %d, held matches %d"
          % (p["name"], p["keys"], p["partial_matches"], p["held_matches"]))
print("  events %d, reorder buffer %d, lateness %d ms"
      % (part["events"]["records"], sum(i["buffered"] for i in part["inputs"]), part["lateness_ms"]))
if lines != records:
    print("  keys lists %d key records of %d" % (lines, records))
    sys.exit(1)
EOF

mv "$new" "$dest"
echo "made $dest: alerts of part 1 $(wc -l < part1_alerts.jsonl)," \
     "of the continuation $(wc -l < "$dest/expected_alerts.jsonl")," \
     "with --finish $(wc -l < "$dest/expected_alerts_finish.jsonl")"
