package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Review of local slices: a model-based walk over local, shared and primitive slices (chunk switches, resets in
 * place, dedicated chunks, throwing initializers) checking contents, stats and the native memory returned.
 */
class SliceLocalModelTest extends NativeBaselineTest
{
    private static long value(final long id, final int i)
    {
        return id * 1_000_003L + i;
    }

    @Test
    void aRandomMixOfLocalSharedAndPrimitiveSlicesKeepsContentsStatsAndMemoryExact()
    {
        for (long seed = 1; seed <= 40; seed++)
        {
            randomWalk(seed);
        }
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    private void randomWalk(final long seed)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final int capacity = 16 + rnd.nextInt(64);
        final SliceAllocator alloc = longs(capacity);
        final List<LiveSlice> live = new ArrayList<>();
        long liveBytes = 0;
        long allocated = 0;
        long nextId = 1;
        for (int step = 0; step < 3_000; step++)
        {
            final int op = rnd.nextInt(10);
            if (op < 5 || live.isEmpty())
            {
                final int kind = rnd.nextInt(3);
                final int length = rnd.nextInt(10) == 0 ? capacity + 1 + rnd.nextInt(capacity) : 1 + rnd.nextInt(capacity);
                final long id = nextId++;
                final boolean fail = rnd.nextInt(8) == 0;
                final int failAt = rnd.nextInt(length);
                final LongInit init = i ->
                {
                    if (fail && i == failAt)
                    {
                        throw new IllegalStateException("boom " + id);
                    }
                    return value(id, i);
                };
                final LiveSlice l = new LiveSlice(kind, id, length);
                try
                {
                    switch (kind)
                    {
                        case 0 -> l.reader = alloc.allocateLocalLongs(length, init, new SliceReader());
                        case 1 -> l.handle = alloc.allocateLongs(length, init);
                        default -> l.ref = alloc.allocateLongsRef(length, init);
                    }
                    assertFalse(fail, "seed " + seed + " step " + step);
                    live.add(l);
                    liveBytes += length * 8L;
                    allocated++;
                }
                catch (final IllegalStateException ex)
                {
                    assertTrue(fail, ex.toString());
                }
            }
            else
            {
                final LiveSlice l = live.remove(rnd.nextInt(live.size()));
                check(alloc, l, seed, step);
                l.release(alloc);
                liveBytes -= l.length * 8L;
            }
            if (step % 97 == 0)
            {
                for (final LiveSlice l : live)
                {
                    check(alloc, l, seed, step);
                }
            }
            final SliceStats stats = alloc.stats();
            assertEquals(liveBytes, stats.liveSliceBytes(), "seed " + seed + " step " + step);
            assertEquals(allocated, stats.slicesAllocated(), "seed " + seed + " step " + step);
        }
        for (final LiveSlice l : live)
        {
            check(alloc, l, seed, -1);
        }
        // release half before the close, half after
        final boolean closeFirst = rnd.nextBoolean();
        if (closeFirst)
        {
            alloc.close();
        }
        for (final LiveSlice l : live)
        {
            l.release(alloc);
        }
        alloc.close();
        assertEquals(new SliceStats(0, 0, 0, 0, allocated), alloc.stats(), "seed " + seed);
    }

    private static void check(final SliceAllocator alloc, final LiveSlice l, final long seed, final int step)
    {
        for (int i = 0; i < l.length; i++)
        {
            final long got = switch (l.kind)
            {
                case 0 -> l.reader.getLong(i);
                case 1 -> l.handle.getLong(i);
                default -> alloc.getLong(l.ref, i);
            };
            assertEquals(value(l.id, i), got, "seed " + seed + " step " + step + " kind " + l.kind + " index " + i);
        }
    }

