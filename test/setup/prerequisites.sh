#!/usr/bin/env bash
# Installs what the test tiers need beyond npm packages: Debian's Chromium (the
# real browser of the end-to-end tests), code-server's build needs, and the
# code-server VS Code itself (cached outside the clone). Safe to run again: it
# only installs what is missing.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
command -v rg >/dev/null 2>&1 || missing+=(ripgrep)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "Missing system packages: ${missing[*]}. Install them (e.g. sudo apt-get install ${missing[*]}) and run again." >&2
    exit 1
  fi
  echo "Installing ${missing[*]} from Debian..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash "$(dirname "$0")/install-code-server.sh" >/dev/null
echo "Prerequisites ready: $(chromium --version 2>/dev/null | head -1), code-server 4.100.3"
