%% The Benchmarks Game's n-body, in one process (bench/programs/nbody.iv is
%% the ivm version; same output, the arithmetic the Lua reference's, operation
%% for operation). Immutable like ivm's: a body is a tuple
%% {X, Y, Z, VX, VY, VZ, Mass}, the system a list of bodies rebuilt each step.
%% Steps from the first argument (default 1000).
%% Run: erlc -o DIR nbody.erl &&
%%      erl -noshell -pa DIR -s nbody main 1000 -s erlang halt
-module(nbody).
-export([main/0, main/1]).

-define(PI, 3.141592653589793).
-define(SOLAR_MASS, (4 * ?PI * ?PI)).
-define(DAYS_PER_YEAR, 365.24).

main() -> main([]).

main(Args) ->
    N = case Args of
            [A | _] when is_atom(A) -> list_to_integer(atom_to_list(A));
            [A | _] -> list_to_integer(A);
            [] -> 1000
        end,
    Bodies = offset_momentum(bodies()),
    io:format("~.9f~n", [energy(Bodies)]),
    io:format("~.9f~n", [energy(steps(N, Bodies))]).

body(X, Y, Z, VX, VY, VZ, Mass) ->
    {X, Y, Z, VX * ?DAYS_PER_YEAR, VY * ?DAYS_PER_YEAR, VZ * ?DAYS_PER_YEAR,
     Mass * ?SOLAR_MASS}.

bodies() ->
    [body(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0), % sun
     body(4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
          1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05,
          9.54791938424326609e-04), % jupiter
     body(8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
          -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05,
          2.85885980666130812e-04), % saturn
     body(1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
          2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05,
          4.36624404335156298e-05), % uranus
     body(1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
          2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05,
          5.15138902046611451e-05)]. % neptune

offset_momentum([{X, Y, Z, _, _, _, M} | _] = Bodies) ->
    {PX, PY, PZ} = lists:foldl(fun({_, _, _, VX, VY, VZ, Mi}, {PX, PY, PZ}) ->
                                       {PX + VX * Mi, PY + VY * Mi, PZ + VZ * Mi}
                               end, {0.0, 0.0, 0.0}, Bodies),
    [{X, Y, Z, -PX / ?SOLAR_MASS, -PY / ?SOLAR_MASS, -PZ / ?SOLAR_MASS, M} | tl(Bodies)].

energy([]) -> 0.0;
energy(Bodies) -> energy(Bodies, 0.0).

energy([], E) -> E;
energy([{X, Y, Z, VX, VY, VZ, M} | Rest], E0) ->
    E1 = E0 + 0.5 * M * (VX * VX + VY * VY + VZ * VZ),
    E2 = lists:foldl(fun({Xj, Yj, Zj, _, _, _, Mj}, E) ->
                             DX = X - Xj, DY = Y - Yj, DZ = Z - Zj,
                             E - (M * Mj) / math:sqrt(DX * DX + DY * DY + DZ * DZ)
                     end, E1, Rest),
    energy(Rest, E2).

steps(0, Bodies) -> Bodies;
steps(N, Bodies) -> steps(N - 1, advance(Bodies, 0.01)).

%% Body B's velocity goes through its pairs with every body after it (each
%% of those gets its new velocity), then B moves.
advance([], _Dt) -> [];
advance([B | Rest], Dt) ->
    {{X, Y, Z, VX, VY, VZ, M}, Rest1} = interact(B, Rest, Dt, []),
    [{X + Dt * VX, Y + Dt * VY, Z + Dt * VZ, VX, VY, VZ, M} | advance(Rest1, Dt)].

interact(B, [], _Dt, Acc) -> {B, lists:reverse(Acc)};
interact({X, Y, Z, VX, VY, VZ, M}, [{Xj, Yj, Zj, VXj, VYj, VZj, Mj} | Rest], Dt, Acc) ->
    DX = X - Xj, DY = Y - Yj, DZ = Z - Zj,
    D2 = DX * DX + DY * DY + DZ * DZ,
    Mag = Dt / (math:sqrt(D2) * D2),
    BM = Mj * Mag,
    BMi = M * Mag,
    interact({X, Y, Z, VX - DX * BM, VY - DY * BM, VZ - DZ * BM, M}, Rest, Dt,
             [{Xj, Yj, Zj, VXj + DX * BMi, VYj + DY * BMi, VZj + DZ * BMi, Mj} | Acc]).
