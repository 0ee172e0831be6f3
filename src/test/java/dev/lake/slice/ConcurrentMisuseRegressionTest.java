package dev.lake.slice;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Concurrent misuse of a strict {@link SliceAllocator}: found by the concurrency review of 2026-12-05, each test
 * failing without its fix.
 */
class ConcurrentMisuseRegressionTest
{
    private static final int ROUNDS = 20_000;
    /** The close race has a narrower window (about one round in 20,000 without the fix on 2 cores): more rounds. */
    private static final int CLOSE_ROUNDS = 100_000;

    /**
     * A strict allocator is bound by its first allocation: the owner was a plain check-then-set, so two threads
     * making the first allocation at the same moment both saw no owner, both bound themselves and both allocated
     * at once into the same chunk (the same bytes for two slices, or a chunk bookkeeping torn by two writers).
     * Exactly one of them must win; the other gets the documented IllegalStateException.
     */
    @Test
    void twoThreadsRacingTheFirstAllocationOfAStrictAllocatorBindExactlyOne() throws Exception
    {
        final AtomicReference<SliceAllocator> shared = new AtomicReference<>();
        final AtomicInteger go = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        final AtomicReference<Throwable> unexpected = new AtomicReference<>();
        final SharedSlice[] theirs = new SharedSlice[1];
        final Thread racer = new Thread(() ->
        {
            for (int round = 1; round <= ROUNDS; round++)
            {
                while (go.get() < round)
                {
                    Thread.onSpinWait();
                }
                try
                {
                    theirs[0] = shared.get().allocateLongs(16, i -> 2);
                }
                catch (final IllegalStateException refused)
                {
                    theirs[0] = null; // the other thread owns it: the documented answer
                }
                catch (final Throwable t)
                {
                    unexpected.compareAndSet(null, t);
                }
                done.set(round);
            }
        }, "first-allocation-racer");
        racer.setDaemon(true);
        racer.start();
        final java.util.Random random = new java.util.Random(42);
        int doubleBound = 0;
        int sameBytes = 0;
        long sink = 0;
        try
        {
            for (int round = 1; round <= ROUNDS && unexpected.get() == null; round++)
            {
                final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
                shared.set(alloc);
                final int skew = random.nextInt(64);
                go.set(round);
                for (int i = 0; i < skew; i++)
                {
                    sink += i * 31L; // sweeps the two threads' start over each other
                }
                SharedSlice mine;
                try
                {
                    mine = alloc.allocateLongs(16, i -> 1);
                }
                catch (final IllegalStateException refused)
                {
                    mine = null;
                }
                while (done.get() < round)
                {
                    Thread.onSpinWait();
                }
                final SharedSlice other = theirs[0];
                if (mine != null && other != null)
                {
                    doubleBound++;
                    for (int i = 0; i < 16; i++)
                    {
                        if (mine.getLong(i) != 1 || other.getLong(i) != 2)
                        {
                            sameBytes++;
                            break;
                        }
                    }
                }
                if (mine != null)
                {
                    mine.release();
                }
                if (other != null)
                {
                    other.release();
                }
                alloc.bindToCurrentThread(); // no local slices: a strict allocator is closed on its own thread
                alloc.close();
            }
        }
        finally
        {
            go.set(Integer.MAX_VALUE);
        }
        final long kept = sink;
        assertNull(unexpected.get(), () -> "unexpected: " + unexpected.get() + " " + kept);
        assertEquals(0, doubleBound, doubleBound + " of " + ROUNDS + " rounds let both threads allocate (" +
            sameBytes + " of them with the same bytes for both slices)");
    }

    /**
     * The same binding race with close(): a strict allocator nobody had bound could be closed from any thread, and
     * a thread making the first allocation at that moment passed the plain owner check too, so it allocated into the
     * chunk the close was freeing (a write into freed memory) or read the current chunk close had cleared (a
     * NullPointerException). The closer now binds the allocator with the same CAS: either the close or the first
     * allocation wins, never both.
     */
    @Test
    void aCloseRacingTheFirstAllocationOfAStrictAllocatorRefusesOneOfThem() throws Exception
    {
        final AtomicReference<SliceAllocator> shared = new AtomicReference<>();
        final AtomicInteger go = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        final AtomicReference<Throwable> unexpected = new AtomicReference<>();
        final SharedSlice[] theirs = new SharedSlice[1];
        final Thread racer = new Thread(() ->
        {
            for (int round = 1; round <= CLOSE_ROUNDS; round++)
            {
                while (go.get() < round)
                {
                    Thread.onSpinWait();
                }
                try
                {
                    final SharedSlice s = shared.get().allocateLongs(16, i -> 2);
                    for (int i = 0; i < 16; i++)
                    {
                        assertEquals(2, s.getLong(i));
                    }
                    theirs[0] = s;
                }
                catch (final IllegalStateException refused)
                {
                    theirs[0] = null; // closed, or owned by the closer: the documented answer
                }
                catch (final Throwable t)
                {
                    unexpected.compareAndSet(null, t);
                }
                done.set(round);
            }
        }, "first-allocation-vs-close-racer");
        racer.setDaemon(true);
        racer.start();
        final java.util.Random random = new java.util.Random(7);
        int both = 0;
        long sink = 0;
        try
        {
            for (int round = 1; round <= CLOSE_ROUNDS && unexpected.get() == null; round++)
            {
                final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
                shared.set(alloc);
                final int skew = random.nextInt(64);
                go.set(round);
                for (int i = 0; i < skew; i++)
                {
                    sink += i * 31L;
                }
                boolean closed;
                try
                {
                    alloc.close();
                    closed = true;
                }
                catch (final IllegalStateException refused)
                {
                    closed = false; // the racer's first allocation bound it
                }
                while (done.get() < round)
                {
                    Thread.onSpinWait();
                }
                final SharedSlice other = theirs[0];
                if (closed && other != null)
                {
                    both++;
                }
                if (other != null)
                {
                    other.release();
                }
                if (!closed)
                {
                    alloc.bindToCurrentThread();
                    alloc.close();
                }
            }
        }
        finally
        {
            go.set(Integer.MAX_VALUE);
        }
        final long kept = sink;
        assertNull(unexpected.get(), () -> "unexpected: " + unexpected.get() + " " + kept);
        assertEquals(0, both, both + " of " + CLOSE_ROUNDS + " rounds both closed the allocator and allocated from it");
    }
}
