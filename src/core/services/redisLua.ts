/**
 * Lua scripts for the in-process Redis stand-in (inProcessRedis.ts), run by fengari, a Lua
 * virtual machine in JavaScript. What a script sees is Redis's scripting environment as far
 * as a lab needs it: KEYS and ARGV, redis.call and redis.pcall (synchronous, on the same
 * data, so a script runs with nothing in between, as in Redis), redis.error_reply and
 * redis.status_reply, cjson.encode and cjson.decode, and the base, string, table and math
 * libraries, with `unpack` as Redis 5.1-era scripts call it. Nothing else: no io, os,
 * package, debug, load or print (a learner's script runs in the grader's process, and must
 * not reach the machine), a limit on the instructions one script may run, and on the size
 * of a string it may build.
 *
 * Values cross as Redis converts them: a Lua number becomes an integer reply (truncated), a
 * string a bulk reply, a table an array (up to its first nil) or, with an `ok` or `err`
 * field, a status or an error; false and nil become nil, true becomes 1. Replies become a
 * number, a string, false (nil), a table, {ok = ...} (status); an error reply raises an
 * error in redis.call and is returned as {err = ...} by redis.pcall.
 */
import { createHash } from 'node:crypto';
import './fengariConf';
import { type LuaState, lauxlib, lua, lualib, to_jsstring, to_luastring } from 'fengari';
import { RespError, type RespValue } from './resp';

/** A script that ran more instructions than this is stopped (Redis's BUSY, without the wait). */
const MAX_INSTRUCTIONS = 20_000_000;
const HOOK_EVERY = 10_000;
/** The longest string a script may build with string.rep. */
const MAX_STRING_BYTES = 16 * 1024 * 1024;

/** The status reply a command returns, told apart from a bulk string. */
export class RespStatus {
  constructor(readonly text: string) {}
}

export type CommandResult = RespValue | RespStatus;

export const sha1 = (script: string): string => createHash('sha1').update(script).digest('hex');

const s = to_luastring;

function luaText(L: LuaState, idx: number): string {
  const bytes = lua.lua_tolstring(L, idx);
  return bytes === null ? '' : to_jsstring(bytes);
}

/** A Lua number as Redis formats a command argument: integers without a point. */
function numberArg(n: number): string {
  return Number.isInteger(n) ? n.toFixed(0) : String(n);
}

/** fengari's integers have 32 bits: a larger one is pushed as a float, exact up to 2^53 (Redis's Lua has only doubles). */
function pushNumber(L: LuaState, n: number): void {
  if (Number.isInteger(n) && Math.abs(n) <= 0x7fffffff) lua.lua_pushinteger(L, n);
  else lua.lua_pushnumber(L, n);
}

/** Pushes a reply as Lua sees it. */
function pushReply(L: LuaState, value: CommandResult): void {
  if (value instanceof RespStatus) {
    lua.lua_createtable(L, 0, 1);
    lua.lua_pushstring(L, s(value.text));
    lua.lua_setfield(L, -2, s('ok'));
  } else if (value instanceof RespError) {
    lua.lua_createtable(L, 0, 1);
    lua.lua_pushstring(L, s(value.message));
    lua.lua_setfield(L, -2, s('err'));
  } else if (value === null) {
    lua.lua_pushboolean(L, false);
  } else if (typeof value === 'number') {
    pushNumber(L, value);
  } else if (typeof value === 'string') {
    lua.lua_pushstring(L, s(value));
  } else {
    lua.lua_createtable(L, value.length, 0);
    value.forEach((v, i) => {
      pushReply(L, v);
      lua.lua_rawseti(L, -2, i + 1);
    });
  }
}

