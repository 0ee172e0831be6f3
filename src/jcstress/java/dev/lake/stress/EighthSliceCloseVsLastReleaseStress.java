package dev.lake.stress;

import dev.lake.memory.StaleHandleException;
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
 * {@link SliceAllocator#close()} (the allocator gives back its own reference and its spare references on the current
 * chunk in one CAS) races another thread releasing the last two slices of that chunk, a handle and a primitive
 * reference (the chunk is pinned in the reference table). Exactly one of them brings the chunk's count to zero and
 * frees it: once both are done no chunk is live, no byte is reserved and no slice byte is live, and the released
 * reference is refused.
 *
 * <p>The allocator is not strict: the close is the allocating thread's work, and jcstress runs each actor on a thread
 * of its choosing (here the only thread touching the allocator's own state while the actors run).
 *
 * <p>Results: r1 = 1 if the close returned normally; r2 = 1 if both releases did; r3 = live chunks after both;
 * r4 = reserved bytes; r5 = live slice bytes + 100 if the released reference still reads as live.
 */
@JCStressTest
@Description("SliceAllocator: close() racing the cross-thread release of the last slices; the chunk is freed once")
@Outcome(id = "1, 1, 0, 0, 0", expect = Expect.ACCEPTABLE, desc = "the chunk was freed exactly once, by whoever came last")
@Outcome(expect = Expect.FORBIDDEN, desc = "the chunk freed twice or never, a counter wrong, or a call failed")
@State
public class EighthSliceCloseVsLastReleaseStress
{
    private final SliceAllocator allocator =
        SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).strict(false).build();
    private final SharedSlice handle;
    private final long ref;

    public EighthSliceCloseVsLastReleaseStress()
    {
        handle = allocator.allocateLongs(4, i -> 42L + i);
        ref = allocator.allocateLongsRef(4, i -> 7L + i);
    }

    @Actor
    public void closer(final IIIII_Result r)
    {
        try
        {
            allocator.close();
            r.r1 = 1;
        }
        catch (final RuntimeException ex)
        {
            r.r1 = Stress.OTHER;
        }
    }

    @Actor
    public void releaser(final IIIII_Result r)
    {
        try
        {
            final long sum = handle.getLong(0) + allocator.getLong(ref, 3);
            handle.release();
            allocator.release(ref);
            r.r2 = sum == 42L + 10L ? 1 : 2;
        }
        catch (final StaleHandleException ex)
        {
            r.r2 = Stress.STALE;
        }
        catch (final RuntimeException ex)
        {
            r.r2 = Stress.OTHER;
        }
    }

    @Arbiter
    public void arbiter(final IIIII_Result r)
    {
        final SliceStats stats = allocator.stats();
        r.r3 = (int)stats.liveChunks();
        r.r4 = (int)stats.reservedBytes();
        r.r5 = (int)stats.liveSliceBytes() + (allocator.isLive(ref) ? 100 : 0);
    }
}
