import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI_OWNER, PARKED_OWNER, hostTag, isOwnerAlive, parseSessionId, processStartTime, sessionIdFor } from '../../src/core/services/sessions';
import { ownerText } from '../../src/core/services/address';

function exited(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('session ids', () => {
  it('name this process by host, pid and start time, and parse back', () => {
    const id = sessionIdFor();
    const parsed = parseSessionId(id);
    expect(parsed).toEqual({ host: hostTag(), pid: process.pid, startTime: processStartTime(process.pid) });
    // Only characters a container name may hold after its "." owner separator.
    expect(id).toMatch(/^[a-z0-9-]+$/);
  });

  it('reads a start time from /proc that differs between processes', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    try {
      const mine = processStartTime(process.pid);
      const theirs = processStartTime(child.pid!);
      expect(mine).toMatch(/^\d+$/);
      expect(theirs).toMatch(/^\d+$/);
      expect(Number(theirs)).toBeGreaterThanOrEqual(Number(mine));
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
  });

  it('a live session is alive; once its process is SIGKILLed it is not', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    const id = sessionIdFor(child.pid!);
    expect(isOwnerAlive(id)).toBe(true);
    child.kill('SIGKILL');
    await exited(child);
    expect(isOwnerAlive(id)).toBe(false);
  });

  it('a reused pid with another start time is not the same session', () => {
    const parsed = parseSessionId(sessionIdFor())!;
    const impostor = `ed-${parsed.host}-${parsed.pid}-${Number(parsed.startTime) + 1}`;
    expect(isOwnerAlive(impostor)).toBe(false);
  });

  it('parked and CLI owners never die; another host is never judged; garbage has no owner', () => {
    expect(isOwnerAlive(PARKED_OWNER)).toBe(true);
    expect(isOwnerAlive(CLI_OWNER)).toBe(true);
    expect(isOwnerAlive(`ed-${hostTag('some-other-host')}-1-1`, 'this-host')).toBe(true);
    expect(isOwnerAlive('session-1234')).toBe(false);
    expect(isOwnerAlive('ed-zzzzzz-1-1')).toBe(false);
  });
});

describe('the state folder', () => {
  it('follows each platform\'s convention, and the override', async () => {
    const { dataLabsStateDir, faultJournalDir } = await import('../../src/core/services/stateDir');
    expect(dataLabsStateDir({}, 'linux', '/home/ada')).toBe('/home/ada/.local/state/data-labs');
    expect(dataLabsStateDir({ XDG_STATE_HOME: '/xdg' }, 'linux', '/home/ada')).toBe('/xdg/data-labs');
    expect(dataLabsStateDir({}, 'darwin', '/Users/ada')).toBe('/Users/ada/Library/Application Support/data-labs');
    expect(dataLabsStateDir({ DATA_LABS_STATE_DIR: '/tmp/s' }, 'linux', '/home/ada')).toBe('/tmp/s');
    expect(faultJournalDir({ DATA_LABS_STATE_DIR: '/tmp/s' })).toBe('/tmp/s/faults');
  });
});

describe('ownerText', () => {
  it("names the owners the Containers view shows beside a container, with the engine's own ids", () => {
    expect(ownerText(CLI_OWNER, 'me')).toBe('shared with `data-labs services up`');
    expect(ownerText(PARKED_OWNER, 'me')).toBe('parked');
    expect(ownerText('someone-else', 'me')).toBe('shared with another window');
    expect(ownerText('me', 'me')).toBeUndefined();
  });
});
