package dev.lake.slice;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Nineteenth review of the slice allocator: a local allocation whose initializer binds the reader is refused
 * ("a local slice needs an unbound reader"), and on the general path (a first call, a chunk switch) that refusal
 * leaves state behind that the fast path's identical refusal does not.
 */
class NineteenthReviewSliceTest extends NativeBaselineTest
{
    /**
     * reliability.md (misuse matrix): "local slices ... with an initializer that throws or binds the reader ... Each
     * case checks: exactly the documented exception type ... the allocator's observable state (stats, ...) equal
     * before and after". The fast path keeps that ("refused, nothing changed"); the general path places the slice
     * (finish: counted, chunk switched) and then gives it back, so the refusal leaves a fresh chunk current, the
     * old chunk's tail abandoned, and one more slice counted.
     */
    @Test
    void aLocalAllocationRefusedBecauseItsInitializerBoundTheReaderChangesNoStatsOnTheGeneralPath()
    {
        final SliceAllocator alloc = longs(64);
        final SliceAllocator other = longs(64);
        final long ref = other.allocateLongsRef(2, i -> 60 + i);
        final SharedSlice live = alloc.allocateLongs(50, i -> i); // the current chunk has room for ~13 more longs
        final SliceReader r = new SliceReader();
        try
        {
            final SliceStats before = alloc.stats();
            final IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> alloc.allocateLocalLongs(20, i ->
                {
                    if (i == 0)
                    {
                        r.bind(other, ref);
                    }
                    return i;
                }, r));
            assertTrue(refused.getMessage().contains("bound by the initializer"), refused.getMessage());
            assertEquals(61, r.getLong(1));
            assertEquals(before, alloc.stats(), "a refused call changes nothing (the fast path's refusal does not)");
        }
        finally
        {
            if (r.isBound())
            {
                r.close();
            }
            live.release();
            alloc.close();
            other.release(ref);
            other.close();
        }
    }

    /**
     * slices.md, "Threads": "a call refused for its arguments binds nothing, and a first call whose initializer or
     * source throws gives the claim back while no slice was allocated since: a failure changes nothing". A first
     * local allocation refused because its initializer bound the reader (a failure: IllegalStateException, the
     * reader not bound to any new slice) keeps the strict allocator bound to the refused thread: the thread that
     * really allocates is then refused "confined to".
     */
    @Test
    void aStrictAllocatorIsNotBoundByAFirstLocalAllocationRefusedBecauseTheInitializerBoundTheReader() throws Exception
    {
        final SliceAllocator alloc = longs(64);
        final SliceAllocator other = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).strict(false).build();
        final long ref = other.allocateLongsRef(2, i -> 60 + i);
        final SliceReader r = new SliceReader();
        try
        {
            final Throwable refused = EighteenthReviewSliceTest.onOtherThread(() -> alloc.allocateLocalLongs(2, i ->
            {
                if (!r.isBound())
                {
                    r.bind(other, ref);
                }
                return i;
            }, r));
            assertInstanceOf(IllegalStateException.class, refused);
            assertTrue(refused.getMessage().contains("bound by the initializer"), refused.getMessage());
            assertEquals(0, alloc.stats().liveSliceBytes());
            final AtomicReference<SharedSlice> mine = new AtomicReference<>();
            assertDoesNotThrow(() -> mine.set(alloc.allocateLongs(1, i -> 7)),
                "the refused first call must not keep the allocator bound to its (terminated) thread");
            mine.get().release();
        }
        finally
        {
            if (r.isBound())
            {
                r.close();
            }
            alloc.bindToCurrentThread();
            alloc.close();
            other.release(ref);
            other.close();
        }
    }

    /**
     * slices.md, "Threads": "a first call whose initializer or source throws gives the claim back while no slice was
     * allocated since: a failure changes nothing"; close() was fixed for the same case (claimOwnerToClose: "on a full
     * heap the close failed with an OutOfMemoryError after the CAS, the allocator stayed open and bound to the
     * closer"). A first allocation was not: after claimOwner's CAS, a full heap refused counters.bindOwner (the
     * caller's cell) or the give-back itself (a VarHandle setVolatile whose call site ran for the first time links
     * through the heap), and the OutOfMemoryError left the allocator bound to a thread whose only call failed and
     * allocated nothing: the thread that really allocates was refused "confined to".
     */
    @Test
    void aFirstAllocationRefusedByAFullHeapDoesNotBindAStrictAllocator() throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.runOnSmallHeap(NineteenthFullHeapSliceProbe.class);
        assertTrue(out.contains("probe: first-call refused"), "the probe's first call must meet the full heap:\n" + out);
        assertTrue(out.contains("slicesAllocated=0]"), "the refused call allocated nothing:\n" + out);
        assertTrue(out.contains(" other ok"), out);
    }

    /**
     * The same for a first call whose slice needs a dedicated chunk: the full heap meets the claim's cell or the
     * chunk's objects, whichever comes first, and either way nothing stays bound or reserved. (The chunk's refusal
     * alone, with the claim made, is TenthNativeRefusalTest's sliceFirstCallsDedicatedChunkRefused.)
     */
    @Test
    void aFirstAllocationWhoseDedicatedChunkAFullHeapRefusedDoesNotBindAStrictAllocator() throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.runOnSmallHeap(NineteenthFullHeapSliceProbe.class, "dedicated");
        assertTrue(out.contains("probe: first-call refused"), "the probe's first call must meet the full heap:\n" + out);
        assertTrue(out.contains("liveChunks=1, reservedBytes=520,") && out.contains("slicesAllocated=0]"),
            "the refused call allocated nothing:\n" + out);
        assertTrue(out.contains(" other ok"), out);
    }
}
