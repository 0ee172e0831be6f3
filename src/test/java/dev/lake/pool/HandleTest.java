package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/** The zero-garbage tier: long handles with slot and generation packed. */
class HandleTest
{
    /**
     * The handle tier reads and writes slot records without array bounds checks, behind one range check of the
     * handle's slot per call: every entry point must refuse a slot just past the table and the largest slot a handle
     * can name, with a clear exception, and leave the arena as it was (at every generation a live slot could have).
     */
    @Test
    void everyHandleCallRefusesASlotPastTheTable()
    {
        try (FixedArena arena = FixedArena.builder(4, 64).build())
        {
            final long live = arena.allocateHandle();
            arena.putLong(live, 0, 77L);
            arena.freezeHandle(live, 8);
            for (final int slot : new int[] {4, 5, 63, 64, (int)SlotTable.REF_MASK})
            {
                for (final long generation : new long[] {0, 1, 2, SlotTable.GEN_MASK})
                {
                    final long h = SlotTable.handle(slot, generation);
                    final String what = "slot " + slot + " generation " + generation;
                    assertThrows(StaleHandleException.class, () -> arena.putLong(h, 0, 1L), what);
                    assertThrows(StaleHandleException.class, () -> arena.getLong(h, 0), what);
                    assertThrows(StaleHandleException.class, () -> arena.getBytes(h, 0, new byte[8], 0, 8), what);
                    assertThrows(StaleHandleException.class, () -> arena.freezeHandle(h, 8), what);
                    assertThrows(StaleHandleException.class, () -> arena.retain(h), what);
                    assertThrows(StaleHandleException.class, () -> arena.release(h), what);
                }
            }
            assertEquals(77L, arena.getLong(live, 0), "the live handle is untouched");
            assertEquals(1, arena.liveSlots());
            arena.release(live);
            assertEquals(0, arena.liveSlots());
        }
    }

    @Test
    void writeFreezeRetainReadReleaseAcrossThreads() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(4, 64).build())
        {
            final long h = arena.allocateHandle();
            assertTrue(arena.isLive(h));
            arena.putLong(h, 0, 11L);
            arena.putInt(h, 8, 12);
            arena.putByte(h, 12, (byte)13);
            arena.putBytes(h, 13, new byte[] {14, 15}, 0, 2);
            arena.putBytes(h, 15, new UnsafeBuffer(new byte[] {16}), 0, 1);
            arena.freezeHandle(h, 16);
            assertEquals(16, arena.length(h));
            arena.retain(h);
            final long fromOtherThread = CompletableFuture.supplyAsync(() ->
            {
                final long v = arena.getLong(h, 0) + arena.getInt(h, 8) + arena.getByte(h, 12);
                arena.release(h);
                return v;
            }).get();
            assertEquals(36L, fromOtherThread);
            final byte[] out = new byte[3];
            arena.getBytes(h, 13, out, 0, 3);
            assertArrayEquals(new byte[] {14, 15, 16}, out);
            final UnsafeBuffer dst = new UnsafeBuffer(new byte[16]);
            arena.getBytes(h, 0, dst, 0, 16);
            assertEquals(11L, dst.getLong(0));
            assertEquals(arena.offset(h), arena.uncheckedBuffer().addressOffset() == 0 ? -1 :
                arena.offset(h), "offset is stable");
            assertEquals(11L, arena.uncheckedBuffer().getLong(arena.offset(h)));
            assertEquals(1, arena.liveSlots());
            arena.release(h);
            assertEquals(0, arena.liveSlots());
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(1, m.allocations());
            assertEquals(1, m.frees());
            assertEquals(1, m.frozen());
        }
    }

    @Test
    void handlesAreNeverZeroAndGenerationsAdvance()
    {
        try (FixedArena arena = FixedArena.builder(1, 8).build())
        {
            long previous = FixedArena.NO_HANDLE;
            for (int i = 0; i < 1000; i++)
            {
                final long h = arena.allocateHandle();
                assertNotEquals(FixedArena.NO_HANDLE, h);
                assertNotEquals(previous, h);
                assertTrue(h > 0);
                arena.release(h);
                previous = h;
            }
            assertEquals(1000, arena.metrics().frees());
        }
    }

    @Test
    void releasingAnUnfrozenHandleDiscardsIt()
    {
        try (FixedArena arena = FixedArena.builder(1, 8).build())
        {
            final long h = arena.allocateHandle();
            arena.release(h);
            assertEquals(0, arena.liveSlots());
            assertEquals(0, arena.metrics().frozen());
        }
    }
}
