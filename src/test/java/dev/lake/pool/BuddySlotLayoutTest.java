package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.util.BitSet;

import static org.junit.jupiter.api.Assertions.*;

/** How a buddy arena numbers the slots of its blocks (so that neighbours never false-share bookkeeping). */
class BuddySlotLayoutTest
{
    @Test
    void slotsAreAnInvolutionOfLeavesThatKeepsNeighboursOffEachOthersCacheLines()
    {
        try (BuddyArena arena = BuddyArena.builder(1 << 18, 64).build())
        {
            final int leaves = (1 << 18) / 64;
            final BitSet seen = new BitSet(leaves);
            for (int leaf = 0; leaf < leaves; leaf++)
            {
                final int slot = arena.swap(leaf);
                assertTrue(slot >= 0 && slot < leaves, "in range");
                assertFalse(seen.get(slot), "no two leaves share a slot");
                seen.set(slot);
                assertEquals(leaf, arena.swap(slot), "the same swap maps back");
            }
            for (int leaf = 0; leaf < leaves; leaf++)
            {
                for (int neighbour = leaf + 1; neighbour < Math.min(leaves, leaf + 16); neighbour++)
                {
                    // 8 longs per 64-byte line in the generation table: neighbours within 16 leaves never share one
                    assertNotEquals(arena.swap(leaf) >>> 3, arena.swap(neighbour) >>> 3, leaf + " and " + neighbour);
                }
            }
        }
    }

    @Test
    void smallArenasKeepLeavesAsSlots()
    {
        try (BuddyArena arena = BuddyArena.builder(64 * 128, 64).build())
        {
            for (int leaf = 0; leaf < 128; leaf++)
            {
                assertEquals(leaf, arena.swap(leaf));
            }
        }
    }

    @Test
    void blocksOfEveryOrderKeepDisjointRangesTheirSizeAndTheirBytes()
    {
        try (BuddyArena arena = BuddyArena.builder(1 << 16, 64).build())
        {
            final long[] handles = new long[24];
            final int[] sizes = new int[handles.length];
            for (int i = 0; i < handles.length; i++)
            {
                sizes[i] = 64 << (i % 6); // 64 B .. 2 KiB
                handles[i] = arena.allocateHandle(sizes[i]);
                arena.putLong(handles[i], sizes[i] - 8, i);
            }
            final BitSet bytes = new BitSet(1 << 16);
            for (int i = 0; i < handles.length; i++)
            {
                final int offset = arena.offset(handles[i]);
                assertEquals(sizes[i], arena.handleCapacity(handles[i]));
                assertEquals(0, offset % sizes[i], "a block starts on a multiple of its size");
                final int taken = bytes.nextSetBit(offset);
                assertTrue(taken < 0 || taken >= offset + sizes[i], "block " + i + " overlaps another at " + taken);
                bytes.set(offset, offset + sizes[i]);
                assertEquals(i, arena.getLong(handles[i], sizes[i] - 8));
            }
            for (final long h : handles)
            {
                arena.release(h);
            }
            assertTrue(arena.metrics().fullyCoalesced());
        }
    }

    @Test
    void neighbouringBlocksStillStartWhereTheirLeavesSayAndKeepTheirBytes()
    {
        try (BuddyArena arena = BuddyArena.builder(1 << 16, 64).build())
        {
            final long[] handles = new long[16];
            for (int i = 0; i < handles.length; i++)
            {
                handles[i] = arena.allocateHandle(64);
                arena.putLong(handles[i], 0, i);
            }
            final BitSet offsets = new BitSet();
            for (int i = 0; i < handles.length; i++)
            {
                final int offset = arena.offset(handles[i]);
                assertEquals(0, offset % 64);
                assertFalse(offsets.get(offset), "two blocks at one offset");
                offsets.set(offset);
                assertEquals(64, arena.handleCapacity(handles[i]));
                assertEquals(i, arena.getLong(handles[i], 0));
            }
            for (final long h : handles)
            {
                arena.release(h);
            }
            assertTrue(arena.metrics().fullyCoalesced());
        }
    }
}
