#!/usr/bin/env bash
# The one test command (README, .ci/run): on a fresh machine of this kind it installs what the tests need
# (Debian's Chromium when missing, the e2e npm packages), builds, then runs every test: `cargo test --workspace`
# and the Playwright suite in e2e/. Both suites always run; the exit status is non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

# --- what the tests need ------------------------------------------------------------------------------------
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    step "installing Debian chromium (no $chromium)"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    # Another apt may be running (e.g. a machine's first boot): wait for its lock instead of failing.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y chromium
fi
"$chromium" --version 2>/dev/null || true

step "npm ci (e2e/)"
# Playwright must not try to download its own browsers: the suite uses Debian's Chromium.
(cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)

# --- build -------------------------------------------------------------------------------------------------
step "cargo build --release (binaries the e2e suite runs)"
cargo build --release -p core-server -p cli-client -p web-gateway

# --- tests -------------------------------------------------------------------------------------------------
status=0

step "cargo test --workspace --no-fail-fast (every test binary runs even if one fails)"
cargo_status=0
cargo test --workspace --no-fail-fast || cargo_status=$?

step "playwright test (e2e/)"
e2e_status=0
(cd e2e && SB_SKIP_BUILD=1 npx --no-install playwright test) || e2e_status=$?

step "summary ($((SECONDS - started)) s)"
if [ "$cargo_status" -ne 0 ]; then echo "cargo test --workspace: FAILED (exit $cargo_status)"; status=1;
else echo "cargo test --workspace: ok"; fi
if [ "$e2e_status" -ne 0 ]; then
    echo "playwright e2e: FAILED (exit $e2e_status); screenshots and traces in e2e/test-results/," \
         "process logs in e2e/logs/"
    status=1
else echo "playwright e2e: ok"; fi
exit "$status"
