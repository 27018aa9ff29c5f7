#!/bin/sh
# The processes stress test (procs.iv): its one line must say that every
# process and message was accounted for, on two scheduler threads.
# Usage: run.sh IVM [PROCESSES MESSAGES]   (default 100000 10000000)
dir=$(dirname "$0")
procs=${2:-100000}
msgs=${3:-10000000}
per=$((msgs / procs))
want="$procs processes $((per * procs)) messages total $((procs * per * (per - 1) / 2))"
got=$("$1" --schedulers 2 run "$dir/procs.iv" "$procs" "$msgs")
status=$?
[ "$status" -eq 0 ] && [ "$got" = "$want" ] && exit 0
echo "proc_stress: exit status $status, printed '$got', expected '$want'"
exit 1
