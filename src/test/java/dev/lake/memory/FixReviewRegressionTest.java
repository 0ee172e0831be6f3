package dev.lake.memory;

import dev.lake.slice.ElementLayout;
import dev.lake.slice.SliceAllocator;
import dev.lake.testing.NativeAccounting;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.function.BooleanSupplier;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Regression tests from the review of the safety-net reorderings (d78d9bc, ce89f5b).
 *
 * <p>Both made the safety net release the memory (and, for a slice chunk, count it freed) before counting and
 * recording the leak. Anyone who waits for the bytes to come back and then reads {@link NativeMemory#leaks()} or
 * {@link NativeMemory#leakReports()} (the suite's own LeakTest, SliceAllocatorTest, SliceLocalTest and
 * MemoryReviewRegressionTest do) could see the memory back and no leak yet: a race. These tests hold the leak
 * report list's lock, so the cleaner stops inside the report, and check the bytes are not released before it.
 */
class FixReviewRegressionTest
{
    private static Object reportsLock() throws ReflectiveOperationException
    {
        final Field reports = NativeMemory.class.getDeclaredField("REPORTS");
        reports.setAccessible(true);
        return reports.get(null);
    }

    private static void leakRegion(final int size)
    {
        Region.allocate(size).buffer().putByte(0, (byte)1);
    }

    private static void leakSlice(final SliceAllocator alloc)
    {
        alloc.allocateLongs(3, i -> i);
    }

    /** Collects for a while with the report blocked: the memory must not come back before the leak is recorded. */
    private static void assertNotReleasedWhileReportBlocked(final BooleanSupplier released, final String what)
        throws Exception
    {
        // the report is blocked, so the release must not happen during the whole window, however often GC runs
        await(what + " was released before its leak was counted and recorded")
            .during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
            .until(() ->
            {
                System.gc();
                return !released.getAsBoolean();
            });
    }

    @Test
    void aLeakedRegionIsRecordedBeforeItsBytesAreReleased() throws Exception
    {
        final long baseline = NativeMemory.reservedBytes();
        final long leaks = NativeMemory.leaks();
        final long reports = NativeAccounting.reportsNaming("Region[12351 B");
        synchronized (reportsLock())
        {
            leakRegion(12_351);
            assertNotReleasedWhileReportBlocked(() -> NativeMemory.reservedBytes() == baseline, "the leaked region");
        }
        await().atMost(Duration.ofSeconds(20)).until(() ->
        {
            System.gc();
            // its own report (released first, the cleaner may free another test's pending leak)
            return NativeAccounting.reportsNaming("Region[12351 B") > reports &&
                NativeAccounting.reservedBackTo(baseline);
        });
        assertTrue(NativeMemory.leaks() > leaks);
    }

    @Test
    void aLeakedSliceChunkIsRecordedBeforeItIsCountedFreed() throws Exception
    {
        final long baseline = NativeMemory.reservedBytes();
        final long leaks = NativeMemory.leaks();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(16).build();
        synchronized (reportsLock())
        {
            leakSlice(alloc);
            alloc.close();
            assertNotReleasedWhileReportBlocked(
                () -> alloc.stats().liveChunks() == 0 || NativeMemory.reservedBytes() == baseline, "the leaked chunk");
        }
        await().atMost(Duration.ofSeconds(20)).until(() ->
        {
            System.gc();
            return alloc.stats().liveChunks() == 0 && NativeAccounting.reservedBackTo(baseline);
        });
        assertTrue(NativeMemory.leaks() > leaks);
        assertTrue(NativeMemory.leakReports().stream().anyMatch(r -> r.what().contains("unreleased slice")),
            NativeMemory.leakReports().toString());
    }
}
