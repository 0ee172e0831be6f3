package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A waiter stops counting before its future completes, whoever ends it. The hand-over and the caller's cancel each
 * claimed the decrement with a CAS on the waiter and decremented after it: the loser of that CAS went on to complete
 * the future while the winner had not decremented yet, so a stage of the future saw its own, finished request still
 * waiting (jcstress {@code FourthCancelVsHandOverCountStress} failed a CI run on it).
 */
class FourteenthReviewWaitTest
{
    private static final int ARENAS = FourteenthReviewPoolTest.ARENAS; // what Lockstep walks
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
        final FourteenthReviewPoolTest.Lockstep lockstep = new FourteenthReviewPoolTest.Lockstep(ROUNDS,
            i -> held[i].close(), i -> requests[i].cancel(false));
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
                lockstep.round();
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
            lockstep.stop();
            for (final FixedArena arena : arenas)
            {
                arena.close();
            }
        }
    }
}
