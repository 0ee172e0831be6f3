package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The seventeenth review of the pool arenas: features mixed on more threads than cores, then the counters checked
 * against what the threads did once they are quiet.
 */
class SeventeenthReviewPoolTest
{
    private static final int THREADS = 8;
    private static final int ROUNDS = 8_000;

    /** What the workers did, counted by them. */
    static final class Tally
    {
        final AtomicLong freezes = new AtomicLong();
        final AtomicLong spills = new AtomicLong();
        final AtomicLong leaked = new AtomicLong();
        final AtomicLong corrupt = new AtomicLong();
        final AtomicLong delivered = new AtomicLong();
    }

    /**
     * A fixed arena (mode 0, 1) and a buddy arena (mode 2, 3), with and without a completion executor: handle tier
     * with cross-thread hand-over, object tier with spills, slices and retains, waits (async with cancel and
     * timeouts, blocking with timeouts), leaks, metrics from another thread. Afterwards: nothing live, the counters
     * equal what the threads did, every byte read was the writer's.
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3})
    void mixedFeaturesOnMoreThreadsThanCoresLeaveExactCounters(final int mode) throws Exception
    {
        final boolean buddy = mode >= 2;
        final ExecutorService executor = (mode & 1) == 1 ? Executors.newFixedThreadPool(2) : null;
        final SlotArena arena = buddy ?
            BuddyArena.builder(8192, 64).autoSpill(true).completionExecutor(executor).build() :
            FixedArena.builder(70, 64).autoSpill(true).completionExecutor(executor).build();
        final Tally tally = new Tally();
        final ConcurrentLinkedQueue<long[]> handles = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<Object[]> shared = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<CompletableFuture<Buffer>> futures = new ConcurrentLinkedQueue<>();
        try
        {
            Workers.run(THREADS, id ->
            {
                final Random rnd = new Random(id * 31L + mode);
                for (int i = 0; i < ROUNDS; i++)
                {
                    final long tag = ((long)id << 40) | i;
                    final int op = rnd.nextInt(100);
                    if (op < 30)
                    {
                        handleRound(arena, buddy, rnd, tag, handles, tally);
                    }
                    else if (op < 60)
                    {
                        final Buffer b = tryAllocate(arena, buddy, rnd);
                        if (b != null)
                        {
                            objectRound(b, rnd, tag, shared, tally);
                        }
                    }
                    else if (op < 70)
                    {
                        final CompletableFuture<Buffer> f = allocateAsync(arena, buddy, rnd);
                        final int how = rnd.nextInt(4);
                        if (how == 0)
                        {
                            f.cancel(false);
                        }
                        else if (how == 1)
                        {
                            f.orTimeout(rnd.nextInt(3), TimeUnit.MILLISECONDS);
                        }
                        futures.add(f);
                        settle(futures, rnd, tag, shared, tally, false);
                    }
                    else if (op < 75)
                    {
                        try
                        {
                            final Buffer b = allocate(arena, buddy, rnd, Duration.ofMillis(rnd.nextInt(2)));
                            objectRound(b, rnd, tag, shared, tally);
                        }
                        catch (final AllocationTimeoutException expected)
                        {
                            // full
                        }
                    }
                    else if (op < 90)
                    {
                        releaseShared(shared, tally);
                        releaseHandles(arena, handles, tally);
                    }
                    else if (op < 91)
                    {
                        final Buffer b = tryAllocate(arena, buddy, rnd);
                        if (b != null)
                        {
                            b.putLong(tag);
                            tally.leaked.incrementAndGet(); // dropped without release
                        }
                    }
                    else if (op < 92)
                    {
                        metrics(arena);
                    }
                    else
                    {
                        settle(futures, rnd, tag, shared, tally, false);
                    }
                }
            });
            while (!shared.isEmpty() || !handles.isEmpty())
            {
                releaseShared(shared, tally);
                releaseHandles(arena, handles, tally);
            }
            final Random last = new Random(1);
            await().atMost(60, TimeUnit.SECONDS).until(() ->
            {
                System.gc();
                metrics(arena); // reclaims the leaks, which may serve waiters
                for (int n = futures.size(); n > 0; n--)
                {
                    settle(futures, last, 1, shared, tally, false);
                }
                while (!shared.isEmpty() || !handles.isEmpty())
                {
                    releaseShared(shared, tally);
                    releaseHandles(arena, handles, tally);
                }
                return futures.isEmpty();
            });
            await().atMost(30, TimeUnit.SECONDS).until(() ->
            {
                System.gc();
                return metrics(arena)[5] == tally.leaked.get();
            });
            final long[] m = metrics(arena);
            final String what = java.util.Arrays.toString(m);
            assertEquals(0, tally.corrupt.get(), "bytes read that were not the writer's");
            assertEquals(0, m[0] - m[1], "allocations - frees once quiet: " + what);
            assertEquals(0, m[6], "live once quiet: " + what);
            assertEquals(0, m[7], "bytes live once quiet: " + what);
            assertEquals(tally.freezes.get(), m[2], "frozen: " + what);
            assertEquals(tally.spills.get(), m[3], "spills: " + what);
            assertEquals(tally.leaked.get(), m[5], "leaks: " + what);
            final WaitMetrics w = arena.waits.metrics();
            assertEquals(0, w.waiters(), "waiters: " + w);
            assertEquals(arena.waits.requests(), w.completed() + w.timedOut() + w.cancelled() + w.failed(),
                "every queued request has exactly one outcome: " + w);
            // every slot can be taken again
            final List<Long> all = new ArrayList<>();
            long h;
            while ((h = buddy ? ((BuddyArena)arena).tryAllocateHandle(64) : ((FixedArena)arena).tryAllocateHandle()) !=
                0)
            {
                all.add(h);
            }
            assertEquals(buddy ? 8192 / 64 : 70, all.size(), "slots claimable once quiet");
            for (final long x : all)
            {
                arena.release(x);
            }
        }
        finally
        {
            arena.close();
            if (executor != null)
            {
                executor.shutdown();
            }
        }
        assertTrue(arena.isRegionFreed(), "region freed after close of an empty arena");
    }

    /** allocations, frees, frozen, spills, failed, leaks, live, bytes live. */
    private static long[] metrics(final SlotArena arena)
    {
        if (arena instanceof FixedArena fixed)
        {
            final FixedArenaMetrics m = fixed.metrics();
            return new long[] {m.allocations(), m.frees(), m.frozen(), m.spills(), m.failedAllocations(), m.leaks(),
                m.liveSlots(), m.bytesLive()};
        }
        final BuddyArenaMetrics m = ((BuddyArena)arena).metrics();
        return new long[] {m.allocations(), m.frees(), m.frozen(), m.spills(), m.failedAllocations(), m.leaks(),
            m.liveBlocks(), m.bytesLive()};
    }

