package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A fixed arena's cheap release: the last release of a slot that needs no zeroing and has no leak tracker parks it
 * (one CAS on its meta word, the bitmap bit stays set, its word's hint points at it) and the next claim in that
 * word takes it back with one CAS. Parked slots are free: they are never counted live, every one of them can be
 * allocated again, close frees the region over them, and the counters (derived from the generations) stay exact.
 */
class ParkingTest
{
    @Test
    void aSteadyRoundTripReusesItsSlotAndKeepsTheCountersExact()
    {
        try (FixedArena arena = FixedArena.builder(1024, 4096).build())
        {
            final Set<Integer> offsets = new HashSet<>();
            for (int i = 0; i < 10_000; i++)
            {
                final long h = arena.allocateHandle();
                arena.putLong(h, 0, i);
                arena.freezeHandle(h, 8);
                assertEquals(i, arena.getLong(h, 0));
                offsets.add(arena.offset(h));
                arena.release(h);
                assertFalse(arena.isLive(h));
            }
            assertTrue(offsets.size() <= 2, "one slot (two at most: the first claim comes from the bitmap)");
            assertEquals(0, arena.liveSlots());
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(10_000, m.allocations());
            assertEquals(10_000, m.frees());
            assertEquals(10_000, m.frozen());
            assertEquals(0, m.liveSlots());
            assertEquals(0, m.bytesLive());
        }
    }

    @Test
    void everySlotIsAllocatableAgainWhenSomeAreParked()
    {
        try (FixedArena arena = FixedArena.builder(130, 64).build()) // three words, the last one partial
        {
            final long[] all = allocateAll(arena, 130);
            // one release per word parks (its hint was free); the others go back to the bitmap
            for (final long h : all)
            {
                arena.release(h);
            }
            assertEquals(0, arena.liveSlots());
            final long[] again = allocateAll(arena, 130);
            assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            assertEquals(130, arena.liveSlots());
            assertEquals(130, distinctOffsets(arena, again));
            for (final long h : again)
            {
                arena.release(h);
            }
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(260, m.allocations());
            assertEquals(260, m.frees());
            assertEquals(1, m.failedAllocations());
            assertEquals(0, m.liveSlots());
        }
    }

    @Test
    void parkedSlotsOfOtherWordsAreFoundWhenNoBitIsFree()
    {
        try (FixedArena arena = FixedArena.builder(128, 64).build()) // two words
        {
            final long[] all = allocateAll(arena, 128);
            arena.release(all[3]);   // parks in word 0
            arena.release(all[100]); // parks in word 1
            assertEquals(126, arena.liveSlots());
            final long a = arena.tryAllocateHandle(); // this thread's word: its hint
            final long b = arena.tryAllocateHandle(); // no free bit anywhere: the other word's hint
            assertNotEquals(FixedArena.NO_HANDLE, a);
            assertNotEquals(FixedArena.NO_HANDLE, b);
            assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            assertEquals(128, arena.liveSlots());
            assertFalse(arena.isLive(all[3]));
            assertFalse(arena.isLive(all[100]));
            all[3] = a;
            all[100] = b;
            assertEquals(128, distinctOffsets(arena, all));
            for (final long h : all)
            {
                arena.release(h);
            }
            assertEquals(0, arena.liveSlots());
        }
    }

    @Test
    void aParkedSlotNoHintPointsAtIsStillFound() throws Exception
    {
        // two releases racing for one hint leave a parked slot no hint points at: simulate it
        try (FixedArena arena = FixedArena.builder(64, 64).build())
        {
            final long[] all = allocateAll(arena, 64);
            arena.release(all[5]); // parked, hinted
            final long[] words = words(arena);
            final long hint = words[8 + 1];
            assertEquals(5, (int)(hint & SlotTable.REF_MASK), "the hint of word 0 points at the parked slot");
            words[8 + 1] = 0L; // forget it: generation 0 matches no slot
            assertEquals(63, arena.liveSlots());
            final long h = arena.tryAllocateHandle();
            assertNotEquals(FixedArena.NO_HANDLE, h);
            assertEquals(arena.offset(all[0]) + 5 * 64, arena.offset(h));
            assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            all[5] = h;
            for (final long x : all)
            {
                arena.release(x);
            }
            assertEquals(0, arena.liveSlots());
            assertEquals(65, arena.metrics().frees());
        }
    }

    @Test
    void aStaleHandleOfAParkedOrRetakenSlotIsRefused()
    {
        try (FixedArena arena = FixedArena.builder(4, 64).build())
        {
            arena.release(arena.allocateHandle());
            final long h = arena.allocateHandle(); // from the hint
            arena.putLong(h, 0, 7L);
            arena.freezeHandle(h, 8);
            final int offset = arena.offset(h);
            arena.release(h); // parked again
            assertStale(arena, h);
            final long next = arena.allocateHandle(); // the same slot, the next generation
            assertEquals(offset, arena.offset(next));
            assertNotEquals(h, next);
            assertStale(arena, h);
            arena.putLong(next, 0, 8L);
            assertThrows(StaleHandleException.class, () -> arena.release(h));
            assertTrue(arena.isLive(next), "a refused release took nothing from the next owner");
            arena.release(next);
            assertThrows(StaleHandleException.class, () -> arena.release(next), "a double release fails");
            assertEquals(0, arena.liveSlots());
            assertEquals(3, arena.metrics().frees());
        }
    }

    @Test
    void aSharedHandleParksOnlyWithItsLastReference()
    {
        try (FixedArena arena = FixedArena.builder(4, 64).build())
        {
            arena.release(arena.allocateHandle());
            final long h = arena.allocateHandle();
            arena.putLong(h, 0, 9L);
            arena.freezeHandle(h, 8);
            arena.retain(h);
            arena.release(h); // one reference left: not parked
            assertTrue(arena.isLive(h));
            assertEquals(1, arena.liveSlots());
            assertEquals(9L, arena.getLong(h, 0));
            arena.release(h);
            assertFalse(arena.isLive(h));
            assertEquals(0, arena.liveSlots());
            assertEquals(2, arena.metrics().frees());
        }
    }

    @Test
    void closeFreesTheRegionOverParkedSlots()
    {
        final FixedArena arena = FixedArena.builder(128, 64).build();
        final long[] all = allocateAll(arena, 128);
        for (final long h : all)
        {
            arena.release(h);
        }
        arena.release(arena.allocateHandle()); // a parked slot for sure
        assertFalse(arena.isRegionFreed());
        arena.close();
        assertTrue(arena.isRegionFreed(), "parked slots are free: nothing keeps the region");
        assertEquals(0, arena.liveSlots());
        assertThrows(ArenaClosedException.class, arena::allocateHandle);
    }

    @Test
    void aHandleTakenFromTheHintKeepsTheRegionUntilItsRelease()
    {
        final FixedArena arena = FixedArena.builder(4, 64).build();
        arena.release(arena.allocateHandle());
        final long h = arena.allocateHandle(); // from the hint; its release takes the one-CAS path
        arena.putLong(h, 0, 5L);
        arena.close();
        assertFalse(arena.isRegionFreed());
        assertEquals(5L, arena.getLong(h, 0));
        arena.release(h); // parks, then sees closed: unparks and frees the region
        assertTrue(arena.isRegionFreed());
        assertEquals(0, arena.liveSlots());
    }

    @Test
    void aZeroArenaNeverParksAndEveryReuseReadsZeros()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).initPolicy(InitPolicy.ZERO).build())
        {
            for (int i = 1; i <= 100; i++)
            {
                final long h = arena.allocateHandle();
                assertEquals(0L, arena.getLong(h, 0), "zeroed before reuse");
                arena.putLong(h, 0, i);
                arena.release(h);
            }
            assertEquals(100, arena.metrics().frees());
        }
    }

    @Test
    void theObjectTierParksWithoutLeakDetectionOnly()
    {
        try (FixedArena tracked = FixedArena.builder(2, 64).build();
             FixedArena untracked = FixedArena.builder(2, 64).leakDetection(false).build())
        {
            for (final FixedArena arena : new FixedArena[] {tracked, untracked})
            {
                for (int i = 0; i < 1000; i++)
                {
                    final Bytes bytes = arena.allocate().putLong(i).freeze();
                    final Bytes more = bytes.retain();
                    bytes.release();
                    assertEquals(i, more.getLong(0));
                    more.release();
                }
                assertEquals(0, arena.liveSlots());
                final FixedArenaMetrics m = arena.metrics();
                assertEquals(1000, m.allocations());
                assertEquals(1000, m.frees());
                assertEquals(1000, m.frozen());
                assertEquals(0, m.leaks());
            }
        }
    }

    @Test
    void aWaiterIsServedByAReleaseThatParks() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).leakDetection(false).build())
        {
            arena.release(arena.allocateHandle());
            final long h = arena.allocateHandle(); // from the hint: the one-CAS release path
            final CompletableFuture<Buffer> waiting = arena.allocateAsync();
            assertFalse(waiting.isDone());
            assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle(), "the waiter comes first");
            arena.release(h);
            final Buffer buffer = waiting.get(10, TimeUnit.SECONDS);
            buffer.putLong(1L).freeze().release();
            assertEquals(0, arena.liveSlots());
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(3, m.allocations());
            assertEquals(3, m.frees());
            assertEquals(1, m.failedAllocations());
        }
    }

    @Test
    void aGenerationWrapIsCountedAndNeverParksANegativeWord()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            // move the free slot's generation to two short of the wrap: as if GEN_MASK - 1 - origin frees had
            // happened (generations start at the table's own origin)
            arena.slots[0] = (SlotTable.GEN_MASK - 1) << SlotTable.REF_BITS;
            final long before = arena.metrics().frees();
            assertEquals(SlotTable.GEN_MASK - 1 - arena.table.origin, before);
            arena.release(arena.allocateHandle());   // bitmap claim, parks at GEN_MASK
            final long last = arena.allocateHandle(); // from the hint, at GEN_MASK
            assertEquals(SlotTable.GEN_MASK, SlotTable.generationOf(last));
            arena.putLong(last, 0, 3L);
            arena.release(last);                     // wraps to generation 1: not the one-CAS path
            assertFalse(arena.isLive(last));
            final long wrapped = arena.allocateHandle();
            assertEquals(1, SlotTable.generationOf(wrapped));
            assertTrue(wrapped > 0);
            arena.release(wrapped);
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(before + 3, m.frees());
            assertEquals(m.frees(), m.allocations());
            assertEquals(0, m.liveSlots());
        }
    }

    private static long[] allocateAll(final FixedArena arena, final int n)
    {
        final long[] handles = new long[n];
        for (int i = 0; i < n; i++)
        {
            handles[i] = arena.tryAllocateHandle();
            assertNotEquals(FixedArena.NO_HANDLE, handles[i], "slot " + i + " of " + n);
        }
        return handles;
    }

    private static int distinctOffsets(final FixedArena arena, final long[] handles)
    {
        final Set<Integer> offsets = new HashSet<>();
        for (final long h : handles)
        {
            offsets.add(arena.offset(h));
        }
        return offsets.size();
    }

    private static void assertStale(final FixedArena arena, final long h)
    {
        assertFalse(arena.isLive(h));
        assertThrows(StaleHandleException.class, () -> arena.getLong(h, 0));
        assertThrows(StaleHandleException.class, () -> arena.putLong(h, 0, 1L));
        assertThrows(StaleHandleException.class, () -> arena.freezeHandle(h, 8));
        assertThrows(StaleHandleException.class, () -> arena.retain(h));
        assertThrows(StaleHandleException.class, () -> arena.length(h));
        assertThrows(StaleHandleException.class, () -> arena.offset(h));
    }

    private static long[] words(final FixedArena arena) throws ReflectiveOperationException
    {
        final Field field = FixedArena.class.getDeclaredField("words");
        field.setAccessible(true);
        return (long[])field.get(arena);
    }
}
