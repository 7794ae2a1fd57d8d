/**
 * The part of fengari (a Lua 5.3 virtual machine written in JavaScript, MIT) that the
 * in-process Redis stand-in uses to run scripts (redisLua.ts). fengari ships no types.
 */
declare module 'fengari' {
  /** A Lua state; opaque. */
  export interface LuaState {
    readonly __luaState: unique symbol;
  }
  /** A Lua string: bytes. */
  export type LuaString = Uint8Array;
  export type LuaFunction = (L: LuaState) => number;

  export function to_luastring(s: string): LuaString;
  export function to_jsstring(s: LuaString): string;

  export const lua: {
    readonly LUA_OK: number;
    readonly LUA_TNIL: number;
    readonly LUA_TBOOLEAN: number;
    readonly LUA_TNUMBER: number;
    readonly LUA_TSTRING: number;
    readonly LUA_TTABLE: number;
    readonly LUA_MASKCOUNT: number;
    readonly LUA_REGISTRYINDEX: number;
    lua_gettop(L: LuaState): number;
    lua_settop(L: LuaState, idx: number): void;
    lua_pop(L: LuaState, n: number): void;
    lua_pushvalue(L: LuaState, idx: number): void;
    lua_pushnil(L: LuaState): void;
    lua_pushnumber(L: LuaState, n: number): void;
    lua_pushinteger(L: LuaState, n: number): void;
    lua_pushstring(L: LuaState, s: LuaString): void;
    lua_pushboolean(L: LuaState, b: boolean): void;
    lua_pushjsfunction(L: LuaState, f: LuaFunction): void;
    lua_createtable(L: LuaState, narray: number, nrec: number): void;
    lua_setfield(L: LuaState, idx: number, k: LuaString): void;
    lua_getfield(L: LuaState, idx: number, k: LuaString): number;
    lua_setglobal(L: LuaState, name: LuaString): void;
    lua_getglobal(L: LuaState, name: LuaString): number;
    lua_rawseti(L: LuaState, idx: number, n: number): void;
    lua_rawgeti(L: LuaState, idx: number, n: number): number;
    lua_rawlen(L: LuaState, idx: number): number;
    lua_next(L: LuaState, idx: number): boolean;
    lua_type(L: LuaState, idx: number): number;
    lua_isinteger(L: LuaState, idx: number): boolean;
    lua_tonumber(L: LuaState, idx: number): number;
    lua_toboolean(L: LuaState, idx: number): boolean;
    lua_tolstring(L: LuaState, idx: number): LuaString | null;
    lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
    lua_call(L: LuaState, nargs: number, nresults: number): void;
    lua_error(L: LuaState): never;
    lua_sethook(L: LuaState, f: ((L: LuaState) => void) | null, mask: number, count: number): void;
    lua_close(L: LuaState): void;
  };

  export const lauxlib: {
    luaL_newstate(): LuaState;
    luaL_requiref(L: LuaState, modname: LuaString, openf: LuaFunction, glb: number): void;
    luaL_loadbuffer(L: LuaState, s: LuaString, sz: number | null, name: LuaString): number;
    luaL_error(L: LuaState, fmt: LuaString, ...args: unknown[]): never;
    luaL_tolstring(L: LuaState, idx: number): LuaString;
  };

  export const lualib: {
    luaopen_base: LuaFunction;
    luaopen_string: LuaFunction;
    luaopen_table: LuaFunction;
    luaopen_math: LuaFunction;
  };
}
