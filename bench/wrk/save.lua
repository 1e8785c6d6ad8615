-- single-item durable save: POST /v1.0/state/statestore with one item,
-- random key, 100-byte value (the reply follows the fsync).
package.path = (os.getenv("WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local path = "/v1.0/state/" .. c.store
local headers = { ["Content-Type"] = "application/json" }

request = function()
  local body = '[{"key":"' .. c.key() .. '","value":' .. c.value .. '}]'
  return wrk.format("POST", path, headers, body)
end
