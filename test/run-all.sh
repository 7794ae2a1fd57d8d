#!/usr/bin/env bash
# Every test tier, in order of cost. This is the README's test command (`npm test`)
# and what CI runs. With CI=true nothing may skip: a missing prerequisite is
# installed here or the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n==== %s (%ss)\n' "$1" "$(( $(date +%s) - start ))"; }

step "npm dependencies"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm install, not npm ci: with omit-lockfile-registry-resolved set, npm 11 writes
  # lockfiles without other platforms' optional packages, and its npm ci then refuses them.
  npm install --no-audit --no-fund
fi

step "system prerequisites"
bash test/setup/prerequisites.sh

step "type-check, lint, bundle"
npm run build

step "lab manifests"
npm run validate

step "unit tests (core)"
npm run test:unit

step "labs: starters fail their tests, reference solutions pass"
npm run test:lab

step "package the .vsix"
npx vsce package --no-dependencies --no-rewrite-relative-links --out dist/distributed-data-labs.vsix
ls -l dist/distributed-data-labs.vsix

step "extension-host tests in a real VS Code (code-server)"
npm run test:extension -- --no-build   # the production bundle built above is what it tests

step "end-to-end: .vsix in code-server, driven in Chromium"
UPDATE_SCREENSHOTS="${UPDATE_SCREENSHOTS:-0}" npm run test:e2e

step "all tiers passed"
