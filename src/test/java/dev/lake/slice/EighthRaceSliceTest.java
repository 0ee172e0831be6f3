package dev.lake.slice;

import dev.lake.memory.StaleHandleException;
import dev.lake.testing.NativeAccounting;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Eighth review, races of the slice allocator: counts moved between threads through every door (share, retain,
 * bind, adopt, toHandle), the allocator closed while other threads release its last slices, and stats read while
 * the allocator changes hands. More threads than cores; each test checks afterwards that every chunk was freed
 * exactly once (native bytes back to the baseline, no leak) and that the stats equal reality.
 */
class EighthRaceSliceTest
{
    private static final int WORKERS = 12;
    private static final Object POISON = new Object();

    private static long expected(final int id, final int index)
    {
        return id * 1_000_003L + index;
    }

    /**
     * Owners that terminate hand the allocator to the next one, while observers read stats() without pause. Each
     * owner cuts and releases slices on its own thread (so their bytes go to its own counter cell), never holding
     * more than one slice of 64 bytes; the next owner's bindToCurrentThread() folds the dead owner's cell into the
     * allocator's retired total. A snapshot must never count those released bytes twice (live bytes below zero) nor
     * miss them (live bytes above what is live): before the fix the retired total and the list of cells were two
     * writes, and a snapshot between them counted the dead cell twice.
     */
    @Test
    void statsReadWhileOwnersThatTerminatedHandTheAllocatorOverStayExact() throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        final AtomicBoolean done = new AtomicBoolean();
        final AtomicReference<String> wrong = new AtomicReference<>();
        final AtomicInteger snapshots = new AtomicInteger();
        final Thread[] observers = new Thread[3];
        for (int o = 0; o < observers.length; o++)
        {
            observers[o] = new Thread(() ->
            {
                while (!done.get())
                {
                    final long live = alloc.stats().liveSliceBytes();
                    if (live < 0 || live > 64)
                    {
                        wrong.compareAndSet(null, "a snapshot saw " + live + " live slice bytes, with at most 64 live");
                    }
                    snapshots.incrementAndGet();
                }
            }, "stats-observer-" + o);
            observers[o].start();
        }
        final int owners = 3_000;
        final int slicesPerOwner = 4;
        try
        {
            for (int k = 0; k < owners && wrong.get() == null; k++)
            {
                final Thread owner = new Thread(() ->
                {
                    alloc.bindToCurrentThread();
                    for (int s = 0; s < slicesPerOwner; s++)
                    {
                        alloc.allocateLongs(8, i -> i).release();
                    }
                }, "slice-owner-" + k);
                owner.start();
                owner.join();
            }
        }
        finally
        {
            done.set(true);
            for (final Thread observer : observers)
            {
                observer.join();
            }
            alloc.bindToCurrentThread();
            alloc.close(); // also when a check fails: no chunk is left to the safety net of a later test
        }
        assertNull(wrong.get(), wrong.get() + " (" + snapshots.get() + " snapshots)");
        assertEquals(new SliceStats(0, 0, 0, 0, (long)owners * slicesPerOwner), alloc.stats());
        baseline.assertBack("native memory");
    }

    /**
     * The owner allocates and releases slices of 64 bytes on its own thread, one live at a time, two million times,
     * while three observers read stats() without pause (more threads than cores, so observers are preempted in the
     * middle of a snapshot). Live slice bytes are allocated minus released bytes: a snapshot that read the releases,
     * lost its core while the owner went on, and then read the allocations reported every slice cut meanwhile as
     * live, thousands of bytes where at most 64 ever were. Every snapshot must lie between 0 and 64.
     */
    @Test
    void statsReadWhileTheOwnerAllocatesAndReleasesNeverShowMoreThanWasLive() throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        final AtomicBoolean done = new AtomicBoolean();
        final AtomicReference<String> wrong = new AtomicReference<>();
        final Thread[] observers = new Thread[3];
        for (int o = 0; o < observers.length; o++)
        {
            observers[o] = new Thread(() ->
            {
                while (!done.get())
                {
                    final long live = alloc.stats().liveSliceBytes();
                    if (live < 0 || live > 64)
                    {
                        wrong.compareAndSet(null, "a snapshot saw " + live + " live slice bytes, with at most 64 live");
                    }
                }
            }, "stats-observer-" + o);
            observers[o].start();
        }
        final int slices = 2_000_000;
        try
        {
            for (int k = 0; k < slices && wrong.get() == null; k++)
            {
                alloc.allocateLongs(8, i -> i).release();
            }
        }
        finally
        {
            done.set(true);
            for (final Thread observer : observers)
            {
                observer.join();
            }
            alloc.close();
        }
        assertNull(wrong.get());
        assertEquals(new SliceStats(0, 0, 0, 0, slices), alloc.stats());
        baseline.assertBack("native memory");
    }

    /** A count on a slice that a worker owns: a handle, a reference, or a reader bound or adopted to one. */
    private record Job(int id, Object holder)
    {
    }

    /**
     * The owner cuts handles and references into small chunks (so chunks are reused in place, started, abandoned and
     * freed while other threads hold counts) and hands them to twelve workers. Each worker passes counts on: shares a
     * handle or retains a reference and sends the new count to another worker, moves a reference's count into a
     * handle (toHandle) or a reader (adopt), binds a reader beside its own count. Every count is checked (its slice's
     * bytes never change) and released exactly once. The allocator is closed while the workers still release:
     * afterwards every chunk is freed once and the stats agree with reality.
     */
    @Test
    void countsPassedBetweenTwelveThreadsThroughEveryDoorFreeEveryChunkOnce() throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(256).build();
        final List<BlockingQueue<Object>> queues = new ArrayList<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicInteger inFlight = new AtomicInteger();
        final Thread[] workers = new Thread[WORKERS];
        for (int w = 0; w < WORKERS; w++)
        {
            queues.add(new LinkedBlockingQueue<>());
        }
        for (int w = 0; w < WORKERS; w++)
        {
            final BlockingQueue<Object> queue = queues.get(w);
            workers[w] = new Thread(() -> pass(alloc, queue, queues, inFlight, failure), "slice-passer-" + w);
            workers[w].start();
        }
        final ThreadLocalRandom random = ThreadLocalRandom.current();
        final int slices = 20_000;
        for (int id = 0; id < slices && failure.get() == null; id++)
        {
            final int sliceId = id;
            final int length = random.nextInt(30) == 0 ? 257 + random.nextInt(100) : 1 + random.nextInt(60);
            inFlight.incrementAndGet();
            final Object holder = random.nextBoolean() ?
                alloc.allocateLongs(length, i -> expected(sliceId, i)) :
                (Object)alloc.allocateLongsRef(length, i -> expected(sliceId, i));
            queues.get(random.nextInt(WORKERS)).put(new Job(sliceId, holder));
        }
        alloc.close(); // races the workers' releases of the last slices of the last chunks
        // every count handed out is released exactly once: wait until none is left, then stop the workers
        await().atMost(Duration.ofMinutes(2)).until(() -> inFlight.get() == 0 || failure.get() != null);
        for (final BlockingQueue<Object> queue : queues)
        {
            queue.put(POISON);
        }
        for (final Thread worker : workers)
        {
            worker.join();
        }
        if (failure.get() != null)
        {
            fail(failure.get());
        }
        assertEquals(new SliceStats(0, 0, 0, 0, slices), alloc.stats());
        baseline.assertBack("every chunk freed exactly once");
    }

    private static void pass(final SliceAllocator alloc, final BlockingQueue<Object> queue,
        final List<BlockingQueue<Object>> queues, final AtomicInteger inFlight, final AtomicReference<Throwable> failure)
    {
        final ThreadLocalRandom random = ThreadLocalRandom.current();
        final SliceReader reader = new SliceReader();
        try
        {
            while (true)
            {
                final Object next = queue.take();
                if (next == POISON)
                {
                    return;
                }
                final Job job = (Job)next;
                check(alloc, job);
                final int action = random.nextInt(6);
                if (action == 0 && random.nextInt(4) != 0)
                {
                    // a second count for another worker (mostly: the chain of hand-overs must end)
                    inFlight.incrementAndGet();
                    final Object copy = job.holder() instanceof SharedSlice ?
                        ((SharedSlice)job.holder()).share() : retained(alloc, (Long)job.holder());
                    queues.get(random.nextInt(WORKERS)).put(new Job(job.id(), copy));
                }
                else if (action == 1 && job.holder() instanceof Long)
                {
                    // the reference's count moves into a handle, which is passed on instead
                    queues.get(random.nextInt(WORKERS)).put(new Job(job.id(), alloc.toHandle((Long)job.holder())));
                    continue;
                }
                else if (action == 2 && job.holder() instanceof Long)
                {
                    // bound beside the reference's count, which is released while the reader still reads
                    reader.bind(alloc, (Long)job.holder());
                    alloc.release((Long)job.holder());
                    checkReader(reader, job.id());
                    reader.close();
                    inFlight.decrementAndGet();
                    continue;
                }
                else if (action == 3 && job.holder() instanceof Long)
                {
                    // the reference's count moves into the reader, which releases it on close
                    reader.adopt(alloc, (Long)job.holder());
                    checkReader(reader, job.id());
                    reader.close();
                    inFlight.decrementAndGet();
                    continue;
                }
                if (job.holder() instanceof SharedSlice)
                {
                    ((SharedSlice)job.holder()).release();
                }
                else
                {
                    alloc.release((Long)job.holder());
                }
                inFlight.decrementAndGet();
            }
        }
        catch (final Throwable ex)
        {
            failure.compareAndSet(null, ex);
        }
    }

    private static Long retained(final SliceAllocator alloc, final long ref)
    {
        alloc.retain(ref);
        return ref;
    }

    private static void check(final SliceAllocator alloc, final Job job)
    {
        if (job.holder() instanceof SharedSlice)
        {
            final SharedSlice slice = (SharedSlice)job.holder();
            for (int i = 0; i < slice.length(); i++)
            {
                if (slice.getLong(i) != expected(job.id(), i))
                {
                    throw new AssertionError("slice " + job.id() + " element " + i + " changed: " + slice.getLong(i));
                }
            }
        }
        else
        {
            final long ref = (Long)job.holder();
            final int length = alloc.length(ref);
            final long[] copy = new long[length];
            alloc.getLongs(ref, 0, copy, 0, length);
            for (int i = 0; i < length; i++)
            {
                if (copy[i] != expected(job.id(), i) || alloc.getLong(ref, i) != copy[i])
                {
                    throw new AssertionError("reference " + job.id() + " element " + i + " changed");
                }
            }
        }
    }

    private static void checkReader(final SliceReader reader, final int id)
    {
        for (int i = 0; i < reader.length(); i++)
        {
            if (reader.getLong(i) != expected(id, i))
            {
                throw new AssertionError("reader of slice " + id + " element " + i + " changed");
            }
        }
    }

    /**
     * Many rounds of: the owner cuts a few handles and references into a fresh allocator, hands each to one of eight
     * threads, and closes the allocator at the moment they release them. Whoever is last frees each chunk, exactly
     * once; the stats end at zero and the native bytes at the baseline after every round.
     */
    @Test
    void closeRacingEightThreadsReleasingTheLastSlicesFreesEachChunkOnce() throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final int threads = 8;
        for (int round = 0; round < 400; round++)
        {
            final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(32).build();
            final Object[] holders = new Object[threads];
            for (int t = 0; t < threads; t++)
            {
                final int id = round * threads + t;
                holders[t] = t % 2 == 0 ?
                    alloc.allocateLongs(1 + t, i -> expected(id, i)) :
                    (Object)alloc.allocateLongsRef(1 + t, i -> expected(id, i));
            }
            final CountDownLatch go = new CountDownLatch(1);
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final Thread[] releasers = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                final Object holder = holders[t];
                releasers[t] = new Thread(() ->
                {
                    try
                    {
                        go.await();
                        if (holder instanceof SharedSlice)
                        {
                            ((SharedSlice)holder).release();
                        }
                        else
                        {
                            alloc.release((Long)holder);
                        }
                    }
                    catch (final Throwable ex)
                    {
                        failure.compareAndSet(null, ex);
                    }
                });
                releasers[t].start();
            }
            go.countDown();
            alloc.close();
            for (final Thread releaser : releasers)
            {
                releaser.join();
            }
            if (failure.get() != null)
            {
                fail(failure.get());
            }
            assertEquals(new SliceStats(0, 0, 0, 0, threads), alloc.stats(), "round " + round);
            baseline.assertBack("round " + round);
            for (final Object holder : holders)
            {
                if (holder instanceof Long)
                {
                    assertFalse(alloc.isLive((Long)holder));
                    assertThrows(StaleHandleException.class, () -> alloc.release((Long)holder));
                }
            }
        }
    }
}
