#!/bin/sh
# Golden-file tests of the language: for each tests/lang/NAME.iv, run it
# with the ivm binary and compare its stdout with NAME.out; when
# NAME.err exists, its stderr must match too, and NAME.status (default 0)
# gives the expected exit status. Under the collector's stress mode
# (IVM_GC_STRESS set), tests marked by a NAME.slow file are skipped: they
# run for minutes there. IVM_OPTIONS, if set, goes before `run` (e.g.
# --gc=stw). Usage: run.sh IVM LANGDIR [NAME...]
ivm=$1 dir=$2
shift 2
[ $# -gt 0 ] || set -- $(cd "$dir" && ls *.iv | sed 's/\.iv$//')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for name in "$@"; do
  [ -n "${IVM_GC_STRESS:-}" ] && [ -f "$dir/$name.slow" ] && continue
  # shellcheck disable=SC2086 # IVM_OPTIONS: options, one word each
  (cd "$dir" && "$ivm" ${IVM_OPTIONS:-} run "$name.iv" arg1 "arg 2" > "$tmp/out" 2> "$tmp/err" < /dev/null)
  status=$?
  want_status=0
  [ -f "$dir/$name.status" ] && want_status=$(cat "$dir/$name.status")
  problem=""
  if [ "$status" != "$want_status" ]; then
    problem="exit status $status, expected $want_status"
  elif ! cmp -s "$tmp/out" "$dir/$name.out"; then
    problem="stdout differs:
$(diff "$dir/$name.out" "$tmp/out" | head -20)"
  elif [ -f "$dir/$name.err" ] && ! cmp -s "$tmp/err" "$dir/$name.err"; then
    problem="stderr differs:
$(diff "$dir/$name.err" "$tmp/err" | head -20)"
  fi
  if [ -n "$problem" ]; then
    fail=$((fail + 1))
    echo "FAIL $name: $problem"
    [ -s "$tmp/err" ] && [ ! -f "$dir/$name.err" ] && echo "  stderr: $(head -5 "$tmp/err")"
  else
    pass=$((pass + 1))
  fi
done
echo "lang: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
