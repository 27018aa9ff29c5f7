-- Issue 4's vector benchmark, mutable baseline: build a 1,000,000-element
-- Lua table by appending (in place) and sum it. Prints "1000000 499999500000".
local n = 1000000
local t = {}
for i = 0, n - 1 do
  t[#t + 1] = i
end
local sum = 0
for i = 1, #t do
  sum = sum + t[i]
end
print(#t .. " " .. sum)
