%% The Benchmarks Game's fannkuch-redux, in one process (bench/programs/
%% fannkuch_redux.iv is the ivm version; same output). Immutable like ivm's:
%% a permutation is a list, each flip and rotation a new one, in the
%% reference's order (rotate the first R+1 elements left, with a counter per
%% R saying how many rotations are left before R moves on).
%% n from the first argument (default 7).
%% Run: erlc -o DIR fannkuch_redux.erl &&
%%      erl -noshell -pa DIR -s fannkuch_redux main 7 -s erlang halt
-module(fannkuch_redux).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = case Args of
            [A | _] when is_atom(A) -> list_to_integer(atom_to_list(A));
            [A | _] -> list_to_integer(A);
            [] -> 7
        end,
    {Checksum, MaxFlips} = fannkuch(N),
    io:format("~b~nPfannkuchen(~b) = ~b~n", [Checksum, N, MaxFlips]).

%% Counts is a tuple: element R+1 is the counter of R (0-based).
fannkuch(N) ->
    loop(lists:seq(0, N - 1), erlang:make_tuple(N, 0), N, N, 0, 0, 0).

loop(Perm, Counts0, R0, N, PermCount, Checksum0, Max0) ->
    {Counts, R} = reset(Counts0, R0),
    Flips = flips(Perm, 0),
    Checksum = case PermCount band 1 of
                   0 -> Checksum0 + Flips;
                   1 -> Checksum0 - Flips
               end,
    Max = max(Max0, Flips),
    case next(Perm, Counts, R, N) of
        done -> {Checksum, Max};
        {Perm1, Counts1, R1} -> loop(Perm1, Counts1, R1, N, PermCount + 1, Checksum, Max)
    end.

reset(Counts, 1) -> {Counts, 1};
reset(Counts, R) -> reset(setelement(R, Counts, R), R - 1).

flips([0 | _], Flips) -> Flips;
flips([K | _] = Perm, Flips) ->
    {Prefix, Rest} = lists:split(K + 1, Perm),
    flips(lists:reverse(Prefix, Rest), Flips + 1).

next(_, _, N, N) -> done;
next([First | Tail], Counts, R, N) ->
    {Prefix, Rest} = lists:split(R, Tail),
    Perm = Prefix ++ [First | Rest],
    C = element(R + 1, Counts) - 1,
    Counts1 = setelement(R + 1, Counts, C),
    if C > 0 -> {Perm, Counts1, R};
       true -> next(Perm, Counts1, R + 1, N)
    end.
