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
 * A local slice and a shared slice in the allocator's current chunk. The allocating side closes the local slice's
 * reader (no atomic instruction: its chunk reference goes back to the allocator's spares, and, being the last
 * slice allocated, its bytes go back to the chunk) while another thread releases the shared slice (a CAS on its
 * count and one on the chunk's). Neither may disturb the other: both read their own bytes, and once the allocator
 * is closed the chunk is freed exactly once and every counter is back to zero.
 *
 * <p>The allocator is not strict: jcstress runs each actor on a thread of its choosing, and the local close is the
 * allocating thread's work (here, the only thread touching the allocator while the actors run).
 *
 * <p>Results: r1 = read through the local reader; r2 = read through the shared handle; r3 = live chunks after
 * the allocator closed; r4 = reserved bytes; r5 = live slice bytes.
 */
@JCStressTest
@Description("SliceAllocator: a local release (no atomics) racing a shared release in the current chunk")
@Outcome(id = "7, 42, 0, 0, 0", expect = Expect.ACCEPTABLE, desc = "both read their own bytes; everything was freed once")
@Outcome(expect = Expect.FORBIDDEN, desc = "a slice disturbed, the chunk never freed, or a counter wrong")
@State
public class SliceLocalCloseVsReleaseStress
{
    private final SliceAllocator allocator =
        SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).strict(false).build();
    private final SharedSlice shared;
    private final SliceReader local = new SliceReader();

    public SliceLocalCloseVsReleaseStress()
    {
        shared = allocator.allocateLongs(4, i -> 42L + i);
        allocator.allocateLocalLongs(4, i -> 7L + i, local);
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
        allocator.close();
        final SliceStats stats = allocator.stats();
        r.r3 = (int)stats.liveChunks();
        r.r4 = (int)stats.reservedBytes();
        r.r5 = (int)stats.liveSliceBytes();
    }
}