    private static int size(final Random rnd)
    {
        return 1 + rnd.nextInt(rnd.nextBoolean() ? 64 : 1024);
    }

    private static Buffer tryAllocate(final SlotArena arena, final boolean buddy, final Random rnd)
    {
        return buddy ? ((BuddyArena)arena).tryAllocate(size(rnd)) : ((FixedArena)arena).tryAllocate();
    }

    private static CompletableFuture<Buffer> allocateAsync(final SlotArena arena, final boolean buddy, final Random rnd)
    {
        return buddy ? arena.allocateAsync(size(rnd)) : ((FixedArena)arena).allocateAsync();
    }

    private static Buffer allocate(final SlotArena arena, final boolean buddy, final Random rnd, final Duration d)
        throws InterruptedException
    {
        return buddy ? arena.allocate(size(rnd), d) : ((FixedArena)arena).allocate(d);
    }

    private static void handleRound(final SlotArena arena, final boolean buddy, final Random rnd, final long tag,
        final ConcurrentLinkedQueue<long[]> handles, final Tally tally)
    {
        final long h = buddy ? ((BuddyArena)arena).tryAllocateHandle(size(rnd)) : ((FixedArena)arena).tryAllocateHandle();
        if (h == 0)
        {
            return;
        }
        final int cap = buddy ? ((BuddyArena)arena).handleCapacity(h) : ((FixedArena)arena).slotCapacity();
        arena.putLong(h, 0, tag);
        arena.putLong(h, cap - 8, ~tag);
        if (rnd.nextInt(4) == 0)
        {
            arena.release(h); // never frozen
            return;
        }
        arena.freezeHandle(h, cap);
        tally.freezes.incrementAndGet();
        if (arena.getLong(h, 0) != tag || arena.getLong(h, cap - 8) != ~tag)
        {
            tally.corrupt.incrementAndGet();
        }
        if (rnd.nextBoolean())
        {
            arena.retain(h);
            handles.add(new long[] {h, tag, cap});
        }
        arena.release(h);
    }

