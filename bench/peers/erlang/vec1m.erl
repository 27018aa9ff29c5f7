%% Issue 4's vector benchmark in Erlang, the peer of bench/programs/vec1m.iv:
%% build an N-element array by setting index I for I from 0 to N-1 (each set
%% a new version, as ivm's conj is) and sum it with array:foldl. N from the
%% first argument (default 1000000: prints "1000000 499999500000") on
%% stdout, and the time of that work, measured inside the VM with timer:tc,
%% on stderr.
%%
%% Why the array module: it is Erlang's persistent, indexable, growable
%% vector (a tree of tuples, as ivm's vector is a trie of nodes), so
%% growing it one element at a time does the same kind of work as ivm's
%% conj: copy a path, keep the rest shared. The other idiom, consing a list
%% ([I | Acc], then lists:sum), is cheaper (one cell per element, nothing
%% copied) but gives a sequence with no indexing, the work ivm's list or
%% Clojure's cons would do, not a vector's.
%% Run: erlc -o DIR vec1m.erl && erl -noshell -pa DIR -s vec1m main [N] -s erlang halt
-module(vec1m).
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
    io:format(standard_error, "erlang vec1m inside (timer:tc): ~.1f ms~n", [Micros / 1000]).

run(N) ->
    V = build(0, N, array:new()),
    {array:size(V), array:foldl(fun(_, X, Acc) -> Acc + X end, 0, V)}.

build(I, N, V) when I < N -> build(I + 1, N, array:set(I, I, V));
build(_, _, V) -> V.
