package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Fourteenth review of the pool: rare race windows where one thread wins a claim and does a second step later, while
 * another thread (or a stage of a future) assumes that step already happened. Races are batched over many one-slot
 * arenas and run by two threads in lockstep, arena by arena (as {@code FourteenthReviewWaitTest}).
 */
class FourteenthReviewPoolTest
{
    static final int ARENAS = 2_000;

    /**
     * {@code close()} racing a release whose dispatch pass serves one request while another waits: a close that
     * returns has failed every request still waiting (pool.md: "a close that returns left no request waiting"),
     * even when another thread was dispatching at that moment.
     */
    @Test
    void aCloseThatReturnsLeftNoRequestWaitingEvenWhileAReleaseDispatches() throws Exception
    {
        final int rounds = 150;
        final FixedArena[] arenas = new FixedArena[ARENAS];
        final long[] held = new long[ARENAS];
        @SuppressWarnings("unchecked")
        final CompletableFuture<Buffer>[] first = new CompletableFuture[ARENAS];
        @SuppressWarnings("unchecked")
        final CompletableFuture<Buffer>[] second = new CompletableFuture[ARENAS];
        final int[] waitingAfterClose = new int[ARENAS];
        final Lockstep lockstep = new Lockstep(rounds,
            i -> arenas[i].release(held[i]),
            i ->
            {
                arenas[i].close();
                waitingAfterClose[i] = (first[i].isDone() ? 0 : 1) + (second[i].isDone() ? 0 : 1) +
                    arenas[i].waiters();
            });
        int bad = 0;
        try
        {
            for (int round = 0; round < rounds; round++)
            {
                for (int i = 0; i < ARENAS; i++)
                {
                    arenas[i] = FixedArena.builder(1, 16).leakDetection(false).build();
                    held[i] = arenas[i].allocateHandle();
                    first[i] = arenas[i].allocateAsync();
                    second[i] = arenas[i].allocateAsync();
                }
                lockstep.round();
                for (int i = 0; i < ARENAS; i++)
                {
                    if (waitingAfterClose[i] != 0)
                    {
                        bad++;
                    }
                    for (final CompletableFuture<Buffer> request : new CompletableFuture[] {first[i], second[i]})
                    {
                        final CompletableFuture<Buffer> r = request;
                        if (!r.isDone())
                        {
                            await().atMost(Duration.ofSeconds(5)).until(r::isDone);
                        }
                        if (!r.isCompletedExceptionally())
                        {
                            r.join().close();
                        }
                    }
                    assertTrue(arenas[i].isRegionFreed());
                    assertEquals(0, arenas[i].waiters());
                }
            }
            assertEquals(0, bad, "closes that returned with a request still waiting, in " + ARENAS * rounds + " races");
        }
        finally
        {
            lockstep.stop();
        }
    }

    /**
     * A slot reclaimed from a leaked buffer serves a waiting request on the reclaiming thread. The request's stage
     * runs inside that hand-over; the leak that freed its slot must already be counted there (the free is).
     */
    @Test
    void aRequestServedByALeakReclaimSeesTheLeakCounted()
    {
        try (FixedArena arena = FixedArena.builder(1, 16).build())
        {
            leakOne(arena);
            final CompletableFuture<Buffer> request = arena.allocateAsync();
            final AtomicReference<FixedArenaMetrics> seen = new AtomicReference<>();
            request.thenAccept(b -> seen.set(arena.metrics()));
            await().atMost(Duration.ofSeconds(10)).until(() ->
            {
                System.gc();
                arena.metrics(); // drains the leak queue: the reclaim hands the slot over on this thread
                return request.isDone();
            });
            final FixedArenaMetrics inStage = seen.get();
            assertEquals(1, inStage.frees(), "the reclaim freed the leaked slot");
            assertEquals(1, inStage.leaks(), "a stage served by a reclaimed slot sees the leak counted: " + inStage);
            request.join().close();
            assertEquals(1, arena.metrics().leaks());
        }
    }

    private static void leakOne(final FixedArena arena)
    {
        arena.allocate().putLong(7); // dropped without a release
    }

    /**
     * Two racer threads that act on item {@code i} only once the other has reached it, round after round; the
     * calling thread sets each round up and checks it between the barriers.
     */
    static final class Lockstep
    {
        private final AtomicIntegerArray progress = new AtomicIntegerArray(2 * 16); // a cache line apart
        private final CyclicBarrier start = new CyclicBarrier(3);
        private final CyclicBarrier end = new CyclicBarrier(3);
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final Thread first;
        private final Thread second;

        Lockstep(final int rounds, final IntConsumer firstAction, final IntConsumer secondAction)
        {
            first = racer(0, rounds, firstAction);
            second = racer(1, rounds, secondAction);
            first.start();
            second.start();
        }

        void round() throws Exception
        {
            progress.set(0, 0);
            progress.set(16, 0);
            start.await();
            end.await();
            final Throwable t = failure.get();
            if (t != null)
            {
                throw new AssertionError("a racer failed", t);
            }
        }

        void stop()
        {
            first.interrupt();
            second.interrupt();
        }

        private Thread racer(final int self, final int rounds, final IntConsumer action)
        {
            final int mine = self * 16;
            final int other = (1 - self) * 16;
            final Thread thread = new Thread(() ->
            {
                try
                {
                    for (int round = 0; round < rounds; round++)
                    {
                        start.await();
                        for (int i = 0; i < ARENAS; i++)
                        {
                            while (progress.get(other) < i)
                            {
                                Thread.onSpinWait();
                            }
                            action.accept(i);
                            progress.lazySet(mine, i + 1);
                        }
                        end.await();
                    }
                }
                catch (final Throwable t)
                {
                    failure.compareAndSet(null, t);
                    start.reset();
                    end.reset();
                }
            }, "racer-" + self);
            thread.setDaemon(true);
            return thread;
        }
    }
}
