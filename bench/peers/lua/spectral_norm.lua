-- The Benchmarks Game's spectral-norm, for Lua 5.4 and LuaJIT (after the
-- Game's Lua program; bench/programs/spectral_norm.iv is the ivm version,
-- same output). Vectors are arrays, each product written into a reused one.
-- n from the first argument (default 100).
--   lua5.4 bench/peers/lua/spectral_norm.lua 100
--   luajit -joff bench/peers/lua/spectral_norm.lua 100

-- a(i, j) for 1-based i and j: 1/((i+j-2)(i+j-1)/2 + i).
local function A(i, j)
  local ij = i + j - 1
  return 1.0 / (ij * (ij - 1) * 0.5 + i)
end

local function Av(x, y, N)
  for i = 1, N do
    local a = 0.0
    for j = 1, N do a = a + x[j] * A(i, j) end
    y[i] = a
  end
end

local function Atv(x, y, N)
  for i = 1, N do
    local a = 0.0
    for j = 1, N do a = a + x[j] * A(j, i) end
    y[i] = a
  end
end

local function AtAv(x, y, t, N)
  Av(x, t, N)
  Atv(t, y, N)
end

local N = tonumber(arg and arg[1]) or 100
local u, v, t = {}, {}, {}
for i = 1, N do u[i] = 1.0 end

for _ = 1, 10 do
  AtAv(u, v, t, N)
  AtAv(v, u, t, N)
end

local vBv, vv = 0.0, 0.0
for i = 1, N do
  local ui, vi = u[i], v[i]
  vBv = vBv + ui * vi
  vv = vv + vi * vi
end
io.write(string.format("%0.9f\n", math.sqrt(vBv / vv)))
