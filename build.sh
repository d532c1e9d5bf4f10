#!/usr/bin/env bash
# The one entry point of Canopy's build: ./build.sh --target=<Target> (default: Test).
#   ./build.sh --target=Run    start PostgreSQL + Redis and serve Canopy on 127.0.0.1:8080
#   ./build.sh --target=Test   every test and gate (what CI runs)
# Other targets are listed in README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source tools/env.sh

if ! command -v dotnet >/dev/null 2>&1; then
  echo "build.sh: the .NET SDK (see global.json) is required on PATH." >&2
  exit 1
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "build.sh: Node.js 20 and npm are required on PATH." >&2
  exit 1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The gates and the TypeScript check run from node_modules (generation itself is NSwag.MSBuild).
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
dotnet tool restore >/dev/null
rm -f artifacts/test-summary.txt
status=0
NO_COLOR=1 dotnet tool run dotnet-cake build.cake "$@" || status=$?
# The closing line: how many tests and gate checks passed and failed (0 passed = nothing ran).
if [[ -f artifacts/test-summary.txt ]]; then
  echo "Test: $(cat artifacts/test-summary.txt)"
fi
exit "$status"
