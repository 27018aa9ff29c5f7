#!/bin/sh
# The collector torture test (torture.iv): SECONDS of processes building,
# dropping, sending, forking and swapping structures while collection
# cycles run back to back (a cycle asked for every IVM_GC_STRESS
# allocations, default 5000) and the heap is verified after each one. The
# program's last line must be "torture ok" and its exit status 0; the
# --gc-stats lines are printed either way.
# Usage: torture.sh IVM SECONDS [ivm options, e.g. --gc=stw]
# (the environment may set TORTURE_SEED, TORTURE_WORKERS, TORTURE_TRANSIENTS=0)
ivm=$1
seconds=${2:-30}
[ $# -ge 2 ] && shift 2 || shift $#
dir=$(dirname "$0")
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
IVM_GC_VERIFY=1 IVM_GC_STRESS=${IVM_GC_STRESS:-5000} \
    "$ivm" --gc-stats --schedulers 2 "$@" run "$dir/torture.iv" "$seconds" \
    "${TORTURE_SEED:-1}" "${TORTURE_WORKERS:-12}" "${TORTURE_TRANSIENTS:-1}" >"$out" 2>"$err"
status=$?
cat "$out"
grep -v '^gc: ' "$err" | head -40
grep '^gc: ' "$err"
last=$(tail -n 1 "$out")
[ "$status" -eq 0 ] && [ "$last" = "torture ok" ] && exit 0
echo "torture: exit status $status, last line '$last', expected 'torture ok'"
exit 1
