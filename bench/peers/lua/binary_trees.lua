-- The Benchmarks Game's binary-trees, single-threaded, for Lua 5.4 and
-- LuaJIT (bench/programs/binary_trees.iv is the ivm version; same output).
-- A node is a table {left, right}; a leaf is a new empty table, so every
-- node is an allocation. Depth from the first argument (default 10).
--   lua5.4 bench/peers/lua/binary_trees.lua 16
--   luajit -joff bench/peers/lua/binary_trees.lua 16
local function make_tree(depth)
  if depth > 0 then
    depth = depth - 1
    return { make_tree(depth), make_tree(depth) }
  else
    return {}
  end
end

local function check(tree)
  local left = tree[1]
  if left then
    return 1 + check(left) + check(tree[2])
  else
    return 1
  end
end

local min_depth = 4
local max_depth = math.max(min_depth + 2, tonumber(arg and arg[1]) or 10)
local write, format = io.write, string.format

local stretch = max_depth + 1
write(format("stretch tree of depth %d\t check: %d\n", stretch, check(make_tree(stretch))))

local long_lived = make_tree(max_depth)

for depth = min_depth, max_depth, 2 do
  local iterations = math.floor(2 ^ (max_depth - depth + min_depth))
  local sum = 0
  for _ = 1, iterations do
    sum = sum + check(make_tree(depth))
  end
  write(format("%d\t trees of depth %d\t check: %d\n", iterations, depth, sum))
end

write(format("long lived tree of depth %d\t check: %d\n", max_depth, check(long_lived)))
