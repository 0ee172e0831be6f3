#!/usr/bin/env bash
# Soak test of Lake's shared allocators (FixedArena object and handle tiers, SliceAllocator handles and references
# shared across threads, ThreadLakes churn) from many threads; prints throughput every 10 s, then checks native
# bytes back to the baseline, exact metrics and zero leaks. Exits non-zero on any violation.
#
#   scripts/soak.sh                         10 minutes (the default)
#   scripts/soak.sh --seconds 60            any duration
#   scripts/soak.sh --seconds 60 --threads 16 --report 5
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B test-compile exec:exec -Dexample=dev.lake.reliability.Soak -Dexample.args="$*"
