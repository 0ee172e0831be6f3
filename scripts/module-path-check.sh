#!/usr/bin/env bash
# Checks that the built jar works on the module path as module dev.lake (run after `mvn package` or `verify`).
set -euo pipefail
cd "$(dirname "$0")/.."
jar=$(ls target/lake-*.jar | grep -v -e sources -e javadoc | head -1)
unzip -p "$jar" META-INF/MANIFEST.MF | grep -q "Automatic-Module-Name: dev.lake" ||
  { echo "module-path check: $jar has no Automatic-Module-Name: dev.lake" >&2; exit 1; }
cp_file=target/runtime-classpath.txt
mvn -q -B -ntp dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp_file"
module_path="$jar:$(tr ':' '\n' < "$cp_file" | grep -E '/(agrona|jctools-core)-' | paste -sd: -)"
java --module-path "$module_path" --add-modules dev.lake \
  --add-exports java.base/jdk.internal.misc=org.agrona scripts/ModulePathProbe.java
