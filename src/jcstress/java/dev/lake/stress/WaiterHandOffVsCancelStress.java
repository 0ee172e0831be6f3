package dev.lake.stress;

import dev.lake.pool.Buffer;
import dev.lake.pool.FixedArena;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import java.util.concurrent.CompletableFuture;

/**
 * The only slot is released, and so handed to a parked waiter, at the moment the waiter's future is cancelled:
 * either the waiter gets the slot (then the cancel lost) or the cancel wins and the slot goes back to the arena.
 * Capacity is never lost.
 *
 * <p>Results: r1 = 1 if the future was cancelled, 2 if it completed with the buffer; r2 = live slots once the
 * buffer (if any) is closed; r3 = 1 if the slot can be allocated again.
 */
@JCStressTest
@Description("Waiter hand-over racing cancellation")
@Outcome(id = {"1, 0, 1", "2, 0, 1"}, expect = Expect.ACCEPTABLE,
    desc = "the cancel won and the slot went back, or the hand-over won and the buffer is the waiter's")
@Outcome(expect = Expect.FORBIDDEN, desc = "the slot was lost, or the future neither cancelled nor completed")
@State
public class WaiterHandOffVsCancelStress
{
    private final FixedArena arena = FixedArena.builder(1, 16).leakDetection(false).build();
    private final Buffer held = arena.allocate();
    private final CompletableFuture<Buffer> waiter = arena.allocateAsync();

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
    public void arbiter(final III_Result r)
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
        r.r2 = arena.liveSlots();
        final Buffer again = arena.tryAllocate();
        r.r3 = again == null ? 0 : 1;
        if (again != null)
        {
            again.close();
        }
        arena.close();
    }
}
