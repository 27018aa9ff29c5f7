%% Naive recursive Fibonacci, the peer of bench/programs/fib.iv: prints
%% fib(N), N from the first argument (default 30: prints 832040).
%% Run: erlc -o DIR fib.erl &&
%%      erl -noshell -pa DIR -s fib main 30 -s erlang halt
%% (erlang:halt flushes output; `-s init stop` idles about 1 s more.)
-module(fib).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = case Args of
            [A | _] when is_atom(A) -> list_to_integer(atom_to_list(A));
            [A | _] -> list_to_integer(A);
            [] -> 30
        end,
    io:format("~b~n", [fib(N)]).

fib(N) when N < 2 -> N;
fib(N) -> fib(N - 1) + fib(N - 2).
