package dev.lake.slice;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Twentieth review of the slice allocator: a failed primitive allocation that started a chunk of its own (dedicated or
 * fresh) spends a generation of a table slot although it handed out no reference.
 */
class TwentiethReviewSliceTest extends NativeBaselineTest
{
    private static final RuntimeException REFUSED = new RuntimeException("refused", null, false, false)
    {
    };

    /**
     * The seventeenth fix-review rule, extended to the chunks a failed primitive allocation starts: unpinUnused's
     * Javadoc "a failure per message must not spend the slot's 65,535 reuses (then the table's slots) with nothing
     * allocated"; slices.md, the tier table: a slot is "retired after 65,535 reuses. A reuse is a chunk reset in place
     * after references were handed out in it". For an allocation in the current chunk the pin is given back with the
     * slot's generation as it was (SeventeenthFixReviewSliceTest). For a request larger than a chunk (a DEDICATED
     * chunk; a FRESH one behaves the same) abort() only frees the chunk: its cleanup pushes the slot back with the
     * generation the pin advanced. So each failed large allocateLongsRef / tryAllocateRef spends one generation of a
     * slot although no reference was handed out: 65,535 failures retire a slot, 2^20 runs of them spend the table and
     * every later allocate*Ref throws "the primitive tier's table ... is spent" with no live reference anywhere. Here
     * the table has one slot left (set by reflection, standing for the slots earlier failures retired).
     */
    @Test
    void failedLargePrimitiveAllocationsNeverSpendTheTable() throws Exception
    {
        try (SliceAllocator alloc = longs(4))
        {
            final java.lang.reflect.Field slots = SliceAllocator.class.getDeclaredField("slots");
            slots.setAccessible(true);
            slots.set(alloc, new Chunk[SliceAllocator.MAX_PINNED_CHUNKS]);
            final java.lang.reflect.Field nextSlot = SliceAllocator.class.getDeclaredField("nextSlot");
            nextSlot.setAccessible(true);
            nextSlot.setInt(alloc, SliceAllocator.MAX_PINNED_CHUNKS - 1); // one slot left
            for (int i = 0; i < 65_536; i++)
            {
                try
                {
                    alloc.allocateLongsRef(8, x -> // larger than a chunk of 4 longs: a dedicated chunk
                    {
                        throw REFUSED;
                    });
                }
                catch (final RuntimeException expected)
                {
                    // the initializer's (or, once the slot is spent, the table's)
                }
            }
            final long ref = alloc.allocateLongsRef(8, x -> 5L + x); // IllegalStateException: the table is spent
            assertEquals(12L, alloc.getLong(ref, 7));
            alloc.release(ref);
        }
    }

    /**
     * The same through a FRESH chunk and tryAllocateRef (slices.md: "tryAllocate: ... If it throws, a chunk started
     * for the request is freed and the exception propagates: offset, stats and NativeMemory are as before"): the
     * current chunk is full and kept by a live slice, so each failing request starts a fresh chunk, pins it and frees
     * it; 3 x 65,536 such failures, with no reference ever handed out, retire table slots for good (nextSlot moves
     * from 1 to 4, as SeventeenthFixReviewSliceTest checks for failures in the current chunk).
     */
    @Test
    void failedPrimitiveAllocationsInAFreshChunkDoNotRetireTableSlots() throws Exception
    {
        try (SliceAllocator alloc = longs(4))
        {
            final SharedSlice keeper = alloc.allocateLongs(4, i -> i); // fills the current chunk and keeps it
            final long first = alloc.allocateLongsRef(8, i -> i);        // one slot made: a dedicated chunk, pinned
            alloc.release(first);
            final java.lang.reflect.Field nextSlot = SliceAllocator.class.getDeclaredField("nextSlot");
            nextSlot.setAccessible(true);
            final int before = nextSlot.getInt(alloc);
            final int failures = 3 * 65_536;
            for (int i = 0; i < failures; i++)
            {
                try
                {
                    alloc.tryAllocateRef(2, (buffer, offset, index) ->
                    {
                        throw new java.io.IOException("refused");
                    });
                }
                catch (final java.io.IOException expected)
                {
                    // the initializer's
                }
            }
            final int after = nextSlot.getInt(alloc);
            keeper.release();
            assertEquals(before, after, failures + " failed allocations (nothing allocated, no reference ever handed " +
                "out) retired table slots for good");
        }
    }
}
