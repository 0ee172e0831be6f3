package dev.lake.slice;

import java.lang.reflect.Field;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The review of the seventeenth round's fixes: a failed primitive allocation must not spend table slots
 * ({@code SliceAllocator.unpinUnused}).
 */
class SeventeenthFixReviewSliceTest
{
    private static final RuntimeException REFUSED = new RuntimeException("refused", null, false, false)
    {
    };

    /**
     * Before 919a8d4 a failing primitive allocation pinned the current chunk once and later failures found it pinned
     * (nothing spent). Now each failure pins (pops the slot node, advances its generation) and unpins (pushes it back
     * with the advanced generation): every failed allocateLongsRef spends one of the slot's 65,535 generations, so a
     * run of 65,535 failures retires a table slot for good. 2^20 slots: about 2^36 failed allocations in the
     * allocator's life and every allocate*Ref throws "the primitive tier's table ... is spent", with no live reference
     * anywhere.
     */
    @Test
    void failedPrimitiveAllocationsDoNotRetireTableSlots() throws Exception
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).build())
        {
            final int failures = 3 * 65_536;
            for (int i = 0; i < failures; i++)
            {
                assertThrows(RuntimeException.class, () -> alloc.allocateLongsRef(1, x ->
                {
                    throw REFUSED;
                }));
            }
            final Field nextSlot = SliceAllocator.class.getDeclaredField("nextSlot");
            nextSlot.setAccessible(true);
            assertEquals(1, nextSlot.getInt(alloc), failures + " failed allocations (nothing allocated, no reference " +
                "ever handed out) retired table slots for good");
            final long ref = alloc.allocateLongsRef(1, x -> 5L); // still works here
            assertEquals(5L, alloc.getLong(ref, 0));
            alloc.release(ref);
        }
    }
    /**
     * The end state, reached here from a table whose other slots are taken (set by reflection, standing for the
     * 2^20 - 1 slots that earlier runs of failures retired): 65,536 failed allocations, nothing allocated, and the
     * primitive tier refuses every later allocation for good.
     */
    @Test
    void failedPrimitiveAllocationsNeverSpendTheTable() throws Exception
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).build())
        {
            final Field slots = SliceAllocator.class.getDeclaredField("slots");
            slots.setAccessible(true);
            slots.set(alloc, new Chunk[SliceAllocator.MAX_PINNED_CHUNKS]);
            final Field nextSlot = SliceAllocator.class.getDeclaredField("nextSlot");
            nextSlot.setAccessible(true);
            nextSlot.setInt(alloc, SliceAllocator.MAX_PINNED_CHUNKS - 1); // one slot left
            for (int i = 0; i < 65_536; i++)
            {
                try
                {
                    alloc.allocateLongsRef(1, x ->
                    {
                        throw REFUSED;
                    });
                }
                catch (final RuntimeException expected)
                {
                    // the initializer's, or (919a8d4) the table's
                }
            }
            final long ref = alloc.allocateLongsRef(1, x -> 5L); // 919a8d4: IllegalStateException, table spent
            assertEquals(5L, alloc.getLong(ref, 0));
            alloc.release(ref);
        }
    }
}
