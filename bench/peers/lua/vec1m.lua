-- Issue 4's vector benchmark, mutable baseline, the peer of
-- bench/programs/vec1m.iv: build an N-element Lua table by appending (in
-- place) and sum it. N from the first argument (default 1000000: prints
-- "1000000 499999500000").
--   lua5.4 bench/peers/lua/vec1m.lua [N]
--   luajit [-joff] bench/peers/lua/vec1m.lua [N]
local n = tonumber(arg and arg[1]) or 1000000
local t = {}
for i = 0, n - 1 do
  t[#t + 1] = i
end
local sum = 0
for i = 1, #t do
  sum = sum + t[i]
end
print(string.format("%d %d", #t, sum))
