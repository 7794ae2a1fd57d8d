// Services benchmark: how long a lab's databases take to be ready, through the product's
// own code (startLabServices on the bundled core) and, side by side in the same run, through
// testcontainers 11 starting the same images.
//
//   npm run bench:services                       5 runs of every scenario
//   npm run bench:services -- --runs 9 --json results.json
//   npm run bench:services -- --only postgres --ours-only --trace
//
// Scenarios, each run N times, ours and testcontainers alternating which goes first:
//   postgres cold   create + start a container, until a `select 1` with the lab's credentials answers
//   postgres warm   the same container, stopped cleanly (not timed), started again until `select 1`
//   redis cold      create + start, until AUTH + PING answers +PONG
//   redis warm      stopped (not timed), started again, until AUTH + PING
//   redis x3 cold   three Redis created and started in parallel, until all three answer
//   postgres x3 cold  the Two-phase commit lab's servers: three PostgreSQL with
//                   max_prepared_transactions = 64 (its lab.json settings), created and started
//                   in parallel on a lab network, until all three answer
//
// What is counted, for both sides, is the time from the first call to the moment the
// server really answers a client with the credentials (the product's own readiness check,
// `serviceDefinition(kind).checkReady`, is what both sides poll at the end):
//   ours            startLabServices(...) resolving: it pings the engine, lists the lab's
//                   containers, checks the image, creates, starts and polls the same check.
//                   The three-Redis case includes creating the lab's network.
//   testcontainers  GenericContainer.start() with the wait strategy its modules use
//                   (@testcontainers/postgresql 11: a Docker health check running
//                   `pg_isready` every 250 ms plus Wait.forListeningPorts(); @testcontainers/redis:
//                   Wait.forLogMessage("Ready to accept connections")), then the same
//                   readiness check retried every 10 ms until it passes (it usually passes
//                   at once). Warm: the container is stopped cleanly with the same engine call
//                   as ours (not timed), then `container.restart()` is timed: on a stopped
//                   container the engine's restart is a plain start, and testcontainers then
//                   runs its wait strategy again. testcontainers publishes ports on every
//                   interface; here they are moved to 127.0.0.1 (as ours), nothing else changes.
//                   It gets the same memory and CPU limits as the catalog gives ours, so the
//                   comparison is of orchestration and readiness, not of CPU shares.
//
// Ryuk (testcontainers' reaper) is disabled, because its image cannot be pulled offline;
// everything this script creates carries its labels and is removed at the end, also on
// failure and on Ctrl-C.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

