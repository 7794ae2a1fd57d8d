#!/usr/bin/env bash
# Installs the VS Code that the extension-host and end-to-end tests run in: the
# `code-server` npm package (VS Code 1.100.3, server + web workbench), the only
# real VS Code that installs on an offline machine. It goes into a cache outside
# the clone, so a second run on the same machine reuses it.
# Prints the path of the code-server executable on its last line.
set -euo pipefail
VERSION=4.100.3
CACHE="${DATA_LABS_CACHE:-$HOME/.cache/data-labs}"
DEST="$CACHE/code-server-$VERSION"
BIN="$DEST/node_modules/.bin/code-server"
if [ -x "$BIN" ] && [ -f "$DEST/.complete" ]; then
  echo "$BIN"
  exit 0
fi
need_apt=()
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
fi
# @vscode/ripgrep downloads rg from GitHub during install; that host is out of
# reach here, so its download cache is prefilled with Debian's ripgrep.
RG_CACHE=/tmp/vscode-ripgrep-cache-1.15.11
mkdir -p "$RG_CACHE"
if [ ! -f "$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" ]; then
  tar -czf "$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg
fi
rm -rf "$DEST"
mkdir -p "$DEST"
cd "$DEST"
echo '{"name":"code-server-host","private":true}' > package.json
echo "installing code-server@$VERSION into $DEST (about a minute)" >&2
npm_config_unsafe_perm=true npm_config_yes=true npm install --no-audit --no-fund --loglevel=error "code-server@$VERSION" >&2
touch "$DEST/.complete"
echo "$BIN"