    private static void releaseHandles(final SlotArena arena, final ConcurrentLinkedQueue<long[]> handles,
        final Tally tally)
    {
        final long[] x = handles.poll();
        if (x != null)
        {
            final int cap = (int)x[2];
            if (arena.getLong(x[0], 0) != x[1] || arena.getLong(x[0], cap - 8) != ~x[1] || arena.length(x[0]) != cap)
            {
                tally.corrupt.incrementAndGet();
            }
            arena.release(x[0]);
        }
    }

    private static void objectRound(final Buffer b, final Random rnd, final long tag,
        final ConcurrentLinkedQueue<Object[]> shared, final Tally tally)
    {
        final int longs = 1 + rnd.nextInt(rnd.nextInt(5) == 0 ? 40 : 7);
        final boolean wasSpilled = b.isSpilled();
        if (rnd.nextBoolean())
        {
            for (int i = 0; i < longs; i++)
            {
                b.putLong(tag + i);
            }
        }
        else
        {
            final org.agrona.MutableDirectBuffer view = b.mutableBuffer();
            for (int i = longs - 1; i >= 0; i--)
            {
                view.putLong(i * 8, tag + i);
            }
        }
        if (!wasSpilled && b.isSpilled())
        {
            tally.spills.incrementAndGet();
        }
        if (rnd.nextInt(8) == 0)
        {
            b.close();
            return;
        }
        final Bytes bytes = b.freeze();
        tally.freezes.incrementAndGet();
        check(bytes, 0, longs, tag, tally);
        final int r = rnd.nextInt(3);
        if (r == 0)
        {
            final int from = rnd.nextInt(longs);
            shared.add(new Object[] {bytes.slice(from * 8, (longs - from) * 8), tag + from, longs - from});
        }
        else if (r == 1)
        {
            shared.add(new Object[] {bytes.retain(), tag, longs});
        }
        bytes.release();
    }

    private static void check(final Bytes bytes, final int from, final int longs, final long tag, final Tally tally)
    {
        if (bytes.length() != longs * 8)
        {
            tally.corrupt.incrementAndGet();
            return;
        }
        for (int i = 0; i < longs; i++)
        {
            if (bytes.getLong(i * 8) != tag + from + i)
            {
                tally.corrupt.incrementAndGet();
                return;
            }
        }
    }

    private static void releaseShared(final ConcurrentLinkedQueue<Object[]> shared, final Tally tally)
    {
        final Object[] x = shared.poll();
        if (x != null)
        {
            final Bytes bytes = (Bytes)x[0];
            check(bytes, 0, (Integer)x[2], (Long)x[1], tally);
            bytes.release();
        }
    }

    /** Takes what the futures delivered; all of them when {@code all}. */
    private static void settle(final ConcurrentLinkedQueue<CompletableFuture<Buffer>> futures, final Random rnd,
        final long tag, final ConcurrentLinkedQueue<Object[]> shared, final Tally tally, final boolean all)
        throws Exception
    {
        final int n = all ? Integer.MAX_VALUE : 1;
        for (int i = 0; i < n; i++)
        {
            final CompletableFuture<Buffer> f = futures.poll();
            if (f == null)
            {
                return;
            }
            if (!f.isDone() && !all)
            {
                futures.add(f);
                continue;
            }
            try
            {
                final Buffer b = f.get(30, TimeUnit.SECONDS);
                if (b != null)
                {
                    tally.delivered.incrementAndGet();
                    objectRound(b, rnd, tag, shared, tally);
                }
            }
            catch (final CancellationException | java.util.concurrent.ExecutionException expected)
            {
                // cancelled or timed out
            }
            catch (final java.util.concurrent.TimeoutException stuck)
            {
                throw new AssertionError("a request never ended: " + f, stuck);
            }
        }
    }

