import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROGRESS_FILE_NAME } from '../../src/core/curriculum/progress';
import { EXTENSION_ID, PROGRESS_DIR_ENV, candidateProgressDirs, resolveProgressDir } from '../../src/core/curriculum/progressLocation';
import { useTempDirs } from './helpers';

const tempDir = useTempDirs('ddl-location-');
const tail = path.join('User', 'globalStorage', 'ddlabs.distributed-data-labs');

describe('candidateProgressDirs', () => {
  it('uses the publisher.name extension id', () => {
    expect(EXTENSION_ID).toBe('ddlabs.distributed-data-labs');
    expect(PROGRESS_DIR_ENV).toBe('DATA_LABS_PROGRESS_DIR');
  });

  it('on Linux: ~/.config/<flavour>, then code-server under ~/.local/share', () => {
    expect(candidateProgressDirs({}, 'linux', '/home/ada')).toEqual([
      path.join('/home/ada/.config/Code', tail),
      path.join('/home/ada/.config/Code - Insiders', tail),
      path.join('/home/ada/.config/VSCodium', tail),
      path.join('/home/ada/.config/Code - OSS', tail),
      path.join('/home/ada/.local/share/code-server', tail),
      // The VS Code that npm start opens.
      path.join('/home/ada/.cache/data-labs/start/user-data', tail),
    ]);
  });

  it('on Linux: honours XDG_CONFIG_HOME and XDG_DATA_HOME', () => {
    const dirs = candidateProgressDirs({ XDG_CONFIG_HOME: '/cfg', XDG_DATA_HOME: '/data' }, 'linux', '/home/ada');
    expect(dirs[0]).toBe(path.join('/cfg/Code', tail));
    expect(dirs.at(-2)).toBe(path.join('/data/code-server', tail));
    expect(candidateProgressDirs({ DATA_LABS_CACHE: '/cache' }, 'linux', '/home/ada').at(-1)).toBe(path.join('/cache/start/user-data', tail));
    expect(dirs.slice(0, -1).some((d) => d.startsWith('/home/ada'))).toBe(false);
  });

  it('on macOS: ~/Library/Application Support/<flavour>', () => {
    const dirs = candidateProgressDirs({ XDG_CONFIG_HOME: '/ignored-on-mac' }, 'darwin', '/Users/ada');
    expect(dirs).toEqual([
      path.join('/Users/ada/Library/Application Support/Code', tail),
      path.join('/Users/ada/Library/Application Support/Code - Insiders', tail),
      path.join('/Users/ada/Library/Application Support/VSCodium', tail),
      path.join('/Users/ada/Library/Application Support/Code - OSS', tail),
      path.join('/Users/ada/.local/share/code-server', tail),
      path.join('/Users/ada/.cache/data-labs/start/user-data', tail),
    ]);
  });

  it('on Windows: %APPDATA%\\<flavour>, defaulting to AppData/Roaming', () => {
    const withAppData = candidateProgressDirs({ APPDATA: 'C:/Users/ada/AppData/Roaming' }, 'win32', 'C:/Users/ada');
    expect(withAppData[0]).toBe(path.join('C:/Users/ada/AppData/Roaming', 'Code', tail));
    expect(withAppData[3]).toBe(path.join('C:/Users/ada/AppData/Roaming', 'Code - OSS', tail));
    const without = candidateProgressDirs({}, 'win32', 'C:/Users/ada');
    expect(without[1]).toBe(path.join('C:/Users/ada', 'AppData', 'Roaming', 'Code - Insiders', tail));
    expect(without).toHaveLength(6);
  });

  it('defaults to this machine\'s environment, platform and home', () => {
    expect(candidateProgressDirs()).toEqual(candidateProgressDirs(process.env, process.platform, os.homedir()));
  });
});

describe('resolveProgressDir', () => {
  it('uses DATA_LABS_PROGRESS_DIR when it is set', async () => {
    expect(await resolveProgressDir({ DATA_LABS_PROGRESS_DIR: '/somewhere/else' })).toBe('/somewhere/else');
  });

  // The home folder cannot be passed in, so these use the XDG variables, which only Linux reads for every flavour.
  describe.runIf(process.platform === 'linux')('on Linux', () => {
    async function env(): Promise<NodeJS.ProcessEnv> {
      const root = await tempDir();
      return { XDG_CONFIG_HOME: path.join(root, 'config'), XDG_DATA_HOME: path.join(root, 'data') };
    }

    async function writeProgress(dir: string, ageSeconds: number): Promise<void> {
      await fs.mkdir(dir, { recursive: true });
      const file = path.join(dir, PROGRESS_FILE_NAME);
      await fs.writeFile(file, '{}');
      const when = new Date(Date.now() - ageSeconds * 1000);
      await fs.utimes(file, when, when);
    }

    it('falls back to desktop VS Code\'s folder when no flavour has progress', async () => {
      const e = await env();
      expect(await resolveProgressDir(e)).toBe(path.join(e['XDG_CONFIG_HOME'] as string, 'Code', tail));
    });

    it('picks the flavour whose progress was written most recently', async () => {
      const e = await env();
      const [code, insiders, codium, , codeServer] = candidateProgressDirs(e);
      await writeProgress(code as string, 300);
      await writeProgress(insiders as string, 10);
      await writeProgress(codium as string, 100);
      expect(await resolveProgressDir(e)).toBe(insiders);
      await writeProgress(codeServer as string, 1);
      expect(await resolveProgressDir(e)).toBe(codeServer);
    });

    it('ignores a flavour folder without a progress file', async () => {
      const e = await env();
      const [code, insiders] = candidateProgressDirs(e);
      await fs.mkdir(insiders as string, { recursive: true });
      await writeProgress(code as string, 1000);
      expect(await resolveProgressDir(e)).toBe(code);
    });

    it('lets the override win over any flavour', async () => {
      const e = await env();
      await writeProgress(candidateProgressDirs(e)[1] as string, 1);
      expect(await resolveProgressDir({ ...e, DATA_LABS_PROGRESS_DIR: '/override' })).toBe('/override');
      expect(await resolveProgressDir({ ...e, DATA_LABS_PROGRESS_DIR: '' })).toBe(candidateProgressDirs(e)[1]);
    });
  });
});
