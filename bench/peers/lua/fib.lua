-- Naive recursive Fibonacci, the peer of bench/programs/fib.iv: prints
-- fib(N), N from the first argument (default 30: prints 832040).
--   lua5.4 bench/peers/lua/fib.lua [N]
--   luajit [-joff] bench/peers/lua/fib.lua [N]
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end
local n = tonumber(arg and arg[1]) or 30
print(fib(n))
