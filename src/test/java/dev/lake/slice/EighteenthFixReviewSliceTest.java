package dev.lake.slice;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/** Review of the eighteenth round's slice fix (c988ccc): the strict claim given back by a failing call. */
class EighteenthFixReviewSliceTest extends NativeBaselineTest
{
    /**
     * slices.md: "the first allocation binds the allocator", and the fix's own guard: "a failure after a success ...
     * keeps the strict owner". A first call for an empty slice succeeds (it returns a slice) and binds; but
     * giveBackUnconfirmedClaim() tests "nothing allocated since the claim" with slicesAllocated() == 0, which an empty
     * slice never counts: the owner's next failing call gives the binding away, and another thread then allocates
     * from an allocator confined to this one.
     */
    @Test
    void aFailureAfterASuccessfulEmptyAllocationKeepsTheStrictOwner() throws Exception
    {
        final SliceAllocator alloc = longs(64);
        try
        {
            final SharedSlice empty = alloc.allocateLongs(0, i -> 0L);
            assertEquals(0, empty.length());
            assertThrows(IllegalStateException.class, () -> alloc.allocateLongs(1, i ->
            {
                throw new IllegalStateException("refused");
            }));
            final AtomicReference<SharedSlice> stolen = new AtomicReference<>();
            final Throwable t = EighteenthReviewSliceTest.onOtherThread(() -> stolen.set(alloc.allocateLongs(1, i -> 2L)));
            if (stolen.get() != null)
            {
                stolen.get().release();
            }
            assertInstanceOf(IllegalStateException.class, t,
                "the owner that allocated (an empty slice) stopped being the owner after a later failure");
        }
        finally
        {
            alloc.bindToCurrentThread();
            alloc.close();
        }
    }
}