/** The value at `idx` as a reply, by Redis's conversion rules. */
function toReply(L: LuaState, idx: number, depth = 0): CommandResult {
  const type = lua.lua_type(L, idx);
  if (type === lua.LUA_TNUMBER) return Math.trunc(lua.lua_tonumber(L, idx));
  if (type === lua.LUA_TSTRING) return luaText(L, idx);
  if (type === lua.LUA_TBOOLEAN) return lua.lua_toboolean(L, idx) ? 1 : null;
  if (type !== lua.LUA_TTABLE || depth > 100) return null;
  const abs = idx < 0 ? lua.lua_gettop(L) + idx + 1 : idx;
  if (lua.lua_getfield(L, abs, s('err')) === lua.LUA_TSTRING) {
    const message = luaText(L, -1);
    lua.lua_pop(L, 1);
    return new RespError(message);
  }
  lua.lua_pop(L, 1);
  if (lua.lua_getfield(L, abs, s('ok')) === lua.LUA_TSTRING) {
    const text = luaText(L, -1);
    lua.lua_pop(L, 1);
    return new RespStatus(text);
  }
  lua.lua_pop(L, 1);
  const out: RespValue[] = [];
  for (let i = 1; ; i++) {
    if (lua.lua_rawgeti(L, abs, i) === lua.LUA_TNIL) {
      lua.lua_pop(L, 1);
      break;
    }
    const v = toReply(L, -1, depth + 1);
    lua.lua_pop(L, 1);
    out.push(v instanceof RespStatus ? v.text : v);
  }
  return out;
}

/** A Lua value as JSON-able data (cjson.encode). */
function toJson(L: LuaState, idx: number, depth = 0): unknown {
  const type = lua.lua_type(L, idx);
  if (type === lua.LUA_TNUMBER) return lua.lua_tonumber(L, idx);
  if (type === lua.LUA_TSTRING) return luaText(L, idx);
  if (type === lua.LUA_TBOOLEAN) return lua.lua_toboolean(L, idx);
  if (type !== lua.LUA_TTABLE) return null;
  if (depth > 100) throw new Error('Cannot serialise, excessive nesting (101)');
  const abs = idx < 0 ? lua.lua_gettop(L) + idx + 1 : idx;
  const entries: [unknown, unknown][] = [];
  lua.lua_pushnil(L);
  while (lua.lua_next(L, abs)) {
    const key = lua.lua_type(L, -2) === lua.LUA_TNUMBER ? lua.lua_tonumber(L, -2) : luaText(L, -2);
    entries.push([key, toJson(L, -1, depth + 1)]);
    lua.lua_pop(L, 1);
  }
  const n = entries.length;
  if (n > 0 && entries.every(([k]) => typeof k === 'number' && Number.isInteger(k) && k >= 1 && k <= n)) {
    const array: unknown[] = new Array(n);
    for (const [k, v] of entries) array[(k as number) - 1] = v;
    return array;
  }
  return Object.fromEntries(entries.map(([k, v]) => [String(k), v]));
}

function pushJson(L: LuaState, value: unknown): void {
  if (value === null || value === undefined) lua.lua_pushnil(L);
  else if (typeof value === 'boolean') lua.lua_pushboolean(L, value);
  else if (typeof value === 'number') pushNumber(L, value); else if (typeof value === 'string') lua.lua_pushstring(L, s(value));
  else if (Array.isArray(value)) {
    lua.lua_createtable(L, value.length, 0);
    value.forEach((v, i) => {
      pushJson(L, v);
      lua.lua_rawseti(L, -2, i + 1);
    });
  } else {
    const entries = Object.entries(value as Record<string, unknown>);
    lua.lua_createtable(L, 0, entries.length);
    for (const [k, v] of entries) {
      pushJson(L, v);
      lua.lua_setfield(L, -2, s(k));
    }
  }
}

/** Raises a Lua error with `message` (never returns). */
function raise(L: LuaState, message: string): never {
  lua.lua_pushstring(L, s(message));
  return lua.lua_error(L);
}

/** One scripting environment: a Lua state whose redis.call runs commands through `run`. */
export class LuaScripts {
  private readonly L: LuaState;
  private readonly loaded = new Set<string>();
  private run: ((args: string[]) => CommandResult) | undefined;
  private instructions = 0;

