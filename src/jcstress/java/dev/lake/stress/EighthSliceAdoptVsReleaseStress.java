package dev.lake.stress;

import dev.lake.memory.StaleHandleException;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceReader;
import dev.lake.slice.SliceStats;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Primitive tier, hand-over of counts: a reference held twice in a chunk the allocator no longer holds. One holder
 * moves its count into a {@link SliceReader} ({@code adopt}, no atomic instruction), reads and closes it; the other
 * moves its count into a handle ({@code toHandle}), reads through it and releases it. Neither hand-over takes or
 * drops a count, so the slice lives until the second of the two releases, which frees the chunk exactly once.
 *
 * <p>Results: r1 = read through the adopting reader; r2 = read through the handle; r3 = live chunks after both;
 * r4 = reserved bytes + live slice bytes after both.
 */
@JCStressTest
@Description("SliceReader.adopt and toHandle racing each other's release; counts move, none is lost or taken twice")
@Outcome(id = "45, 42, 0, 0", expect = Expect.ACCEPTABLE, desc = "both read the slice; the chunk went with the last count")
@Outcome(expect = Expect.FORBIDDEN, desc = "the chunk was freed under a holder, twice, or never")
@State
public class EighthSliceAdoptVsReleaseStress
{
    private final SliceAllocator allocator = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(16).build();
    private final SliceReader reader = new SliceReader();
    private final long ref;

    public EighthSliceAdoptVsReleaseStress()
    {
        ref = allocator.allocateLongsRef(4, i -> 42L + i);
        allocator.retain(ref);
        allocator.close();
    }

    @Actor
    public void adopter(final IIII_Result r)
    {
        try
        {
            reader.adopt(allocator, ref);
            r.r1 = (int)reader.getLong(3);
            reader.close();
        }
        catch (final StaleHandleException ex)
        {
            r.r1 = Stress.STALE;
        }
        catch (final RuntimeException ex)
        {
            r.r1 = Stress.OTHER;
        }
    }

    @Actor
    public void converter(final IIII_Result r)
    {
        try
        {
            final SharedSlice handle = allocator.toHandle(ref);
            r.r2 = (int)handle.getLong(0);
            handle.release();
        }
        catch (final RuntimeException ex)
        {
            r.r2 = Stress.code(ex);
        }
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        final SliceStats stats = allocator.stats();
        r.r3 = (int)stats.liveChunks();
        r.r4 = (int)(stats.reservedBytes() + stats.liveSliceBytes());
    }
}
