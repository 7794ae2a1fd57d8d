#!/usr/bin/env bash
# `npm start`: installs, builds and opens the extension in a working VS Code.
# Desktop VS Code (`code` on PATH) runs it as the extension under development;
# otherwise the browser VS Code of the code-server npm package serves it on
# 127.0.0.1 and the URL is printed. Ctrl+C stops it.
#
# Each step says what it does; what the tools print goes to a log, shown (its end)
# only when a step fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
# Where its VS Code keeps its profile (settings, state, the extension) and its workspace file.
STATE="${DATA_LABS_START_DIR:-${DATA_LABS_CACHE:-$HOME/.cache/data-labs}/start}"
mkdir -p "$STATE"
LOG="$STATE/start.log"
: >"$LOG"

step() {
  local title=$1
  shift
  printf '%s ... ' "$title"
  local started=$SECONDS
  if "$@" >>"$LOG" 2>&1; then
    echo "done ($((SECONDS - started)) s)"
  else
    echo "failed"
    echo
    tail -n 40 "$LOG"
    echo
    echo "The whole log is $LOG."
    exit 1
  fi
}

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm install, not npm ci: with omit-lockfile-registry-resolved set, npm 11 writes
  # lockfiles without other platforms' optional packages, and its npm ci then refuses them.
  step "Installing npm packages (the first time takes a minute or two)" npm install --no-audit --no-fund --loglevel=error
fi
# Built again only when a source is newer than the package (a second start skips it).
VSIX=dist/distributed-data-labs.vsix
if [ ! -f "$VSIX" ] || [ -n "$(find src media labs package.json package-lock.json esbuild.js tsconfig.json README.md CHANGELOG.md LICENSE \
  -name node_modules -prune -o -newer "$VSIX" -print -quit)" ]; then
  step "Building and packaging the extension" npm run package
else
  echo "The extension is built and packaged ($VSIX is newer than its sources)."
fi

# A workspace of its own, empty at first: each lab opened becomes one of its folders.
WORKSPACE=$(node test/support/start-workspace.mjs "$STATE")
mkdir -p "${DATA_LABS_ROOT:-$HOME/data-labs}"

if command -v code >/dev/null 2>&1 && code --version >/dev/null 2>&1 && ! code --version 2>&1 | grep -qi code-server; then
  echo "Opening desktop VS Code with Distributed Data Labs..."
  exec code --new-window --extensionDevelopmentPath="$ROOT" "$WORKSPACE"
fi

printf '%s ... ' "Getting VS Code (code-server; the first time takes a few minutes)"
started=$SECONDS
if CS=$(bash test/setup/install-code-server.sh 2>>"$LOG" | tail -n 1) && [ -x "$CS" ]; then
  echo "done ($((SECONDS - started)) s)"
else
  echo "failed"
  tail -n 40 "$LOG"
  exit 1
fi
mkdir -p "$STATE/extensions" "$STATE/user-data/User"
[ -f "$STATE/extensions/extensions.json" ] || echo '[]' > "$STATE/extensions/extensions.json"
# The first screen is the extension's own walkthrough (it opens it), not the editor's welcome page.
[ -f "$STATE/user-data/User/settings.json" ] || echo '{ "workbench.startupEditor": "none" }' > "$STATE/user-data/User/settings.json"
step "Installing the extension into it" "$CS" --extensions-dir "$STATE/extensions" --user-data-dir "$STATE/user-data" \
  --install-extension dist/distributed-data-labs.vsix --force
PORT="${PORT:-$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")}"
echo
echo "Distributed Data Labs is running in VS Code at:  http://127.0.0.1:$PORT/?workspace=$WORKSPACE"
echo "Open that URL in your browser (Ctrl+C here stops it; VS Code's own log is $STATE/code-server.log)."
echo
"$CS" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check \
  --extensions-dir "$STATE/extensions" --user-data-dir "$STATE/user-data" "$WORKSPACE" >"$STATE/code-server.log" 2>&1 &
CS_PID=$!
trap 'kill "$CS_PID" 2>/dev/null; wait "$CS_PID" 2>/dev/null; exit 0' INT TERM
if ! wait "$CS_PID"; then
  echo "VS Code (code-server) stopped. The end of its log:"
  tail -n 20 "$STATE/code-server.log"
  exit 1
fi
