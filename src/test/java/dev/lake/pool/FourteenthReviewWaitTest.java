package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A waiter stops counting before its future completes, whoever ends it. The hand-over and the caller's cancel each
 * claimed the decrement with a CAS on the waiter and decremented after it: the loser of that CAS went on to complete
 * the future while the winner had not decremented yet, so a stage of the future saw its own, finished request still
 * waiting (jcstress {@code FourthCancelVsHandOverCountStress} failed a CI run on it).
 */
class FourteenthReviewWaitTest
{
    private static final int ARENAS = 2_000;
    private static final int ROUNDS = 600;

    /**
     * The jcstress case, batched: one slot per arena, held, and one request waiting for it; one thread releases the
     * held buffers and another cancels the requests, arena by arena in lockstep, so that the two meet on each.
     */
    @Test
    void aStageSeesNobodyWaitingWhenTheCancelRacesTheHandOver() throws Exception
    {
        final FixedArena[] arenas = new FixedArena[ARENAS];
        final Buffer[] held = new Buffer[ARENAS];
        @SuppressWarnings("unchecked")
        final CompletableFuture<Buffer>[] requests = new CompletableFuture[ARENAS];
        final int[] seen = new int[ARENAS];
        for (int i = 0; i < ARENAS; i++)
        {
            arenas[i] = FixedArena.builder(1, 16).leakDetection(false).build();
        }
        final AtomicIntegerArray progress = new AtomicIntegerArray(2 * 16); // two counters, a cache line apart
        final CyclicBarrier start = new CyclicBarrier(3);
        final CyclicBarrier end = new CyclicBarrier(3);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread releaser = racer(0, progress, start, end, failure, i -> held[i].close());
        final Thread canceller = racer(1, progress, start, end, failure, i -> requests[i].cancel(false));
        releaser.start();
        canceller.start();
        int seenWaiting = 0;
        long handedOver = 0;
        try
        {
            for (int round = 0; round < ROUNDS; round++)
            {
                for (int i = 0; i < ARENAS; i++)
                {
                    final FixedArena arena = arenas[i];
                    final int at = i;
                    held[i] = arena.allocate();
                    seen[i] = -1;
                    requests[i] = arena.allocateAsync();
                    requests[i].whenComplete((b, t) -> seen[at] = arena.waiters());
                }
                progress.set(0, 0);
                progress.set(16, 0);
                start.await();
                end.await();
                assertNull(failure.get());
                for (int i = 0; i < ARENAS; i++)
                {
                    if (seen[i] != 0)
                    {
                        seenWaiting++;
                    }
                    if (!requests[i].isCancelled())
                    {
                        handedOver++;
                        requests[i].join().close();
                    }
                    assertEquals(0, arenas[i].waiters());
                }
            }
            assertEquals(0, seenWaiting, "stages that saw their own ended request still waiting, in "
                + ARENAS * ROUNDS + " races (" + handedOver + " handed over)");
            long completed = 0;
            long cancelled = 0;
            for (final FixedArena arena : arenas)
            {
                final WaitMetrics waits = arena.metrics().waits();
                completed += waits.completed();
                cancelled += waits.cancelled();
                assertEquals(0, arena.liveSlots());
            }
            assertEquals(handedOver, completed);
            assertEquals((long)ARENAS * ROUNDS - handedOver, cancelled);
        }
        finally
        {
            releaser.interrupt();
            canceller.interrupt();
            for (final FixedArena arena : arenas)
            {
                arena.close();
            }
        }
    }

    /** Acts on each arena once the other racer has reached it too (counters at 0 and 16 of progress). */
    private static Thread racer(final int self, final AtomicIntegerArray progress, final CyclicBarrier start,
        final CyclicBarrier end, final AtomicReference<Throwable> failure, final IntConsumer action)
    {
        final int mine = self * 16;
        final int other = (1 - self) * 16;
        final Thread thread = new Thread(() ->
        {
            try
            {
                for (int round = 0; round < ROUNDS; round++)
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