    /**
     * {@code length(h)}: "@return its frozen length ... @throws StaleHandleException if the handle is no longer live";
     * the class comment: a stale handle "never reads another allocation's bytes, even after its slot was reused (reads
     * re-check the generation after reading)". {@code length(h)} checks the generation, then reads the length word,
     * and never checks again: a reader polling a handle that its owner releases meanwhile gets the length of the
     * slot's next allocation (or -1, "still writing", for a handle that was frozen), with no exception. Here every
     * handle is frozen at a length derived from its own generation before it is published, so any other answer
     * belongs to another allocation.
     */
    @org.junit.jupiter.api.Test
    void lengthOfAReleasedHandleNeverAnswersWithTheNextAllocationsLength() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final AtomicLong published = new AtomicLong();
            final AtomicLong wrong = new AtomicLong();
            final AtomicLong example = new AtomicLong();
            final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Workers.race(4, 5, stop, () ->
            {
                final long h = arena.allocateHandle();
                arena.freezeHandle(h, expectedLength(h));
                published.set(h);
                arena.release(h);
            }, () ->
            {
                final long h = published.get();
                if (h == 0)
                {
                    return;
                }
                try
                {
                    final int length = arena.length(h);
                    if (length != expectedLength(h))
                    {
                        example.set(((long)length << 32) | expectedLength(h));
                        wrong.incrementAndGet();
                        stop.set(true);
                    }
                }
                catch (final StaleHandleException expected)
                {
                    // released: the documented answer
                }
            });
            assertEquals(0, wrong.get(), "length(h) of a released handle answered " + (int)(example.get() >> 32) +
                " for a handle frozen at " + (int)example.get() + " (another allocation's length, no exception)");
        }
    }

    private static int expectedLength(final long handle)
    {
        return 8 + (int)((handle >>> SlotTable.REF_BITS) & 7) * 8;
    }

    /**
     * {@code BuddyArena.handleCapacity(h)}: "@return the bytes of its block. @throws StaleHandleException if the handle
     * is no longer live", and it is documented as safe to poll from another thread. It checks the generation, then
     * reads the block's order with no second check: polled while the owner releases the handle and the block is
     * merged and handed out at another size, it answers the size of a block the handle never had.
     */
    @org.junit.jupiter.api.Test
    void handleCapacityOfAReleasedHandleNeverAnswersAnotherBlocksSize() throws Exception
    {
        try (BuddyArena arena = BuddyArena.builder(128, 64).freeBlockCache(false).build())
        {
            final java.util.concurrent.atomic.AtomicReference<long[]> published =
                new java.util.concurrent.atomic.AtomicReference<>();
            final AtomicLong wrong = new AtomicLong();
            final AtomicLong example = new AtomicLong();
            final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            final int[] cycles = new int[1];
            Workers.race(4, 5, stop, () ->
            {
                final int size = (cycles[0]++ & 1) == 0 ? 64 : 128;
                final long h = arena.allocateHandle(size);
                published.set(new long[] {h, size});
                arena.release(h);
            }, () ->
            {
                final long[] p = published.get();
                if (p == null)
                {
                    return;
                }
                try
                {
                    final int capacity = arena.handleCapacity(p[0]);
                    if (capacity != p[1])
                    {
                        example.set(((long)capacity << 32) | p[1]);
                        wrong.incrementAndGet();
                        stop.set(true);
                    }
                }
                catch (final StaleHandleException expected)
                {
                    // released: the documented answer
                }
            });
            assertEquals(0, wrong.get(), "handleCapacity(h) of a released handle answered " +
                (int)(example.get() >> 32) + " for a block of " + (int)example.get() + " (another block's size)");
        }
    }

    /**
     * {@code retain(h)}: "@throws StaleHandleException if the handle is no longer live. @throws IllegalStateException
     * if it is not frozen yet". A handle that was frozen and then released is stale; but {@code retain} checks the
     * generation, then reads the frozen length of the slot with no second check, so when the slot was claimed again
     * in between by a writer that has not frozen yet, a stale handle is refused as "not frozen yet"
     * ({@code IllegalStateException}), the exception for a live writing handle, not as stale.
     */
    @org.junit.jupiter.api.Test
    void retainOfAReleasedFrozenHandleIsRefusedAsStaleNeverAsNotFrozen() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final AtomicLong published = new AtomicLong();
            final java.util.concurrent.atomic.AtomicReference<Throwable> wrong =
                new java.util.concurrent.atomic.AtomicReference<>();
            final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Workers.race(4, 5, stop, () ->
            {
                final long h = arena.tryAllocateHandle();
                if (h == FixedArena.NO_HANDLE)
                {
                    return; // a reader holds a reference for a moment
                }
                for (int i = 0; i < 64; i += 8)
                {
                    arena.putLong(h, i, h); // the new owner writes a while before it freezes
                }
                arena.freezeHandle(h, 8);
                published.set(h);
                arena.release(h);
            }, () ->
            {
                final long h = published.get();
                if (h == 0)
                {
                    return;
                }
                try
                {
                    arena.retain(h);
                    arena.release(h); // it was live and frozen: our reference goes back
                }
                catch (final StaleHandleException expected)
                {
                    // released: the documented answer
                }
                catch (final IllegalStateException notFrozen)
                {
                    wrong.compareAndSet(null, notFrozen);
                    stop.set(true);
                }
            });
            assertEquals(null, wrong.get(), "a released handle that was frozen was refused as not frozen yet");
        }
    }

}
