"""The Redis gate: where the rush is decided, one atomic script call per attempt.

- `admission`: the hot path. `admit` runs admit.lua on this thread's own line (`hotline`),
  and the sold-out memo answers without Redis once a sale is gone.
- `keys`: every key of a sale's gate, its tickets and the Lua scripts in `lua/`.
- `ops`: off the hot path: loading a gate, adding holders, releasing and adjusting units.
- `lifecycle`: the database side of a gate: what to load, and rebuilding it after a loss.

Nothing here writes orders; the pipeline (`sales.pipeline`) turns tickets into them.
"""
