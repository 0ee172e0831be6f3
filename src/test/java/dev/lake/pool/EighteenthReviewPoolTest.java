package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The eighteenth review of the pool arenas.
 */
class EighteenthReviewPoolTest
{
    /**
     * A thread blocked in {@code allocate(timeout)} is interrupted just after a release handed it the slot. Whatever
     * the JDK's {@code get} reports, the outcome the caller sees and the wait metrics must agree: a caller that got
     * {@link InterruptedException} holds nothing and its wait counts as cancelled (WaitMetrics: "cancelled ... also
     * by an interrupt of allocate(size, timeout)"; "completed: waits that ended with a buffer"); a caller that got
     * the buffer counts as completed. The JDK's timed {@code get} (17 and 25) looks at the interrupt before the
     * result, so it throws InterruptedException although the future already holds the buffer; {@code giveUp} then
     * gives the delivered buffer back (nothing is lost), but the hand-over had already counted the wait as completed
     * (and added its nanoseconds): {@code completed} counts a wait whose caller got no buffer, {@code cancelled}
     * misses it.
     */
    @Test
    void anInterruptRacingTheHandOverIsCountedAsTheCallerSawIt() throws Exception
    {
        for (int i = 0; i < 200; i++)
        {
            try (FixedArena arena = FixedArena.builder(1, 64).build())
            {
                final Buffer held = arena.allocate();
                final AtomicReference<Object> outcome = new AtomicReference<>();
                final Thread waiter = parked(arena, () ->
                {
                    try
                    {
                        final Buffer got = arena.allocate(Duration.ofSeconds(20));
                        outcome.set("buffer");
                        got.close();
                    }
                    catch (final InterruptedException ex)
                    {
                        outcome.set("interrupted");
                    }
                    catch (final Throwable t)
                    {
                        outcome.set(t);
                    }
                });
                held.close(); // hands the slot over to the waiter, inline, and unparks it
                waiter.interrupt(); // before the waiter had a chance to run, most of the time
                waiter.join(5_000);
                final Object seen = outcome.get();
                if (!"interrupted".equals(seen) && !"buffer".equals(seen))
                {
                    throw new AssertionError("unexpected outcome " + seen);
                }
                final FixedArenaMetrics metrics = arena.metrics();
                assertEquals(0, metrics.liveSlots(), "nothing is lost");
                final boolean gotBuffer = "buffer".equals(seen);
                assertEquals(gotBuffer ? 1 : 0, metrics.waits().completed(),
                    "iteration " + i + ": the caller saw " + seen + " but the metrics say " + metrics.waits());
                assertEquals(gotBuffer ? 0 : 1, metrics.waits().cancelled(),
                    "iteration " + i + ": the caller saw " + seen + " but the metrics say " + metrics.waits());
            }
        }
    }

    /**
     * The same race, from the caller's side: an interrupt is never lost. A caller that got the buffer has its
     * interrupt status set once the interrupt was sent (set again by {@code allocate} when the hand-over came first,
     * as a {@code SynchronousQueue} returns an item already transferred); one that got {@link InterruptedException}
     * holds nothing. Before, every such race threw and gave the delivered slot back: a hand-over wasted.
     */
    @Test
    void anInterruptThatLosesToTheHandOverReturnsTheBufferAndKeepsTheInterrupt() throws Exception
    {
        for (int i = 0; i < 200; i++)
        {
            try (FixedArena arena = FixedArena.builder(1, 64).build())
            {
                final Buffer held = arena.allocate();
                final AtomicBoolean sent = new AtomicBoolean();
                final AtomicReference<Object> outcome = new AtomicReference<>();
                final Thread waiter = parked(arena, () ->
                {
                    try
                    {
                        final Buffer got = arena.allocate(Duration.ofSeconds(20));
                        while (!sent.get())
                        {
                            Thread.onSpinWait();
                        }
                        outcome.set(Thread.currentThread().isInterrupted() ? "buffer, interrupted" : "buffer only");
                        got.close();
                    }
                    catch (final InterruptedException ex)
                    {
                        outcome.set("interrupted");
                    }
                    catch (final Throwable t)
                    {
                        outcome.set(t);
                    }
                });
                held.close();
                waiter.interrupt();
                sent.set(true);
                waiter.join(5_000);
                final Object seen = outcome.get();
                if (!"interrupted".equals(seen) && !"buffer, interrupted".equals(seen))
                {
                    throw new AssertionError("iteration " + i + ": unexpected outcome " + seen);
                }
                final boolean gotBuffer = !"interrupted".equals(seen);
                final FixedArenaMetrics metrics = arena.metrics();
                assertEquals(0, metrics.liveSlots(), "nothing is lost");
                assertEquals(gotBuffer ? 1 : 0, metrics.waits().completed(), "iteration " + i + ": " + seen);
                assertEquals(gotBuffer ? 0 : 1, metrics.waits().cancelled(), "iteration " + i + ": " + seen);
            }
        }
    }

