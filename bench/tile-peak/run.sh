#!/usr/bin/env bash
# The AMX bf16 tiles' peak on this CPU (bench/tile-peak/tile_peak.cpp), the limit that
# bench/NOTES.md holds compute "bfloat16"'s matmuls against: `npm run bench:tile-peak [threads]`.
# Exits 2, saying so, on a CPU or kernel without AMX-BF16.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
g++ -O2 -std=c++17 -pthread "$here/tile_peak.cpp" -o "$out/tile_peak"
"$out/tile_peak" "${1:-$(nproc)}"
