-- Prepended, after common.lua, to the batch scripts that run a single-message script for each
-- message (see queue/batch.rs): the single script, wrapped as `one(KEYS, ARGV)` (whose
-- parameters shadow the globals), runs for each message in order, so every message is checked
-- and changed exactly as by its own call. Only the counters are written once at the end
-- instead of after every message: the script is atomic, so nobody sees the difference, and no
-- message of a batch goes back from a final state to an open one, so a campaign complete after
-- some message of the batch is complete at its end.
local apply_batch_deltas = apply_deltas
local function apply_deltas(_) end
