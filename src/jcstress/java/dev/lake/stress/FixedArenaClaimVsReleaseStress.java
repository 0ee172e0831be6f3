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
 * The only slot of a {@link FixedArena} is released by one thread while another claims: the claim either sees the
 * arena full (it ran first) or gets the slot under a new generation; the old handle is dead either way and the live
 * count matches.
 *
 * <p>Results: r1 = release outcome ({@link Stress#OK}); r2 = 1 if the claim got the slot; r3 = live slots;
 * r4 = 1 if the released handle still reads as live.
 */
@JCStressTest
@Description("FixedArena: release of the last slot racing a claim")
@Outcome(id = {"1, 1, 1, 0", "1, 0, 0, 0"}, expect = Expect.ACCEPTABLE,
    desc = "the claim got the returned slot (new generation), or ran before the release and saw the arena full")
@Outcome(expect = Expect.FORBIDDEN, desc = "slot lost, handed out while referenced, or the old handle still live")
@State
public class FixedArenaClaimVsReleaseStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).leakDetection(false).build();
    private final long old = arena.allocateHandle();
    private long claimed;

    @Actor
    public void releaser(final IIII_Result r)
    {
        try
        {
            arena.release(old);
            r.r1 = Stress.OK;
        }
        catch (final RuntimeException ex)
        {
            r.r1 = Stress.code(ex);
        }
    }

    @Actor
    public void claimer(final IIII_Result r)
    {
        claimed = arena.tryAllocateHandle();
        r.r2 = claimed == FixedArena.NO_HANDLE ? 0 : 1;
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r3 = arena.liveSlots();
        r.r4 = arena.isLive(old) ? 1 : 0;
        Stress.releaseAll(arena, claimed);
        arena.close();
    }
}
