package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Fourth review of waiting for capacity (WaitQueue and both arenas' waiting paths), after the third round's
 * uncount-before-completing override and the tombstone compaction: concurrency between producers, the dispatcher,
 * callers giving up and close().
 */
class FourthReviewWaitTest
{
    /**
     * The dispatcher finds the oldest request by looking at each class's head in turn. A request queued into a
     * class it had already looked at (found empty) was missed by that pass, so a request the same thread queued
     * AFTER it into a later class was served first: "the oldest request is served first, over all sizes" broke
     * for two requests of one thread. The window is widened here by tombstones the pass drops from the later
     * class.
     */
    @Test
    void aRequestQueuedWhileTheDispatcherScansIsNotOvertakenByALaterOneOfTheSameThread() throws Exception
    {
        final int tombstones = 300_000;
        try (FixedArena backing = FixedArena.builder(8, 16).leakDetection(false).build())
        {
            final CountDownLatch inGrant = new CountDownLatch(1);
            final CountDownLatch go = new CountDownLatch(1);
            final AtomicBoolean first = new AtomicBoolean(true);
            final List<Integer> grants = Collections.synchronizedList(new ArrayList<>());
            final WaitQueue queue = new WaitQueue("scan-race", 2, (sizeClass, size) ->
            {
                if (first.compareAndSet(true, false))
                {
                    inGrant.countDown();
                    try
                    {
                        go.await();
                    }
                    catch (final InterruptedException ex)
                    {
                        Thread.currentThread().interrupt();
                    }
                }
                grants.add(size);
                return backing.tryAllocate();
            }, null);
            final AtomicReference<CompletableFuture<Buffer>> head = new AtomicReference<>();
            final Thread dispatcher = new Thread(() -> head.set(queue.enqueue(1, 3)), "dispatcher");
            dispatcher.start();
            assertTrue(inGrant.await(10, TimeUnit.SECONDS));
            // while the dispatcher is inside grant: tombstones in class 1 (their drain passes are left to it)
            for (int i = 0; i < tombstones; i++)
            {
                queue.enqueue(1, 4).complete(null);
            }
            go.countDown();
            // the next pass has looked at class 0 (empty) once it drops class 1's tombstones
            while (queue.queued() > tombstones - 20_000)
            {
                Thread.onSpinWait();
            }
            final CompletableFuture<Buffer> older = queue.enqueue(0, 1);
            final CompletableFuture<Buffer> younger = queue.enqueue(1, 2);
            dispatcher.join();
            await().until(() -> older.isDone() && younger.isDone() && grants.size() == 3);
            assertEquals(List.of(3, 1, 2), grants, "order the requests were granted in");
            head.get().join().close();
            older.join().close();
            younger.join().close();
            final WaitMetrics m = queue.metrics();
            assertEquals(0, m.waiters());
            assertEquals(3, m.completed());
            assertEquals(tombstones, m.cancelled());
            assertEquals(0, queue.queued());
        }
    }

    /**
     * More threads than cores mixing every way to wait and give up (allocate with a timeout, allocateAsync with
     * cancel, orTimeout, completeOnTimeout, complete(null), completeExceptionally), immediate allocations and
     * releases, and in half the runs a close() in the middle, on a fixed arena and a buddy arena with and without
     * its cache, with and without a completion executor. Once quiet: no buffer served to two owners, nothing lost
     * (every slot or block back, the region freed once closed), every request ended in exactly one outcome and the
     * wait and arena counters exact.
     */
    @Test
    void waitingGivingUpReleasingAndClosingUnderContentionKeepEveryInvariant() throws Exception
    {
        for (int config = 0; config < 12; config++)
        {
            final int kind = config % 3; // 0 fixed, 1 buddy with cache, 2 buddy without
            final boolean withExecutor = (config / 3) % 2 == 1;
            final boolean closeMidway = config >= 6;
            final ExecutorService executor = withExecutor ? Executors.newFixedThreadPool(3) : null;
            try
            {
                hammer(kind, executor, closeMidway, config);
            }
            finally
            {
                if (executor != null)
                {
                    executor.shutdown();
                    assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS));
                }
            }
        }
    }

    private static void hammer(final int kind, final ExecutorService executor, final boolean closeMidway,
        final int seed) throws Exception
    {
        final SlotArena arena;
        final int maxSize;
        if (kind == 0)
        {
            final FixedArena.Builder b = FixedArena.builder(4, 64).name("hammer-fixed-" + seed);
            arena = (executor == null ? b : b.completionExecutor(executor)).build();
            maxSize = 64;
        }
        else
        {
            final BuddyArena.Builder b = BuddyArena.builder(1024, 64).freeBlockCache(kind == 1)
                .name("hammer-buddy-" + seed);
            arena = (executor == null ? b : b.completionExecutor(executor)).build();
            maxSize = 1024;
        }
        final AtomicLong ids = new AtomicLong(1);
        final LongAdder refused = new LongAdder();
        final LongAdder owned = new LongAdder();
        final AtomicInteger wrongOwner = new AtomicInteger();
        final AtomicInteger unexpected = new AtomicInteger();
        final List<CompletableFuture<Buffer>> futures = Collections.synchronizedList(new ArrayList<>());
        final int threads = 8;
        final int rounds = 1_500;
        final AtomicInteger progress = new AtomicInteger();
        final java.util.function.Consumer<Buffer> use = b ->
        {
            final long id = ids.getAndIncrement();
            b.mutableBuffer().putLong(0, id);
            Thread.yield();
            if (b.mutableBuffer().getLong(0) != id)
            {
                wrongOwner.incrementAndGet();
            }
            owned.increment();
            b.close();
        };
        Workers.run(threads, id ->
        {
            final Random random = new Random(seed * 31L + id);
            for (int i = 0; i < rounds; i++)
            {
                if (closeMidway && id == 0 && i == rounds / 3)
                {
                    arena.close();
                }
                progress.incrementAndGet();
                final int size = 1 + random.nextInt(random.nextInt(4) == 0 ? maxSize : Math.min(maxSize, 256));
                try
                {
                    switch (random.nextInt(8))
                    {
                        case 0:
                        {
                            final Buffer b = kind == 0 ? ((FixedArena)arena).tryAllocate(size) :
                                ((BuddyArena)arena).tryAllocate(size);
                            if (b == null)
                            {
                                refused.increment();
                            }
                            else
                            {
                                use.accept(b);
                            }
                            break;
                        }
                        case 1:
                        case 2:
                            use.accept(arena.allocate(size, Duration.ofNanos(random.nextInt(200_000))));
                            break;
                        default:
                        {
                            final CompletableFuture<Buffer> f = arena.allocateAsync(size);
                            futures.add(f);
                            f.whenComplete((b, t) ->
                            {
                                if (b != null)
                                {
                                    use.accept(b);
                                }
                            });
                            switch (random.nextInt(6))
                            {
                                case 0:
                                    f.cancel(random.nextBoolean());
                                    break;
                                case 1:
                                    f.orTimeout(random.nextInt(100), TimeUnit.MICROSECONDS);
                                    break;
                                case 2:
                                    f.completeOnTimeout(null, random.nextInt(100), TimeUnit.MICROSECONDS);
                                    break;
                                case 3:
                                    Thread.yield();
                                    f.complete(null);
                                    break;
                                case 4:
                                    Thread.yield();
                                    f.completeExceptionally(new IllegalStateException("given up"));
                                    break;
                                default:
                                    f.orTimeout(50, TimeUnit.MILLISECONDS);
                                    break;
                            }
                            break;
                        }
                    }
                }
                catch (final AllocationTimeoutException | ArenaClosedException ex)
                {
                    // expected outcomes
                }
                catch (final RuntimeException ex)
                {
                    unexpected.incrementAndGet();
                    throw ex;
                }
            }
        });
        await().atMost(Duration.ofSeconds(30)).until(() -> futures.stream().allMatch(CompletableFuture::isDone));
        if (executor != null)
        {
            // the delivered buffers' stages run on the executor: wait for them to close what they got
            await().atMost(Duration.ofSeconds(30)).until(() -> liveOf(arena) == 0);
        }
        assertEquals(0, wrongOwner.get(), "buffers served to two owners");
        assertEquals(0, unexpected.get());
        // every future's own outcome
        final WaitOutcomes ended = WaitOutcomes.of(futures);
        final WaitMetrics waits = waitsOf(arena);
        final String where = arena.name() + " executor=" + (executor != null) + " close=" + closeMidway + ": " + waits;
        assertEquals(0, waits.waiters(), where);
        assertEquals(arena.waits.requests(), waits.completed() + waits.timedOut() + waits.cancelled() + waits.failed(),
            where + ": every queued request ended in exactly one outcome");
        assertTrue(waits.completed() >= ended.completed(), where);
        assertTrue(waits.cancelled() == ended.cancelled(), where + " cancelled: futures say " + ended.cancelled());
        assertTrue(waits.timedOut() >= ended.timedOut(), where);
        assertTrue(waits.failed() >= ended.failed(), where);
        assertTrue(arena.waits.requests() >= ended.queued(), where);
        await().atMost(Duration.ofSeconds(10)).until(() -> arena.waits.queued() == 0);
        assertEquals(0, liveOf(arena), where);
        if (arena instanceof FixedArena)
        {
            final FixedArenaMetrics m = ((FixedArena)arena).metrics();
            assertEquals(m.allocations(), m.frees(), where);
            assertEquals(refused.sum(), m.failedAllocations(), where);
            assertTrue(m.allocations() >= owned.sum(), where);
        }
        else
        {
            final BuddyArenaMetrics m = ((BuddyArena)arena).metrics();
            assertEquals(m.allocations(), m.frees(), where);
            assertEquals(refused.sum(), m.failedAllocations(), where);
            assertTrue(m.allocations() >= owned.sum(), where);
            assertTrue(closeMidway || m.fullyCoalesced(), where);
        }
        arena.close();
        assertTrue(arena.isRegionFreed(), where);
    }

    private static long liveOf(final SlotArena arena)
    {
        return arena instanceof FixedArena ? ((FixedArena)arena).liveSlots() : ((BuddyArena)arena).metrics().liveBlocks();
    }

    private static WaitMetrics waitsOf(final SlotArena arena)
    {
        return arena instanceof FixedArena ? ((FixedArena)arena).metrics().waits() : ((BuddyArena)arena).metrics().waits();
    }

    /**
     * completeAsync is a standard way to end a future, and it completes through CompletableFuture's internals,
     * not through complete(): the third round's uncount-first override missed it, so a stage registered on the
     * request ran while its own dead request still counted as waiting, and "no big buffer, take a small one"
     * was refused (null, counted as a failed allocation) with half the arena free and nobody else waiting.
     */
    @Test
    void aStageOnAWaiterEndedByCompleteAsyncCanAllocateWhatIsFree()
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).build())
        {
            final Buffer half = arena.allocate(512);
            final CompletableFuture<Buffer> whole = arena.allocateAsync(1024);
            assertEquals(1, arena.waiters());
            assertThrows(NullPointerException.class, () -> whole.completeAsync(null, Runnable::run));
            assertEquals(1, arena.waiters(), "a refused completeAsync changed nothing");
            final AtomicReference<Runnable> task = new AtomicReference<>();
            assertSame(whole, whole.completeAsync(() -> null, task::set));
            final AtomicReference<Buffer> fallback = new AtomicReference<>();
            final AtomicInteger seen = new AtomicInteger(-1);
            whole.thenAccept(b ->
            {
                seen.set(arena.waiters());
                fallback.set(b != null ? b : arena.tryAllocate(256));
            });
            task.get().run();
            assertEquals(0, seen.get(), "the stage saw its own dead request waiting");
            assertNotNull(fallback.get(), "the fallback was refused with half the arena free");
            fallback.get().close();
            half.close();
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(0, m.waits().waiters());
            assertEquals(1, m.waits().cancelled());
            assertEquals(0, m.failedAllocations());
            assertEquals(0, m.liveBlocks());
        }
    }

    /**
     * Producers (more threads than cores) queue requests of four sizes on a full buddy arena and cancel some, so
     * that the dispatcher drops tombstones (compacting them when they pile up) while they queue; capacity comes
     * back a block at a time.
     * Every request a thread queued and got delivered was delivered after the ones that thread queued before it
     * (the dispatcher serves the oldest live request over all classes first), and nothing is lost.
     */
    @Test
    void eachThreadsDeliveredRequestsAreServedInTheOrderItQueuedThemWhileTombstonesAreCompacted() throws Exception
    {
        for (final boolean cache : new boolean[] {true, false})
        {
            final BuddyArena arena = BuddyArena.builder(1024, 64).freeBlockCache(cache).build();
            final List<Buffer> held = new ArrayList<>();
            for (int i = 0; i < 16; i++)
            {
                held.add(arena.allocate(64));
            }
            final int producers = 6;
            final int each = 400;
            final AtomicLong order = new AtomicLong();
            final AtomicLongArray[] servedAt = new AtomicLongArray[producers];
            for (int p = 0; p < producers; p++)
            {
                servedAt[p] = new AtomicLongArray(each);
            }
            final boolean[][] queued = new boolean[producers][each];
            final List<CompletableFuture<Buffer>> futures = Collections.synchronizedList(new ArrayList<>());
            final AtomicInteger queuedSoFar = new AtomicInteger();
            final Thread releaser = new Thread(() ->
            {
                // one block back at a time once the producers queue: on loaded cores a releaser that did not
                // wait could give all 16 back before the first request, and then nothing would queue
                await().atMost(Duration.ofSeconds(30)).until(() -> queuedSoFar.get() >= 200);
                for (final Buffer b : held)
                {
                    Thread.yield();
                    b.close();
                }
            });
            Workers.run(producers, id ->
            {
                if (id == 0)
                {
                    releaser.start();
                }
                final Random random = new Random(id * 7919L + (cache ? 1 : 2));
                for (int i = 0; i < each; i++)
                {
                    servedAt[id].set(i, -1);
                    final int index = i;
                    final CompletableFuture<Buffer> f = arena.allocateAsync(1 + random.nextInt(64 << random.nextInt(4)));
                    queued[id][i] = f instanceof WaitQueue.Waiter;
                    if (queued[id][i])
                    {
                        queuedSoFar.incrementAndGet();
                    }
                    futures.add(f);
                    f.thenAccept(b ->
                    {
                        servedAt[id].set(index, order.getAndIncrement());
                        b.close();
                    });
                    if (random.nextInt(3) == 0)
                    {
                        f.cancel(false);
                    }
                }
            });
            releaser.join();
            await().atMost(Duration.ofSeconds(30)).until(() -> futures.stream().allMatch(CompletableFuture::isDone));
            int compared = 0;
            for (int p = 0; p < producers; p++)
            {
                long last = -1;
                for (int i = 0; i < each; i++)
                {
                    final long at = servedAt[p].get(i);
                    if (queued[p][i] && at >= 0)
                    {
                        assertTrue(at > last, "cache=" + cache + " thread " + p + ": request " + i
                            + " was served before one the thread queued earlier");
                        last = at;
                        compared++;
                    }
                }
            }
            assertTrue(compared > 100, "queued requests delivered: " + compared);
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(0, m.waits().waiters());
            assertEquals(arena.waits.requests(), m.waits().completed() + m.waits().cancelled(), m.toString());
            assertEquals(0, m.liveBlocks());
            assertTrue(m.fullyCoalesced());
            assertEquals(0, arena.waits.queued());
            arena.close();
            assertTrue(arena.isRegionFreed());
        }
    }
}
