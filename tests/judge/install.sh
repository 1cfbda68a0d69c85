#!/usr/bin/env bash
# Install the corpus judge (npm twitter-text 3.1.0 and @atproto/api, see package.json) into
# tests/judge/node_modules from the committed lock file. Reaches only the npm registry (through npm's
# own configuration). Does nothing when node_modules already matches the lock file and this Node version
# (a stamp file records that). No install scripts run: both packages are plain JavaScript.
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "tests/judge/install.sh: $*" >&2; exit 1; }

command -v node >/dev/null || die "node not found on PATH (the corpus judge needs Node.js 18 or newer)"
command -v npm >/dev/null || die "npm not found on PATH"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "Node.js $(node --version) is too old: @atproto/api 0.21.0 needs 18 or newer"

stamp=node_modules/.crosspost-installed
want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node --version)"

# Two test runs starting at once must not run npm ci over each other.
exec 9>"${TMPDIR:-/tmp}/crosspost-judge-install-$(pwd | sha256sum | cut -c1-12).lock"
flock -w 300 9 || die "timed out waiting for another install to finish"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

rm -f "$stamp"
start=$(date +%s)
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
echo '{"id":0,"judge":"x","text":"ok"}' | node judge.mjs | grep -q '"valid":true' \
    || die "installed, but judge.mjs does not answer (twitter-text or @atproto/api does not load)"
echo "$want" >"$stamp"
echo "tests/judge: installed in $(( $(date +%s) - start )) s"
