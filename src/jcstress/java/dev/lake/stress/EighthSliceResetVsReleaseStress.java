package dev.lake.stress;

import dev.lake.slice.ElementLayout;
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
 * The allocator's current chunk is full with one referenced slice. Another thread releases that slice's only count
 * while the allocating thread asks for a slice that does not fit: if the release is done, the chunk is reused in
 * place (its generation moves, so the old reference is refused), else a fresh chunk is started and the old one is
 * freed by the release. Either way the new slice holds its own bytes, exactly one chunk is left, the old reference is
 * dead, and once everything is released and the allocator closed nothing is reserved.
 *
 * <p>Results: r1 = element 0 of the new slice; r2 = live chunks after both; r3 = 1 if the old reference still reads
 * as live; r4 = reserved bytes + live slice bytes once everything is released.
 */
@JCStressTest
@Description("SliceAllocator: reuse in place racing the cross-thread release of the chunk's last slice")
@Outcome(id = "7, 1, 0, 0", expect = Expect.ACCEPTABLE, desc = "reused in place or replaced; the old slice is dead either way")
@Outcome(expect = Expect.FORBIDDEN, desc = "the new slice shares bytes with a live one, a chunk lost, or a dead reference revived")
@State
public class EighthSliceResetVsReleaseStress
{
    private final SliceAllocator allocator =
        SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(8).strict(false).build();
    private final long old;
    private long fresh;

    public EighthSliceResetVsReleaseStress()
    {
        old = allocator.allocateLongsRef(8, i -> 42L + i); // fills the chunk
    }

    @Actor
    public void allocatingSide()
    {
        fresh = allocator.allocateLongsRef(4, i -> 7L + i);
    }

    @Actor
    public void releaser()
    {
        allocator.release(old);
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r1 = (int)allocator.getLong(fresh, 0);
        r.r2 = (int)allocator.stats().liveChunks();
        r.r3 = allocator.isLive(old) ? 1 : 0;
        allocator.release(fresh);
        allocator.close();
        final SliceStats stats = allocator.stats();
        r.r4 = (int)(stats.reservedBytes() + stats.liveSliceBytes());
    }
}
