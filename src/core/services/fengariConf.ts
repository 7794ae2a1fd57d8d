/**
 * fengari's settings, read from the environment when it is first loaded (its luaconf.js):
 * integral floats print without ".0", as in the Lua 5.1 that Redis runs, so that a
 * millisecond timestamp (beyond fengari's 32-bit integers) concatenates as Redis would.
 * Imported before fengari (redisLua.ts); it touches this one setting only.
 */
process.env['FENGARICONF'] = JSON.stringify({ ...(process.env['FENGARICONF'] !== undefined ? (JSON.parse(process.env['FENGARICONF']) as object) : {}), LUA_COMPAT_FLOATSTRING: true });
