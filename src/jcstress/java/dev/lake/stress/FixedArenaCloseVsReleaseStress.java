package dev.lake.stress;

import dev.lake.pool.Bytes;
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
 * {@link FixedArena#close()} races the release of the last live {@link Bytes} followed by a new claim. The region must be
 * freed exactly when no slot is live: never while the claim that succeeded still holds its slot (use after free),
 * and always once everything is released (no leak). A claim after close must be refused.
 *
 * <p>Results: r1 = 1 if the claim succeeded, 0 if it was refused because the arena closed; r2 = region freed
 * (1/0) before the arbiter releases the claim; r3 = region freed at the end; r4 = live slots at the end.
 */
@JCStressTest
@Description("FixedArena close racing the last release and a claim: region freed exactly when nothing is live")
@Outcome(id = "1, 0, 1, 0", expect = Expect.ACCEPTABLE,
    desc = "the claim won before close: the region waits for its release, then is freed")
@Outcome(id = "0, 1, 1, 0", expect = Expect.ACCEPTABLE,
    desc = "close won: the claim is refused and the region is freed with the last release")
@Outcome(expect = Expect.FORBIDDEN, desc = "region freed under a live slot, never freed, or a claim after close")
@State
public class FixedArenaCloseVsReleaseStress
{
    private final FixedArena arena = FixedArena.builder(2, 8).build();
    private final Bytes bytes;
    private long claimed;

    public FixedArenaCloseVsReleaseStress()
    {
        bytes = arena.allocate().putLong(42L).freeze();
    }

    @Actor
    public void closer()
    {
        arena.close();
    }

    @Actor
    public void releaserThenClaimer(final IIII_Result r)
    {
        bytes.release();
        try
        {
            claimed = arena.tryAllocateHandle();
            r.r1 = claimed == FixedArena.NO_HANDLE ? -1 : 1;
        }
        catch (final IllegalStateException ex)
        {
            r.r1 = 0;
        }
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r2 = arena.isRegionFreed() ? 1 : 0;
        Stress.releaseAll(arena, claimed);
        r.r3 = arena.isRegionFreed() ? 1 : 0;
        r.r4 = arena.liveSlots();
    }
}
