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
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * A {@link SliceAllocator} closed after cutting one slice, so the slice's handles alone keep the chunk. One thread
 * shares its handle, reads through the new one and releases both, while another thread releases the third
 * handle. The chunk must be freed exactly once, by whichever release is last, and never while a handle reads.
 *
 * <p>Results: r1 = read through the shared handle; r2 = live chunks after both actors; r3 = reserved bytes;
 * r4 = live slice bytes.
 */
@JCStressTest
@Description("SliceAllocator: share racing release; the chunk is freed exactly once, by the last handle")
@Outcome(id = "42, 0, 0, 0", expect = Expect.ACCEPTABLE, desc = "the shared handle read its slice, and the chunk went with the last handle")
@Outcome(expect = Expect.FORBIDDEN, desc = "chunk freed under a live handle, never freed, or counted wrong")
@State
public class SliceShareVsReleaseStress
{
    private final SliceAllocator allocator = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(16).build();
    private final SharedSlice mine;
    private final SharedSlice theirs;

    public SliceShareVsReleaseStress()
    {
        mine = allocator.allocateLongs(4, i -> 42L + i);
        theirs = mine.share();
        allocator.close();
    }

    @Actor
    public void sharer(final IIII_Result r)
    {
        final SharedSlice copy = mine.share();
        r.r1 = (int)copy.getLong(0);
        mine.release();
        copy.release();
    }

    @Actor
    public void releaser()
    {
        theirs.release();
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        final SliceStats stats = allocator.stats();
        r.r2 = (int)stats.liveChunks();
        r.r3 = (int)stats.reservedBytes();
        r.r4 = (int)stats.liveSliceBytes();
    }
}
