package dev.lake.stress;

import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.pool.InitPolicy;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Two references to the same frozen {@link Bytes} are released by two threads, one of them reading through its
 * reference first, the other then trying to claim the arena's only slot again and scribbling on it. The arena zeroes
 * a slot when it comes back ({@link InitPolicy#ZERO}), so a slot returned while a reference was still live would
 * show up as the reader seeing 0 or the scribble instead of 42.
 *
 * <p>Results: r1 = what the reader read through its live reference; r2 = 1 if the claimer got the slot;
 * r3 = live slots; r4 = frees counted by the arena's metrics.
 */
@JCStressTest
@Description("Bytes retain/release racing to the last release: the slot returns exactly once, never under a live reference")
@Outcome(id = {"42, 0, 0, 1", "42, 1, 1, 1"}, expect = Expect.ACCEPTABLE,
    desc = "the reader saw its bytes; the slot came back exactly once, and the claim got it only after the last release")
@Outcome(expect = Expect.FORBIDDEN, desc = "slot returned while a reference was live, returned twice, or lost")
@State
public class BytesLastReleaseStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).initPolicy(InitPolicy.ZERO).build();
    private final Bytes first;
    private final Bytes second;
    private long claimed;

    public BytesLastReleaseStress()
    {
        final Buffer buffer = arena.allocate();
        buffer.putLong(42L);
        first = buffer.freeze();
        second = first.retain();
    }

    @Actor
    public void readerThenReleaser(final IIII_Result r)
    {
        r.r1 = (int)second.getLong(0);
        second.release();
    }

    @Actor
    public void releaserThenClaimer(final IIII_Result r)
    {
        first.release();
        claimed = arena.tryAllocateHandle();
        if (claimed != FixedArena.NO_HANDLE)
        {
            arena.putLong(claimed, 0, 99L);
            r.r2 = 1;
        }
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r3 = arena.liveSlots();
        r.r4 = (int)arena.metrics().frees();
        Stress.releaseAll(arena, claimed);
        arena.close();
    }
}
