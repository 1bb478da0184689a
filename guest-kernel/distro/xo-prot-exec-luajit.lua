-- LuaJIT's trace compiler writes machine code at run time (mcode areas,
-- mprotect'ed to PROT_READ|PROT_EXEC): a hot loop must be compiled to a
-- trace and give the interpreter's result. TAP.
local jit = require("jit")
local util = require("jit.util")
local results = {}
local function check(ok, desc) results[#results + 1] = { ok, desc } end

local function work(n)
	local s = 0
	for i = 1, n do s = (s + i * i) % 1000003 end
	return s
end
check(jit.status(), "the JIT is on (" .. jit.version .. ", " .. jit.arch .. ")")
jit.off(work, true)
local interpreted = work(200000)
jit.on(work, true)
jit.flush()
local compiled = work(200000)
check(util.traceinfo(1) ~= nil, "the hot loop was compiled to a trace")
check(compiled == interpreted, "the trace computes what the interpreter does (" .. compiled .. ")")

print("TAP version 13")
print("1.." .. #results)
local bad = 0
for i, r in ipairs(results) do
	print((r[1] and "ok " or "not ok ") .. i .. " " .. r[2])
	if not r[1] then bad = bad + 1 end
end
os.exit(bad == 0 and 0 or 1)
