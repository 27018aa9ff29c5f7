%% The Benchmarks Game's binary-trees, in one process (the Game's Erlang
%% programs spawn a process per depth; ivm runs one thread, so this one does
%% not). bench/programs/binary_trees.iv is the ivm version; same output.
%% A node is a tuple {Left, Right}; a leaf is {nil, nil}, built by leaf/1 so
%% that each leaf is a new tuple like every other node: a literal {nil, nil}
%% would be one constant shared by all leaves, half the allocations. leaf/1
%% is exported so that the compiler cannot know its argument and fold the
%% tuple into that constant (it does for a local function).
%% Depth from the first argument (default 10).
%% Run: erlc -o DIR binary_trees.erl &&
%%      erl -noshell -pa DIR -s binary_trees main 16 -s erlang halt
%% (erlang:halt flushes output; `-s init stop` idles about 1 s more.)
-module(binary_trees).
-export([main/0, main/1, leaf/1]).

-define(MIN_DEPTH, 4).

main() -> main([]).

main(Args) ->
    N = case Args of
            [A | _] when is_atom(A) -> list_to_integer(atom_to_list(A));
            [A | _] -> list_to_integer(A);
            [] -> 10
        end,
    MaxDepth = max(?MIN_DEPTH + 2, N),
    Stretch = MaxDepth + 1,
    io:format("stretch tree of depth ~b\t check: ~b~n", [Stretch, check(make(Stretch))]),
    LongLived = make(MaxDepth),
    depths(?MIN_DEPTH, MaxDepth),
    io:format("long lived tree of depth ~b\t check: ~b~n", [MaxDepth, check(LongLived)]).

depths(D, MaxDepth) when D =< MaxDepth ->
    Iterations = 1 bsl (MaxDepth - D + ?MIN_DEPTH),
    io:format("~b\t trees of depth ~b\t check: ~b~n", [Iterations, D, check_many(Iterations, D, 0)]),
    depths(D + 2, MaxDepth);
depths(_, _) -> ok.

check_many(0, _, Sum) -> Sum;
check_many(I, D, Sum) -> check_many(I - 1, D, Sum + check(make(D))).

make(0) -> leaf(nil);
make(D) -> {make(D - 1), make(D - 1)}.

leaf(Nil) -> {Nil, Nil}.

check({nil, _}) -> 1;
check({L, R}) -> 1 + check(L) + check(R).
