/**
 * Sessions on the lab's Redis (database 1), with a session time of 300 ms. Skipped, saying
 * why, when the lab's databases are not running.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSessions } from '../src/service';
import { NO_SERVERS, type TestWorld, makeWorld } from './stores';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
let world: TestWorld;

describe.skipIf(NO_SERVERS !== undefined)(`sessions${NO_SERVERS !== undefined ? ` (skipped: ${NO_SERVERS})` : ''}`, () => {
  beforeEach(async () => {
    world = await makeWorld({ sessionTtlMs: 300 });
  });
  afterEach(async () => {
    await world.close();
  });

  it('TODO(1) a login gives a new id each time, and the session knows its user', async () => {
    const sessions = createSessions(world.deps);
    const a = await sessions.login('alice');
    const b = await sessions.login('alice');
    expect(a).not.toBe(b);
    expect(a.length).toBeGreaterThanOrEqual(16);
    expect(await sessions.currentUser(a)).toBe('alice');
    expect(await sessions.currentUser('no-such-session')).toBeNull();
  });

  it('TODO(1) a session used keeps living; an unused one ends on time', async () => {
    const sessions = createSessions(world.deps);
    const used = await sessions.login('alice');
    const unused = await sessions.login('bob');
    await sleep(200);
    expect(await sessions.currentUser(used)).toBe('alice');
    await sleep(200);
    // 400 ms after the login, 200 ms after its last use.
    expect(await sessions.currentUser(used)).toBe('alice');
    expect(await sessions.currentUser(unused)).toBeNull();
    await sleep(400);
    expect(await sessions.currentUser(used)).toBeNull();
  });

  it('TODO(1) logout ends that session at once, and only that one', async () => {
    const sessions = createSessions(world.deps);
    const phone = await sessions.login('alice');
    const laptop = await sessions.login('alice');
    await sessions.logout(phone);
    expect(await sessions.currentUser(phone)).toBeNull();
    expect(await sessions.currentUser(laptop)).toBe('alice');
  });
});
