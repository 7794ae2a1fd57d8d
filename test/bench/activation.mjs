// Activation benchmark: how long the built extension takes to activate in a real
// VS Code (code-server 4.100.3), from the first line of dist/extension.js being
// evaluated to activate() resolving. Each run starts a fresh code-server with the
// .vsix installed, opens the workbench in headless Chromium, opens the Distributed
// Data Labs sidebar (which activates the extension) and reads the time the
// extension logs. Prints every run and the median; target: under 50 ms.
//
//   npm run package && npm run bench:activation            (BENCH_RUNS=7 by default)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, launchBrowser, openWorkbench, startCodeServer } from '../support/code-server.mjs';

const runs = Number(process.env.BENCH_RUNS ?? 7);
const vsix = path.join(REPO_ROOT, 'dist', 'distributed-data-labs.vsix');
if (!fs.existsSync(vsix)) {
  console.error(`${vsix} is missing: run "npm run package" first.`);
  process.exit(1);
}

function findActivationLine(dir) {
  if (!fs.existsSync(dir)) return undefined;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findActivationLine(full);
      if (found) return found;
    } else if (entry.name.endsWith('.log')) {
      const match = /Activated in ([\d.]+) ms/.exec(fs.readFileSync(full, 'utf8'));
      if (match) return Number(match[1]);
    }
  }
  return undefined;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const times = [];
for (let i = 1; i <= runs; i++) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'data-labs-bench-'));
  const cs = await startCodeServer({ vsix, folder, env: { DATA_LABS_PROGRESS_DIR: undefined } });
  const browser = await launchBrowser();
  try {
    await openWorkbench(browser.page, cs.workbenchUrl);
    await browser.page.locator('.activitybar [aria-label="Distributed Data Labs"]').first().click();
    const deadline = Date.now() + 60_000;
    let ms;
    while ((ms = findActivationLine(cs.logsDir)) === undefined) {
      if (Date.now() > deadline) throw new Error(`no activation logged within 60 s\n${cs.describeLogs()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    times.push(ms);
    console.log(`run ${i}/${runs}: activated in ${ms.toFixed(1)} ms`);
  } finally {
    await browser.close();
    if (process.env.BENCH_DUMP) { const { execSync } = await import("node:child_process"); console.log(execSync(`grep -rh Activated ${cs.logsDir}`).toString()); }
    await cs.stop();
    fs.rmSync(folder, { recursive: true, force: true });
  }
}
console.log(`\nactivation median of ${runs}: ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}); target < 50 ms`);
