package dev.lake.stress;

import dev.lake.pool.FixedArena;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Handle tier, parking fast path: a handle taken from its word's hint (the slot was released once and parked, then
 * claimed again with one CAS) holds its slot's one reference, and two threads release it at once. Both may try the
 * one-CAS parking release; exactly one must succeed and the other must be told the handle is stale, the slot must
 * come back exactly once, and the frees counted from the generations must be exact.
 *
 * <p>Results: r1, r2 = release outcomes ({@link Stress#OK} or {@link Stress#STALE}); r3 = live slots (+10 if the
 * handle still reads as live); r4 = frees counted.
 */
@JCStressTest
@Description("FixedArena parked handle: two threads release the one reference at once, exactly one succeeds")
@Outcome(id = {"1, 0, 0, 2", "0, 1, 0, 2"}, expect = Expect.ACCEPTABLE,
    desc = "one release parked the slot, the other was refused as stale")
@Outcome(expect = Expect.FORBIDDEN, desc = "both succeeded (double release), none did, or the slot was lost")
@State
public class ParkedHandleDoubleReleaseStress
{
    private final FixedArena arena = FixedArena.builder(2, 8).leakDetection(false).build();
    private final long handle;

    public ParkedHandleDoubleReleaseStress()
    {
        arena.release(arena.allocateHandle()); // parks the slot and points its word's hint at it
        handle = arena.allocateHandle();       // taken back from the hint: the fast path's handle
        arena.putLong(handle, 0, 42L);
    }

    @Actor
    public void first(final IIII_Result r)
    {
        r.r1 = release();
    }

    @Actor
    public void second(final IIII_Result r)
    {
        r.r2 = release();
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r3 = arena.liveSlots() + (arena.isLive(handle) ? 10 : 0);
        r.r4 = (int)arena.metrics().frees();
        arena.close();
    }

    private int release()
    {
        try
        {
            arena.release(handle);
            return Stress.OK;
        }
        catch (final RuntimeException ex)
        {
            return Stress.code(ex);
        }
    }
}
