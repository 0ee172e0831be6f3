#!/usr/bin/env bash
# Concurrency stress tests of Lake's shared allocators under jcstress (src/jcstress/java/dev/lake/stress).
#
#   scripts/jcstress.sh             full run: jcstress "default" mode, every test (tens of minutes on 2 cores)
#   scripts/jcstress.sh --quick     CI run: "sanity" mode, about 1-2 minutes on 2 cores
#   scripts/jcstress.sh --tough     longer run: jcstress "tough" mode
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
        --tough) mode=tough ;;
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

select=(-t 'dev\.lake\.stress\..*')
for arg in "${extra[@]}"; do
    if [[ $arg == -t ]]; then
        select=() # the caller picked the tests
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
echo "OK: no forbidden outcome, no error"
