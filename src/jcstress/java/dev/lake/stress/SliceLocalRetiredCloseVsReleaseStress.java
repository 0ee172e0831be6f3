package dev.lake.stress;

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
import org.openjdk.jcstress.infra.results.IIIII_Result;

/**
 * A local slice and a shared slice in a chunk that the allocator no longer holds (it was closed): the two slices
 * alone keep the chunk. The local slice's reader is closed (its chunk reference is then returned with one CAS)
 * while another thread releases the shared slice. Exactly one of them frees the chunk, and neither reads memory
 * that was freed.
 *
 * <p>Results: r1 = read through the local reader; r2 = read through the shared handle; r3 = live chunks after
 * both; r4 = reserved bytes; r5 = live slice bytes.
 */
@JCStressTest
@Description("SliceAllocator: a local release racing a shared release in a chunk left behind; freed exactly once")
@Outcome(id = "7, 42, 0, 0, 0", expect = Expect.ACCEPTABLE, desc = "both read their own bytes; the chunk went with the last one")
@Outcome(expect = Expect.FORBIDDEN, desc = "freed twice, never freed, freed under a reader, or a counter wrong")
@State
public class SliceLocalRetiredCloseVsReleaseStress
{
    private final SliceAllocator allocator =
        SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).strict(false).build();
    private final SharedSlice shared;
    private final SliceReader local = new SliceReader();

    public SliceLocalRetiredCloseVsReleaseStress()
    {
        allocator.allocateLocalLongs(4, i -> 7L + i, local);
        shared = allocator.allocateLongs(4, i -> 42L + i);
        allocator.close();
    }

    @Actor
    public void allocatingSide(final IIIII_Result r)
    {
        r.r1 = (int)local.getLong(0);
        local.close();
    }

    @Actor
    public void otherThread(final IIIII_Result r)
    {
        r.r2 = (int)shared.getLong(0);
        shared.release();
    }

    @Arbiter
    public void arbiter(final IIIII_Result r)
    {
        final SliceStats stats = allocator.stats();
        r.r3 = (int)stats.liveChunks();
        r.r4 = (int)stats.reservedBytes();
        r.r5 = (int)stats.liveSliceBytes();
    }
}
