%% Issue 6's process benchmarks in Erlang, the peer of
%% bench/programs/procs.iv (same arguments, same stdout, the same
%% "# name value" timing lines, here on stderr). One benchmark per run:
%%
%%   spawn N            (default 100000) spawn N processes that each wait in
%%                      receive; time the spawn loop, measure memory per
%%                      process, then stop them all and wait until every one
%%                      has exited (monitors).
%%                      stdout: "spawned N"
%%                      stderr: # spawn_us_per_process, # bytes_per_process
%%                      (erlang:memory(processes) growth over the loop, less
%%                      the spawning process's own growth, divided by N),
%%                      # process_info_memory (process_info(Pid, memory) of
%%                      one waiting process), # stop_us_per_process
%%   ring N HOPS        (defaults 10000 1000000) a ring of N processes; an
%%                      integer token goes round it, incremented at each hop
%%                      (one send to the next process), until HOPS hops.
%%                      stdout: "ring N HOPS", then the final token (= HOPS)
%%                      stderr: # ring_msgs_per_sec
%%   bigmsg SIZE TRIPS  (defaults 1000000 100) a map of SIZE integer keys
%%                      (K => K, K from 1 to SIZE) goes to an echo process and
%%                      back TRIPS times (Erlang copies it at every send).
%%                      stdout: "bigmsg SIZE TRIPS", then maps:size of the map
%%                      that came back last
%%                      stderr: # bigmsg_us_per_round_trip, # map_bytes
%%   spawnmap SIZE N    (defaults 1000000 1000) N times, one after another:
%%                      spawn a fun that captures the SIZE map, reads key 1
%%                      and sends the value back (spawn copies the captured
%%                      map into the new process's heap); then the same with
%%                      a fun that captures only the parent's pid.
%%                      stdout: "spawnmap SIZE N", then the sum of the
%%                      capturing funs' replies (= N)
%%                      stderr: # spawn_capturing_map_us, # spawn_fresh_us
%%                      (per spawn + reply), # map_bytes
%% Times are wall time between erlang:monotonic_time readings inside the VM;
%% building the map is not timed. # map_bytes (erts_debug:flat_size, in
%% bytes) and # process_info_memory have no ivm counterpart.
%%
%% Run (+S S:S sets the scheduler threads, one per core by default):
%%   erlc -o DIR bench/peers/erlang/procs.erl
%%   erl +S 1:1 -noshell -pa DIR -s procs main ring 10000 1000000 -s erlang halt
%%   erl +S 2:2 -noshell -pa DIR -s procs main ring 10000 1000000 -s erlang halt
%% (-run procs main ARGS works too. erlang:halt flushes output; `-s init
%% stop` idles about 1 s more.) The default process limit, 262144, allows
%% spawn 100000; for more, add +P with a larger limit, e.g. +P 2000000.
-module(procs).
-export([main/0, main/1]).

main() -> main([]).

main(Args0) ->
    Args = [if is_atom(A) -> atom_to_list(A); true -> A end || A <- Args0],
    case Args of
        ["spawn" | R] -> [N] = ints(R, [100000]), spawn_bench(N);
        ["ring" | R] -> [N, Hops] = ints(R, [10000, 1000000]), ring(N, Hops);
        ["bigmsg" | R] -> [Size, Trips] = ints(R, [1000000, 100]), bigmsg(Size, Trips);
        ["spawnmap" | R] -> [Size, N] = ints(R, [1000000, 1000]), spawnmap(Size, N);
        _ ->
            io:format(standard_error,
                      "usage: procs spawn [N] | ring [N HOPS] | bigmsg [SIZE TRIPS]"
                      " | spawnmap [SIZE N]~n", []),
            erlang:halt(2)
    end.

%% The given arguments as integers, the defaults for those missing.
ints([A | As], [_ | Ds]) -> [list_to_integer(A) | ints(As, Ds)];
ints([], Ds) -> Ds.

now_ns() -> erlang:monotonic_time(nanosecond).

report(Name, Value) ->
    io:format(standard_error, "# ~s ~.3f~n", [Name, float(Value)]).

%% ---- spawn N ----------------------------------------------------------

