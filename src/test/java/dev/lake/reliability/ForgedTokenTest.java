package dev.lake.reliability;

import dev.lake.memory.StaleHandleException;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.FixedArena;
import dev.lake.testing.ChildJvm;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sixth review, forged tokens: every API that takes back a primitive value it handed out (pool handles, slice
 * references, linear tokens) given forged, foreign, stale and garbage values. Crash-capable cases run in a child
 * JVM, with Agrona's bounds checks on and off.
 */
class ForgedTokenTest
{
    private static final long SEED = Long.getLong("lake.forged.seed", System.nanoTime());

    @Test
    void poolHandlesForgedForeignStaleAndGarbageAreRefusedWithoutHarm() throws Exception
    {
        for (final boolean checks : new boolean[] {true, false})
        {
            final String out = ChildJvm.run(ForgedHandleProbe.class, checks, Long.toString(SEED), "3000");
            assertTrue(out.contains("PROBE OK"), "seed " + SEED + " (-Dlake.forged.seed=" + SEED + "): " + out);
        }
    }

    @Test
    void sliceReferencesForgedForeignStaleAndGarbageAreRefusedWithoutHarm() throws Exception
    {
        for (final boolean checks : new boolean[] {true, false})
        {
            final String out = ChildJvm.run(ForgedRefProbe.class, checks, Long.toString(SEED), "3000");
            assertTrue(out.contains("PROBE OK"), "seed " + SEED + " (-Dlake.forged.seed=" + SEED + "): " + out);
        }
    }

    // ---- Finding 1: every arena numbered its slots' generations from 1, so a handle of another arena of the same
    // geometry (or of an arena closed and rebuilt) was a live handle of this one ----

    /**
     * Two identical fixed arenas used side by side (a router holding one per venue, a handle stored in the wrong
     * table): the first handle of each was {@code 1 << 28 | 0} in both, so the other arena's handle read, wrote,
     * froze and released this arena's allocation without a word.
     */
    @Test
    void aHandleOfAnIdenticalFixedArenaIsRefused()
    {
        try (FixedArena mine = FixedArena.builder(4, 64).leakDetection(false).build();
             FixedArena other = FixedArena.builder(4, 64).leakDetection(false).build())
        {
            final long own = mine.allocateHandle();
            mine.putLong(own, 0, 42L);
            final long foreign = other.allocateHandle();
            other.putLong(foreign, 0, 7L);
            assertForeignRefused(own, foreign, mine.isLive(foreign), () -> mine.getLong(foreign, 0),
                () -> mine.putLong(foreign, 0, 99L), () -> mine.release(foreign), () -> mine.freezeHandle(foreign, 8));
            assertEquals(42L, mine.getLong(own, 0), "the own allocation's bytes");
            assertEquals(1, mine.liveSlots());
            mine.release(own);
            other.release(foreign);
            assertEquals(0, mine.liveSlots());
            assertEquals(0, other.liveSlots());
        }
    }

    /** The same for two identical buddy arenas. */
    @Test
    void aHandleOfAnIdenticalBuddyArenaIsRefused()
    {
        try (BuddyArena mine = BuddyArena.builder(1024, 64).leakDetection(false).build();
             BuddyArena other = BuddyArena.builder(1024, 64).leakDetection(false).build())
        {
            final long own = mine.allocateHandle(64);
            mine.putLong(own, 0, 42L);
            final long foreign = other.allocateHandle(64);
            other.putLong(foreign, 0, 7L);
            assertForeignRefused(own, foreign, mine.isLive(foreign), () -> mine.getLong(foreign, 0),
                () -> mine.putLong(foreign, 0, 99L), () -> mine.release(foreign), () -> mine.freezeHandle(foreign, 8));
            assertThrows(StaleHandleException.class, () -> mine.handleCapacity(foreign));
            assertEquals(42L, mine.getLong(own, 0), "the own allocation's bytes");
            assertEquals(1, mine.metrics().liveBlocks());
            mine.release(own);
            other.release(foreign);
            assertEquals(0, mine.metrics().liveBlocks());
        }
    }

    /**
     * Hold a handle, close the arena, build an identical one (a restart of a component): the old handle was a live
     * handle of the new arena, whatever it was released or not.
     */
    @Test
    void aHandleOfAClosedAndRebuiltArenaIsRefusedByTheNewOne()
    {
        final FixedArena old = FixedArena.builder(2, 32).leakDetection(false).build();
        final long released = old.allocateHandle();
        old.release(released);
        final long kept = old.allocateHandle(); // the hint: the same slot, one generation on
        old.close();
        try (FixedArena rebuilt = FixedArena.builder(2, 32).leakDetection(false).build())
        {
            final long a = rebuilt.allocateHandle();
            final long b = rebuilt.allocateHandle();
            rebuilt.putLong(a, 0, 1L);
            rebuilt.putLong(b, 0, 2L);
            for (final long stale : new long[] {released, kept})
            {
                assertFalse(rebuilt.isLive(stale), "0x" + Long.toHexString(stale));
                assertThrows(StaleHandleException.class, () -> rebuilt.getLong(stale, 0));
                assertThrows(StaleHandleException.class, () -> rebuilt.putLong(stale, 0, 9L));
                assertThrows(StaleHandleException.class, () -> rebuilt.release(stale));
            }
            assertEquals(1L, rebuilt.getLong(a, 0));
            assertEquals(2L, rebuilt.getLong(b, 0));
            assertEquals(2, rebuilt.liveSlots());
            rebuilt.release(a);
            rebuilt.release(b);
            assertEquals(2, rebuilt.metrics().frees());
            assertEquals(2, rebuilt.metrics().allocations());
        }
        old.release(kept);
        assertTrue(old.isRegionFreed());
        assertEquals(2, old.metrics().frees());
    }

    private static void assertForeignRefused(final long own, final long foreign, final boolean live,
        final org.junit.jupiter.api.function.Executable read, final org.junit.jupiter.api.function.Executable write,
        final org.junit.jupiter.api.function.Executable release, final org.junit.jupiter.api.function.Executable freeze)
    {
        assertFalse(live, "another arena's handle 0x" + Long.toHexString(foreign) + " is live here (own 0x" +
            Long.toHexString(own) + ")");
        assertThrows(StaleHandleException.class, read);
        assertThrows(StaleHandleException.class, write);
        assertThrows(StaleHandleException.class, release);
        assertThrows(StaleHandleException.class, freeze);
    }
}
