-- A counting loop, the same work as examples/count.ivs: sums 0 .. 10^8 - 1
-- and prints 4999999950000000. Written as a Lua programmer would, with a
-- numeric for (one FORLOOP instruction per iteration).
local sum = 0
for i = 0, 100000000 - 1 do
  sum = sum + i
end
print(sum)
