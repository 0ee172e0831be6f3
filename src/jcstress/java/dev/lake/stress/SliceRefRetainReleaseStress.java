package dev.lake.stress;

import dev.lake.slice.ElementLayout;
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
 * Primitive tier of {@link SliceAllocator}: a {@code long} reference held by two holders. One retains a count for
 * a consumer, reads and releases it; the other releases its own. The slice's count must never reach zero in
 * between; the last holder still reads the slice, and its release frees the chunk (the allocator is closed).
 *
 * <p>Results: r1 = read through the retained count; r2 = 1 if the reference is still live afterwards; r3 = read by
 * the last holder; r4 = live chunks after the last release.
 */
@JCStressTest
@Description("SliceAllocator primitive tier: retain racing another holder's release")
@Outcome(id = "42, 1, 42, 0", expect = Expect.ACCEPTABLE, desc = "counts never reached zero early; the chunk went with the last one")
@Outcome(expect = Expect.FORBIDDEN, desc = "the slice released under a holder, or the chunk never freed")
@State
public class SliceRefRetainReleaseStress
{
    private final SliceAllocator allocator = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(16).build();
    private final long ref;

    public SliceRefRetainReleaseStress()
    {
        ref = allocator.allocateLongsRef(2, i -> 42L);
        allocator.retain(ref);
        allocator.close();
    }

    @Actor
    public void retainer(final IIII_Result r)
    {
        allocator.retain(ref);
        r.r1 = (int)allocator.getLong(ref, 0);
        allocator.release(ref);
    }

    @Actor
    public void releaser()
    {
        allocator.release(ref);
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r2 = allocator.isLive(ref) ? 1 : 0;
        r.r3 = (int)allocator.getLong(ref, 0);
        allocator.release(ref);
        r.r4 = (int)allocator.stats().liveChunks();
    }
}
