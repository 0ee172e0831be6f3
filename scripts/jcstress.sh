#!/usr/bin/env bash
# Concurrency stress tests of Lake's shared allocators under jcstress (src/jcstress/java/dev/lake/stress).
#
#   scripts/jcstress.sh                 full run: jcstress "default" mode, every test (about 75 minutes on 2 cores)
#   scripts/jcstress.sh --quick         CI run: "sanity" mode, about 2 minutes on 2 cores
#   scripts/jcstress.sh --mode quick    any jcstress preset (sanity, quick, default, tough, stress); quick: ~15 min
#   extra arguments go to jcstress, e.g.  scripts/jcstress.sh --quick -t 'Bytes.*'
#   --no-build                      reuse target/jcstress.jar
#
# Exits non-zero when any test has a FORBIDDEN outcome, an error, or when jcstress itself fails. The HTML report
# goes to target/jcstress-report/index.html, the full log to target/jcstress.log.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=default
build=1
extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) mode=sanity ;;
        --mode) mode="$2"; shift ;;
        --no-build) build=0 ;;
        *) extra+=("$1") ;;
    esac
    shift
done

if [[ $build == 1 ]]; then
    mvn -q -B -DskipTests -Pjcstress package
fi

flags="--add-exports java.base/jdk.internal.misc=ALL-UNNAMED"
if java -version 2>&1 | grep -Eq 'version "(2[4-9]|[3-9][0-9])'; then
    flags="$flags --sun-misc-unsafe-memory-access=allow" # JDK 24+: jcstress itself uses sun.misc.Unsafe
fi

regex='dev\.lake\.stress\..*'
select=(-t "$regex")
for ((i = 0; i < ${#extra[@]}; i++)); do
    if [[ ${extra[$i]} == -t ]]; then
        select=() # the caller picked the tests
        regex="${extra[$((i + 1))]:-}"
    fi
done

report=target/jcstress-report
log=target/jcstress.log
rm -rf "$report"
mkdir -p "$report"
set +e
(cd target && java $flags -jar jcstress.jar -m "$mode" -v -r "jcstress-report" \
    -jvmArgsPrepend "$flags" "${select[@]}" "${extra[@]}") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# jcstress prints a totals line like "(Results: 28 planned; 28 passed, 0 failed, 0 soft errs, 0 hard errs)".
totals=$(grep -E '^\(Results: ' "$log" | tail -1 || true)
echo
echo "jcstress ($mode): $totals, exit code $rc"
if [[ $rc != 0 ]]; then
    echo "FAILED: jcstress exited with $rc" >&2
    exit 1
fi
if [[ -z "$totals" ]] || ! grep -Eq ' 0 failed, [0-9]+ soft errs, 0 hard errs' <<<"$totals"; then
    echo "FAILED: forbidden outcomes or errors (see $log and $report/index.html)" >&2
    exit 1
fi
if ! grep -q 'Failed tests: No matches.' "$log" || ! grep -q 'Error tests: No matches.' "$log"; then
    echo "FAILED: jcstress lists failed or error tests (see $log and $report/index.html)" >&2
    exit 1
fi
# jcstress silently skips a test that has more actors than the machine has CPUs: make sure every selected test ran.
expected=$(grep -rl '@JCStressTest' src/jcstress/java | sed -e 's|^src/jcstress/java/||' -e 's|\.java$||' -e 's|/|.|g' |
    grep -Ec "$regex" || true)
ran=$(grep -Eo '\[(OK|FAILED|ERROR)\] dev\.lake\.stress\.[A-Za-z0-9_]+' "$log" | awk '{print $2}' | sort -u | wc -l)
if [[ $ran -lt $expected ]]; then
    echo "FAILED: only $ran of $expected selected tests ran (a test with more actors than CPUs is skipped)" >&2
    exit 1
fi
echo "OK: $ran tests, no forbidden outcome, no error"
