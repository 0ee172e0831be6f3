package dev.lake.pool;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The eleventh round's review of the wait-queue dispatcher after a failed pass stopped re-running for the signals
 * raised meanwhile: hammers of both arenas with timeouts, cancels, caller completions, throwing stages and an
 * executor that throws, runs inline or queues then throws, checked for exact outcomes, exact metrics and no lost
 * capacity; and the re-draining second {@code close()}.
 */
class EleventhDispatchReviewTest
{
    private static final int THREADS = 6;
    private static final int ROUNDS = 3_000;

    /** An executor that rejects, queues then throws, runs inline, or queues, at random. */
    private static Executor flaky(final ExecutorService pool)
    {
        return task ->
        {
            switch (ThreadLocalRandom.current().nextInt(5))
            {
                case 0 -> throw new RejectedExecutionException("flaky: rejected");
                case 4 ->
                {
                    task.run();
                    throw new IllegalStateException("flaky: ran inline, then threw");
                }
                case 1 ->
                {
                    pool.execute(task);
                    throw new IllegalStateException("flaky: queued, then threw");
                }
                case 2 -> task.run();
                default -> pool.execute(task);
            }
        };
    }

    @Test
    void aFixedArenaHammeredWithGiveUpsAndAFlakyExecutorLosesNothing() throws Exception
    {
        final ExecutorService pool = Executors.newFixedThreadPool(2);
        try (FixedArena arena = FixedArena.builder(4, 64).completionExecutor(flaky(pool)).build())
        {
            hammer(arena, id -> 64);
            final List<Buffer> every = new ArrayList<>();
            for (int i = 0; i < 4; i++)
            {
                final Buffer slot = arena.tryAllocate();
                assertNotNull(slot, "slot " + i + " allocatable");
                every.add(slot);
            }
            every.forEach(Buffer::close); // not left to the region's safety net, under a later test's counts
            assertEquals(0, liveSlots(arena));
        }
        finally
        {
            pool.shutdown();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void aBuddyArenaOfSeveralSizeClassesHammeredWithGiveUpsAndAFlakyExecutorLosesNothing() throws Exception
    {
        final ExecutorService pool = Executors.newFixedThreadPool(2);
        try (BuddyArena arena = BuddyArena.builder(1024, 64).completionExecutor(flaky(pool)).build())
        {
            hammer(arena, id -> 64 << ThreadLocalRandom.current().nextInt(4));
            final Buffer whole = arena.tryAllocate(1024);
            assertNotNull(whole, "the whole region allocatable as one block");
            whole.close();
            assertTrue(arena.metrics().fullyCoalesced());
        }
        finally
        {
            pool.shutdown();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
    }

    /**
     * The same hammer with its hand-overs on virtual threads (JDK 21+; skipped on 17): a dispatcher's completion
     * and the callbacks then run on carrier-mounted threads that may unmount anywhere.
     */
    @Test
    void aBuddyArenaHandingOverOnVirtualThreadsLosesNothing() throws Exception
    {
        final ExecutorService pool;
        try
        {
            pool = (ExecutorService)Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        }
        catch (final NoSuchMethodException ex)
        {
            Assumptions.abort("no virtual threads before JDK 21");
            return;
        }
        try (BuddyArena arena = BuddyArena.builder(1024, 64).completionExecutor(flaky(pool)).build())
        {
            hammer(arena, id -> 64 << ThreadLocalRandom.current().nextInt(4));
            final Buffer whole = arena.tryAllocate(1024);
            assertNotNull(whole, "the whole region allocatable as one block");
            whole.close();
        }
        finally
        {
            pool.shutdown();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
    }

    private static void hammer(final SlotArena arena, final IntFunction<Integer> sizes) throws Exception
    {
        final ConcurrentLinkedQueue<CompletableFuture<Buffer>> all = new ConcurrentLinkedQueue<>();
        Workers.run(THREADS, id ->
        {
            final ThreadLocalRandom rnd = ThreadLocalRandom.current();
            final List<CompletableFuture<Buffer>> mine = new ArrayList<>();
            for (int i = 0; i < ROUNDS; i++)
            {
                final int op = rnd.nextInt(10);
                if (op < 4 || mine.isEmpty())
                {
                    final CompletableFuture<Buffer> f = arena.allocateAsync(sizes.apply(id));
                    all.add(f);
                    switch (rnd.nextInt(8))
                    {
                        case 0 -> f.orTimeout(rnd.nextInt(1, 3), TimeUnit.MILLISECONDS);
                        case 1 -> f.completeOnTimeout(null, rnd.nextInt(1, 3), TimeUnit.MILLISECONDS);
                        case 2 -> f.thenApply(b ->
                        {
                            throw new IllegalStateException("a stage that throws");
                        });
                        case 3 -> f.whenComplete((b, e) ->
                        {
                            throw new IllegalStateException("a whenComplete that throws");
                        });
                        case 4 ->
                        {
                            // released by its own stage, which queues a follow-up request (on the dispatcher)
                            f.thenAccept(b ->
                            {
                                b.close();
                                if (!arena.isClosed())
                                {
                                    final CompletableFuture<Buffer> next = arena.allocateAsync(sizes.apply(id));
                                    all.add(next);
                                    next.thenAccept(Buffer::close);
                                }
                            });
                            continue; // not the worker's to release
                        }
                        case 5 ->
                        {
                            f.thenAccept(Buffer::close);
                            continue;
                        }
                        default ->
                        {
                        }
                    }
                    mine.add(f);
                    continue;
                }
                final CompletableFuture<Buffer> f = mine.remove(rnd.nextInt(mine.size()));
                if (op < 5)
                {
                    f.cancel(false);
                }
                else if (op < 6)
                {
                    f.complete(null);
                }
                if (f.isDone())
                {
                    closeIfDelivered(f);
                }
                else
                {
                    mine.add(f);
                }
            }
            for (final CompletableFuture<Buffer> f : mine)
            {
                f.cancel(false);
                closeIfDelivered(f);
            }
        });
        // the self-releasing requests (and the follow-ups their stages queue) end here
        final WaitQueue waits = arena.waits;
        await().atMost(Duration.ofSeconds(10)).until(() ->
        {
            all.forEach(f -> f.cancel(false));
            final WaitMetrics m = waits.metrics();
            return all.stream().allMatch(CompletableFuture::isDone)
                && m.completed() + m.timedOut() + m.cancelled() + m.failed() == waits.requests();
        });
        final WaitOutcomes ended = WaitOutcomes.of(all);
        final WaitMetrics m = waits.metrics();
        assertEquals(0, m.waiters(), m.toString());
        assertEquals(ended.completed(), m.completed(), m.toString());
        assertEquals(ended.timedOut(), m.timedOut(), m.toString());
        assertEquals(ended.cancelled(), m.cancelled(), m.toString());
        assertEquals(ended.failed(), m.failed(), m.toString());
        assertFalse(waits.hasWaiters());
        await().atMost(Duration.ofSeconds(10)).until(() -> liveSlots(arena) == 0);
    }

    /**
     * A second {@code close()} now re-runs the drain: racing the first while the first is failing waiters (one of
     * whose callbacks blocks), it must neither throw nor fail anything twice, and the first still fails the rest.
     */
    @Test
    void aSecondCloseRacingTheFirstNeitherThrowsNorFailsAWaiterTwice() throws Exception
    {
        final FixedArena arena = FixedArena.builder(1, 64).build();
        final Buffer held = arena.allocate();
        final CountDownLatch inCallback = new CountDownLatch(1);
        final CountDownLatch go = new CountDownLatch(1);
        final AtomicInteger outcomes = new AtomicInteger();
        final List<CompletableFuture<Buffer>> waiting = new ArrayList<>();
        for (int i = 0; i < 3; i++)
        {
            final CompletableFuture<Buffer> f = arena.allocateAsync();
            f.whenComplete((b, e) -> outcomes.incrementAndGet());
            waiting.add(f);
        }
        waiting.get(0).whenComplete((b, e) ->
        {
            inCallback.countDown();
            try
            {
                go.await();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        });
        final CompletableFuture<Void> first = CompletableFuture.runAsync(arena::close);
        assertTrue(inCallback.await(10, TimeUnit.SECONDS));
        assertDoesNotThrow(arena::close); // the second, while the first is the dispatcher
        // a callback of a failed request closing again, on the dispatcher itself
        waiting.get(1).whenComplete((b, e) -> arena.close());
        go.countDown();
        first.get(10, TimeUnit.SECONDS);
        assertDoesNotThrow(arena::close);
        for (final CompletableFuture<Buffer> f : waiting)
        {
            final CompletionException ex = assertThrows(CompletionException.class, f::join);
            assertInstanceOf(ArenaClosedException.class, ex.getCause());
        }
        assertEquals(3, outcomes.get());
        final WaitMetrics m = arena.metrics().waits();
        assertEquals(new WaitMetrics(0, 0, 0, 0, 3, 0), m);
        held.close();
        assertEquals(0, arena.metrics().bytesReserved());
        assertDoesNotThrow(arena::close);
    }

    /**
     * {@code completeExceptionally(null)} on a waiting request: a plain {@link CompletableFuture} throws
     * {@link NullPointerException} and is left as it was. The request stopped counting as waiting before the
     * completion refused the null, so it stayed queued, not done, counted by nobody: the gate opened over it and a
     * release, seeing no waiter, never ran the dispatcher; the request waited with its slot free, for ever.
     */
    @Test
    void completeExceptionallyWithNullLeavesTheRequestWaitingAndCounted()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer held = arena.allocate();
            final CompletableFuture<Buffer> waiting = arena.allocateAsync();
            assertThrows(NullPointerException.class, () -> waiting.completeExceptionally(null));
            assertFalse(waiting.isDone());
            held.close();
            // the slot is free: the release must have served the request
            await().atMost(Duration.ofSeconds(5)).until(waiting::isDone);
            waiting.join().close();
            assertEquals(new WaitMetrics(0, 1, 0, 0, 0, arena.metrics().waits().totalWaitNanos()),
                arena.metrics().waits());
            assertEquals(0, arena.metrics().liveSlots());
        }
    }

    private static int liveSlots(final SlotArena arena)
    {
        return arena instanceof FixedArena fixed ? fixed.metrics().liveSlots() : (int)((BuddyArena)arena).metrics().liveBlocks();
    }

    private static void closeIfDelivered(final CompletableFuture<Buffer> f)
    {
        if (f.isDone() && !f.isCompletedExceptionally())
        {
            final Buffer b = f.getNow(null);
            if (b != null)
            {
                b.close();
            }
        }
    }
}
