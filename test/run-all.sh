#!/usr/bin/env bash
# Every test tier, in order of cost. This is the README's test command (`npm test`)
# and what CI runs. With CI=true nothing may skip: a missing prerequisite is
# installed here or the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n==== %s (%ss)\n' "$1" "$(( $(date +%s) - start ))"; }

# Each test tier's output is kept so its counts add up to one closing line.
counts=$(mktemp)
trap 'rm -f "$counts"' EXIT
tier() {
  local out
  out=$(mktemp)
  set +e
  "$@" 2>&1 | tee "$out"
  local status=${PIPESTATUS[0]}
  set -e
  # The runner's own closing count: "N passed, M failed" or Vitest's "Tests  N passed | ...".
  sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed|^ +Tests +[0-9]+ ' | tail -n 1 >> "$counts"
  rm -f "$out"
  return "$status"
}

step "npm dependencies"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm install, not npm ci: with omit-lockfile-registry-resolved set, npm 11 writes
  # lockfiles without other platforms' optional packages, and its npm ci then refuses them.
  npm install --no-audit --no-fund
fi

step "system prerequisites"
bash test/setup/prerequisites.sh

step "Docker engine and local lab images"
# Installs and starts dockerd and builds the local images once (about 2 minutes); later
# runs reuse them (under a second). Outside CI a machine without root or Docker may skip
# the Docker tier; in CI it may not.
docker_ready=1
if ! bash test/setup/docker.sh --no-verify; then
  if [ "${CI:-}" = true ]; then
    echo "The Docker tier cannot run (see above), and CI may not skip it." >&2
    exit 1
  fi
  docker_ready=0
  echo "Skipping the Docker tier: test/setup/docker.sh failed (see above)." >&2
fi

step "type-check, lint, bundle"
npm run build

step "lab manifests"
npm run validate

step "unit tests (core)"
tier npm run test:unit

step "containers on a real Docker engine"
if [ "$docker_ready" = 1 ]; then
  tier npm run test:docker
fi

step "graders: references pass every check (3 seeds), mutants fail theirs (2 seeds), on Docker and without it"
# The full sweep is `npm run test:rigor -- --seeds 20`, run before a grader issue is resolved.
if [ "$docker_ready" = 1 ]; then
  tier npm run test:rigor
fi

step "labs: starters fail their tests, reference solutions pass (embedded PostgreSQL, Docker unreachable)"
# The embedded fallback must work where there is no Docker at all: this pass cannot reach it.
DOCKER_HOST=unix:///nonexistent/docker.sock DATA_LABS_BACKEND=embedded tier npm run test:lab

if [ "$docker_ready" = 1 ]; then
  step "labs: the same on PostgreSQL in Docker"
  DATA_LABS_IMAGES='{"postgres":"data-labs-local/postgres:15","redis":"data-labs-local/redis:7","memcached":"data-labs-local/memcached:1.6"}' DATA_LABS_BACKEND=docker tier npm run test:lab
fi

step "package the .vsix"
npx vsce package --no-dependencies --no-rewrite-relative-links --out dist/distributed-data-labs.vsix
ls -l dist/distributed-data-labs.vsix

step "extension-host tests in a real VS Code (code-server)"
# The production bundle built above is what it tests.
tier npm run test:extension -- --no-build

step "end-to-end: .vsix in code-server, driven in Chromium"
UPDATE_SCREENSHOTS="${UPDATE_SCREENSHOTS:-0}" tier npm run test:e2e

step "all tiers passed"
awk '
  /passed, [0-9]+ failed/ { p += $1; f += $3; next }
  { for (i = 1; i <= NF; i++) { if ($i == "passed") p += $(i-1); if ($i == "failed") f += $(i-1) } }
  END { printf "%d passed, %d failed\n", p, f }
' "$counts"
