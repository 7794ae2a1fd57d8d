/**
 * What each command family (a file of this folder) makes from the dependencies it is
 * given: its handlers by command id. package.json declares the same ids; the composition
 * root (dataLabs.ts) registers them.
 */
export type CommandHandlers = Readonly<Record<string, (...args: unknown[]) => unknown>>;
