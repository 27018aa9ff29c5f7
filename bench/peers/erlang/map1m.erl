%% Issue 4's map benchmark in Erlang, the peer of bench/programs/map1m.iv:
%% build a map of N integer keys one put at a time (maps are persistent, as
%% ivm's are), then look each key up once and sum the values. N from the
%% first argument (default 1000000: prints "1000000 499999500000") on
%% stdout, and the time of that work, measured inside the VM with timer:tc,
%% on stderr.
%% Run: erlc -o DIR map1m.erl && erl -noshell -pa DIR -s map1m main [N] -s erlang halt
%% (erlang:halt flushes output; `-s init stop`, an orderly shutdown, adds
%% about 1 s of idle wall time on the machine this was written on).
-module(map1m).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = case Args of
            [A | _] when is_atom(A) -> list_to_integer(atom_to_list(A));
            [A | _] -> list_to_integer(A);
            [] -> 1000000
        end,
    {Micros, {Count, Sum}} = timer:tc(fun() -> run(N) end),
    io:format("~b ~b~n", [Count, Sum]),
    io:format(standard_error, "erlang map1m inside (timer:tc): ~.1f ms~n", [Micros / 1000]).

run(N) ->
    M = build(0, N, #{}),
    {map_size(M), sum_lookups(0, N, M, 0)}.

build(I, N, M) when I < N -> build(I + 1, N, M#{I => I});
build(_, _, M) -> M.

sum_lookups(I, N, M, Sum) when I < N ->
    #{I := V} = M,
    sum_lookups(I + 1, N, M, Sum + V);
sum_lookups(_, _, _, Sum) -> Sum.
