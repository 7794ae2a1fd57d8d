// Rate limiter benchmark: what the Key-Value lab's reference limiters cost per request,
// against the peer measured in the same run — a bare INCR on the same connection, the least
// a counter in Redis can cost. Each round sends N requests one after another (latency) and
// N with 50 at once (throughput), for the bare INCR, the fixed window (a Lua script: INCR,
// PEXPIRE on a new counter) and the sliding window (a Lua script over a sorted set);
// medians of the rounds, and each one's ratio to INCR.
//
//   npm run bench:limiter                     on Redis 7 in Docker and on the in-process stand-in
//   npm run bench:limiter -- --rounds 9 --requests 2000 --target docker
//
// Docker: a Redis container from DATA_LABS_IMAGES's redis (default data-labs-local/redis:7,
// built by test/setup/docker.sh), with the catalog's flags (appendonly, appendfsync always),
// published on 127.0.0.1 and removed at the end.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const rounds = Number(option('--rounds', '5'));
const requests = Number(option('--requests', '1000'));
const targets = option('--target', 'docker,standin').split(',');
const image = (() => {
  try {
    return JSON.parse(process.env.DATA_LABS_IMAGES ?? '{}').redis ?? 'data-labs-local/redis:7';
  } catch {
    return 'data-labs-local/redis:7';
  }
})();

const out = path.join(os.tmpdir(), `data-labs-limiter-bench-${process.pid}.cjs`);
await require('esbuild').build({ entryPoints: [path.join(REPO_ROOT, 'test', 'bench', 'limiter-entry.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: out, logLevel: 'error' });
const { InProcessRedis, RespClient, redisOf, limiters } = require(out);
// The lab's reference as a learner's folder has it: its service.ts beside the starter's types.ts.
const referenceOut = path.join(os.tmpdir(), `data-labs-limiter-reference-${process.pid}.cjs`);
const labDir = path.join(REPO_ROOT, 'labs', 'key-value');
await require('esbuild').build({
  entryPoints: [path.join(labDir, 'solution', 'src', 'service.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  outfile: referenceOut,
  logLevel: 'error',
  plugins: [{ name: 'starter-types', setup: (build) => build.onResolve({ filter: /^\.\/types$/ }, () => ({ path: path.join(labDir, 'starter', 'src', 'types.ts') })) }],
});
const reference = require(referenceOut);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Microseconds per request: N one after another, and N with `width` at once. */
async function measure(call, width) {
  const started = process.hrtime.bigint();
  if (width === 1) {
    for (let i = 0; i < requests; i++) await call(i);
  } else {
    let next = 0;
    await Promise.all(Array.from({ length: width }, async () => {
      while (next < requests) await call(next++);
    }));
  }
  return Number(process.hrtime.bigint() - started) / 1000 / requests;
}

async function bench(label, address) {
  const client = new RespClient(address, 10_000, 'bench');
  const redis = redisOf(client);
  const { fixed, sliding } = limiters(redis, reference);
  const kinds = {
    'bare INCR': (i) => client.command(['INCR', `bench:bare:${i % 50}`]),
    'fixed window': (i) => fixed(`client-${i % 50}`),
    'sliding window': (i) => sliding(`client-${i % 50}`),
  };
  const results = {};
  for (const width of [1, 50]) {
    for (const name of Object.keys(kinds)) results[`${name}|${width}`] = [];
    for (let r = 0; r < rounds + 1; r++) {
      for (const [name, call] of Object.entries(kinds)) {
        const us = await measure(call, width);
        if (r > 0) results[`${name}|${width}`].push(us); // round 0 warms up
      }
    }
  }
  client.close();
  console.log(`\n${label}: ${requests} requests per round, medians of ${rounds} rounds`);
  for (const width of [1, 50]) {
    const bare = median(results[`bare INCR|${width}`]);
    console.log(`  ${width === 1 ? 'one at a time' : '50 at once'}:`);
    for (const name of Object.keys(kinds)) {
      const m = median(results[`${name}|${width}`]);
      console.log(`    ${name.padEnd(15)} ${m.toFixed(1).padStart(7)} µs/request${name === 'bare INCR' ? '' : `   ×${(m / bare).toFixed(2)} of bare INCR (+${(m - bare).toFixed(1)} µs)`}`);
    }
  }
}

if (targets.includes('docker')) {
  const password = randomBytes(12).toString('hex');
  let id;
  try {
    id = execFileSync('docker', ['run', '-d', '--rm', '-p', '127.0.0.1::6379', image, 'redis-server', '--requirepass', password, '--appendonly', 'yes', '--appendfsync', 'always'], { encoding: 'utf8' }).trim();
    const port = Number(execFileSync('docker', ['port', id, '6379/tcp'], { encoding: 'utf8' }).split('\n')[0].split(':').pop());
    for (let i = 0; i < 100; i++) {
      const probe = new RespClient({ host: '127.0.0.1', port, password }, 500, 'probe');
      const ok = await probe.command(['PING']).then((r) => r === 'PONG', () => false);
      probe.close();
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await bench(`Redis 7 in Docker (${image}, appendfsync always)`, { host: '127.0.0.1', port, password });
  } catch (error) {
    console.log(`\nDocker: not measured (${error instanceof Error ? error.message.split('\n')[0] : error})`);
  } finally {
    if (id !== undefined) execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  }
}
if (targets.includes('standin')) {
  const standIn = await InProcessRedis.start('bench', 'secret');
  try {
    await bench('the in-process Redis stand-in (no Docker)', { host: standIn.host, port: standIn.port, password: 'secret' });
  } finally {
    await standIn.close();
  }
}
