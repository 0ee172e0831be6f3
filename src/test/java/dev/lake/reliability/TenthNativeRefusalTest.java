package dev.lake.reliability;

import dev.lake.memory.Memory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Tenth review: the operating system refusing native memory in the middle of a Lake operation. One child JVM
 * ({@link TenthNativeRefusalProbe}) runs under {@code ulimit -v} with small JVM reservations, fills its address space
 * with raw mallocs until refused, keeps 48 MiB of room and asks Lake for 64 MiB at each allocator's growth points. The
 * contract checked in each scenario: the call throws {@link OutOfMemoryError} from {@code Unsafe.allocateMemory} (the
 * try forms return their "refused" value), the allocator's state is as before (stats, positions, open transactions,
 * budgets, counts), {@code NativeMemory.reservedBytes()}/{@code liveRegions()} are exact, and the same call succeeds
 * once the room is back.
 *
 * <p>Linux only (it needs {@code bash} and {@code ulimit -v}); JDK 17 and 25.
 */
@EnabledOnOs(OS.LINUX)
class TenthNativeRefusalTest
{
    /** Address space for the child: well above what the JVM needs (about 1.2 GiB here), squeezed by the probe itself. */
    private static final long ULIMIT_KIB = 6L << 20;

    private static String output;

    @BeforeAll
    static void runProbe() throws Exception
    {
        output = runUnderAddressLimit();
        assertTrue(output.contains("DONE"), "probe did not finish:\n" + output);
    }

    /**
     * {@code DirectViews} made its template {@code ByteBuffer.allocateDirect(1)} in its static initializer, so the first
     * {@code Region.byteBuffer()} in a JVM, met while the JDK's direct memory was spent (its
     * {@code -XX:MaxDirectMemorySize} reached, or its malloc refused), failed the class for good: that call threw
     * {@link OutOfMemoryError}, and every {@code byteBuffer()} of every region, pool {@code Bytes} and slice view
     * afterwards threw {@link NoClassDefFoundError}, long after the memory was back. Since the sixteenth round the
     * template has capacity 0, which the limit does not count: the first view is made with the direct memory spent.
     */
    @Test
    void aByteBufferViewRefusedAtFirstUseWorksOnceMemoryIsBack()
    {
        assertPassed("firstByteBufferViewRefused");
    }

    /** A new arena block refused inside a budgeted transaction and a savepoint: nothing changes, the retry works. */
    @Test
    void anArenaBlockRefusedInsideASavepointChangesNothing()
    {
        assertPassed("arenaBlockRefusedInsideSavepoint");
    }

    /** An {@code ArenaVec} whose growth needs a refused block keeps its size, capacity and elements. */
    @Test
    void anArenaVecGrowthRefusedKeepsTheVector()
    {
        assertPassed("arenaVecGrowthRefused");
    }

    /** A slice needing a fresh chunk (shared, reference, local) refused: the current chunk and the stats stay. */
    @Test
    void aSliceNeedingAFreshChunkRefusedKeepsTheCurrentChunk()
    {
        assertPassed("sliceFreshChunkRefused");
    }

    /** A slice needing a dedicated chunk (shared, reference, local) refused: nothing changes. */
    @Test
    void aSliceNeedingADedicatedChunkRefusedChangesNothing()
    {
        assertPassed("sliceDedicatedChunkRefused");
    }

    /** A strict allocator's first call refused its dedicated chunk binds nothing: another thread allocates first. */
    @Test
    void aStrictSliceAllocatorsFirstCallRefusedItsChunkBindsNothing()
    {
        assertPassed("sliceFirstCallsDedicatedChunkRefused");
    }

    /** {@code FixedArena} and {@code BuddyArena} builds refused: nothing held, a retry builds. */
    @Test
    void poolArenaBuildsRefusedHoldNothing()
    {
        assertPassed("poolArenaBuildRefused");
    }

    /** {@code Lake} build and {@code ThreadLakes.init()} refused: nothing held or counted, a retry works. */
    @Test
    void aLakeAndAThreadLakeRefusedHoldNothing()
    {
        assertPassed("lakeAndThreadLakeRefused");
    }

    /** An arena's first block, a slice allocator's first chunk, a vector's first storage refused: nothing held. */
    @Test
    void firstBlocksAndChunksRefusedHoldNothing()
    {
        assertPassed("firstBlocksAndChunksRefused");
    }

    /**
     * {@code NativeMemory} started its {@code Cleaner} (a thread) in its static initializer, which the first region of
     * a JVM runs: met while the operating system refused a thread's stack (the address space nearly spent, or a thread
     * limit), the initializer threw, so that region's malloc'd memory was neither freed nor counted, and every later
     * use of Lake in the JVM threw {@link NoClassDefFoundError}. A JVM of its own, as the class must not be loaded yet.
     */
    @Test
    void theFirstRegionRefusedAThreadLeavesLakeUsable() throws Exception
    {
        final String out = runUnderAddressLimit("firstRegionWithoutRoomForAThread");
        assertTrue(out.contains("PASS firstRegionWithoutRoomForAThread\n"), out);
        // the squeeze did reach the cleaner's thread: otherwise this test shows nothing
        assertTrue(out.contains("first region while squeezed: java.lang.OutOfMemoryError"), out);
    }

    private static void assertPassed(final String scenario)
    {
        assertTrue(output.contains("PASS " + scenario + "\n"), scenario + " did not pass:\n" + output);
    }

    private static String runUnderAddressLimit(final String... scenarios) throws Exception
    {
        final List<String> java = new ArrayList<>();
        java.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        java.addAll(List.of(Memory.REQUIRED_FLAG.split(" ")));
        // small reservations, so the JVM starts well inside the limit and the probe's filler takes the rest
        java.addAll(List.of("-Xmx48m", "-XX:ReservedCodeCacheSize=32m", "-XX:CompressedClassSpaceSize=32m",
            "-XX:MaxMetaspaceSize=64m", "-XX:+UseSerialGC", "-Xss512k",
            // C1 only: C2's compilations malloc and free megabytes of their own, which would move the squeeze's headroom
            "-XX:TieredStopAtLevel=1", "-XX:MaxDirectMemorySize=8m",
            "-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/lake-probe-%p.log",
            "-cp", System.getProperty("java.class.path"), TenthNativeRefusalProbe.class.getName()));
        java.addAll(List.of(scenarios));
        final StringBuilder command = new StringBuilder("ulimit -v " + ULIMIT_KIB + " && exec");
        for (final String word : java)
        {
            command.append(" '").append(word.replace("'", "'\\''")).append('\'');
        }
        final File log = File.createTempFile("lake-native-probe", ".out");
        try
        {
            final ProcessBuilder builder = new ProcessBuilder("bash", "-c", command.toString())
                .redirectErrorStream(true).redirectOutput(log);
            // a fixed, low mmap threshold: every filler step is its own mapping, given back to the OS when freed, and the
            // JVM's own mid-size mallocs (class loading) can use what a squeeze leaves instead of aborting the JVM
            builder.environment().put("MALLOC_MMAP_THRESHOLD_", "16384");
            final Process process = builder.start();
            if (!process.waitFor(60, TimeUnit.SECONDS))
            {
                process.destroyForcibly().waitFor();
                fail("native refusal probe ran past 60 s:\n" + Files.readString(log.toPath(), StandardCharsets.UTF_8));
            }
            final String out = Files.readString(log.toPath(), StandardCharsets.UTF_8);
            assertEquals(0, process.exitValue(), "probe failed:\n" + out);
            return out;
        }
        finally
        {
            Files.deleteIfExists(log.toPath());
        }
    }
}
