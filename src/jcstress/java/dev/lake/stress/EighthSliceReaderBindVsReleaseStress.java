package dev.lake.stress;

import dev.lake.memory.StaleHandleException;
import dev.lake.slice.ElementLayout;
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
 * Primitive tier, readers: a reference held by two holders in a chunk the allocator no longer holds (it was closed),
 * so the slice's count alone keeps the chunk. One holder binds a {@link SliceReader} to it (one more count), releases
 * its own count while bound, reads through the reader and closes it; the other holder releases its count at the same
 * time. The reader's count must keep the slice and its chunk while it reads, whoever releases first, and the chunk
 * must be freed exactly once, by the last of the three releases.
 *
 * <p>Results: r1 = what the reader read after its holder let go; r2 = 1 if the other holder's release returned;
 * r3 = live chunks after both; r4 = reserved bytes + live slice bytes after both.
 */
@JCStressTest
@Description("SliceReader: bind racing another holder's release; the reader's count keeps the chunk")
@Outcome(id = "45, 1, 0, 0", expect = Expect.ACCEPTABLE, desc = "the reader read its slice, and the chunk went with the last count")
@Outcome(expect = Expect.FORBIDDEN, desc = "the chunk was freed under the reader, twice, or never")
@State
public class EighthSliceReaderBindVsReleaseStress
{
    private final SliceAllocator allocator = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(16).build();
    private final SliceReader reader = new SliceReader();
    private final long ref;

    public EighthSliceReaderBindVsReleaseStress()
    {
        ref = allocator.allocateLongsRef(4, i -> 42L + i);
        allocator.retain(ref); // the second holder's count
        allocator.close();
    }

    @Actor
    public void binder(final IIII_Result r)
    {
        try
        {
            reader.bind(allocator, ref);
            allocator.release(ref); // its own count: the reader keeps the slice
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
    public void otherHolder(final IIII_Result r)
    {
        try
        {
            allocator.release(ref);
            r.r2 = 1;
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
