package dev.lake.testing;

import dev.lake.memory.Memory;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs a probe's {@code main} in a child JVM, for tests of misuse that crashed the JVM before its fix (the crash
 * then shows as the child's exit status, 134 for a SIGSEGV, and output, not as the end of the test run) and for
 * tests that need a nearly full heap. A child that runs past its time is killed and fails the calling test: it
 * never holds the suite.
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
        final List<String> flags = List.of("-Xmx64m", "-Dagrona.disable.bounds.checks=" + !boundsChecks,
            "-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/lake-probe-%p.log");
        final Result result = start(probe, flags, args, 60);
        return "exit " + result.exit + " (bounds checks " + (boundsChecks ? "on" : "off") + "), child JVM output:\n" +
            result.output;
    }

    /**
     * Runs {@code probe} on a small heap (24 MiB, serial collector, no thread-local allocation buffers, so that a
     * probe filling it with {@link HeapFiller} meets refusals one allocation at a time); fails the calling test
     * unless the child exits with status 0 within 120 s.
     *
     * @param probe the class whose {@code main} runs.
     * @param args  the probe's arguments.
     * @return what the child printed.
     * @throws Exception if the child cannot be started or waited for.
     */
    public static String runOnSmallHeap(final Class<?> probe, final String... args) throws Exception
    {
        final List<String> flags =
            List.of("-Xmx24m", "-XX:+UseSerialGC", "-XX:-UseTLAB", "-XX:-UseGCOverheadLimit", "-Xshare:auto");
        final Result result = start(probe, flags, args, 120);
        assertEquals(0, result.exit, "probe failed:\n" + result.output);
        return result.output;
    }

    /**
     * Runs {@code probe} interpreted ({@code -Xint}, where every call is a point at which a {@code StackOverflowError}
     * can be thrown) on a 512 KiB thread stack and a 64 MiB heap, for {@link StackLadder}; fails the calling test
     * unless the child exits with status 0 within 60 s.
     *
     * @param probe the class whose {@code main} runs.
     * @param args  the probe's arguments.
     * @return what the child printed.
     * @throws Exception if the child cannot be started or waited for.
     */
    public static String runInterpreted(final Class<?> probe, final String... args) throws Exception
    {
        final Result result = start(probe, List.of("-Xint", "-Xss512k", "-Xmx64m"), args, 60);
        assertEquals(0, result.exit, "probe failed:\n" + result.output);
        return result.output;
    }

    private static Result start(final Class<?> probe, final List<String> flags, final String[] args, final int seconds)
        throws Exception
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(Arrays.asList(Memory.REQUIRED_FLAG.split(" ")));
        command.addAll(flags);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(probe.getName());
        command.addAll(Arrays.asList(args));
        // output to a file, not a pipe: a child that hangs is then killed after its time instead of blocking a read
        final File log = File.createTempFile("lake-probe", ".out");
        try
        {
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log).start();
            if (!process.waitFor(seconds, TimeUnit.SECONDS))
            {
                process.destroyForcibly().waitFor();
                fail("probe " + probe.getSimpleName() + " ran past " + seconds + " s and was killed; its output:\n" +
                    new String(Files.readAllBytes(log.toPath()), StandardCharsets.UTF_8));
            }
            return new Result(process.exitValue(), new String(Files.readAllBytes(log.toPath()), StandardCharsets.UTF_8));
        }
        finally
        {
            Files.deleteIfExists(log.toPath());
        }
    }

    private record Result(int exit, String output)
    {
    }
}
