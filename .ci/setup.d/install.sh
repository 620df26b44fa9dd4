#!/usr/bin/env bash
# Installs Debian's Chromium for the account-page browser tests (test/web)
# when it is missing. playwright-core drives it at /usr/bin/chromium.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium for the browser tests"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
/usr/bin/chromium --version 2>/dev/null || true
