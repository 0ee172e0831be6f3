package dev.lake.slice;

import dev.lake.testing.NativeAccounting;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Handles and references shared to more threads than cores, read, checked and released in random order while
 * the owner keeps allocating (so chunks are reset, started, abandoned and freed under the readers).
 */
class SliceConcurrencyTest
{
    private static final int WORKERS = 12;
    private static final int SLICES = 12_000;
    private static final Object POISON = new Object();

    private static long expected(final int id, final int index)
    {
        return id * 1_000_003L + index;
    }

    /**
     * The reader threads of one test, each on its own queue, and the checks once they are done: the native
     * baseline is taken before the allocator is built, so every chunk freed exactly once brings it back.
     */
    private static final class Readers
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(512).build();
        final List<BlockingQueue<Object>> queues = new ArrayList<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread[] workers = new Thread[WORKERS];

        Readers(final String name)
        {
            for (int w = 0; w < WORKERS; w++)
            {
                final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
                queues.add(queue);
                workers[w] = new Thread(() -> work(alloc, queue, failure), name + w);
                workers[w].start();
            }
        }

        /** Hands a job to a random reader. */
        void send(final ThreadLocalRandom random, final Object job) throws InterruptedException
        {
            queues.get(random.nextInt(WORKERS)).put(job);
        }

        boolean failed()
        {
            return failure.get() != null;
        }

