package dev.lake.slice;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Fourteenth review of the slice package: a reference released before the call must be refused, whatever the
 * allocating thread does with its chunk during the call. The primitive tier validated a reference in two steps, the
 * chunk's generation (lookup) and then the slice header, and never looked at the generation again: a reader preempted
 * between the two, while the allocating thread reset the chunk in place and put a new slice where the released one
 * was, found that new slice's header (count 1) and took the stale reference for it. {@code isLive} answered
 * {@code true} for a reference whose last release happened before the call (its Javadoc promises {@code false}); the
 * same two steps guard every call that changes a count, so {@code retain}/{@code release} took or dropped the new
 * slice's count. Those calls and {@code isLive} now read the generation again after the header. The single-element
 * reads do not (it kept their loops 2x to 3x faster): a stale reference racing a reset can read the replacing
 * slice's bytes there, a documented limit (slices.md).
 */
class FourteenthReviewSliceTest
{
    private static final long RUN_NANOS = 4_000_000_000L;

    /** The reference last released by the allocating thread, for the reader to ask about. */
    private static volatile long stale;

    /**
     * One long per chunk, so that every allocation resets the chunk in place and puts its slice at the same offset.
     * The allocating thread releases a reference, publishes it, waits a little, then holds another slice there for a
     * while; the reader asks {@code isLive} of the published (released) reference in a loop; two spinning threads keep
     * both cores busy so that the reader is preempted, sometimes between the generation check and the header read.
     */
    @Test
    void isLiveOfAReferenceReleasedBeforeTheCallNeverAnswersTrueWhileItsChunkIsResetInPlace() throws Exception
    {
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(1).build();
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong wrong = new AtomicLong();
        final AtomicLong calls = new AtomicLong();
        stale = alloc.allocateLongsRef(1, i -> 1L);
        alloc.release(stale);
        final Thread reader = new Thread(() ->
        {
            long n = 0;
            while (!stop.get())
            {
                for (int k = 0; k < 1_000; k++)
                {
                    if (alloc.isLive(stale))
                    {
                        wrong.incrementAndGet();
                        stop.set(true);
                    }
                }
                n += 1_000;
            }
            calls.set(n);
        }, "stale-reader");
        final long cycles = race(alloc, stop, reader, RUN_NANOS);
        System.out.println("cycles " + cycles + ", isLive calls " + calls.get() + ", wrong answers " + wrong.get());
        assertEquals(0, wrong.get(), "isLive answered true for a reference released before the call, in " + cycles +
            " resets and " + calls.get() + " calls");
    }

    /**
     * The same race through {@code release(ref)}, which validates through {@code checkCounted}: a second release of a
     * reference released before the call is a double release and must throw; before the fix it could pass as the
     * release of the new slice in its place, dropping a count its holder still relies on (that slice then reads as
     * released, and its chunk can be reset or freed under its holder).
     */
    @Test
    void aSecondReleaseOfAReferenceNeverDropsTheCountOfTheSliceThatReplacedIt() throws Exception
    {
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(1).build();
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong wrong = new AtomicLong();
        stale = alloc.allocateLongsRef(1, i -> 1L);
        alloc.release(stale);
        final Thread reader = new Thread(() ->
        {
            while (!stop.get())
            {
                try
                {
                    alloc.release(stale);
                    wrong.incrementAndGet();
                    stop.set(true);
                }
                catch (final dev.lake.memory.StaleHandleException expected)
                {
                    // a double release, refused
                }
            }
        }, "stale-release");
        final long cycles = race(alloc, stop, reader, 4_000_000_000L);
        assertEquals(0, wrong.get(), "a double release passed as another slice's release, in " + cycles + " resets");
    }

    /** Runs the allocating side of the race until {@code stop} or the time is up; checks the allocator is clean. */
    private static long race(final SliceAllocator alloc, final AtomicBoolean stop, final Thread reader, final long nanos)
        throws InterruptedException
    {
        final Thread[] noise = new Thread[2];
        for (int t = 0; t < noise.length; t++)
        {
            noise[t] = new Thread(() ->
            {
                while (!stop.get())
                {
                    Thread.onSpinWait();
                }
            }, "noise-" + t);
            noise[t].setDaemon(true);
        }
        reader.setDaemon(true);
        reader.start();
        for (final Thread t : noise)
        {
            t.start();
        }
        long cycles = 0;
        try
        {
            final long end = System.nanoTime() + nanos;
            while (!stop.get() && System.nanoTime() < end)
            {
                for (int c = 0; c < 1_000; c++)
                {
                    final long released = alloc.allocateLongsRef(1, i -> 1L);
                    alloc.release(released);
                    stale = released;
                    spin(50);
                    final long other = alloc.allocateLongsRef(1, i -> 2L); // the chunk reset: same offset
                    spin(50);
                    // a stale reference's release racing the reset took this slice's count: it reads as released
                    assertTrue(alloc.isLive(other), "the held slice lost its count to a stale reference");
                    assertEquals(2L, alloc.getLong(other, 0));
                    alloc.release(other);
                }
                cycles += 1_000;
            }
        }
        finally
        {
            stop.set(true);
            reader.join();
            for (final Thread t : noise)
            {
                t.join();
            }
        }
        assertFalse(alloc.isLive(stale));
        alloc.close();
        final SliceStats stats = alloc.stats();
        assertEquals(0, stats.liveChunks());
        assertEquals(0, stats.liveSliceBytes());
        return cycles;
    }

    private static void spin(final int n)
    {
        for (int s = 0; s < n; s++)
        {
            Thread.onSpinWait();
        }
    }
}
