package dev.lake.memory;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs the library in a child JVM: with the documented flag it works and prints no Unsafe warning (checked on
 * the running JDK and on JDK 25 where one is installed); without it, it fails fast naming the flag.
 */
class JvmFlagsTest
{
    private static final String CURRENT_JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @Test
    void withTheDocumentedFlagTheLibraryRunsSilently() throws Exception
    {
        final Result result = run(CURRENT_JAVA, true);
        assertEquals(0, result.exitCode, result.toString());
        assertTrue(result.stdout.contains("probe ok"), result.toString());
        assertFalse(result.stderr.toLowerCase().contains("warning"), result.toString());
    }

    @Test
    void onJdk25TheLibraryRunsWithoutUnsafeWarnings() throws Exception
    {
        final String java25 = findJdk25();
        assumeTrue(java25 != null, "no JDK 25 on this machine");
        final Result result = run(java25, true);
        assertEquals(0, result.exitCode, result.toString());
        assertTrue(result.stdout.contains("probe ok"), result.toString());
        assertFalse(result.stderr.toLowerCase().contains("warning"), result.toString());
    }

    @Test
    void withoutTheFlagFirstUseNamesTheMissingFlag() throws Exception
    {
        final Result result = run(CURRENT_JAVA, false);
        assertNotEquals(0, result.exitCode, result.toString());
        assertTrue(result.stderr.contains(Memory.REQUIRED_FLAG), result.toString());
    }

    static String findJdk25()
    {
        if (Runtime.version().feature() >= 25)
        {
            return CURRENT_JAVA;
        }
        final String env = System.getenv("JAVA25_HOME");
        final List<Path> candidates = new ArrayList<>();
        if (env != null)
        {
            candidates.add(Path.of(env));
        }
        final File[] jvms = new File("/usr/lib/jvm").listFiles();
        if (jvms != null)
        {
            Arrays.stream(jvms).filter(f -> f.getName().contains("25")).forEach(f -> candidates.add(f.toPath()));
        }
        return candidates.stream()
            .map(home -> home.resolve("bin").resolve("java"))
            .filter(Files::isExecutable)
            .map(Path::toString)
            .findFirst()
            .orElse(null);
    }

    private static Result run(final String java, final boolean withFlag) throws Exception
    {
        final List<String> command = new ArrayList<>();
        command.add(java);
        if (withFlag)
        {
            command.addAll(Arrays.asList(Memory.REQUIRED_FLAG.split(" ")));
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(FlagProbe.class.getName());
        final Path out = Files.createTempFile("probe", ".out");
        final Path err = Files.createTempFile("probe", ".err");
        try
        {
            final Process process = new ProcessBuilder(command)
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "probe did not finish");
            return new Result(process.exitValue(),
                Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        }
        finally
        {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private record Result(int exitCode, String stdout, String stderr)
    {
    }
}
