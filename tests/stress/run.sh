#!/bin/sh
# The processes stress test (procs.iv): its one line must say that every
# process and message was accounted for, on two scheduler threads.
# Usage: run.sh IVM
dir=$(dirname "$0")
want="100000 processes 10000000 messages total 495000000"
got=$("$1" --schedulers 2 run "$dir/procs.iv")
status=$?
[ "$status" -eq 0 ] && [ "$got" = "$want" ] && exit 0
echo "proc_stress: exit status $status, printed '$got', expected '$want'"
exit 1
