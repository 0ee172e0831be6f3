package dev.lake.stress;

import dev.lake.pool.Bytes;
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
 * While one holder releases its {@link Bytes}, another thread shares the slot through its own reference, with
 * {@code retain()} and with {@code slice()}, reads through both and releases them. The count must never
 * reach zero under them (the slot is zeroed on return, so a premature return reads 0), and exactly one reference
 * is left at the end.
 *
 * <p>Results: r1 = read through the retained reference; r2 = read through the slice; r3 = live slots before the
 * last holder releases; r4 = live slots after.
 */
@JCStressTest
@Description("Bytes retain and slice racing a release of another reference")
@Outcome(id = "42, 42, 1, 0", expect = Expect.ACCEPTABLE, desc = "every live reference read its bytes; one slot until the last release")
@Outcome(expect = Expect.FORBIDDEN, desc = "the slot returned while references were live, or not returned at the end")
@State
public class BytesShareVsReleaseStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).initPolicy(InitPolicy.ZERO).build();
    private final Bytes released;
    private final Bytes kept;

    public BytesShareVsReleaseStress()
    {
        released = arena.allocate().putLong(42L).freeze();
        kept = released.retain();
    }

    @Actor
    public void releaser()
    {
        released.release();
    }

    @Actor
    public void sharer(final IIII_Result r)
    {
        final Bytes retained = kept.retain();
        final Bytes slice = kept.slice(0, 8);
        r.r1 = (int)retained.getLong(0);
        retained.release();
        r.r2 = (int)slice.getLong(0);
        slice.release();
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r3 = arena.liveSlots();
        kept.release();
        r.r4 = arena.liveSlots();
        arena.close();
    }
}
