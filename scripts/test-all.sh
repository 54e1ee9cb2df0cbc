#!/usr/bin/env bash
# The one test command: installs what the tests need on a fresh machine, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
