-- Issue 6's process benchmarks in Lua, with coroutines (Lua's lightweight
-- concurrency: cooperative, one OS thread), the peer of
-- bench/programs/procs.iv for two of its benchmarks (same arguments, same
-- stdout, the same "# name value" timing lines, here on stderr as the
-- Erlang peer's). One benchmark per run:
--
--   spawn N        (default 100000) create N coroutines that each wait for
--                  a message (a coroutine is suspended from its creation
--                  until its first resume, so a created one is already
--                  waiting; its first resume passes it the message); time
--                  the creation loop, measure the Lua heap's growth, then
--                  stop them all (resume each with "stop": it returns) and
--                  check that every one has ended (status "dead").
--                  stdout: "spawned N"
--                  stderr: # spawn_us_per_process, # allocated_per_process
--                  (growth of collectgarbage("count"), the Lua heap, over
--                  the loop, divided by N), # stop_us_per_process
--   ring N HOPS    (defaults 10000 1000000) a ring of N coroutines; an
--                  integer token goes round it, incremented at each hop,
--                  until HOPS hops. Coroutines cannot resume one another in
--                  a ring (a coroutine that resumed another is not
--                  resumable until that one yields back), so the main
--                  program is the scheduler, the usual Lua way: a node
--                  yields what it sends, and the main loop resumes the next
--                  node with it (one resume and one yield per hop). The
--                  node that receives the token after HOPS hops yields it
--                  to the main program as done.
--                  stdout: "ring N HOPS", then the final token (= HOPS)
--                  stderr: # ring_msgs_per_sec
--
-- Other benchmarks of procs.iv (bigmsg, spawnmap, fork) have no Lua peer:
-- the program prints a usage line on stderr and exits with status 2.
-- Times come from os.clock(), the process's CPU time: standard Lua has no
-- finer wall clock, and this is single-threaded CPU work, so the two agree.
--   lua5.4 bench/peers/lua/procs.lua ring 10000 1000000
--   luajit [-joff] bench/peers/lua/procs.lua spawn 100000

local clock = os.clock
local create, resume, status, yield = coroutine.create, coroutine.resume,
  coroutine.status, coroutine.yield

local function report(name, value)
  io.stderr:write(string.format("# %s %.3f\n", name, value))
end

-- Argument i (after the benchmark's name) as an integer, default when it
-- is missing.
local function arg_int(i, default)
  local a = arg[i + 1]
  if a == nil then return default end
  local v = math.tointeger and math.tointeger(tonumber(a)) or tonumber(a)
  if v == nil then error("not an integer: " .. a) end
  return v
end

-- ---- spawn N ---------------------------------------------------------------

-- Waits for one message (its first resume) and ends on "stop".
local function waiter(msg)
  while msg ~= "stop" do msg = yield() end
end

local function spawn_bench(n)
  collectgarbage()
  collectgarbage()
  local m0 = collectgarbage("count")
  local t0 = clock()
  local cos = {}
  for i = 1, n do cos[i] = create(waiter) end
  local t1 = clock()
  local m1 = collectgarbage("count")
  local t2 = clock()
  for i = 1, n do resume(cos[i], "stop") end
  local ended = 0
  for i = 1, n do
    if status(cos[i]) == "dead" then ended = ended + 1 end
  end
  local t3 = clock()
  if ended ~= n then error(string.format("%d of %d coroutines ended", ended, n)) end
  print(string.format("spawned %d", n))
  io.stdout:flush()
  report("spawn_us_per_process", (t1 - t0) * 1e6 / math.max(n, 1))
  report("allocated_per_process", (m1 - m0) * 1024 / math.max(n, 1))
  report("stop_us_per_process", (t3 - t2) * 1e6 / math.max(n, 1))
end

-- ---- ring N HOPS -----------------------------------------------------------

local DONE = {}

-- A node passes the token on (yields it, incremented, for the next node)
-- until it has made hops hops; the node that receives it then yields it to
-- the main program as done.
local function ring_node(hops)
  return create(function(t)
    while true do
      if t == hops then
        t = yield(DONE, t)
      else
        t = yield(t + 1)
      end
    end
  end)
end

local function ring(n, hops)
  local nodes = {}
  for i = 1, n do nodes[i] = ring_node(hops) end
  local t0 = clock()
  local i, token, ok, done = 1, 0, nil, nil
  while true do
    ok, token, done = resume(nodes[i], token)
    if not ok then error(token) end
    if token == DONE then token = done; break end
    i = i % n + 1
  end
  local t1 = clock()
  print(string.format("ring %d %d", n, hops))
  print(string.format("%d", token))
  io.stdout:flush()
  report("ring_msgs_per_sec", hops / math.max(t1 - t0, 1e-9))
end

-- ---- main ------------------------------------------------------------------

local bench = arg[1]
if bench == "spawn" then
  spawn_bench(arg_int(1, 100000))
elseif bench == "ring" then
  ring(arg_int(1, 10000), arg_int(2, 1000000))
else
  io.stderr:write("usage: procs.lua spawn [N] | ring [N HOPS]"
                  .. " (bigmsg, spawnmap and fork have no Lua peer)\n")
  os.exit(2)
end
