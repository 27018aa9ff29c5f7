#!/bin/sh
# Checks the concurrent marking model (concurrent_mark.pml) with spin:
# the protocol as built must verify with no errors, and each broken
# variant below must fail with an assertion violation (the model is not
# vacuous). Usage: run.sh [cc]. Needs spin and a C compiler.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cc=${1:-${CC:-cc}}
work=$(mktemp -d "${TMPDIR:-/tmp}/ivm-model.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cp "$here/concurrent_mark.pml" "$work/" || exit 1
cd "$work" || exit 1

status=0
# check NAME EXPECT [-DMACRO]: EXPECT is "pass" or "fail"
check() {
    name=$1 expect=$2
    shift 2
    rm -f pan pan.* ./*.trail
    if ! spin "$@" -a concurrent_mark.pml >spin.out 2>&1; then
        echo "model $name: spin failed"; cat spin.out; status=1; return
    fi
    if ! "$cc" -O2 -w -DCOLLAPSE -o pan pan.c >cc.out 2>&1; then
        echo "model $name: cc failed"; cat cc.out; status=1; return
    fi
    ./pan -m1000000 >pan.out 2>&1
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out)
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out)
    if [ "$expect" = pass ]; then
        if [ "$errors" = 0 ] && ! grep -q "Search not completed" pan.out; then
            echo "model $name: verified, $states states"
        else
            echo "model $name: FAILED (expected no errors)"; cat pan.out
            spin -t -p -g "$@" concurrent_mark.pml 2>&1 | tail -80
            status=1
        fi
    else
        if grep -q "assertion violated" pan.out; then
            echo "model $name: assertion violated, as expected"
        else
            echo "model $name: NOT CAUGHT (expected an assertion violation)"; cat pan.out
            status=1
        fi
    fi
}

check protocol pass
for v in NO_ACK NO_DELETE NO_INSERT NO_SINCE NO_QUIET LATE_DROP; do
    check "$v" fail "-D$v"
done
exit $status
