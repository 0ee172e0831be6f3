package dev.lake.pool;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.NativeAccounting;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/** The safety net: allocations whose every handle became unreachable without release. */
class LeakTest
{
    private static void dropFrozenBytes(final FixedArena arena)
    {
        arena.allocate().putLong(1).freeze(); // never released
    }

    private static void dropBuffer(final FixedArena arena)
    {
        arena.allocate().putLong(1); // never frozen nor closed
    }

    private static void awaitLeaks(final FixedArena arena, final long leaks)
    {
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() ->
        {
            System.gc();
            return arena.metrics().leaks() == leaks;
        });
    }

    @Test
    void unreleasedBytesAreReclaimedAndCounted()
    {
        final long before = NativeMemory.leaks();
        try (FixedArena arena = FixedArena.builder(2, 64).initPolicy(InitPolicy.ZERO).build())
        {
            dropFrozenBytes(arena);
            dropBuffer(arena);
            awaitLeaks(arena, 2);
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(0, m.liveSlots());
            assertEquals(2, m.frees());
            // at least: the GCs may also reclaim an earlier test's leak
            assertTrue(NativeMemory.leaks() >= before + 2, "both counted");
            final Buffer next = arena.allocate();
            assertEquals(0L, next.mutableBuffer().getLong(0), "reclaimed slots are zeroed under ZERO");
            next.close();
        }
    }

    @Test
    void aFullArenaReclaimsLeaksBeforeGivingUp()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            dropFrozenBytes(arena);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() ->
            {
                System.gc();
                final Buffer b = arena.tryAllocate();
                if (b == null)
                {
                    return false;
                }
                b.close();
                return true;
            });
            assertEquals(1, arena.metrics().leaks());
        }
    }

    @Test
    void strictModeReportsTheAllocationSite()
    {
        NativeMemory.setLeakTracking(true);
        try (FixedArena arena = FixedArena.builder(1, 64).name("strict-arena").build())
        {
            dropFrozenBytes(arena);
            awaitLeaks(arena, 1);
        }
        finally
        {
            NativeMemory.setLeakTracking(false);
        }
        final NativeMemory.LeakReport report = NativeMemory.leakReports().stream()
            .filter(r -> r.what().startsWith("strict-arena")).findFirst().orElseThrow();
        assertNotNull(report.allocationSite());
        final StackTraceElement[] stack = report.allocationSite().getStackTrace();
        assertTrue(java.util.Arrays.stream(stack).anyMatch(e -> e.getMethodName().equals("dropFrozenBytes")));
    }

    @Test
    void aLiveReferenceKeepsTheSlotAndTheLeakIsCaughtWhenTheLastHandleGoes()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            Bytes copy = retainedCopyOfDroppedBytes(arena);
            System.gc();
            assertEquals(0, arena.metrics().leaks(), "a reachable reference keeps the allocation");
            assertEquals(1L, copy.getLong(0));
            copy.release();
            assertEquals(1, arena.liveSlots(), "the dropped reference was never released");
            copy = null;
            awaitLeaks(arena, 1);
            assertEquals(0, arena.liveSlots());
            assertNull(copy);
        }
    }

    private static Bytes retainedCopyOfDroppedBytes(final FixedArena arena)
    {
        final Bytes original = arena.allocate().putLong(1).freeze();
        return original.retain();
    }

    @Test
    void leakDetectionOffKeepsLostSlotsUntilTheArenaGoes()
    {
        final long baseline = NativeMemory.reservedBytes();
        final long regionLeaks = NativeMemory.leaks();
        loseASlotWithoutLeakDetection();
        // The lost slot keeps the region until the arena itself is unreachable; then the region's own safety
        // net frees it and counts one leak (awaited here so no other test sees it happen later).
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() ->
        {
            System.gc();
            return NativeAccounting.reservedBackTo(baseline);
        });
        assertTrue(NativeMemory.leaks() > regionLeaks);
    }

    private static void loseASlotWithoutLeakDetection()
    {
        final FixedArena arena = FixedArena.builder(1, 64).leakDetection(false).build();
        dropFrozenBytes(arena);
        System.gc();
        assertNull(arena.tryAllocate());
        assertEquals(0, arena.metrics().leaks());
        arena.close();
        assertFalse(arena.isRegionFreed());
    }

    @Test
    void bytesReleasedAfterTheArenaWasClosedFreeTheRegionAndLeaksAfterCloseAreStillCounted()
    {
        final FixedArena arena = FixedArena.builder(2, 64).build();
        dropFrozenBytes(arena);
        arena.close();
        assertFalse(arena.isRegionFreed());
        awaitLeaks(arena, 1);
        assertTrue(arena.isRegionFreed());
    }
}