  constructor() {
    const L = lauxlib.luaL_newstate();
    this.L = L;
    for (const [name, open] of [
      ['_G', lualib.luaopen_base],
      ['string', lualib.luaopen_string],
      ['table', lualib.luaopen_table],
      ['math', lualib.luaopen_math],
    ] as const) {
      lauxlib.luaL_requiref(L, s(name), open, 1);
      lua.lua_pop(L, 1);
    }
    // Nothing that loads code from files or strings, or writes to the grader's output.
    for (const name of ['dofile', 'loadfile', 'load', 'loadstring', 'print', 'require', 'collectgarbage']) {
      lua.lua_pushnil(L);
      lua.lua_setglobal(L, s(name));
    }
    lua.lua_getglobal(L, s('table'));
    lua.lua_getfield(L, -1, s('unpack'));
    lua.lua_setglobal(L, s('unpack'));
    lua.lua_pop(L, 1);
    // string.rep within a bound.
    lua.lua_getglobal(L, s('string'));
    lua.lua_pushjsfunction(L, (L2) => {
      const text = luaText(L2, 1);
      const times = Math.max(0, Math.floor(lua.lua_tonumber(L2, 2)));
      const sep = lua.lua_gettop(L2) >= 3 ? luaText(L2, 3) : '';
      if (text.length * times + sep.length * Math.max(0, times - 1) > MAX_STRING_BYTES) raise(L2, 'string.rep: the string would be too long for the in-process Redis stand-in');
      lua.lua_pushstring(L2, s(Array.from({ length: times }, () => text).join(sep)));
      return 1;
    });
    lua.lua_setfield(L, -2, s('rep'));
    lua.lua_pop(L, 1);
    this.installFormat();
    this.installRedis();
    this.installCjson();
    lua.lua_createtable(L, 0, 0);
    lua.lua_setglobal(L, s('__scripts'));
  }

