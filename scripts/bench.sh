#!/usr/bin/env bash
# Builds the JMH suite, runs it on JDK 17 and on JDK 25 (where installed), writes the JMH JSON under
# target/bench/ and regenerates docs/benchmarks.md with a chart per JDK.
#
#   scripts/bench.sh                 full run (about 15-20 minutes on 2 cores)
#   scripts/bench.sh --smoke         the regression guard: key workloads, a few iterations, < 1 minute;
#                                    fails only when Lake is worse than its peer by the stated wide margin
#   BENCH_THREADS=8 scripts/bench.sh also runs the shared-allocator benchmarks with 8 threads
#   scripts/bench.sh REGEX           runs only the benchmarks matching REGEX (docs are not rewritten)
#
# The JDK 25 run uses target/benchmarks-ffm.jar (-Pbench,ffm, built with JDK 25 at release 22): the same suite
# plus the JDK's own java.lang.foreign peers (src/jmh-ffm/java), which need JDK 22+. JDK 17 runs
# target/benchmarks.jar (release 17), which has no FFM peers.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
filter=""
for arg in "$@"; do
  case "$arg" in
    --smoke) mode=smoke ;;
    *) filter="$arg" ;;
  esac
done

find_jdk() {
  for candidate in "$@"; do
    if [ -n "$candidate" ] && [ -x "$candidate/bin/java" ]; then echo "$candidate"; return; fi
  done
}
jdk17=$(find_jdk "${JAVA17_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk* /usr/lib/jvm/temurin-17*)
jdk25=$(find_jdk "${JAVA25_HOME:-}" /usr/lib/jvm/temurin-25* /usr/lib/jvm/java-25*)
if [ -z "$jdk17" ]; then jdk17=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}; fi

spec_version() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = //p'; }

JAVA_HOME="$jdk17" mvn -q -B -ntp -DskipTests -Pbench package
jar25=target/benchmarks.jar
if [ "$mode" != smoke ] && [ -n "$jdk25" ] && [ "$(spec_version "$jdk25")" -ge 22 ]; then
  # its own build directory (target/ffm), so target/classes and target/benchmarks.jar stay release 17
  JAVA_HOME="$jdk25" mvn -q -B -ntp -Dmaven.test.skip=true -Pbench,ffm package
  jar25=target/benchmarks-ffm.jar
fi
mkdir -p target/bench

# Netty at its best (thread caches for every thread, no leak detection); the *Defaults benchmarks fork without.
common=(-prof gc -rf json)
if [ "$mode" = smoke ]; then
  settings=(-f 1 -wi 1 -w 1 -i 1 -r 1)
  pattern="${filter:-$(python3 scripts/bench-report.py --guard-regex)}"
else
  settings=(-f 1 -wi 1 -w 1 -i 3 -r 1)
  pattern="${filter:-dev.lake.bench}"
fi

run_on() {
  local label=$1 home=$2 jar=$3 out=$4
  shift 4
  # Every fork gets a fixed, pre-touched heap, as a tuned Java service runs: with the default heap (a quarter of
  # the machine) a short run keeps touching fresh eden pages, and where a page fault is slow (about 8 us on a
  # VM) the heap peers (new long[n], Netty's objects) would be charged for it. -jvmArgs replaces the JVM options
  # forks inherit from this launcher and leaves each benchmark's @Fork(jvmArgsAppend) in place (Netty's tuning).
  local jvm="-Xms512m -Xmx512m -XX:+AlwaysPreTouch --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"
  if [ "$(spec_version "$home")" -ge 24 ]; then
    jvm="$jvm --sun-misc-unsafe-memory-access=allow"
  fi
  local flags=(-jvmArgs "$jvm")
  # a filter may match only benchmarks one jar has (FfmPeersBench is only in the JDK 22+ jar): skip, not fail
  local listed
  listed=$("$home/bin/java" -jar "$jar" -l "$pattern" 2>/dev/null || true)
  if ! grep -q '^dev\.lake\.' <<< "$listed"; then
    echo "=== $label: no benchmark in $jar matches $pattern, skipped ==="
    return 0
  fi
  echo "=== benchmarks on $label ($home, $jar) ==="
  "$home/bin/java" --add-exports java.base/jdk.internal.misc=ALL-UNNAMED -jar "$jar" \
    "$pattern" "${settings[@]}" "${common[@]}" -rff "$out" "${flags[@]}" "$@"
}

if [ "$mode" = smoke ]; then
  run_on "JDK 17" "$jdk17" target/benchmarks.jar target/bench/smoke.json
  python3 scripts/bench-report.py --check target/bench/smoke.json
  exit $?
fi

run_on "JDK 17" "$jdk17" target/benchmarks.jar target/bench/jdk17.json
if [ -n "$jdk25" ]; then run_on "JDK 25" "$jdk25" "$jar25" target/bench/jdk25.json; fi
if [ -n "${BENCH_THREADS:-}" ]; then
  # the shared allocators again with more threads (-t overrides @Threads); kept apart from the tables
  pattern='FixedArenaBench.handleWrite8$|FixedArenaBench.objectWrite8$|JctoolsPoolBench.write8$|NettySlotBench.write8$'
  run_on "JDK 17, ${BENCH_THREADS} threads" "$jdk17" target/benchmarks.jar "target/bench/jdk17-t${BENCH_THREADS}.json" \
    -t "$BENCH_THREADS"
fi
if [ -n "$filter" ]; then echo "filtered run: docs/benchmarks.md left as is"; exit 0; fi

cmd="scripts/bench.sh"
python3 scripts/bench-report.py --json target/bench/jdk17.json --label "JDK 17" --command "$cmd" \
  --out-md target/bench/jdk17.md --out-svg docs/benchmarks-jdk17.svg
parts=(target/bench/jdk17.md)
if [ -n "$jdk25" ]; then
  python3 scripts/bench-report.py --json target/bench/jdk25.json --label "JDK 25" --command "$cmd" \
    --out-md target/bench/jdk25.md --out-svg docs/benchmarks-jdk25.svg
  parts+=(target/bench/jdk25.md)
fi
{ cat docs/benchmarks-intro.md; echo; for p in "${parts[@]}"; do cat "$p"; echo; done; } > docs/benchmarks.md
echo "docs/benchmarks.md regenerated"