    /**
     * The allocator travels between owner threads (some live on, some terminate holding local slices that the next
     * owner closes) while releaser threads drop shared slices and references from the same chunks: afterwards the
     * stats are exact and every chunk is freed once.
     */
    @Test
    void handoversAndTerminatedOwnersBesideReleasersKeepStatsAndChunksExact() throws Exception
    {
        final SliceAllocator alloc = longs(48);
        final java.util.concurrent.LinkedBlockingQueue<Object> toRelease = new java.util.concurrent.LinkedBlockingQueue<>();
        final Object poison = new Object();
        final java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        final java.util.concurrent.atomic.AtomicLong allocated = new java.util.concurrent.atomic.AtomicLong();
        final Thread[] releasers = new Thread[4];
        for (int t = 0; t < releasers.length; t++)
        {
            releasers[t] = new Thread(() ->
            {
                try
                {
                    while (true)
                    {
                        final Object o = toRelease.take();
                        if (o == poison)
                        {
                            return;
                        }
                        if (o instanceof SharedSlice s)
                        {
                            assertEquals(3L * (s.length() - 1), s.getLong(s.length() - 1));
                            s.release();
                        }
                        else
                        {
                            alloc.release((Long)o);
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            });
            releasers[t].start();
        }
        final List<SliceReader> inherited = new ArrayList<>();
        final SplittableRandom seeds = new SplittableRandom(7);
        for (int turn = 0; turn < 120; turn++)
        {
            final boolean dies = turn % 3 == 2;
            final long seed = seeds.nextLong();
            final List<SliceReader> left = new ArrayList<>(inherited);
            inherited.clear();
            final Thread owner = new Thread(() ->
            {
                try
                {
                    alloc.bindToCurrentThread();
                    for (final SliceReader r : left)
                    {
                        assertEquals(5L * (r.length() - 1), r.getLong(r.length() - 1));
                        r.close();
                    }
                    final SplittableRandom rnd = new SplittableRandom(seed);
                    final List<SliceReader> open = new ArrayList<>();
                    for (int i = 0; i < 300; i++)
                    {
                        final int n = 1 + rnd.nextInt(rnd.nextInt(20) == 0 ? 80 : 20);
                        switch (rnd.nextInt(4))
                        {
                            case 0 -> toRelease.add(alloc.allocateLongs(n, j -> 3L * j));
                            case 1 -> toRelease.add(alloc.allocateLongsRef(n, j -> j));
                            default ->
                            {
                                open.add(alloc.allocateLocalLongs(n, j -> 5L * j, new SliceReader()));
                                if (open.size() > 4)
                                {
                                    final SliceReader r = open.remove(rnd.nextInt(open.size()));
                                    assertEquals(5L * (r.length() - 1), r.getLong(r.length() - 1));
                                    r.close();
                                }
                            }
                        }
                        allocated.incrementAndGet();
                    }
                    if (dies)
                    {
                        synchronized (inherited)
                        {
                            inherited.addAll(open); // terminates holding them: the next owner closes them
                        }
                    }
                    else
                    {
                        for (final SliceReader r : open)
                        {
                            r.close();
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            });
            owner.start();
            owner.join();
            if (failure.get() != null)
            {
                break;
            }
        }
        alloc.bindToCurrentThread();
        for (final SliceReader r : inherited)
        {
            r.close();
        }
        for (final Thread t : releasers)
        {
            toRelease.add(poison);
        }
        for (final Thread t : releasers)
        {
            t.join();
        }
        if (failure.get() != null)
        {
            throw new AssertionError(failure.get());
        }
        final SliceStats stats = alloc.stats();
        assertEquals(0, stats.liveSliceBytes(), stats.toString());
        assertEquals(allocated.get(), stats.slicesAllocated());
        alloc.close();
        assertEquals(new SliceStats(0, 0, 0, 0, allocated.get()), alloc.stats());
    }

    /** The same walk for records whose data alignment is above and below the header's (rewinds to unaligned starts). */
    @Test
    void aRandomMixOfRecordSlicesKeepsContentsStatsAndMemoryExact()
    {
        for (long seed = 1; seed <= 20; seed++)
        {
            recordWalk(seed, ElementLayout.record(12, 32));
            recordWalk(seed, ElementLayout.record(12, 4));
        }
    }

    private void recordWalk(final long seed, final ElementLayout layout)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final int capacity = 8 + rnd.nextInt(40);
        final SliceAllocator alloc = SliceAllocator.builder(layout).chunkCapacity(capacity).build();
        final int stride = layout.stride();
        final List<LiveSlice> live = new ArrayList<>();
        final org.agrona.concurrent.UnsafeBuffer copy = new org.agrona.concurrent.UnsafeBuffer(new byte[stride * capacity * 3]);
        long liveBytes = 0;
        long allocated = 0;
        long nextId = 1;
        for (int step = 0; step < 2_000; step++)
        {
            if (rnd.nextInt(10) < 5 || live.isEmpty())
            {
                final int kind = rnd.nextInt(3);
                final int length = rnd.nextInt(10) == 0 ? capacity + 1 + rnd.nextInt(capacity) : 1 + rnd.nextInt(capacity);
                final long id = nextId++;
                final boolean fail = rnd.nextInt(8) == 0;
                final int failAt = rnd.nextInt(length);
                final ElementInit init = (w, offset, i) ->
                {
                    if (fail && i == failAt)
                    {
                        throw new IllegalStateException("boom " + id);
                    }
                    w.putLong(offset, value(id, i));
                    w.putInt(offset + 8, (int)id);
                };
                final LiveSlice l = new LiveSlice(kind, id, length);
                try
                {
                    switch (kind)
                    {
                        case 0 -> l.reader = alloc.allocateLocal(length, init, new SliceReader());
                        case 1 -> l.handle = alloc.allocate(length, init);
                        default -> l.ref = alloc.allocateRef(length, init);
                    }
                    assertFalse(fail);
                    live.add(l);
                    liveBytes += (long)length * stride;
                    allocated++;
                }
                catch (final IllegalStateException ex)
                {
                    assertTrue(fail, ex.toString());
                }
            }
            else
            {
                final LiveSlice l = live.remove(rnd.nextInt(live.size()));
                checkRecord(alloc, l, copy, stride, layout + " seed " + seed + " step " + step);
                l.release(alloc);
                liveBytes -= (long)l.length * stride;
            }
            assertEquals(liveBytes, alloc.stats().liveSliceBytes(), layout + " seed " + seed + " step " + step);
            assertEquals(allocated, alloc.stats().slicesAllocated());
        }
        for (final LiveSlice l : live)
        {
            checkRecord(alloc, l, copy, stride, layout + " seed " + seed + " end");
            l.release(alloc);
        }
        alloc.close();
        assertEquals(new SliceStats(0, 0, 0, 0, allocated), alloc.stats(), layout + " seed " + seed);
    }

    private static void checkRecord(final SliceAllocator alloc, final LiveSlice l,
        final org.agrona.concurrent.UnsafeBuffer copy, final int stride, final String where)
    {
        final int bytes = l.length * stride;
        switch (l.kind)
        {
            case 0 -> l.reader.getBytes(0, copy, 0, bytes);
            case 1 -> copy.putBytes(0, l.handle.buffer(), l.handle.elementOffset(0), bytes);
            default -> alloc.getBytes(l.ref, 0, copy, 0, bytes);
        }
        for (int i = 0; i < l.length; i++)
        {
            assertEquals(value(l.id, i), copy.getLong(i * stride), where + " index " + i);
            assertEquals((int)l.id, copy.getInt(i * stride + 8), where + " index " + i);
        }
    }
}
