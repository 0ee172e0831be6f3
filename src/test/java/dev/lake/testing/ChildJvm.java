package dev.lake.testing;

import dev.lake.memory.Memory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs a probe's {@code main} in a child JVM, for tests of misuse that crashed the JVM before its fix: the crash
 * then shows as the child's exit status (134 for a SIGSEGV) and output, not as the end of the test run.
 */
public final class ChildJvm
{
    private ChildJvm()
    {
    }

    /**
     * Runs {@code probe} with Lake's one flag, a 64 MiB heap and its crash report in the temp directory; fails the
     * calling test if it runs past 60 s.
     *
     * @param probe        the class whose {@code main} runs.
     * @param boundsChecks whether Agrona's bounds checks are on in the child.
     * @param args         the probe's arguments.
     * @return {@code "exit N (bounds checks on|off), child JVM output:"}, a newline, then what the child printed.
     * @throws Exception if the child cannot be started or waited for.
     */
    public static String run(final Class<?> probe, final boolean boundsChecks, final String... args) throws Exception
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(Arrays.asList(Memory.REQUIRED_FLAG.split(" ")));
        command.add("-Xmx64m");
        command.add("-Dagrona.disable.bounds.checks=" + !boundsChecks);
        command.add("-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/lake-probe-%p.log");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(probe.getName());
        command.addAll(Arrays.asList(args));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "probe timed out");
        return "exit " + process.exitValue() + " (bounds checks " + (boundsChecks ? "on" : "off") +
            "), child JVM output:\n" + out;
    }
}
