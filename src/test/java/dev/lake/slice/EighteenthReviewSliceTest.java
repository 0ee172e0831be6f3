package dev.lake.slice;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The eighteenth review of the slice allocator: a strict allocator bound by a call that failed (nothing allocated),
 * and the stats after {@code close()} with a live slice (the closed current chunk's tail is counted nowhere).
 * A model walk interleaving failing and succeeding allocations of every kind (handle, try, reference, single, local,
 * dedicated, chunk switches, close mid-way) found data, stats, chunk counts and released references exact; it is not
 * kept here.
 */
class EighteenthReviewSliceTest extends NativeBaselineTest
{

    /** Runs {@code r} on a thread of its own and returns what it threw (null if nothing). */
    static Throwable onOtherThread(final Runnable r) throws InterruptedException
    {
        final AtomicReference<Throwable> thrown = new AtomicReference<>();
        final Thread t = new Thread(() ->
        {
            try
            {
                r.run();
            }
            catch (final Throwable ex)
            {
                thrown.set(ex);
            }
        }, "refused-first-caller");
        t.start();
        t.join();
        return thrown.get();
    }

    /** The allocator is given back to this thread and closed whatever the test found. */
    private static void closeHere(final SliceAllocator alloc)
    {
        alloc.bindToCurrentThread(); // the refused caller has terminated: no local slice of its can race this
        alloc.close();
    }

    /**
     * Strict mode: "the first allocation binds the allocator" (slices.md, "Threads"). A call refused for its argument
     * allocates nothing, yet {@code checkLength} binds the caller before it looks at the length
     * ({@code checkUsable()} first): the thread that will really allocate is then refused with "confined to" a
     * thread whose only call was refused. A layout refusal (checked before {@code checkUsable}) does not bind.
     */
    @Test
    void aStrictAllocatorIsNotBoundByAFirstAllocationItRefusedForANegativeLength() throws Exception
    {
        final SliceAllocator alloc = longs(64);
        try
        {
            final Throwable refused = onOtherThread(() -> alloc.allocateLongs(-1, i -> i));
            assertInstanceOf(IllegalArgumentException.class, refused);
            final SharedSlice s = assertDoesNotThrow(() -> alloc.allocateLongs(1, i -> 7L),
                "a call refused for its argument (nothing allocated) bound the strict allocator to its thread");
            s.release();
        }
        finally
        {
            closeHere(alloc);
        }
    }

    /**
     * README, arena-arc: "try_alloc (fallible init: nothing changes on failure)". A failed {@code tryAllocateLongs} on
     * a strict allocator nobody has bound leaves it bound to the failing thread.
     */
    @Test
    void aFailedTryAllocateChangesNothingNotEvenTheStrictOwner() throws Exception
    {
        final SliceAllocator alloc = longs(64);
        try
        {
            final Exception checked = new Exception("refused");
            final Throwable refused = onOtherThread(() ->
            {
                try
                {
                    alloc.tryAllocateLongs(1, i ->
                    {
                        throw checked;
                    });
                }
                catch (final Exception ex)
                {
                    throw new IllegalStateException(ex);
                }
            });
            assertSame(checked, refused.getCause());
            final SharedSlice s = assertDoesNotThrow(() -> alloc.allocateLongs(1, i -> 7L),
                "a failed try_alloc (\"nothing changes on failure\") bound the strict allocator to its thread");
            s.release();
        }
        finally
        {
            closeHere(alloc);
        }
    }

    /** allocateValue(DirectBuffer, offset): "nothing is allocated" for an offset outside the source, yet it binds. */
    @Test
    void aStrictAllocatorIsNotBoundByAValueCopyRefusedForItsOffset() throws Exception
    {
        final SliceAllocator alloc = longs(64);
        try
        {
            final UnsafeBuffer source = new UnsafeBuffer(new byte[8]);
            final Throwable refused = onOtherThread(() -> alloc.allocateValue(source, 4));
            assertInstanceOf(IndexOutOfBoundsException.class, refused);
            final SharedSingle s = assertDoesNotThrow(() -> alloc.allocateValue(7L),
                "a copy refused for its offset (nothing allocated) bound the strict allocator to its thread");
            s.release();
        }
        finally
        {
            closeHere(alloc);
        }
    }

    /**
     * SliceStats: {@code wastedTailBytes} are "bytes at the end of live chunks the allocator abandoned"; slices.md:
     * {@code reservedBytes - liveSliceBytes - wastedTailBytes} is zombie space, headers and padding, plus the current
     * chunk's free room. {@code close()} abandons the current chunk, which a live slice keeps: its tail (720 B here)
     * can never be used again, yet it is counted neither as wasted nor as anything else, since there is no current
     * chunk any more. (A chunk left behind by a chunk switch has its tail counted: {@code finishElsewhere}.)
     */
    @Test
    void theClosedAllocatorsCurrentChunkTailCountsAsWasted()
    {
        final SharedSlice kept;
        final SliceAllocator alloc = longs(100);
        kept = alloc.allocateLongs(10, i -> i);
        alloc.close();
        final SliceStats stats = alloc.stats();
        assertEquals(1, stats.liveChunks());
        assertEquals(80, stats.liveSliceBytes());
        final long unaccounted = stats.reservedBytes() - stats.liveSliceBytes() - stats.wastedTailBytes() - 8;
        kept.release();
        assertEquals(new SliceStats(0, 0, 0, 0, 1), alloc.stats());
        assertEquals(0, unaccounted, "the closed allocator's chunk tail (no current chunk any more) is neither live, " +
            "zombie, header nor wasted: " + stats);
    }

    /** A failure after the owner allocated, or after an explicit bind, gives nothing back: the binding stands. */
    @Test
    void aFailureAfterASuccessOrAnExplicitBindKeepsTheStrictOwner() throws Exception
    {
        final SliceAllocator allocated = longs(64);
        final SliceAllocator bound = longs(64);
        try
        {
            final SharedSlice first = allocated.allocateLongs(1, i -> 1L);
            assertThrows(IllegalStateException.class, () -> allocated.tryAllocateLongs(1, i ->
            {
                throw new IllegalStateException("refused");
            }));
            assertInstanceOf(IllegalStateException.class, onOtherThread(() -> allocated.allocateLongs(1, i -> 2L)),
                "the owner that allocated stays the owner after a failure");
            first.release();

            bound.bindToCurrentThread();
            assertThrows(IllegalStateException.class, () -> bound.tryAllocateLongs(1, i ->
            {
                throw new IllegalStateException("refused");
            }));
            assertInstanceOf(IllegalStateException.class, onOtherThread(() -> bound.allocateLongs(1, i -> 2L)),
                "an explicit bind stands after a failure");
        }
        finally
        {
            allocated.close();
            bound.close();
        }
    }
}
