package dev.lake.stress;

import dev.lake.pool.Buffer;
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
 * Two threads allocate a {@link Buffer} (object tier, leak detection on) from a one-slot {@link FixedArena} at
 * once, and the winner writes its id and freezes. Exactly one may win; the frozen bytes must hold the winner's id
 * (nobody else wrote into its slot) and the arena must count one live slot.
 *
 * <p>Results: r1, r2 = 1 if the actor got a buffer, 0 if the arena was full; r3 = the id read back from the
 * frozen bytes (0 if none); r4 = live slots.
 */
@JCStressTest
@Description("FixedArena object tier: one slot, two claimers, exactly one buffer")
@Outcome(id = {"1, 0, 1, 1", "0, 1, 2, 1"}, expect = Expect.ACCEPTABLE,
    desc = "exactly one actor got the slot and its bytes hold its own id")
@Outcome(expect = Expect.FORBIDDEN, desc = "the slot handed out twice or lost, or the winner's bytes overwritten")
@State
public class FixedArenaBufferClaimStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).build();
    private Bytes b1;
    private Bytes b2;

    @Actor
    public void first(final IIII_Result r)
    {
        b1 = claim(1);
        r.r1 = b1 == null ? 0 : 1;
    }

    @Actor
    public void second(final IIII_Result r)
    {
        b2 = claim(2);
        r.r2 = b2 == null ? 0 : 1;
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r3 = b1 != null ? (int)b1.getLong(0) : b2 != null ? (int)b2.getLong(0) : 0;
        r.r4 = arena.liveSlots();
        if (b1 != null)
        {
            b1.release();
        }
        if (b2 != null)
        {
            b2.release();
        }
        arena.close();
    }

    private Bytes claim(final long id)
    {
        final Buffer buffer = arena.tryAllocate();
        if (buffer == null)
        {
            return null;
        }
        buffer.putLong(id);
        return buffer.freeze();
    }
}