  /**
   * string.format as Lua 5.1 formats %d and %i: an integral float beyond fengari's 32-bit
   * integers (a millisecond timestamp) is formatted, not refused.
   */
  private installFormat(): void {
    const L = this.L;
    lua.lua_getglobal(L, s('string'));
    lua.lua_getfield(L, -1, s('format'));
    lua.lua_setglobal(L, s('__format'));
    lua.lua_pushjsfunction(L, (L2) => {
      const n = lua.lua_gettop(L2);
      const format = luaText(L2, 1);
      let arg = 2;
      const wide: { at: number; text: string }[] = [];
      const rewritten = format.replace(/%([-+ #0]*)(\d*)(?:\.\d+)?([a-zA-Z%])/g, (spec: string, flags: string, width: string, conversion: string) => {
        if (conversion === '%') return spec;
        const at = arg++;
        if ((conversion === 'd' || conversion === 'i') && at <= n && lua.lua_type(L2, at) === lua.LUA_TNUMBER && !lua.lua_isinteger(L2, at)) {
          const value = lua.lua_tonumber(L2, at);
          if (Number.isInteger(value)) {
            let text = (value < 0 ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '') + Math.abs(value).toFixed(0);
            const w = Number(width || '0');
            if (text.length < w) text = flags.includes('-') ? text.padEnd(w) : flags.includes('0') ? text[0] === '-' || text[0] === '+' ? text[0] + text.slice(1).padStart(w - 1, '0') : text.padStart(w, '0') : text.padStart(w);
            wide.push({ at, text });
            return '%s';
          }
        }
        return spec;
      });
      lua.lua_getglobal(L2, s('__format'));
      lua.lua_pushstring(L2, s(rewritten));
      for (let i = 2; i <= n; i++) {
        const replaced = wide.find((w) => w.at === i);
        if (replaced !== undefined) lua.lua_pushstring(L2, s(replaced.text));
        else lua.lua_pushvalue(L2, i);
      }
      lua.lua_call(L2, n, 1);
      return 1;
    });
    lua.lua_setfield(L, -2, s('format'));
    lua.lua_pop(L, 1);
  }

  private installRedis(): void {
    const L = this.L;
    lua.lua_createtable(L, 0, 4);
    const call = (protectedCall: boolean) => (L2: LuaState): number => {
      const n = lua.lua_gettop(L2);
      if (n === 0) raise(L2, 'Please specify at least one argument for this redis lib call');
      const args: string[] = [];
      for (let i = 1; i <= n; i++) {
        const type = lua.lua_type(L2, i);
        if (type === lua.LUA_TNUMBER) args.push(numberArg(lua.lua_tonumber(L2, i)));
        else if (type === lua.LUA_TSTRING) args.push(luaText(L2, i));
        else raise(L2, 'Lua redis lib command arguments must be strings or integers');
      }
      const run = this.run;
      if (run === undefined) raise(L2, 'redis.call outside a script');
      const reply = run(args);
      if (reply instanceof RespError && !protectedCall) raise(L2, reply.message);
      pushReply(L2, reply);
      return 1;
    };
    lua.lua_pushjsfunction(L, call(false));
    lua.lua_setfield(L, -2, s('call'));
    lua.lua_pushjsfunction(L, call(true));
    lua.lua_setfield(L, -2, s('pcall'));
    for (const [name, field] of [['error_reply', 'err'], ['status_reply', 'ok']] as const) {
      lua.lua_pushjsfunction(L, (L2) => {
        lua.lua_createtable(L2, 0, 1);
        lua.lua_pushstring(L2, lua.lua_tolstring(L2, 1) ?? s(''));
        lua.lua_setfield(L2, -2, s(field));
        return 1;
      });
      lua.lua_setfield(L, -2, s(name));
    }
    lua.lua_pushjsfunction(L, (L2) => {
      lua.lua_pushstring(L2, s(sha1(luaText(L2, 1))));
      return 1;
    });
    lua.lua_setfield(L, -2, s('sha1hex'));
    lua.lua_setglobal(L, s('redis'));
  }

  private installCjson(): void {
    const L = this.L;
    lua.lua_createtable(L, 0, 2);
    lua.lua_pushjsfunction(L, (L2) => {
      let text: string;
      try {
        text = JSON.stringify(toJson(L2, 1)) ?? 'null';
      } catch (error) {
        return raise(L2, `cjson.encode: ${(error as Error).message}`);
      }
      lua.lua_pushstring(L2, s(text));
      return 1;
    });
    lua.lua_setfield(L, -2, s('encode'));
    lua.lua_pushjsfunction(L, (L2) => {
      let value: unknown;
      try {
        value = JSON.parse(luaText(L2, 1));
      } catch (error) {
        return raise(L2, `cjson.decode: ${(error as Error).message}`);
      }
      pushJson(L2, value);
      return 1;
    });
    lua.lua_setfield(L, -2, s('decode'));
    lua.lua_setglobal(L, s('cjson'));
  }

  has(sha: string): boolean {
    return this.loaded.has(sha);
  }

  /** Compiles a script and keeps it under its SHA1; returns the SHA1, or the compile error. */
  load(script: string): string | RespError {
    const L = this.L;
    const sha = sha1(script);
    if (this.loaded.has(sha)) return sha;
    const source = s(script);
    if (lauxlib.luaL_loadbuffer(L, source, source.length, s(`@user_script`)) !== lua.LUA_OK) {
      const message = luaText(L, -1);
      lua.lua_pop(L, 1);
      return new RespError(`ERR Error compiling script (new function): ${message}`);
    }
    lua.lua_getglobal(L, s('__scripts'));
    lua.lua_pushvalue(L, -2);
    lua.lua_setfield(L, -2, s(sha));
    lua.lua_pop(L, 2);
    this.loaded.add(sha);
    return sha;
  }

  /** Runs a loaded script with KEYS and ARGV; its commands go through `run`. */
  call(sha: string, keys: readonly string[], argv: readonly string[], run: (args: string[]) => CommandResult): CommandResult {
    const L = this.L;
    if (!this.loaded.has(sha)) return new RespError('NOSCRIPT No matching script. Please use EVAL.');
    for (const [name, list] of [['KEYS', keys], ['ARGV', argv]] as const) {
      lua.lua_createtable(L, list.length, 0);
      list.forEach((v, i) => {
        lua.lua_pushstring(L, s(v));
        lua.lua_rawseti(L, -2, i + 1);
      });
      lua.lua_setglobal(L, s(name));
    }
    const top = lua.lua_gettop(L);
    lua.lua_getglobal(L, s('__scripts'));
    lua.lua_getfield(L, -1, s(sha));
    this.run = run;
    this.instructions = 0;
    lua.lua_sethook(
      L,
      (L2) => {
        this.instructions += HOOK_EVERY;
        if (this.instructions > MAX_INSTRUCTIONS) raise(L2, `the script ran more than ${MAX_INSTRUCTIONS} instructions (the in-process Redis stand-in stops it; a real Redis answers BUSY)`);
      },
      lua.LUA_MASKCOUNT,
      HOOK_EVERY,
    );
    try {
      if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) {
        const message = luaText(L, -1);
        return new RespError(message.startsWith('ERR ') || /^[A-Z]+ /.test(message) ? message : `ERR Error running script (call to f_${sha}): ${message}`);
      }
      return toReply(L, -1);
    } finally {
      lua.lua_sethook(L, null, 0, 0);
      this.run = undefined;
      lua.lua_settop(L, top);
    }
  }

  close(): void {
    lua.lua_close(this.L);
  }
}
