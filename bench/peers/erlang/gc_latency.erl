%% The collector latency benchmark in Erlang, the peer of
%% bench/programs/gc_latency.iv (same arguments, the same checkable line,
%% the same "# name value" lines, here on stderr): gc_fragment.iv's workload
%% runs in one process while a second process, the latency probe, waits
%% 1 ms again and again (receive ... after 1) and records how late it woke.
%%
%%   gc_latency [LIVE-MB [OPS]]   (defaults 500 300000; LIVE-MB may have
%%                                decimals)
%% Phase 1 builds a list of about LIVE-MB of items, in turn a binary of
%%   about 245 bytes (240 x's and the item's number), a 30-element tuple
%%   and an 8-entry map (keys a to h); the whole list's checksum is taken.
%% Phase 2 keeps the odd-numbered items, in an array (Erlang's persistent
%%   vector); the list and the even-numbered items become garbage.
%% Phase 3 runs OPS operations on random surviving items (MINSTD from 7);
%%   each builds a short-lived changed copy of its item (the number appended
%%   to the binary, an element appended to the tuple, key z put in the map)
%%   and a 16-element list (lists:seq, summed), and every 100th replaces the
%%   item in the array with a new one.
%% The checksums are those of gc_latency.iv, operation for operation.
%%
%% The probe: each wake-up without a message counts monotonic_time after
%% the receive, less monotonic_time before it, less 1 ms. When the workload
%% process has sent its line, the main process tells the probe to stop and
%% the probe sends back its samples.
%%   stdout: "gc_latency live-mb L items N (~M MiB) kept K ops O checksums A B C"
%%   stderr: # probe_wakeups, # probe_late_p50_us, # probe_late_p99_us,
%%           # probe_late_max_us (nearest-rank percentiles of the lateness,
%%           in microseconds; nan when there was no wake-up)
%% Erlang collects each process's heap on its own: the probe's latency shows
%% what the workload's collections (and the scheduler) cost another process.
%% Erlang's timers count whole milliseconds, so an `after 1` that starts
%% between two ticks may wake up to about 1 ms past the 1 ms asked for even
%% on an idle VM: read the percentiles against that floor (an idle run,
%% gc_latency 0.01 10, shows it).
%%
%% Run (+S S:S sets the scheduler threads, one per core by default):
%%   erlc -o DIR bench/peers/erlang/gc_latency.erl
%%   erl +S 1:1 -noshell -pa DIR -s gc_latency main 500 300000 -s erlang halt
-module(gc_latency).
-export([main/0, main/1]).

-define(MIB, 1048576).
-define(ITEM_BYTES, 289).
-define(P, 1000000007).

main() -> main([]).

main(Args0) ->
    Args = [if is_atom(A) -> atom_to_list(A); true -> A end || A <- Args0],
    LiveMB = case Args of [L | _] -> to_float(L); [] -> 500.0 end,
    Ops = case Args of [_, O | _] -> list_to_integer(O); _ -> 300000 end,
    Main = self(),
    Probe = spawn(fun() -> probe(Main, []) end),
    spawn(fun() -> Main ! {line, workload(LiveMB, Ops)} end),
    Line = receive {line, Ln} -> Ln end,
    Probe ! stop,
    Samples = receive {samples, S} -> S end,
    io:format("~s~n", [Line]),
    Sorted = list_to_tuple(lists:sort(Samples)),
    io:format(standard_error, "# probe_wakeups ~b~n", [tuple_size(Sorted)]),
    report_us("probe_late_p50_us", Sorted, 0.5),
    report_us("probe_late_p99_us", Sorted, 0.99),
    report_us("probe_late_max_us", Sorted, 1.0).

to_float(S) ->
    try list_to_float(S) catch error:badarg -> float(list_to_integer(S)) end.

%% ---- The probe ---------------------------------------------------------

probe(Main, Samples) ->
    T0 = erlang:monotonic_time(nanosecond),
    receive
        stop -> Main ! {samples, Samples}
    after 1 ->
        T1 = erlang:monotonic_time(nanosecond),
        probe(Main, [T1 - T0 - 1000000 | Samples])
    end.

%% The nearest-rank P-th percentile (0 < P =< 1) of a sorted tuple.
report_us(Name, {}, _) ->
    io:format(standard_error, "# ~s nan~n", [Name]);
report_us(Name, Sorted, P) ->
    X = element(max(1, ceil(P * tuple_size(Sorted))), Sorted),
    io:format(standard_error, "# ~s ~.3f~n", [Name, X / 1000]).

%% ---- The workload ------------------------------------------------------

workload(LiveMB, Ops) ->
    NItems = max(16, trunc(LiveMB * ?MIB / ?ITEM_BYTES)),
    {Kept, BuiltSum} = keep_odd(build(NItems)),
    {Final, OpsSum} = run_ops(Kept, Ops),
    io_lib:format("gc_latency live-mb ~s items ~b (~~~b MiB) kept ~b ops ~b checksums ~b ~b ~b",
                  [float_to_list(LiveMB, [short]), NItems, NItems * ?ITEM_BYTES div ?MIB,
                   array:size(Final), Ops, BuiltSum, OpsSum, checksum_array(Final)]).

pad() -> binary:copy(<<"x">>, 240).

make_item(I) ->
    case I rem 3 of
        0 -> <<(pad())/binary, (integer_to_binary(I))/binary>>;
        1 -> list_to_tuple(lists:seq(I, I + 29));
        2 -> #{a => I, b => I + 1, c => I + 2, d => I + 3,
               e => I + 4, f => I + 5, g => I + 6, h => I + 7}
    end.

%% A number from an item (or a changed copy) that shows it is intact.
item_value(B) when is_binary(B) -> byte_size(B) + binary:last(B);
item_value(T) when is_tuple(T) -> element(1, T) + element(30, T) + tuple_size(T);
item_value(#{a := A, h := H} = M) -> A + H + map_size(M).

checksum_list(Items) ->
    lists:foldl(fun(It, Acc) -> (Acc + item_value(It)) rem ?P end, 0, Items).

checksum_array(A) ->
    array:foldl(fun(_, It, Acc) -> (Acc + item_value(It)) rem ?P end, 0, A).

%% Phase 1: fill.
build(N) -> [make_item(I) || I <- lists:seq(0, N - 1)].

%% Phase 2: drop every other item; the checksum of everything phase 1 built.
keep_odd(Items) ->
    Sum = checksum_list(Items),
    {array:from_list(odd(Items)), Sum}.

odd([_, X | Rest]) -> [X | odd(Rest)];
odd(_) -> [].

%% Phase 3: keep allocating.
changed(B, K) when is_binary(B) -> <<B/binary, (integer_to_binary(K))/binary>>;
changed(T, K) when is_tuple(T) -> erlang:append_element(T, K);
changed(M, K) -> M#{z => K}.

next_rand(X) -> X * 48271 rem 2147483647.

run_ops(V, Ops) -> run_ops(0, Ops, V, array:size(V), 7, 0).

run_ops(K, Ops, V, N, R, Acc) when K < Ops ->
    R2 = next_rand(R),
    J = R2 rem N,
    D = changed(array:get(J, V), K),
    S = lists:sum(lists:seq(K, K + 15)),
    Acc2 = (Acc + item_value(D) + S) rem ?P,
    case K rem 100 of
        0 -> run_ops(K + 1, Ops, array:set(J, make_item(2 * J + 1 + 3 * K), V), N, R2, Acc2);
        _ -> run_ops(K + 1, Ops, V, N, R2, Acc2)
    end;
run_ops(_, _, V, _, _, Acc) -> {V, Acc}.
