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
 * The only slot of a {@link FixedArena} is parked (released, still marked in the bitmap, pointed to by its word's
 * hint) and two threads claim at once, both through the hint's one-CAS fast path when they share the word, or one
 * of them through the slow path that looks for parked slots. Exactly one must get the slot; the other must see the
 * arena full; the slot is live once.
 *
 * <p>Results: r1, r2 = 1 if that claimer got a handle; r3 = live slots; r4 = 1 if both handles are the same.
 */
@JCStressTest
@Description("FixedArena: two claims race for one parked slot, exactly one gets it")
@Outcome(id = {"1, 0, 1, 0", "0, 1, 1, 0"}, expect = Expect.ACCEPTABLE, desc = "one claim won, the other saw the arena full")
@Outcome(expect = Expect.FORBIDDEN, desc = "the slot handed out twice, or lost")
@State
public class ParkedSlotClaimRaceStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).leakDetection(false).build();
    private long a;
    private long b;

    public ParkedSlotClaimRaceStress()
    {
        arena.release(arena.allocateHandle()); // parked, hinted
    }

    @Actor
    public void first(final IIII_Result r)
    {
        a = arena.tryAllocateHandle();
        r.r1 = a == FixedArena.NO_HANDLE ? 0 : 1;
    }

    @Actor
    public void second(final IIII_Result r)
    {
        b = arena.tryAllocateHandle();
        r.r2 = b == FixedArena.NO_HANDLE ? 0 : 1;
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r3 = arena.liveSlots();
        r.r4 = a == b ? 1 : 0;
        Stress.releaseAll(arena, a, b);
        arena.close();
    }
}