    /**
     * An interrupt racing the close: whichever ended the wait first is what the caller sees and what is counted. A
     * close that came first throws its {@link ArenaClosedException} (the interrupt status set again) and counts as
     * failed; an interrupt that came first throws {@link InterruptedException} and counts as cancelled. Before, the
     * caller got {@link InterruptedException} while the metrics counted the close's failure.
     */
    @Test
    void anInterruptRacingTheCloseIsCountedAsTheCallerSawIt() throws Exception
    {
        for (int i = 0; i < 200; i++)
        {
            final FixedArena arena = FixedArena.builder(1, 64).build();
            final Buffer held = arena.allocate();
            final AtomicBoolean sent = new AtomicBoolean();
            final AtomicReference<Object> outcome = new AtomicReference<>();
            final Thread waiter = parked(arena, () ->
            {
                try
                {
                    arena.allocate(Duration.ofSeconds(20)).close();
                    outcome.set("buffer");
                }
                catch (final InterruptedException ex)
                {
                    outcome.set("interrupted");
                }
                catch (final ArenaClosedException ex)
                {
                    while (!sent.get())
                    {
                        Thread.onSpinWait();
                    }
                    outcome.set(Thread.currentThread().isInterrupted() ? "closed, interrupted" : "closed only");
                }
                catch (final Throwable t)
                {
                    outcome.set(t);
                }
            });
            arena.close();
            waiter.interrupt();
            sent.set(true);
            waiter.join(5_000);
            final Object seen = outcome.get();
            if (!"interrupted".equals(seen) && !"closed, interrupted".equals(seen))
            {
                throw new AssertionError("iteration " + i + ": unexpected outcome " + seen);
            }
            final boolean closed = !"interrupted".equals(seen);
            final WaitMetrics waits = arena.metrics().waits();
            assertEquals(closed ? 1 : 0, waits.failed(), "iteration " + i + ": the caller saw " + seen + ", " + waits);
            assertEquals(closed ? 0 : 1, waits.cancelled(), "iteration " + i + ": the caller saw " + seen + ", " + waits);
            held.close();
            assertTrue(arena.isRegionFreed());
        }
    }

    /**
     * The error path: {@code allocate(size, timeout)} ends its request through {@code giveUp} when an error (an
     * {@code OutOfMemoryError} on a full heap) reaches it while a release hands the buffer over. The caller gets the
     * error and holds nothing, so the wait counts as cancelled (WaitMetrics; {@code allocate}'s Javadoc: "counted as
     * cancelled; a buffer granted at that moment goes back"), its nanoseconds out of {@code totalWaitNanos}. Driven
     * here on a delivered future directly: the full heap itself is not reproducible at that instant.
     */
    @Test
    void aBufferGivenBackOnTheErrorPathCountsAsCancelledNotCompleted()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer held = arena.allocate();
            final CompletableFuture<Buffer> future = arena.allocateAsync();
            held.close(); // hands the slot over, inline
            assertTrue(future.isDone());
            assertEquals(1, arena.metrics().waits().completed());
            arena.giveUp(future);
            assertEquals(0, arena.liveSlots(), "the delivered slot went back");
            assertEquals(new WaitMetrics(0, 0, 0, 1, 0, 0), arena.metrics().waits());
        }
        try (BuddyArena arena = BuddyArena.builder(1024, 64).build())
        {
            final Buffer held = arena.allocate(1024);
            final CompletableFuture<Buffer> future = arena.allocateAsync(512);
            held.close();
            assertTrue(future.isDone());
            arena.giveUp(future);
            assertEquals(new WaitMetrics(0, 0, 0, 1, 0, 0), arena.metrics().waits());
            assertFalse(arena.isClosed());
            arena.allocate(1024).close(); // the whole arena is free again
        }
    }

    /**
     * Starts {@code body} (a blocking allocation of the arena's one slot, which another holds) on a thread of its own
     * and returns once that thread is queued and parked in its timed wait: the moment each race here starts from.
     */
    private static Thread parked(final FixedArena arena, final Runnable body)
    {
        final Thread waiter = new Thread(body);
        waiter.start();
        await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1)).atMost(Duration.ofSeconds(5))
            .until(() -> arena.waiters() == 1 && waiter.getState() == Thread.State.TIMED_WAITING);
        return waiter;
    }
}
