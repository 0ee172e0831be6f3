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
 * Three threads claim slots of a two-slot {@link FixedArena} at once (handle tier). No slot may go to two
 * threads and none may be lost: exactly two claims succeed, on distinct slots, the third sees the arena full,
 * and the bitmap counts two live slots.
 *
 * <p>Results: r1..r3 = the slot each actor got (0 or 1), or -1 for "full"; r4 = live slots seen by the arbiter.
 */
@JCStressTest
@Description("FixedArena slot claim: no slot claimed twice, no slot lost")
@Outcome(id = {"0, 1, -1, 2", "1, 0, -1, 2", "0, -1, 1, 2", "1, -1, 0, 2", "-1, 0, 1, 2", "-1, 1, 0, 2"},
    expect = Expect.ACCEPTABLE, desc = "two distinct slots claimed, the third claim sees the arena full")
@Outcome(expect = Expect.FORBIDDEN, desc = "a slot claimed twice, a free slot missed, or the live count wrong")
@State
public class FixedArenaSlotClaimStress
{
    private static final int SLOT = 8;

    private final FixedArena arena = FixedArena.builder(2, SLOT).leakDetection(false).build();
    private long h1;
    private long h2;
    private long h3;

    @Actor
    public void first(final IIII_Result r)
    {
        h1 = arena.tryAllocateHandle();
        r.r1 = slotOf(h1);
    }

    @Actor
    public void second(final IIII_Result r)
    {
        h2 = arena.tryAllocateHandle();
        r.r2 = slotOf(h2);
    }

    @Actor
    public void third(final IIII_Result r)
    {
        h3 = arena.tryAllocateHandle();
        r.r3 = slotOf(h3);
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r4 = arena.liveSlots();
        Stress.releaseAll(arena, h1, h2, h3);
        arena.close();
    }

    private int slotOf(final long handle)
    {
        return handle == FixedArena.NO_HANDLE ? -1 : arena.offset(handle) / SLOT;
    }
}
