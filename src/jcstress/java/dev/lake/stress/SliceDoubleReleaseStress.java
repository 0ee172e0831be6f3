package dev.lake.stress;

import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Two threads release the same {@link SharedSlice} object at once. Exactly one wins; the other gets
 * {@link dev.lake.memory.StaleHandleException} and must not take the count of the second handle, which still
 * reads its slice and keeps the chunk until it is released.
 *
 * <p>Results: r1, r2 = release outcomes; r3 = what the other handle reads; r4 = live chunks after it is released.
 */
@JCStressTest
@Description("SharedSlice double release from two threads: exactly one wins")
@Outcome(id = {"1, 0, 42, 0", "0, 1, 42, 0"}, expect = Expect.ACCEPTABLE, desc = "one release won, the other handle was untouched")
@Outcome(expect = Expect.FORBIDDEN, desc = "both releases counted, or neither")
@State
public class SliceDoubleReleaseStress
{
    private final SliceAllocator allocator = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(16).build();
    private final SharedSlice shared;
    private final SharedSlice other;

    public SliceDoubleReleaseStress()
    {
        shared = allocator.allocateLongs(2, i -> 42L);
        other = shared.share();
        allocator.close();
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
        other.release();
        r.r4 = (int)allocator.stats().liveChunks();
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
