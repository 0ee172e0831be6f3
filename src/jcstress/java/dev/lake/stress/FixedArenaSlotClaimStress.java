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

import java.util.HashSet;
import java.util.Set;

/**
 * Two threads each claim two slots of a three-slot {@link FixedArena} at once (handle tier). No slot may go to two
 * claims and none may be lost: exactly three claims succeed, on three distinct slots, the fourth sees the arena
 * full, and the bitmap counts three live slots. (Two actors, so that it runs on a two-core machine: jcstress
 * skips tests with more actors than CPUs.)
 *
 * <p>Results: r1, r2 = claims that succeeded per actor; r3 = distinct slots among all successful claims;
 * r4 = live slots seen by the arbiter.
 */
@JCStressTest
@Description("FixedArena slot claim: no slot claimed twice, no slot lost")
@Outcome(id = {"2, 1, 3, 3", "1, 2, 3, 3"}, expect = Expect.ACCEPTABLE,
    desc = "three distinct slots claimed, the fourth claim saw the arena full")
@Outcome(expect = Expect.FORBIDDEN, desc = "a slot claimed twice, a free slot missed, or the live count wrong")
@State
public class FixedArenaSlotClaimStress
{
    private static final int SLOT = 8;

    private final FixedArena arena = FixedArena.builder(3, SLOT).leakDetection(false).build();
    private long a1;
    private long a2;
    private long b1;
    private long b2;

    @Actor
    public void first(final IIII_Result r)
    {
        a1 = arena.tryAllocateHandle();
        a2 = arena.tryAllocateHandle();
        r.r1 = (a1 != FixedArena.NO_HANDLE ? 1 : 0) + (a2 != FixedArena.NO_HANDLE ? 1 : 0);
    }

    @Actor
    public void second(final IIII_Result r)
    {
        b1 = arena.tryAllocateHandle();
        b2 = arena.tryAllocateHandle();
        r.r2 = (b1 != FixedArena.NO_HANDLE ? 1 : 0) + (b2 != FixedArena.NO_HANDLE ? 1 : 0);
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        final Set<Integer> slots = new HashSet<>();
        for (final long h : new long[]{a1, a2, b1, b2})
        {
            if (h != FixedArena.NO_HANDLE)
            {
                slots.add(arena.offset(h) / SLOT);
            }
        }
        r.r3 = slots.size();
        r.r4 = arena.liveSlots();
        Stress.releaseAll(arena, a1, a2, b1, b2);
        arena.close();
    }
}