const USAGE = `Usage: node test/bench/services.mjs [options]

  --runs N              runs per scenario (default 5)
  --only LIST           comma-separated: postgres, redis, redis3, postgres3 (default: all four)
  --ours-only           skip testcontainers (quick iterations on the product code)
  --tc-catalog-config   give testcontainers the catalog's environment and command too
                        (default: only the images' env contract, as its modules do)
  --pg-image IMAGE      default data-labs-local/postgres:15
  --redis-image IMAGE   default data-labs-local/redis:7
  --trace               print, for each of our starts, the engine calls and the
                        container's log lines on one time line
  --json FILE           also write every measurement and the medians as JSON
  -h, --help`;

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      only: { type: 'string', default: 'postgres,redis,redis3,postgres3' },
      'ours-only': { type: 'boolean', default: false },
      'tc-catalog-config': { type: 'boolean', default: false },
      'pg-image': { type: 'string', default: 'data-labs-local/postgres:15' },
      'redis-image': { type: 'string', default: 'data-labs-local/redis:7' },
      trace: { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  console.error(`${error.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
const RUNS = Number(options.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) {
  console.error(`--runs must be a positive whole number, not "${options.runs}".`);
  process.exit(2);
}
const SCENARIO_GROUPS = options.only.split(',').map((s) => s.trim()).filter(Boolean);
for (const group of SCENARIO_GROUPS) {
  if (!['postgres', 'redis', 'redis3', 'postgres3'].includes(group)) {
    console.error(`--only takes postgres, redis, redis3 and postgres3; "${group}" is none of them.`);
    process.exit(2);
  }
}
const WITH_TC = !options['ours-only'];
const PG_IMAGE = options['pg-image'];
const REDIS_IMAGE = options['redis-image'];

// Must be set before testcontainers looks for its reaper (on the first start).
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
// The ports are published on 127.0.0.1 only (see publishOnLoopback); without this,
// testcontainers may guess the Docker bridge's gateway (172.17.0.1) as the host to reach
// them on when it believes it runs inside a container, and wait forever.
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';

/* ------------------------------------------------------------------ the product code */

const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddl-bench-services-'));
const bundle = path.join(buildDir, 'core.cjs');
const esbuild = require('esbuild');
await esbuild.build({
  entryPoints: [path.join(REPO_ROOT, 'test', 'bench', 'services-entry.ts')],
  outfile: bundle,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // As in esbuild.js: dockerode's optional native add-ons stay out of the bundle.
  external: ['cpu-features', '*.node'],
});
const core = require(bundle);
fs.rmSync(buildDir, { recursive: true, force: true });

// testcontainers 11: version 12 needs undici 8, which needs Node.js 22.19, and this project supports Node.js 20.
const { GenericContainer, Network, Wait } = WITH_TC ? require('testcontainers') : {};
const Docker = require('dockerode');

/* ------------------------------------------------------------------ bookkeeping */

const RUN_TAG = randomBytes(3).toString('hex');
/** Every testcontainers container of this run carries this label, so clean-up finds it. */
const BENCH_LABEL = 'dev.datalabs.bench';
const SESSION_ID = `bench-${process.pid}-${RUN_TAG}`;
const IMAGES = { postgres: PG_IMAGE, redis: REDIS_IMAGE };

const traceLines = [];
const logger = {
  info: (m) => traceLines.push({ at: Date.now(), text: m }),
  warn: (m) => traceLines.push({ at: Date.now(), text: `warn ${m}` }),
  error: (m) => traceLines.push({ at: Date.now(), text: `error ${m}` }),
};
const runtime = new core.DockerodeRuntime({ logger });
const docker = new Docker();
/** Every lab id this run used; the final clean-up checks each of them by label. */
const ourLabs = new Set();

let cleaningUp;
/**
 * Removes every container and network of this run, checking by label until none is left:
 * an engine interrupted mid-start can fail a forced removal once ("unable to remove
 * filesystem ... directory not empty") and succeed when asked again.
 */
async function cleanUp() {
  const leftovers = async () => {
    const lists = await Promise.all([
      runtime.listContainers({ [BENCH_LABEL]: RUN_TAG }),
      ...[...ourLabs].map((labId) => runtime.listContainers(core.labLabels(labId))),
    ]);
    return lists.flat();
  };
  const removeAll = async () => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const containers = await leftovers().catch(() => []);
      await Promise.all(containers.map((c) => docker.getContainer(c.id).remove({ force: true, v: true }).catch(() => {})));
      // Also removes the labs' networks, once their containers are gone.
      await Promise.all([...ourLabs].map((labId) => core.removeLabServices(runtime, labId).catch(() => {})));
      if (containers.length === 0) {
        return;
      }
      await new Promise((r) => setTimeout(r, 300 * attempt));
    }
    const left = await leftovers().catch(() => []);
    if (left.length > 0) {
      console.error(`Could not remove ${left.length} container(s) of this benchmark; remove them with: docker rm -f -v ${left.map((c) => c.id.slice(0, 12)).join(' ')}`);
    }
  };
  cleaningUp ??= removeAll();
  return cleaningUp;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) {
      return;
    }
    interrupted = true;
    console.error(`\n${signal}: removing the containers this benchmark created...`);
    // A create request already on its way may land after the first sweep: sweep twice.
    cleanUp()
      .then(() => new Promise((r) => setTimeout(r, 1000)))
      .then(() => {
        cleaningUp = undefined;
        return cleanUp();
      })
      .finally(() => process.exit(130));
  });
}

/* ------------------------------------------------------------------ helpers */

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => (ms === undefined ? '-' : `${Math.round(ms)}`);

function credentials(kind) {
  const d = core.serviceDefinition(kind);
  return { user: d.defaultUser, password: randomBytes(18).toString('hex'), database: d.defaultDatabase };
}

/** Retries the product's readiness check until it passes; returns how many attempts it took. */
async function untilAnswers(kind, port, creds) {
  const definition = core.serviceDefinition(kind);
  const deadline = Date.now() + 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      await definition.checkReady({ host: '127.0.0.1', port }, creds, 2_000);
      return attempt;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`${definition.displayName} on 127.0.0.1:${port} did not answer within 60 s: ${error.message}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** testcontainers binds to every interface; the rules here (and ours) say 127.0.0.1 only. */
function publishOnLoopback(container) {
  for (const bindings of Object.values(container.hostConfig.PortBindings ?? {})) {
    for (const b of bindings) {
      b.HostIp = '127.0.0.1';
    }
  }
  return container;
}

function tcContainer(kind, creds, settings) {
  const definition = core.serviceDefinition(kind);
  const image = IMAGES[kind];
  const limits = { memory: definition.resources.memoryBytes / 1024 ** 3, cpu: definition.resources.nanoCpus / 1e9 };
  let container = new GenericContainer(image)
    .withExposedPorts(definition.containerPort)
    .withLabels({ [BENCH_LABEL]: RUN_TAG })
    .withResourcesQuota(limits)
    .withStartupTimeout(120_000);
  if (kind === 'postgres') {
    const env = options['tc-catalog-config']
      ? definition.environment(creds)
      : { POSTGRES_USER: creds.user, POSTGRES_PASSWORD: creds.password, POSTGRES_DB: creds.database };
    // A lab's server settings are the command on both sides; the rest of the catalog's only with --tc-catalog-config.
    const command = options['tc-catalog-config'] || settings ? definition.command(creds, settings) : undefined;
    container = container
      .withEnvironment(env)
      // What @testcontainers/postgresql 11 does: pg_isready inside the container every 250 ms.
      .withHealthCheck({
        test: ['CMD-SHELL', `PGPASSWORD=${creds.password} pg_isready --host localhost --username ${creds.user} --dbname ${creds.database}`],
        interval: 250,
        timeout: 1000,
        retries: 1000,
      })
      .withWaitStrategy(Wait.forAll([Wait.forHealthCheck(), Wait.forListeningPorts()]));
    if (command) {
      container = container.withCommand(command);
    }
  } else {
    container = container
      // What @testcontainers/redis does: the password as a server flag, and the log line.
      .withCommand(['redis-server', '--requirepass', creds.password])
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'));
  }
  return publishOnLoopback(container);
}

/** Prints the engine calls and the container's own log lines relative to t0. */
async function printTrace(title, t0, containerIds) {
  console.log(`    trace of ${title} (ms after the first call):`);
  const lines = traceLines.filter((l) => l.at >= t0).map((l) => ({ at: l.at, text: `runtime  ${l.text}` }));
  for (const id of containerIds) {
    const raw = await docker.getContainer(id).logs({ stdout: true, stderr: true, timestamps: true, follow: false });
    const text = Buffer.isBuffer(raw) ? demux(raw) : String(raw);
    for (const line of text.split('\n').filter(Boolean)) {
      const space = line.indexOf(' ');
      const at = Date.parse(line.slice(0, space));
      if (at >= t0) {
        lines.push({ at, text: `${id.slice(0, 6)}   ${line.slice(space + 1).slice(0, 150)}` });
      }
    }
  }
  lines.sort((a, b) => a.at - b.at);
  for (const l of lines) {
    console.log(`    ${String(l.at - t0).padStart(6)}  ${l.text}`);
  }
}

function demux(buffer) {
  const parts = [];
  let offset = 0;
  while (offset + 8 <= buffer.length && buffer[offset] <= 2) {
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return parts.length > 0 ? Buffer.concat(parts).toString('utf8') : buffer.toString('utf8');
}

/* ------------------------------------------------------------------ the two sides */

const ours = {
  /** Cold (and then warm) start of `count` containers of one kind through startLabServices. */
  async run(kind, count, withWarm, settings) {
    const labId = `dtest-bench-${kind}-${randomBytes(3).toString('hex')}`;
    ourLabs.add(labId);
    traceLines.length = 0;
    const request = [{ service: kind, count, ...(settings ? { settings } : {}) }];
    const startOptions = { labId, sessionId: SESSION_ID, images: IMAGES, logger };
    try {
      let t0 = Date.now();
      let start = performance.now();
      const cold = await core.startLabServices(runtime, request, startOptions);
      const coldMs = performance.now() - start;
      if (cold.connections.length !== count || cold.connections.some((c) => !c.created)) {
        throw new Error(`startLabServices did not create ${count} new ${kind} container(s)`);
      }
      if (options.trace) {
        await printTrace(`ours ${kind} x${count} cold`, t0, cold.connections.map((c) => c.containerId));
      }
      let warmMs;
      if (withWarm) {
        await core.stopLabServices(runtime, labId);
        t0 = Date.now();
        start = performance.now();
        const warm = await core.startLabServices(runtime, request, startOptions);
        warmMs = performance.now() - start;
        if (warm.connections.some((c) => c.created)) {
          throw new Error(`the warm start of ${kind} created a container instead of starting the stopped one`);
        }
        if (options.trace) {
          await printTrace(`ours ${kind} warm`, t0, warm.connections.map((c) => c.containerId));
        }
      }
      return { cold: coldMs, warm: warmMs };
    } finally {
      await core.removeLabServices(runtime, labId);
    }
  },
};

const testcontainers = {
  async run(kind, count, withWarm, settings) {
    const started = [];
    let network;
    try {
      let start = performance.now();
      // Several replicas get a network of their own, as ours do (they talk to each other by name).
      if (count > 1) {
        network = await new Network().start();
      }
      // allSettled, not all: a failed start must not leave the others running unnoticed.
      const settled = await Promise.allSettled(
        Array.from({ length: count }, async (_, i) => {
          const creds = credentials(kind);
          let spec = tcContainer(kind, creds, settings);
          if (network) {
            spec = spec.withNetwork(network).withNetworkAliases(`${kind}-${i + 1}`);
          }
          const container = await spec.start();
          started.push({ container, creds });
          await untilAnswers(kind, container.getMappedPort(core.serviceDefinition(kind).containerPort), creds);
        }),
      );
      const coldMs = performance.now() - start;
      const failed = settled.find((r) => r.status === 'rejected');
      if (failed) {
        throw failed.reason;
      }
      let warmMs;
      if (withWarm) {
        const [{ container, creds }] = started;
        await runtime.stopContainer(container.getId(), 5);
        start = performance.now();
        await container.restart();
        await untilAnswers(kind, container.getMappedPort(core.serviceDefinition(kind).containerPort), creds);
        warmMs = performance.now() - start;
      }
      return { cold: coldMs, warm: warmMs };
    } finally {
      await Promise.all(started.map(({ container }) => container.stop({ remove: true, removeVolumes: true }).catch(() => runtime.removeContainer(container.getId()))));
      await network?.stop().catch(() => {});
    }
  },
};

/* ------------------------------------------------------------------ machine and images */

const info = await docker.info();
const imageIds = {};
for (const image of [PG_IMAGE, REDIS_IMAGE]) {
  try {
    imageIds[image] = (await docker.getImage(image).inspect()).Id;
  } catch {
    console.error(`The image ${image} is not on this machine. Build the local images with "bash test/setup/docker.sh", or name another with --pg-image/--redis-image.`);
    process.exit(1);
  }
}
const tcVersion = WITH_TC ? require('testcontainers/package.json').version : undefined;
const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
  node: process.version,
  engine: `${info.ServerVersion} (${info.OperatingSystem}, storage ${info.Driver}, cgroup ${info.CgroupVersion ?? '?'})`,
  loadAverageAtStart: os.loadavg().map((l) => l.toFixed(2)).join(' '),
};
console.log(`machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, node ${machine.node}`);
console.log(`engine:  ${machine.engine}`);
for (const [image, id] of Object.entries(imageIds)) {
  console.log(`image:   ${image} ${id}`);
}
console.log(`catalog: postgres env ${JSON.stringify(Object.keys(core.serviceDefinition('postgres').environment(credentials('postgres'))))}, command ${JSON.stringify(core.serviceDefinition('postgres').command(credentials('postgres')) ?? '(image default)')}`);
console.log(`compare: ${WITH_TC ? `testcontainers ${tcVersion}${options['tc-catalog-config'] ? ' with the catalog\'s env and command' : ''}` : 'ours only'}; load average ${machine.loadAverageAtStart}; ${RUNS} runs\n`);

/* ------------------------------------------------------------------ the runs */

const SCENARIOS = [
  { group: 'postgres', kind: 'postgres', count: 1, warm: true, names: ['postgres cold', 'postgres warm'], targets: [1500, 500] },
  { group: 'redis', kind: 'redis', count: 1, warm: true, names: ['redis cold', 'redis warm'], targets: [undefined, undefined] },
  { group: 'redis3', kind: 'redis', count: 3, warm: false, names: ['redis x3 cold'], targets: [undefined] },
  { group: 'postgres3', kind: 'postgres', count: 3, warm: false, names: ['postgres x3 cold'], targets: [2000], settings: { max_prepared_transactions: '64' } },
].filter((s) => SCENARIO_GROUPS.includes(s.group));

const results = {};
for (const s of SCENARIOS) {
  s.names.forEach((name, i) => {
    results[name] = { ours: [], testcontainers: [], targetMs: s.targets[i] };
  });
}

let failure;
try {
  if (SCENARIO_GROUPS.includes('postgres')) {
    // New PostgreSQL containers start from a local snapshot of an initialised server, made
    // on the first use of an image (snapshots.ts). That first start is timed apart here, so
    // the cold runs below measure every later start.
    const first = await ours.run('postgres', 1, false);
    console.log(`postgres, first start with this image (builds its snapshot if there is none yet): ${fmt(first.cold)} ms\n`);
  }
  for (let run = 1; run <= RUNS && !interrupted; run++) {
    for (const s of SCENARIOS) {
      // Alternate who goes first, so neither side always meets a just-busy engine.
      const sides = WITH_TC ? (run % 2 === 1 ? ['ours', 'testcontainers'] : ['testcontainers', 'ours']) : ['ours'];
      const got = {};
      for (const side of sides) {
        got[side] = await (side === 'ours' ? ours : testcontainers).run(s.kind, s.count, s.warm, s.settings);
      }
      for (const side of sides) {
        results[s.names[0]][side].push(got[side].cold);
        if (s.warm) {
          results[s.names[1]][side].push(got[side].warm);
        }
      }
      const parts = s.names.map((name, i) => {
        const key = i === 0 ? 'cold' : 'warm';
        return `${name}: ours ${fmt(got.ours[key])} ms${WITH_TC ? `, testcontainers ${fmt(got.testcontainers[key])} ms` : ''}`;
      });
      console.log(`run ${run}/${RUNS}  ${parts.join('  |  ')}`);
    }
  }
} catch (error) {
  failure = error;
} finally {
  await cleanUp();
}
if (interrupted) {
  // The signal handler finishes the clean-up and exits.
  await new Promise(() => {});
}
if (failure) {
  console.error(`\nThe benchmark failed: ${failure.stack ?? failure.message}\nEverything it created has been removed.`);
  process.exit(1);
}

/* ------------------------------------------------------------------ the table */

const summary = {};
const rows = [['scenario', 'ours median', 'ours min-max', 'tc median', 'tc min-max', 'ours/tc', 'target']];
for (const [name, r] of Object.entries(results)) {
  const o = r.ours.length ? { median: median(r.ours), min: Math.min(...r.ours), max: Math.max(...r.ours) } : undefined;
  const t = r.testcontainers.length ? { median: median(r.testcontainers), min: Math.min(...r.testcontainers), max: Math.max(...r.testcontainers) } : undefined;
  summary[name] = { ours: o, testcontainers: t, ratio: o && t ? o.median / t.median : undefined, targetMs: r.targetMs };
  const target = r.targetMs === undefined ? '' : `<= ${r.targetMs} ms: ${o && o.median <= r.targetMs ? 'met' : 'missed'}`;
  rows.push([
    name,
    o ? `${fmt(o.median)} ms` : '-',
    o ? `${fmt(o.min)}-${fmt(o.max)}` : '-',
    t ? `${fmt(t.median)} ms` : '-',
    t ? `${fmt(t.min)}-${fmt(t.max)}` : '-',
    o && t ? (o.median / t.median).toFixed(2) : '-',
    target,
  ]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
console.log(`\nmedians of ${RUNS} runs (time to ready; "tc" is testcontainers ${tcVersion ?? '(skipped)'})`);
for (const [i, row] of rows.entries()) {
  console.log(row.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join('  '));
  if (i === 0) {
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}
console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

if (options.json) {
  const report = { date: new Date().toISOString(), runs: RUNS, machine: { ...machine, loadAverageAtEnd: os.loadavg().map((l) => l.toFixed(2)).join(' ') }, images: imageIds, testcontainers: tcVersion ?? null, results, summary };
  fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`results written to ${options.json}`);
}
