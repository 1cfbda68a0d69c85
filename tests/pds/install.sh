#!/usr/bin/env bash
# Install the local Bluesky PDS for the tests into tests/pds/node_modules, from the committed lock file.
# Reaches only the npm registry (through npm's own configuration). Does nothing when node_modules already
# matches the lock file, this Node version and this machine (a stamp file records that).
# better-sqlite3 is compiled from source against the local Node headers: npm 11 skips install scripts,
# and its prebuilt binaries would come from outside the registry.
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "tests/pds/install.sh: $*" >&2; exit 1; }

command -v node >/dev/null || die "node not found on PATH (the PDS needs Node.js 20)"
command -v npm >/dev/null || die "npm not found on PATH"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "Node.js $(node --version) is too old: @atproto/pds 0.4.217 needs 18 or newer"

stamp=node_modules/.crosspost-installed
want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node --version) $(uname -m)"

# Two test runs starting at once must not run npm ci over each other.
exec 9>"${TMPDIR:-/tmp}/crosspost-pds-install-$(pwd | sha256sum | cut -c1-12).lock"
flock -w 900 9 || die "timed out waiting for another install to finish"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

# Compile native modules against the headers that came with this Node, never downloaded ones.
prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/node.h" ]; then
    export npm_config_nodedir="$prefix"
fi
export npm_config_build_from_source=true

rm -f "$stamp"
start=$(date +%s)
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
# The compile takes about a minute: keep the built addon in a cache keyed on its version and this Node,
# so that a reinstall (a fresh clone on the same machine, as in CI) takes only the npm ci time.
addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/crosspost-pds"
cached="$cache_dir/better_sqlite3-$(node -p 'require("better-sqlite3/package.json").version')-node-$(node --version)-$(uname -m).node"
sqlite_loads() { node -e 'new (require("better-sqlite3"))(":memory:").prepare("select 1").get()' 2>/dev/null; }
if [ -f "$cached" ]; then
    mkdir -p "$(dirname "$addon")" && cp "$cached" "$addon"
fi
if ! sqlite_loads; then
    npm rebuild better-sqlite3 --loglevel=error
    mkdir -p "$cache_dir" && cp "$addon" "$cached.tmp$$" && mv "$cached.tmp$$" "$cached"
fi
sqlite_loads || die "better-sqlite3 does not load after the rebuild"
node -e 'require("@atproto/pds"); require("@did-plc/server")' || die "installed, but @atproto/pds or better-sqlite3 does not load"
echo "$want" >"$stamp"
echo "tests/pds: installed in $(( $(date +%s) - start )) s"
