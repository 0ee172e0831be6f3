package dev.lake.stress;

import dev.lake.pool.Buffer;
import dev.lake.pool.FixedArena;
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
 * The third round's override: a waiter stops counting before its future completes, whoever ends it. The only
 * slot is released (handed to the waiter) at the moment the waiter is cancelled. Whichever wins, the waiter
 * stops counting exactly once (never negative, never left at 1), the stage registered on the future already sees
 * nobody waiting, exactly one outcome is counted, and the slot is never lost.
 *
 * <p>Results: r1 = 1 cancelled, 2 completed with the buffer; r2 = waiters() at the end + 10 * waiters() seen by
 * the stage; r3 = 10 * completed + cancelled (the wait metrics; timed out and failed must stay 0, else 100);
 * r4 = 1 if the slot can be allocated again once the buffer (if any) is closed.
 */
@JCStressTest
@Description("Waiter cancel racing the hand-over: counted once, stage sees the gate open, one outcome")
@Outcome(id = {"1, 0, 1, 1", "2, 0, 10, 1"}, expect = Expect.ACCEPTABLE,
    desc = "the cancel won (counted cancelled) or the hand-over won (counted completed); nothing waits, the slot is back")
@Outcome(expect = Expect.FORBIDDEN, desc = "a wrong waiter count, a wrong or double outcome, or a lost slot")
@State
public class FourthCancelVsHandOverCountStress
{
    private final FixedArena arena = FixedArena.builder(1, 16).leakDetection(false).build();
    private final Buffer held = arena.allocate();
    private final CompletableFuture<Buffer> waiter = arena.allocateAsync();
    private volatile int seenByStage = -1;

    public FourthCancelVsHandOverCountStress()
    {
        waiter.whenComplete((b, t) -> seenByStage = arena.waiters());
    }

    @Actor
    public void releaser()
    {
        held.close();
    }

    @Actor
    public void canceller()
    {
        waiter.cancel(false);
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        if (waiter.isCancelled())
        {
            r.r1 = 1;
        }
        else if (waiter.isDone())
        {
            r.r1 = 2;
            waiter.join().close();
        }
        r.r2 = arena.waiters() + 10 * seenByStage;
        final WaitMetrics m = arena.metrics().waits();
        r.r3 = (int)(10 * m.completed() + m.cancelled() + (m.timedOut() + m.failed() == 0 ? 0 : 100));
        final Buffer again = arena.tryAllocate();
        r.r4 = again == null ? 0 : 1;
        if (again != null)
        {
            again.close();
        }
        arena.close();
    }
}
