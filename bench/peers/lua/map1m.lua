-- Issue 4's map benchmark, mutable baseline, the peer of
-- bench/programs/map1m.iv: put N integer keys into a Lua table one at a
-- time (in place: a table is Lua's map), then look each key up once and
-- sum the values. N from the first argument (default 1000000: prints
-- "1000000 499999500000"). The keys start at 0, as ivm's do, so the table
-- holds key 0 in its hash part and the rest in its array part.
--   lua5.4 bench/peers/lua/map1m.lua [N]
--   luajit [-joff] bench/peers/lua/map1m.lua [N]
local n = tonumber(arg and arg[1]) or 1000000
local m = {}
local count = 0
for i = 0, n - 1 do
  if m[i] == nil then count = count + 1 end
  m[i] = i
end
local sum = 0
for i = 0, n - 1 do
  sum = sum + m[i]
end
print(string.format("%d %d", count, sum))
