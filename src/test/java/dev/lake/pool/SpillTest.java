package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.agrona.MutableDirectBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class SpillTest
{
    @Test
    void writingPastCapacitySpillsToHeapReturnsTheSlotAtOnceAndFreezesToHeapBytes()
    {
        try (FixedArena arena = FixedArena.builder(2, 1024).autoSpill(true).build())
        {
            final Buffer b = arena.allocate();
            for (int i = 0; i < 128; i++)
            {
                b.putLong(i);
            }
            assertFalse(b.isSpilled());
            assertEquals(1, arena.liveSlots());
            b.putLong(128);
            assertTrue(b.isSpilled());
            assertEquals(0, arena.liveSlots(), "the slot was returned at the spill");
            assertTrue(b.capacity() >= 2048);
            for (int i = 129; i < 1024; i++)
            {
                b.putLong(i); // 8 KiB in all: grows on the heap again
            }
            final Bytes bytes = b.freeze();
            assertTrue(bytes.isHeap());
            assertEquals(8192, bytes.length());
            for (int i = 0; i < 1024; i++)
            {
                assertEquals(i, bytes.getLong(i * 8));
            }
            final Bytes slice = bytes.slice(8, 8);
            final Bytes copy = bytes.retain();
            bytes.release();
            assertThrows(StaleHandleException.class, () -> bytes.getLong(0));
            assertThrows(StaleHandleException.class, bytes::release);
            assertEquals(1L, slice.getLong(0));
            assertEquals(1023L, copy.getLong(8184));
            slice.release();
            copy.release();
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(1, m.spills());
            assertEquals(1, m.frozen());
            assertEquals(1, m.allocations());
            assertEquals(1, m.frees());
            assertEquals(0, m.liveSlots());
        }
    }

    @Test
    void theCodecViewFollowsItsBufferToTheHeap()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
        {
            final Buffer b = arena.allocate();
            final MutableDirectBuffer view = b.mutableBuffer();
            assertTrue(view.isExpandable());
            view.putLong(0, 7L);
            view.putLong(100, 8L);
            assertTrue(b.isSpilled());
            assertEquals(0, arena.liveSlots());
            assertEquals(7L, view.getLong(0));
            final Bytes bytes = b.freeze();
            assertEquals(108, bytes.length());
            assertEquals(7L, bytes.getLong(0));
            assertEquals(8L, bytes.getLong(100));
            assertThrows(StaleHandleException.class, () -> view.putLong(0, 1L));
            bytes.release();
        }
    }

    @Test
    void aSpilledBufferClosedWithoutFreezeGivesNothingBackTwice()
    {
        try (FixedArena arena = FixedArena.builder(1, 16).autoSpill(true).initPolicy(InitPolicy.ZERO).build())
        {
            final Buffer b = arena.allocate();
            b.putLong(-1L).putLong(-1L).putLong(-1L);
            assertTrue(b.isSpilled());
            b.close();
            final Buffer next = arena.allocate();
            assertEquals(0L, next.mutableBuffer().getLong(0), "ZERO: the slot was zeroed when it spilled");
            next.close();
            assertEquals(0, arena.liveSlots());
            assertEquals(1, arena.metrics().spills());
            assertEquals(2, arena.metrics().frees());
        }
    }
}
