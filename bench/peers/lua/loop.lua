-- A counting loop, the peer of bench/programs/loop.iv: sums 0 .. N-1, N
-- from the first argument (default 10^8: prints 4999999950000000). Written
-- as a Lua programmer would, with a numeric for (one FORLOOP instruction
-- per iteration).
--   lua5.4 bench/peers/lua/loop.lua [N]
--   luajit [-joff] bench/peers/lua/loop.lua [N]
-- Under LuaJIT numbers are doubles: the sum is exact up to 2^53, which the
-- default's 4999999950000000 is below; %d prints it without an exponent.
local n = tonumber(arg and arg[1]) or 100000000
local sum = 0
for i = 0, n - 1 do
  sum = sum + i
end
print(string.format("%d", sum))
