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
 * Two threads release the same {@link Bytes} object at once (a double release). Exactly one call may succeed; the
 * other throws {@link dev.lake.memory.StaleHandleException} and must not steal the count of the second, still live
 * reference.
 *
 * <p>Results: r1, r2 = {@link Stress#OK} or {@link Stress#STALE}; r3 = what the other reference reads;
 * r4 = live slots.
 */
@JCStressTest
@Description("Bytes double release from two threads: one wins, the other reference is untouched")
@Outcome(id = {"1, 0, 42, 1", "0, 1, 42, 1"}, expect = Expect.ACCEPTABLE,
    desc = "one release won, the other was refused; the second reference still holds the slot")
@Outcome(expect = Expect.FORBIDDEN, desc = "both releases counted (another holder's reference stolen) or neither")
@State
public class BytesDoubleReleaseStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).build();
    private final Bytes shared;
    private final Bytes other;

    public BytesDoubleReleaseStress()
    {
        shared = arena.allocate().putLong(42L).freeze();
        other = shared.retain();
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
        r.r3 = (int)other.getLong(0);
        r.r4 = arena.liveSlots();
        other.release();
        arena.close();
    }

    private int release()
    {
        try
        {
            shared.release();
            return Stress.OK;
        }
        catch (final RuntimeException ex)
        {
            return Stress.code(ex);
        }
    }
}
