package dev.lake.stress;

import dev.lake.pool.FixedArena;
import dev.lake.pool.InitPolicy;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Handle tier, read-then-validate: a reader holds a copy of a handle whose last reference another thread releases;
 * that thread then claims the slot again and writes 99 into it (the arena zeroes it in between). The reader must
 * either read the original 42 or get {@link dev.lake.memory.StaleHandleException}: never the zeroes or the new
 * owner's 99.
 *
 * <p>Results: r1 = what the reader returned (-1 for a stale-handle exception); r2 = 1 if the slot was claimed
 * again; r3 = live slots.
 */
@JCStressTest
@Description("FixedArena handle tier: a racing stale reader never returns another allocation's bytes")
@Outcome(id = "42, 1, 1", expect = Expect.ACCEPTABLE, desc = "the read finished before the slot changed owner")
@Outcome(id = "-1, 1, 1", expect = Expect.ACCEPTABLE, desc = "the reader was told its handle is stale")
@Outcome(expect = Expect.FORBIDDEN, desc = "the reader returned zeroed or reused bytes")
@State
public class HandleStaleReadStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).initPolicy(InitPolicy.ZERO).leakDetection(false).build();
    private final long handle;
    private long claimed;

    public HandleStaleReadStress()
    {
        handle = arena.allocateHandle();
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
