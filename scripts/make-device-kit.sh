#!/usr/bin/env bash
# Makes .device-kit/: what `npm run gpu:check` (scripts/gpu-check.sh) needs on a GPU machine that
# has no Node.js and no network. Run it here, on an x86-64 Linux machine with node and an
# installed node_modules, before a session with the device tool:
#
#   bash scripts/make-device-kit.sh
#
# It writes (and ignores locally, through .git/info/exclude):
#   .device-kit/node.xz               this machine's node binary, xz-compressed
#   .device-kit/node_modules.tar.xz   the packages gpu:check uses: the package's dependencies plus
#                                     vitest and tsx, with everything they need (from
#                                     package-lock.json); no typescript, @types or prebuildify
#   .device-kit/MANIFEST              versions and sizes
# then checks that the working tree plus the kit fit the device tool's 64 MiB and prints the
# device tool's `run` arguments. Rerunning it refreshes node_modules.tar.xz; node.xz is reused
# while the node binary is unchanged.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
KIT=.device-kit
LIMIT_MIB=64

die() { echo "make-device-kit: $*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

command -v node >/dev/null || die "node is not on PATH"
command -v xz >/dev/null || die "xz is not installed (apt-get install xz-utils)"
[[ $(uname -m) == x86_64 ]] || die "the device machine is x86-64; this machine is $(uname -m), so its node would not run there"
[[ -f package-lock.json && -d node_modules ]] || die "run npm install first (package-lock.json and node_modules are needed)"

# Ignore the kit locally (not in .gitignore: it is this checkout's business only).
exclude=$(git rev-parse --git-path info/exclude 2>/dev/null || echo .git/info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qxF "/$KIT/" "$exclude" 2>/dev/null || echo "/$KIT/" >>"$exclude"
mkdir -p "$KIT"

# 1. node itself, reused while the binary is the same one.
NODE_BIN=$(readlink -f "$(command -v node)")
NODE_VERSION=$(node --version)
node_id="$NODE_BIN $NODE_VERSION $(stat -c '%s %Y' "$NODE_BIN")"
if [[ -f $KIT/node.xz && -f $KIT/node.id && $(cat "$KIT/node.id") == "$node_id" ]]; then
  echo "node.xz: up to date ($NODE_VERSION)"
else
  echo "node.xz: compressing $NODE_BIN ($NODE_VERSION, $(mib "$(stat -c %s "$NODE_BIN")"))..."
  xz -T0 -9 -c "$NODE_BIN" >"$KIT/node.xz.tmp"
  mv "$KIT/node.xz.tmp" "$KIT/node.xz"
  echo "$node_id" >"$KIT/node.id"
fi

# 2. node_modules: the closure of the package's dependencies plus vitest and tsx, resolved the way
#    node does (nested node_modules first), taking optional dependencies only where installed.
node - "$KIT/packages.txt" <<'JS'
const fs = require("node:fs");
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
const pkgs = lock.packages;
const root = pkgs[""];
const roots = [...Object.keys(root.dependencies ?? {}), "vitest", "tsx"];
const keep = new Set();
const missing = [];
function resolve(from, name) {
  // from: "" or "node_modules/a/node_modules/b"
  let dir = from;
  for (;;) {
    const key = (dir ? dir + "/" : "") + "node_modules/" + name;
    if (pkgs[key] && fs.existsSync(key)) return key;
    if (!dir) return null;
    const i = dir.lastIndexOf("node_modules/");
    dir = i <= 0 ? "" : dir.slice(0, i - 1);
  }
}
function visit(key) {
  if (keep.has(key)) return;
  keep.add(key);
  const p = pkgs[key];
  const deps = { ...p.dependencies, ...p.optionalDependencies };
  for (const [name, _] of Object.entries(p.peerDependencies ?? {}))
    if (!p.peerDependenciesMeta?.[name]?.optional) deps[name] = "*";
  for (const name of Object.keys(deps)) {
    const found = resolve(key, name);
    if (found) visit(found);
    else if (!(p.optionalDependencies && name in p.optionalDependencies) && !(p.peerDependencies && name in p.peerDependencies))
      missing.push(`${name} (needed by ${key})`);
  }
}
for (const name of roots) {
  const key = resolve("", name);
  if (!key) { console.error(`make-device-kit: ${name} is not installed: run npm install`); process.exit(1); }
  visit(key);
}
if (missing.length) console.error(`make-device-kit: warning: not installed: ${missing.join(", ")}`);
// Drop entries nested inside kept ones (the parent's directory already carries them).
const sorted = [...keep].sort();
const out = sorted.filter((k) => !sorted.some((o) => o !== k && k.startsWith(o + "/")));
// node_modules/.bin links whose targets are kept: `node_modules/.bin/vitest` keeps working.
for (const link of fs.existsSync("node_modules/.bin") ? fs.readdirSync("node_modules/.bin") : []) {
  try {
    const target = fs.realpathSync(`node_modules/.bin/${link}`);
    if (out.some((k) => target.startsWith(fs.realpathSync(k) + "/"))) out.push(`node_modules/.bin/${link}`);
  } catch {}
}
fs.writeFileSync(process.argv[2], out.join("\n") + "\n");
console.log(`node_modules.tar.xz: ${keep.size} packages (of ${Object.keys(pkgs).length - 1} installed)`);
JS
tar --owner=0 --group=0 -cf - -T "$KIT/packages.txt" | xz -T0 -9 >"$KIT/node_modules.tar.xz.tmp"
mv "$KIT/node_modules.tar.xz.tmp" "$KIT/node_modules.tar.xz"

# 3. Sizes: the device tool carries the working tree (tracked and untracked, not ignored) and the
#    carried paths, 64 MiB in all.
node_bytes=$(stat -c %s "$KIT/node.xz")
nm_bytes=$(stat -c %s "$KIT/node_modules.tar.xz")
kit_bytes=$(du -sb "$KIT" | cut -f1)
tree_bytes=$( (git ls-files -co --exclude-standard -z | xargs -0 -r stat -c %s 2>/dev/null || true) | awk '{ s += $1 } END { print s + 0 }')
total=$((kit_bytes + tree_bytes))
{
  echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  echo "node: $NODE_VERSION from $NODE_BIN -> node.xz $(mib "$node_bytes")"
  echo "node_modules.tar.xz: $(mib "$nm_bytes") ($(wc -l <"$KIT/packages.txt") paths)"
  echo "vitest: $(node -p 'require("./node_modules/vitest/package.json").version'), tsx: $(node -p 'require("./node_modules/tsx/package.json").version')"
} >"$KIT/MANIFEST"
cat "$KIT/MANIFEST"
echo "kit: $(mib "$kit_bytes"); working tree that travels: $(mib "$tree_bytes"); together $(mib "$total") of $LIMIT_MIB MiB"
if ((total > LIMIT_MIB * 1048576)); then
  die "the tree plus the kit exceed the device tool's $LIMIT_MIB MiB: remove large untracked files first"
elif ((total > (LIMIT_MIB - 4) * 1048576)); then
  echo "make-device-kit: warning: less than 4 MiB to spare under the $LIMIT_MIB MiB limit" >&2
fi

cat <<EOF

Device tool call (one H200; the script keeps to GPU_CHECK_BUDGET_S seconds, then prints its table):
  command:   GPU_CHECK_BUDGET_S=540 bash scripts/gpu-check.sh
  carry:     [".device-kit"]
  timeout_s: 540
Results come back under \$OUT: gpu-check.txt (the table), gpu-check.log, bench-*.json, torch-ref.json.
EOF