spawn_bench(N) ->
    erlang:garbage_collect(),
    {memory, Self0} = process_info(self(), memory),
    M0 = erlang:memory(processes),
    T0 = now_ns(),
    Pids = spawn_waiters(N, []),
    T1 = now_ns(),
    M1 = erlang:memory(processes),
    {memory, Self1} = process_info(self(), memory),
    {memory, One} = process_info(hd(Pids), memory),
    %% Stop them all and wait for each one's exit.
    T2 = now_ns(),
    lists:foreach(fun(P) -> erlang:monitor(process, P), P ! stop end, Pids),
    wait_down(N),
    T3 = now_ns(),
    io:format("spawned ~b~n", [N]),
    report("spawn_us_per_process", (T1 - T0) / 1000 / N),
    report("bytes_per_process", (M1 - M0 - (Self1 - Self0)) / N),
    report("process_info_memory", One),
    report("stop_us_per_process", (T3 - T2) / 1000 / N).

spawn_waiters(0, Acc) -> Acc;
spawn_waiters(I, Acc) -> spawn_waiters(I - 1, [spawn(fun waiter/0) | Acc]).

waiter() -> receive stop -> ok end.

wait_down(0) -> ok;
wait_down(I) -> receive {'DOWN', _, process, _, _} -> wait_down(I - 1) end.

%% ---- ring N HOPS ------------------------------------------------------

ring(N, Hops) ->
    Main = self(),
    Pids = [spawn(fun() -> ring_start(Main, Hops) end) || _ <- lists:seq(1, N)],
    lists:foreach(fun({P, Next}) -> P ! {next, Next} end,
                  lists:zip(Pids, tl(Pids) ++ [hd(Pids)])),
    T0 = now_ns(),
    hd(Pids) ! 0,
    Token = receive {done, T} -> T end,
    T1 = now_ns(),
    lists:foreach(fun(P) -> P ! stop end, Pids),
    io:format("ring ~b ~b~n~b~n", [N, Hops, Token]),
    report("ring_msgs_per_sec", Hops / ((T1 - T0) / 1.0e9)).

ring_start(Main, Hops) ->
    receive {next, Next} -> ring_loop(Next, Main, Hops) end.

%% A node passes the token on, one more hop counted, until it has made
%% HOPS hops; the node that receives it then hands it to Main.
ring_loop(Next, Main, Hops) ->
    receive
        Hops -> Main ! {done, Hops}, ring_loop(Next, Main, Hops);
        T when is_integer(T) -> Next ! T + 1, ring_loop(Next, Main, Hops);
        stop -> ok
    end.

%% ---- bigmsg SIZE TRIPS ------------------------------------------------

make_map(Size) -> maps:from_list([{K, K} || K <- lists:seq(1, Size)]).

bigmsg(Size, Trips) ->
    M = make_map(Size),
    Echo = spawn(fun echo/0),
    T0 = now_ns(),
    Back = trips(Trips, Echo, M),
    T1 = now_ns(),
    Echo ! stop,
    io:format("bigmsg ~b ~b~n~b~n", [Size, Trips, maps:size(Back)]),
    report("bigmsg_us_per_round_trip", (T1 - T0) / 1000 / max(Trips, 1)),
    report("map_bytes", erts_debug:flat_size(M) * erlang:system_info(wordsize)).

echo() ->
    receive
        {From, M} -> From ! {self(), M}, echo();
        stop -> ok
    end.

trips(0, _, M) -> M;
trips(I, Echo, M) ->
    Echo ! {self(), M},
    receive {Echo, Back} -> trips(I - 1, Echo, Back) end.

%% ---- spawnmap SIZE N --------------------------------------------------

spawnmap(Size, N) ->
    M = make_map(Size),
    Parent = self(),
    T0 = now_ns(),
    Sum = spawn_capturing(N, M, Parent, 0),
    T1 = now_ns(),
    N = spawn_fresh(N, Parent, 0),
    T2 = now_ns(),
    io:format("spawnmap ~b ~b~n~b~n", [Size, N, Sum]),
    report("spawn_capturing_map_us", (T1 - T0) / 1000 / max(N, 1)),
    report("spawn_fresh_us", (T2 - T1) / 1000 / max(N, 1)),
    report("map_bytes", erts_debug:flat_size(M) * erlang:system_info(wordsize)).

spawn_capturing(0, _, _, Sum) -> Sum;
spawn_capturing(I, M, Parent, Sum) ->
    spawn(fun() -> Parent ! maps:get(1, M) end),
    receive V -> spawn_capturing(I - 1, M, Parent, Sum + V) end.

spawn_fresh(0, _, Sum) -> Sum;
spawn_fresh(I, Parent, Sum) ->
    spawn(fun() -> Parent ! 1 end),
    receive V -> spawn_fresh(I - 1, Parent, Sum + V) end.
