package dev.lake.stress;

import dev.lake.pool.FixedArena;
import dev.lake.pool.InitPolicy;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Handle tier: of two holders of a frozen handle, one retains a third reference (for a consumer), reads and drops
 * it, while the other releases its own. The count goes 2 -> 3 -> 2 -> 1 in some order and must never reach zero in
 * between (the slot is zeroed on return, so a premature return reads 0).
 *
 * <p>Results: r1 = read through the retained reference; r2 = read by the last holder afterwards; r3 = live slots
 * before, r4 = after the last release.
 */
@JCStressTest
@Description("FixedArena handle tier: retain racing another holder's release")
@Outcome(id = "42, 42, 1, 0", expect = Expect.ACCEPTABLE, desc = "the count never reached zero until the last holder let go")
@Outcome(expect = Expect.FORBIDDEN, desc = "the slot returned under a live reference, or never")
@State
public class HandleRetainVsReleaseStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).initPolicy(InitPolicy.ZERO).leakDetection(false).build();
    private final long handle;

    public HandleRetainVsReleaseStress()
    {
        handle = arena.allocateHandle();
        arena.putLong(handle, 0, 42L);
        arena.freezeHandle(handle, 8);
        arena.retain(handle);
    }

    @Actor
    public void retainer(final IIII_Result r)
    {
        arena.retain(handle);
        r.r1 = (int)arena.getLong(handle, 0);
        arena.release(handle);
    }

    @Actor
    public void releaser()
    {
        arena.release(handle);
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r2 = (int)arena.getLong(handle, 0);
        r.r3 = arena.liveSlots();
        arena.release(handle);
        r.r4 = arena.liveSlots();
        arena.close();
    }
}
