#!/usr/bin/env bash
# `npm start`: installs, builds and opens the extension in a working VS Code.
# Desktop VS Code (`code` on PATH) runs it as the extension under development;
# otherwise the browser VS Code of the code-server npm package serves it on
# 127.0.0.1 and the URL is printed. Ctrl+C stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm install, not npm ci: with omit-lockfile-registry-resolved set, npm 11 writes
  # lockfiles without other platforms' optional packages, and its npm ci then refuses them.
  npm install --no-audit --no-fund
fi
npm run package

if command -v code >/dev/null 2>&1 && code --version >/dev/null 2>&1 && ! code --version 2>&1 | grep -qi code-server; then
  echo "Opening desktop VS Code with Distributed Data Labs..."
  exec code --new-window --extensionDevelopmentPath="$ROOT"
fi

CS=$(bash test/setup/install-code-server.sh | tail -n 1)
STATE="${DATA_LABS_CACHE:-$HOME/.cache/data-labs}/start"
mkdir -p "$STATE/extensions" "$STATE/user-data/User" "${DATA_LABS_ROOT:-$HOME/data-labs}"
[ -f "$STATE/extensions/extensions.json" ] || echo '[]' > "$STATE/extensions/extensions.json"
"$CS" --extensions-dir "$STATE/extensions" --user-data-dir "$STATE/user-data" \
  --install-extension dist/distributed-data-labs.vsix --force >/dev/null
PORT="${PORT:-$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")}"
echo
echo "Distributed Data Labs is running in VS Code at:  http://127.0.0.1:$PORT/?folder=${DATA_LABS_ROOT:-$HOME/data-labs}"
echo "Open that URL in your browser (Ctrl+C here stops it)."
echo
exec "$CS" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check \
  --extensions-dir "$STATE/extensions" --user-data-dir "$STATE/user-data" "${DATA_LABS_ROOT:-$HOME/data-labs}"
