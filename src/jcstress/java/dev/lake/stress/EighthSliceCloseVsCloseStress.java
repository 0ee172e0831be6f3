package dev.lake.stress;

import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceStats;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIII_Result;

/**
 * Two threads close a {@link SliceAllocator} without strict checks (any thread may close it) while one slice is
 * live in its current chunk. {@code close()} is idempotent: exactly one of them gives back the allocator's own
 * reference and its spare ones, the other returns, and the live slice keeps its chunk until it is released. Giving
 * them back twice took the slice's reference (the chunk freed under a live handle) or threw out of close().
 *
 * <p>Results: r1, r2 = {@link Stress#OK} if that close returned, else {@link Stress#code}; r3 = live chunks after
 * both (the slice's chunk); r4 = what the slice reads then (0 if its chunk was gone: not read); r5 = live chunks +
 * reserved bytes + live slice bytes once the slice is released.
 */
@JCStressTest
@Description("SliceAllocator: two close() calls racing (not strict); one gives the references back, the slice keeps its chunk")
@Outcome(id = "1, 1, 1, 42, 0", expect = Expect.ACCEPTABLE, desc = "one close gave the references back, the other did nothing")
@Outcome(expect = Expect.FORBIDDEN, desc = "a close threw, or the chunk was freed under the live slice")
@State
public class EighthSliceCloseVsCloseStress
{
    private final SliceAllocator allocator =
        SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(16).strict(false).build();
    private final SharedSlice slice;

    public EighthSliceCloseVsCloseStress()
    {
        slice = allocator.allocateLongs(2, i -> 42L + i);
    }

    @Actor
    public void first(final IIIII_Result r)
    {
        r.r1 = close();
    }

    @Actor
    public void second(final IIIII_Result r)
    {
        r.r2 = close();
    }

    private int close()
    {
        try
        {
            allocator.close();
            return Stress.OK;
        }
        catch (final RuntimeException ex)
        {
            return Stress.code(ex);
        }
    }

    @Arbiter
    public void arbiter(final IIIII_Result r)
    {
        r.r3 = (int)allocator.stats().liveChunks();
        if (r.r3 == 1)
        {
            r.r4 = (int)slice.getLong(0);
            slice.release();
        }
        // else the chunk is gone under the handle: it must not be touched (its memory is freed)
        final SliceStats stats = allocator.stats();
        r.r5 = (int)(stats.liveChunks() + stats.reservedBytes() + stats.liveSliceBytes());
    }
}
