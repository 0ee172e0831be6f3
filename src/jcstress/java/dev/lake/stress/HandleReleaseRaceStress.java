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
 * Handle tier: a frozen handle with two references (two holders) is released by both at once. Both releases must
 * succeed, the slot must come back exactly once (one free counted, the bit cleared once: a second clear would throw
 * "returned twice"), and the handle must be dead afterwards.
 *
 * <p>Results: r1, r2 = release outcomes; r3 = live slots; r4 = frees counted.
 */
@JCStressTest
@Description("FixedArena handle tier: two holders release at once, the slot returns exactly once")
@Outcome(id = "1, 1, 0, 1", expect = Expect.ACCEPTABLE, desc = "both releases counted, the slot returned once")
@Outcome(expect = Expect.FORBIDDEN, desc = "a release refused, the slot returned twice or never")
@State
public class HandleReleaseRaceStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).leakDetection(false).build();
    private final long handle;

    public HandleReleaseRaceStress()
    {
        handle = arena.allocateHandle();
        arena.putLong(handle, 0, 42L);
        arena.freezeHandle(handle, 8);
        arena.retain(handle);
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
