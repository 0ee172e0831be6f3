package dev.lake.stress;

import dev.lake.pool.FixedArena;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Handle tier with parking (the default {@code UNINIT} arena): a reader holds a copy of a frozen handle whose last
 * reference another thread releases (one CAS parks the slot), claims again through the hint (one CAS) and writes 99
 * over the 42. The reader must return 42 or be told its handle is stale, never 99: the read is validated after it
 * reads, and the slot changes generation on release.
 *
 * <p>Results: r1 = what the reader returned (-1 for a stale-handle exception); r2 = 1 if the slot was claimed
 * again; r3 = live slots.
 */
@JCStressTest
@Description("FixedArena parking: a racing stale reader never returns the next owner's bytes")
@Outcome(id = "42, 1, 1", expect = Expect.ACCEPTABLE, desc = "the read finished before the slot changed owner")
@Outcome(id = "-1, 1, 1", expect = Expect.ACCEPTABLE, desc = "the reader was told its handle is stale")
@Outcome(expect = Expect.FORBIDDEN, desc = "the reader returned the next owner's bytes")
@State
public class ParkedStaleReadStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).leakDetection(false).build();
    private final long handle;
    private long claimed;

    public ParkedStaleReadStress()
    {
        arena.release(arena.allocateHandle());
        handle = arena.allocateHandle(); // from the hint: its release parks in one CAS, the next claim takes it back
        arena.putLong(handle, 0, 42L);
        arena.freezeHandle(handle, 8);
    }

    @Actor
    public void reader(final III_Result r)
    {
        try
        {
            r.r1 = (int)arena.getLong(handle, 0);
        }
        catch (final RuntimeException ex)
        {
            r.r1 = Stress.code(ex) == Stress.STALE ? -1 : Stress.OTHER;
        }
    }

    @Actor
    public void releaserThenClaimer(final III_Result r)
    {
        arena.release(handle);
        claimed = arena.tryAllocateHandle();
        if (claimed != FixedArena.NO_HANDLE)
        {
            arena.putLong(claimed, 0, 99L);
            r.r2 = 1;
        }
    }

    @Arbiter
    public void arbiter(final III_Result r)
    {
        r.r3 = arena.liveSlots();
        Stress.releaseAll(arena, claimed);
        arena.close();
    }
}
