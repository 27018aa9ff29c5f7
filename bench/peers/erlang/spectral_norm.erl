%% The Benchmarks Game's spectral-norm, in one process (bench/programs/
%% spectral_norm.iv is the ivm version; same output). Vectors are tuples of
%% floats, read with element/2 and each product built as a new list then
%% tuple; sums run j = 0, 1, ... from 0.0 as in every peer.
%% n from the first argument (default 100).
%% Run: erlc -o DIR spectral_norm.erl &&
%%      erl -noshell -pa DIR -s spectral_norm main 100 -s erlang halt
-module(spectral_norm).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = case Args of
            [A | _] when is_atom(A) -> list_to_integer(atom_to_list(A));
            [A | _] -> list_to_integer(A);
            [] -> 100
        end,
    {U, V} = power(10, list_to_tuple(lists:duplicate(N, 1.0)), none),
    io:format("~.9f~n", [math:sqrt(dot(U, V) / dot(V, V))]).

power(0, U, V) -> {U, V};
power(K, U, _) ->
    V = mul_atav(U),
    power(K - 1, mul_atav(V), V).

%% a(i, j) for 0-based i and j.
a(I, J) -> 1.0 / ((I + J) * (I + J + 1) div 2 + I + 1).

mul_av(U) ->
    N = tuple_size(U),
    list_to_tuple([row(I, 0, N, U, 0.0) || I <- lists:seq(0, N - 1)]).

mul_atv(U) ->
    N = tuple_size(U),
    list_to_tuple([col(I, 0, N, U, 0.0) || I <- lists:seq(0, N - 1)]).

mul_atav(U) -> mul_atv(mul_av(U)).

row(_, N, N, _, Sum) -> Sum;
row(I, J, N, U, Sum) -> row(I, J + 1, N, U, Sum + a(I, J) * element(J + 1, U)).

col(_, N, N, _, Sum) -> Sum;
col(I, J, N, U, Sum) -> col(I, J + 1, N, U, Sum + a(J, I) * element(J + 1, U)).

dot(U, V) -> dot(1, tuple_size(U), U, V, 0.0).

dot(I, N, _, _, Sum) when I > N -> Sum;
dot(I, N, U, V, Sum) -> dot(I + 1, N, U, V, Sum + element(I, U) * element(I, V)).
