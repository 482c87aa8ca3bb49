#!/usr/bin/env bash
# System packages the test suite needs on a fresh Debian CI container: headless Chromium for the browser test.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=$([[ $(id -u) -eq 0 ]] || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
chromium --version
