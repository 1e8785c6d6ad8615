-- bench/wrk/common.lua: helpers shared by the issue-4 wrk scripts
-- (bench/issue4.sh). Keys are "k0" .. "k9999"; a value is a JSON string
-- of 98 characters, so the stored value is exactly 100 bytes.
local M = {}

M.keys = tonumber(os.getenv("KEYS") or "10000")
M.store = os.getenv("STORE") or "statestore"
M.value = '"' .. string.rep("v", 98) .. '"'

local seeded = false

-- key returns a uniformly random key name.
function M.key()
  if not seeded then
    -- each wrk thread has its own Lua state; seed it differently
    math.randomseed(os.time() + math.floor(os.clock() * 1e6) + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
    seeded = true
  end
  return "k" .. math.random(0, M.keys - 1)
end

return M
