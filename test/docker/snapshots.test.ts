/**
 * Snapshots of an initialised PostgreSQL: built once per source image, then every new
 * container starts from it with the lab's own password, and nothing of the template
 * password still opens it.
 */
import { describe, expect, it } from 'vitest';
import { LABEL_LAB, startLabServices } from '../../src/core/services/labServices';
import { SNAPSHOT_LAB_ID, ensureSnapshot, snapshotImageName } from '../../src/core/services/snapshots';
import { SERVICE_CATALOG } from '../../src/core/services/serviceCatalog';
import { LOCAL_IMAGES, newRuntime, pgQuery, runtimeLog, testLogger, uniqueId, useLabCleanup } from './helpers';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);

describe('PostgreSQL snapshots', () => {
  it('new containers start from the snapshot of their image, with their own password only', async () => {
    const first = await startLabServices(runtime, [{ service: 'postgres', count: 1 }], { labId: registerLab(uniqueId('snap-a')), sessionId: 'snapshot-test', images: LOCAL_IMAGES });
    const second = await startLabServices(runtime, [{ service: 'postgres', count: 1 }], { labId: registerLab(uniqueId('snap-b')), sessionId: 'snapshot-test', images: LOCAL_IMAGES });
    const source = await runtime.inspectImage(LOCAL_IMAGES.postgres);
    const expected = snapshotImageName('postgres', source!.id).image;
    for (const result of [first, second]) {
      const connection = result.connections[0]!;
      expect((await runtime.inspectContainer(connection.containerId)).image).toBe(expected);
      // The database is the lab's, empty, and answers to the lab's credentials.
      expect((await pgQuery(connection.url, "SELECT current_user AS u, current_database() AS d, count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).rows).toEqual([{ u: 'lab', d: 'lab', n: 0 }]);
    }
    expect(first.connections[0]!.password).not.toBe(second.connections[0]!.password);

    // The template's password (a label of the snapshot image) no longer opens either.
    const snapshot = await ensureSnapshot(runtime, SERVICE_CATALOG.postgres, LOCAL_IMAGES.postgres, { startTemplate: () => Promise.reject(new Error('the snapshot exists: nothing to build')) });
    expect(snapshot?.image).toBe(expected);
    const templateUrl = first.connections[0]!.url.replace(first.connections[0]!.password, snapshot!.credentials.password);
    await expect(pgQuery(templateUrl, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
  });

  it('without snapshots, a container initialises itself from the source image', async () => {
    const result = await startLabServices(runtime, [{ service: 'postgres', count: 1 }], { labId: registerLab(uniqueId('nosnap')), sessionId: 'snapshot-test', images: LOCAL_IMAGES, useSnapshots: false });
    const connection = result.connections[0]!;
    expect((await runtime.inspectContainer(connection.containerId)).image).toBe(LOCAL_IMAGES.postgres);
    expect((await pgQuery(connection.url, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('when a snapshot cannot be made, the container initialises itself and the lab still starts', async () => {
    // A fake for the one failure the engine will not produce on cue: the commit of the
    // template refused. Everything else is the real engine.
    const refusing = Object.assign(Object.create(runtime) as typeof runtime, {
      inspectImage: async (image: string) => (image.startsWith('datalabs-snapshot/') ? undefined : runtime.inspectImage(image)),
      commitContainer: () => Promise.reject(new Error('commit refused (test)')),
    });
    const before = runtimeLog.length;
    const result = await startLabServices(refusing, [{ service: 'postgres', count: 1 }], { labId: registerLab(uniqueId('snapfail')), sessionId: 'snapshot-test', images: LOCAL_IMAGES, logger: testLogger });
    const connection = result.connections[0]!;
    expect((await runtime.inspectContainer(connection.containerId)).image).toBe(LOCAL_IMAGES.postgres);
    expect((await pgQuery(connection.url, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(runtimeLog.slice(before).some((l) => l.includes('could not be made (commit refused (test)); the container initialises itself instead'))).toBe(true);
    // The template container did not stay behind.
    expect(await runtime.listContainers({ [LABEL_LAB]: SNAPSHOT_LAB_ID })).toEqual([]);
    expect(await ensureSnapshot(runtime, SERVICE_CATALOG.redis, LOCAL_IMAGES.redis, { startTemplate: () => Promise.reject(new Error('Redis takes no snapshots')) })).toBeUndefined();
  });
});