        /** Stops the readers, fails with the first reader's failure, then checks stats and native memory. */
        void finish() throws InterruptedException
        {
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
            final SliceStats beforeClose = alloc.stats();
            assertEquals(0, beforeClose.liveSliceBytes());
            assertEquals(1, beforeClose.liveChunks(), "only the current chunk is left");
            assertEquals(0, beforeClose.wastedTailBytes());
            assertEquals(SLICES, beforeClose.slicesAllocated());
            alloc.close();
            assertEquals(new SliceStats(0, 0, 0, 0, SLICES), alloc.stats());
            baseline.assertBack("every chunk freed exactly once");
        }
    }

    private record HandleJob(int id, SharedSlice slice)
    {
    }

    private record RefJob(int id, long ref)
    {
    }

    @Test
    void sharedHandlesAndReferencesAcrossThreadsFreeEveryChunkExactlyOnce() throws Exception
    {
        final Readers readers = new Readers("slice-reader-");
        final SliceAllocator alloc = readers.alloc;

        final ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int id = 0; id < SLICES; id++)
        {
            final int sliceId = id;
            final int length = random.nextInt(20) == 0 ? 513 + random.nextInt(200) : 1 + random.nextInt(300);
            final int holders = 1 + random.nextInt(4);
            if (random.nextBoolean())
            {
                final SharedSlice slice = alloc.allocateLongs(length, i -> expected(sliceId, i));
                for (int h = 1; h < holders; h++)
                {
                    readers.send(random, new HandleJob(sliceId, slice.share()));
                }
                readers.send(random, new HandleJob(sliceId, slice));
            }
            else
            {
                final long ref = alloc.allocateLongsRef(length, i -> expected(sliceId, i));
                for (int h = 1; h < holders; h++)
                {
                    alloc.retain(ref);
                }
                for (int h = 0; h < holders; h++)
                {
                    readers.send(random, new RefJob(sliceId, ref));
                }
            }
            if (readers.failed())
            {
                break;
            }
        }
        readers.finish();
    }

    @Test
    void localSlicesOnTheOwnerBesideSharedOnesOnTwelveThreadsFreeEveryChunkExactlyOnce() throws Exception
    {
        final Readers readers = new Readers("slice-local-");
        final SliceAllocator alloc = readers.alloc;

        // The owner keeps up to 40 local slices open while it hands shared ones out: local releases (stack order or
        // in place, into the spares of the current chunk or with a CAS on a chunk left behind) interleave with
        // shared releases on other threads, in the same chunks.
        final ThreadLocalRandom random = ThreadLocalRandom.current();
        final List<SliceReader> open = new ArrayList<>();
        final List<Integer> openIds = new ArrayList<>();
        final List<SliceReader> spare = new ArrayList<>();
        for (int id = 0; id < SLICES; id++)
        {
            final int sliceId = id;
            final int length = random.nextInt(40) == 0 ? 513 + random.nextInt(100) : 1 + random.nextInt(200);
            final int kind = random.nextInt(3);
            if (kind == 0)
            {
                final SliceReader reader = spare.isEmpty() ? new SliceReader() : spare.remove(spare.size() - 1);
                alloc.allocateLocalLongs(length, i -> expected(sliceId, i), reader);
                open.add(reader);
                openIds.add(sliceId);
            }
            else if (kind == 1)
            {
                final SharedSlice slice = alloc.allocateLongs(length, i -> expected(sliceId, i));
                if (random.nextBoolean())
                {
                    readers.send(random, new HandleJob(sliceId, slice.share()));
                }
                readers.send(random, new HandleJob(sliceId, slice));
            }
            else
            {
                final long ref = alloc.allocateLongsRef(length, i -> expected(sliceId, i));
                readers.send(random, new RefJob(sliceId, ref));
            }
            while (open.size() > random.nextInt(1, 40))
            {
                // mostly the newest (stack order), sometimes any
                final int at = random.nextInt(4) == 0 ? random.nextInt(open.size()) : open.size() - 1;
                final SliceReader reader = open.remove(at);
                final int readerId = openIds.remove(at);
                for (int i = 0; i < reader.length(); i++)
                {
                    assertEquals(expected(readerId, i), reader.getLong(i), "local slice changed while open");
                }
                reader.close();
                spare.add(reader);
            }
            if (readers.failed())
            {
                break;
            }
        }
        for (final SliceReader reader : open)
        {
            reader.close();
        }
        readers.finish();
    }

    @Test
    void racingDoubleReleaseOfOneHandleSucceedsExactlyOnce() throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final int rounds = 2_000;
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        final SharedSlice[] handles = new SharedSlice[rounds];
        for (int r = 0; r < rounds; r++)
        {
            handles[r] = alloc.allocateLongs(1 + r % 50, i -> i);
        }
        final java.util.concurrent.atomic.AtomicInteger released = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicInteger refused = new java.util.concurrent.atomic.AtomicInteger();
        final Thread[] racers = new Thread[WORKERS];
        for (int t = 0; t < racers.length; t++)
        {
            racers[t] = new Thread(() ->
            {
                for (final SharedSlice handle : handles)
                {
                    try
                    {
                        handle.release();
                        released.incrementAndGet();
                    }
                    catch (final dev.lake.memory.StaleHandleException ex)
                    {
                        refused.incrementAndGet();
                    }
                }
            });
            racers[t].start();
        }
        for (final Thread racer : racers)
        {
            racer.join();
        }
        assertEquals(rounds, released.get());
        assertEquals(rounds * (WORKERS - 1), refused.get());
        assertEquals(0, alloc.stats().liveSliceBytes());
        alloc.close();
        baseline.assertBack("native memory");
    }

    private static void work(final SliceAllocator alloc, final BlockingQueue<Object> queue,
        final AtomicReference<Throwable> failure)
    {
        final ThreadLocalRandom random = ThreadLocalRandom.current();
        final List<Object> held = new ArrayList<>();
        try
        {
            while (true)
            {
                final Object job = queue.take();
                if (job == POISON)
                {
                    break;
                }
                check(alloc, job);
                held.add(job);
                // hold a random set of handles for a while, releasing one at random once enough pile up
                while (held.size() > random.nextInt(1, 24))
                {
                    final Object victim = held.remove(random.nextInt(held.size()));
                    check(alloc, victim); // contents never changed while it was live
                    release(alloc, victim);
                }
            }
            while (!held.isEmpty())
            {
                final Object victim = held.remove(random.nextInt(held.size()));
                check(alloc, victim);
                release(alloc, victim);
            }
        }
        catch (final Throwable ex)
        {
            failure.compareAndSet(null, ex);
        }
    }

    private static void check(final SliceAllocator alloc, final Object job)
    {
        if (job instanceof HandleJob)
        {
            final HandleJob h = (HandleJob)job;
            final SharedSlice slice = h.slice();
            for (int i = 0; i < slice.length(); i++)
            {
                if (slice.getLong(i) != expected(h.id(), i))
                {
                    throw new AssertionError("slice " + h.id() + " element " + i + " changed: " + slice.getLong(i));
                }
            }
            if (slice.buffer().getLong(slice.byteLength() - 8) != expected(h.id(), slice.length() - 1))
            {
                throw new AssertionError("slice " + h.id() + " view disagrees");
            }
        }
        else
        {
            final RefJob r = (RefJob)job;
            final int length = alloc.length(r.ref());
            for (int i = 0; i < length; i++)
            {
                if (alloc.getLong(r.ref(), i) != expected(r.id(), i))
                {
                    throw new AssertionError("ref " + r.id() + " element " + i + " changed");
                }
            }
        }
    }

    private static void release(final SliceAllocator alloc, final Object job)
    {
        if (job instanceof HandleJob)
        {
            ((HandleJob)job).slice().release();
        }
        else
        {
            alloc.release(((RefJob)job).ref());
        }
    }
}
