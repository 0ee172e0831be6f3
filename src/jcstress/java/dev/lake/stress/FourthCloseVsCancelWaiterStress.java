package dev.lake.stress;

import dev.lake.pool.Buffer;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.WaitMetrics;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

import java.util.concurrent.CompletableFuture;

/**
 * close() fails the waiters at the moment one of them is completed by its caller (complete(null), which goes
 * through the third round's uncount-first override) and another is cancelled. Each request ends exactly once,
 * counted once (cancelled or failed), nothing waits afterwards, and the region is freed once the held block goes.
 *
 * <p>Results: r1 = 1 if the completed request kept its null (the caller won) else 2 (closed first); r2 = the same
 * for the cancelled one; r3 = waiters() + 10 * (sum of the four outcome counters); r4 = 1 if the region is freed
 * once the held buffer is closed.
 */
@JCStressTest
@Description("close() failing waiters racing complete(null) and cancel through the uncount-first override")
@Outcome(id = {"1, 1, 20, 1", "1, 2, 20, 1", "2, 1, 20, 1", "2, 2, 20, 1"}, expect = Expect.ACCEPTABLE,
    desc = "each request ended once (by its caller or by the close), counted once; the region is freed")
@Outcome(expect = Expect.FORBIDDEN, desc = "a waiter still counted, an outcome counted twice or never, or a region kept")
@State
public class FourthCloseVsCancelWaiterStress
{
    private final BuddyArena arena = BuddyArena.builder(1024, 64).leakDetection(false).build();
    private final Buffer held = arena.allocate(1024);
    private final CompletableFuture<Buffer> completed = arena.allocateAsync(64);
    private final CompletableFuture<Buffer> cancelled = arena.allocateAsync(512);

    @Actor
    public void closer()
    {
        arena.close();
    }

    @Actor
    public void caller()
    {
        completed.complete(null);
        cancelled.cancel(false);
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r1 = completed.isDone() && !completed.isCompletedExceptionally() ? 1 : 2;
        r.r2 = cancelled.isCancelled() ? 1 : 2;
        final WaitMetrics m = arena.metrics().waits();
        r.r3 = (int)(m.waiters() + 10 * (m.completed() + m.timedOut() + m.cancelled() + m.failed()));
        held.close();
        r.r4 = arena.isRegionFreed() ? 1 : 0;
    }
}
