%% A counting loop, the peer of bench/programs/loop.iv: sums 0 .. N-1, N
%% from the first argument (default 10^8: prints 4999999950000000), by a
%% tail-recursive function with an accumulator (Erlang's loop).
%% Run: erlc -o DIR loop.erl &&
%%      erl -noshell -pa DIR -s loop main 100000000 -s erlang halt
-module(loop).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = case Args of
            [A | _] when is_atom(A) -> list_to_integer(atom_to_list(A));
            [A | _] -> list_to_integer(A);
            [] -> 100000000
        end,
    io:format("~b~n", [sum(0, N, 0)]).

sum(I, N, Sum) when I < N -> sum(I + 1, N, Sum + I);
sum(_, _, Sum) -> Sum.
