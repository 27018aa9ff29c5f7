%% Issue 8's parallel workload in Erlang, the peer of
%% bench/programs/parallel.iv (same arguments, same stdout, the same
%% "# name value" timing line, here on stderr):
%%
%%   parallel [P N]     (defaults 8 33) P processes each compute a naive,
%%                      doubly recursive fib(N): pure CPU work, no messages
%%                      until the answers. The main process spawns them all
%%                      and receives their {Pid, Answer} in spawn order.
%%                      stdout: "parallel P N", then the sum of the P
%%                      answers (= P * fib(N))
%%                      stderr: # parallel_ms (wall time from the first
%%                      spawn to the last answer)
%%
%% Run (+S S:S sets the scheduler threads, one per core by default):
%%   erlc -o DIR bench/peers/erlang/parallel.erl
%%   erl +S 1:1 -noshell -pa DIR -s parallel main 8 33 -s erlang halt
%%   erl +S 2:2 -noshell -pa DIR -s parallel main 8 33 -s erlang halt
-module(parallel).
-export([main/0, main/1]).

main() -> main([]).

main(Args0) ->
    Args = [if is_atom(A) -> atom_to_list(A); true -> A end || A <- Args0],
    [P, N] = ints(Args, [8, 33]),
    Main = self(),
    T0 = erlang:monotonic_time(nanosecond),
    Pids = [spawn(fun() -> Main ! {self(), fib(N)} end) || _ <- lists:seq(1, P)],
    Answers = [receive {Pid, F} -> F end || Pid <- Pids],
    T1 = erlang:monotonic_time(nanosecond),
    io:format("parallel ~b ~b~n~b~n", [P, N, lists:sum(Answers)]),
    io:format(standard_error, "# parallel_ms ~.3f~n", [(T1 - T0) / 1.0e6]).

%% The given arguments as integers, the defaults for those missing.
ints([A | As], [_ | Ds]) -> [list_to_integer(A) | ints(As, Ds)];
ints([], Ds) -> Ds.

fib(N) when N < 2 -> N;
fib(N) -> fib(N - 1) + fib(N - 2).
