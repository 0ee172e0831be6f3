package dev.lake.pool;

import dev.lake.testing.NativeAccounting;
import org.jctools.queues.MpmcArrayQueue;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fifteenth review round: the buddy arena under threads that outnumber the cores, allocating and releasing
 * different sizes at once (split and coalesce racing the free-block cache and metrics() flushes), waiting for
 * capacity (blocking, async, giving up, with and without a completion executor), and closing while they do. This
 * round found no failure here; the class pins the invariants the round checked: no block handed out twice, a
 * fresh block reads zero over its whole capacity under {@link InitPolicy#ZERO}, every waiter served or ended,
 * and, once quiet, the whole arena one allocatable block with exact metrics (or, after close, the region freed by
 * the last release).
 */
class FifteenthReviewBuddyTest
{
    private static final int THREADS = 8;

    private static long word(final long tag, final int k)
    {
        return tag * 0x9E3779B97F4A7C15L + k;
    }

    /**
     * Every block a thread gets must read zero over its whole capacity under {@link InitPolicy#ZERO} (whatever was
     * split, merged or parked before), and keep the owner's pattern until it is released: a block handed out twice,
     * or a merge that let an old owner's bytes through, shows as a foreign word.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void eightThreadsOfMixedOrdersSeeZeroedBlocksAndKeepTheirOwnBytes(final boolean cache) throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final int total = 64 * 1024;
        final BuddyArena arena = BuddyArena.builder(total, 16).freeBlockCache(cache).initPolicy(InitPolicy.ZERO)
            .build();
        final MpmcArrayQueue<Object[]> exchange = new MpmcArrayQueue<>(64);
        final AtomicLong ok = new AtomicLong();
        final AtomicLong refused = new AtomicLong();
        Workers.run(THREADS, id ->
        {
            final SplittableRandom random = new SplittableRandom(id * 31L + (cache ? 7 : 0));
            final List<Object[]> held = new ArrayList<>();
            long allocated = 0;
            long failures = 0;
            for (int i = 0; i < 6_000; i++)
            {
                final int size = 1 + random.nextInt(random.nextInt(10) == 0 ? 8 * 1024 : 256);
                final long tag = ((long)id << 40) | i;
                if (id == 0 && i % 50 == 0)
                {
                    // a snapshot flushes the cache under the lock, racing the other threads' parks and takes
                    final BuddyArenaMetrics m = arena.metrics();
                    if (m.liveBlocks() < 0 || m.freeBytes() > total || m.bytesLive() < 0)
                    {
                        throw new AssertionError("snapshot out of range: " + m);
                    }
                }
                if (random.nextInt(3) == 0)
                {
                    final long h = arena.tryAllocateHandle(size);
                    if (h == BuddyArena.NO_HANDLE)
                    {
                        failures++;
                        releaseOne(arena, held, exchange);
                        continue;
                    }
                    allocated++;
                    final int capacity = arena.handleCapacity(h);
                    for (int k = 0; k < capacity / 8; k++)
                    {
                        final long v = arena.getLong(h, k * 8);
                        if (v != 0)
                        {
                            throw new AssertionError("fresh handle block of " + capacity + " B reads " +
                                Long.toHexString(v) + " at long " + k);
                        }
                    }
                    final int n = 1 + random.nextInt(capacity / 8);
                    for (int k = 0; k < n; k++)
                    {
                        arena.putLong(h, k * 8, word(tag, k));
                    }
                    arena.freezeHandle(h, n * 8);
                    arena.retain(h);
                    final Object[] item = {null, tag, n, h};
                    if (!exchange.offer(item))
                    {
                        held.add(item);
                    }
                    check(arena, item);
                    arena.release(h);
                }
                else
                {
                    final Buffer buffer = arena.tryAllocate(size);
                    if (buffer == null)
                    {
                        failures++;
                        releaseOne(arena, held, exchange);
                        continue;
                    }
                    allocated++;
                    final int capacity = buffer.capacity();
                    for (int k = 0; k < capacity / 8; k++)
                    {
                        final long v = buffer.mutableBuffer().getLong(k * 8);
                        if (v != 0)
                        {
                            throw new AssertionError("fresh block of " + capacity + " B reads " +
                                Long.toHexString(v) + " at long " + k);
                        }
                    }
                    final int n = 1 + random.nextInt(capacity / 8);
                    for (int k = 0; k < n; k++)
                    {
                        buffer.putLong(word(tag, k));
                    }
                    if (random.nextInt(8) == 0)
                    {
                        buffer.close();
                        continue;
                    }
                    final Bytes bytes = buffer.freeze();
                    final Object[] item = {bytes, tag, n, 0L};
                    if (random.nextBoolean() || !exchange.offer(item))
                    {
                        held.add(item);
                    }
                }
                if (held.size() > 5)
                {
                    releaseOne(arena, held, exchange);
                }
            }
            for (final Object[] item : held)
            {
                release(arena, item);
            }
            ok.addAndGet(allocated);
            refused.addAndGet(failures);
        });
        Object[] left;
        while ((left = exchange.poll()) != null)
        {
            release(arena, left);
        }
        quiet(arena, total, ok.get(), refused.get());
        arena.close();
        assertTrue(arena.isRegionFreed());
        baseline.assertBack("native memory");
    }

    /**
     * Eight threads wait for blocks of every order, up to the whole arena, holding nothing while they wait (so only a
     * lost wake-up or a block stranded in the cache can leave a request waiting), with short waits that give up and
     * async requests released by their callback mixed in. None of the long waits may run out.
     */
    @ParameterizedTest
    @CsvSource({"true, false", "false, false", "true, true"})
    void waitersOfEveryOrderAreAllServedWhileOthersGiveUpAndRelease(final boolean cache, final boolean executor)
        throws Exception
    {
        final int total = 16 * 1024;
        final ExecutorService completions = executor ? Executors.newFixedThreadPool(2) : null;
        final BuddyArena arena = BuddyArena.builder(total, 16).freeBlockCache(cache).initPolicy(InitPolicy.ZERO)
            .completionExecutor(completions).build();
        final Queue<CompletableFuture<Buffer>> futures = new ConcurrentLinkedQueue<>();
        Workers.run(THREADS, id ->
        {
            final SplittableRandom random = new SplittableRandom(id * 131L + (cache ? 3 : 0));
            for (int i = 0; i < 1_500; i++)
            {
                final int size = random.nextInt(40) == 0 ? total : 1 + random.nextInt(random.nextBoolean() ? 64 :
                    total / 4);
                final int kind = random.nextInt(10);
                if (kind == 0)
                {
                    final CompletableFuture<Buffer> f = arena.allocateAsync(size);
                    futures.add(f);
                    f.thenAccept(b -> use(b, id, true));
                    if (random.nextInt(4) == 0)
                    {
                        f.cancel(false);
                    }
                }
                else if (kind == 1)
                {
                    try
                    {
                        use(arena.allocate(size, Duration.ofNanos(1 + random.nextInt(200_000))), id, false);
                    }
                    catch (final AllocationTimeoutException gaveUp)
                    {
                        // a short wait may run out
                    }
                }
                else if (kind == 2)
                {
                    final Buffer b = arena.tryAllocate(size);
                    if (b != null)
                    {
                        use(b, id, true);
                    }
                }
                else
                {
                    use(arena.allocate(size, Duration.ofSeconds(20)), id, random.nextBoolean());
                }
            }
        });
        await().atMost(Duration.ofSeconds(20)).until(() -> futures.stream().allMatch(CompletableFuture::isDone));
        await().atMost(Duration.ofSeconds(20)).until(() -> arena.waiters() == 0);
        quiet(arena, total, -1, -1);
        final WaitMetrics w = arena.metrics().waits();
        assertEquals(0, w.waiters(), w.toString());
        arena.close();
        assertTrue(arena.isRegionFreed());
        if (completions != null)
        {
            completions.shutdown();
        }
    }

    /** Writes over the whole block and releases it, through a frozen Bytes half of the time. */
    private static void use(final Buffer buffer, final int id, final boolean freeze)
    {
        final long tag = (long)id << 40 | System.identityHashCode(buffer);
        final int n = buffer.capacity() / 8;
        for (int k = 0; k < n; k++)
        {
            buffer.putLong(word(tag, k));
        }
        if (!freeze)
        {
            buffer.close();
            return;
        }
        final Bytes bytes = buffer.freeze();
        final Bytes other = bytes.retain();
        bytes.release();
        for (int k = 0; k < n; k++)
        {
            if (other.getLong(k * 8) != word(tag, k))
            {
                throw new AssertionError("block overwritten at long " + k);
            }
        }
        other.release();
    }

    /**
     * close() racing eight threads that allocate, wait (blocking and async) and release blocks of every order: no
     * crash, every waiter ends, everything still held stays readable, and the region is freed once, by the last
     * release, with no reserved byte left.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void closeRacingWaitersOfEveryOrderEndsEveryOneAndFreesTheRegionLast(final boolean cache) throws Exception
    {
        for (int round = 0; round < 20; round++)
        {
            final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
            final int total = 8 * 1024;
            final BuddyArena arena = BuddyArena.builder(total, 16).freeBlockCache(cache).initPolicy(InitPolicy.ZERO)
                .build();
            final Queue<CompletableFuture<Buffer>> futures = new ConcurrentLinkedQueue<>();
            final Queue<Bytes> kept = new ConcurrentLinkedQueue<>();
            final AtomicLong operations = new AtomicLong();
            final AtomicInteger keeping = new AtomicInteger();
            final int closeAfter = 200 + round * 50;
            final Thread closer = new Thread(() ->
            {
                try
                {
                    await().atMost(Duration.ofSeconds(10)).until(() -> operations.get() > closeAfter);
                }
                finally
                {
                    arena.close(); // even after a timeout: the workers run until the arena closes
                }
            });
            closer.start();
            final int seed = round;
            Workers.run(THREADS, id ->
            {
                final SplittableRandom random = new SplittableRandom(id * 7L + seed * 1000L + (cache ? 1 : 0));
                while (true)
                {
                    operations.incrementAndGet();
                    // waits never ask for more than a quarter: the two small blocks kept across close() can split
                    // at most two quarters, so a wait can always be served (no hold-and-wait in the test itself)
                    final int size = 1 + random.nextInt(random.nextBoolean() ? 64 : total / 4);
                    try
                    {
                        final int kind = random.nextInt(6);
                        if (kind == 0)
                        {
                            final CompletableFuture<Buffer> f = arena.allocateAsync(size);
                            futures.add(f);
                            f.thenAccept(b -> use(b, id, true));
                        }
                        else if (kind == 1)
                        {
                            final Buffer b = arena.tryAllocate(random.nextInt(30) == 0 ? total : size);
                            if (b != null)
                            {
                                if (b.capacity() <= 64 && keeping.getAndIncrement() < 2)
                                {
                                    b.putLong(42L);
                                    kept.add(b.freeze()); // released after close, by the test
                                }
                                else
                                {
                                    use(b, id, true);
                                }
                            }
                        }
                        else
                        {
                            use(arena.allocate(size, Duration.ofSeconds(20)), id, random.nextBoolean());
                        }
                    }
                    catch (final ArenaClosedException ex)
                    {
                        return;
                    }
                }
            });
            closer.join();
            await().atMost(Duration.ofSeconds(20)).until(() -> futures.stream().allMatch(CompletableFuture::isDone));
            assertEquals(0, arena.waiters());
            Bytes b;
            while ((b = kept.poll()) != null)
            {
                assertEquals(42, b.getLong(0));
                b.release();
            }
            assertTrue(arena.isRegionFreed(), "round " + round);
            baseline.assertBack("round " + round);
        }
    }

    /** Quiet: all of it one free block again, the metrics exact, and one block of the whole arena allocatable. */
    private static void quiet(final BuddyArena arena, final int total, final long allocations, final long failed)
    {
        final BuddyArenaMetrics m = arena.metrics();
        assertEquals(0, m.liveBlocks(), m.toString());
        assertEquals(0, m.bytesLive(), m.toString());
        assertEquals(total, m.freeBytes(), m.toString());
        assertTrue(m.fullyCoalesced(), m.toString());
        assertEquals(m.splits(), m.coalesces(), m.toString());
        if (allocations >= 0)
        {
            assertEquals(allocations, m.allocations(), m.toString());
            assertEquals(allocations, m.frees(), m.toString());
            assertEquals(failed, m.failedAllocations(), m.toString());
        }
        assertEquals(0, m.waits().waiters(), m.toString());
        final long h = arena.allocateHandle(total);
        arena.release(h);
    }

    /** Releases the oldest held item, after taking one another thread handed over (so releases cross threads). */
    private static void releaseOne(final BuddyArena arena, final List<Object[]> held,
        final MpmcArrayQueue<Object[]> exchange)
    {
        final Object[] other = exchange.poll();
        if (other != null)
        {
            held.add(other);
        }
        if (!held.isEmpty())
        {
            release(arena, held.remove(0));
        }
    }

    private static void check(final BuddyArena arena, final Object[] item)
    {
        final long tag = (Long)item[1];
        final int n = (Integer)item[2];
        final Bytes bytes = (Bytes)item[0];
        for (int k = 0; k < n; k++)
        {
            final long v = bytes != null ? bytes.getLong(k * 8) : arena.getLong((Long)item[3], k * 8);
            if (v != word(tag, k))
            {
                throw new AssertionError("block of tag " + Long.toHexString(tag) + " overwritten at long " + k +
                    ": " + Long.toHexString(v));
            }
        }
    }

    private static void release(final BuddyArena arena, final Object[] item)
    {
        check(arena, item);
        if (item[0] != null)
        {
            ((Bytes)item[0]).release();
        }
        else
        {
            arena.release((Long)item[3]);
        }
    }
}
