package dev.lake.stress;

import dev.lake.pool.FixedArena;
import dev.lake.pool.SlotCache;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Concurrent misuse: a handle with one reference is released twice at once, by a {@link SlotCache}'s owner and by
 * another thread through the arena. Exactly one release may succeed; the slot must end either parked in the cache
 * or back in the bitmap, never both (which would hand it out twice) and never neither (which would lose it).
 *
 * <p>Results: r1 = the cache's release, r2 = the arena's release ({@link Stress#OK} or {@link Stress#STALE});
 * r3 = live slots * 10 + slots parked in the cache; r4 = frees counted * 10 + 1 if the arena can hand the slot out.
 */
@JCStressTest
@Description("SlotCache: a double release racing through the cache and the arena frees the slot exactly once")
@Outcome(id = "1, 0, 1, 10", expect = Expect.ACCEPTABLE, desc = "the cache won: the slot is parked")
@Outcome(id = "0, 1, 0, 11", expect = Expect.ACCEPTABLE, desc = "the arena won: the slot is back in the bitmap")
@Outcome(expect = Expect.FORBIDDEN, desc = "both or neither released, or the slot parked and free at once")
@State
public class SlotCacheDoubleReleaseStress
{
    private final FixedArena arena = FixedArena.builder(1, 8).leakDetection(false).build();
    private final long handle = arena.allocateHandle();
    private SlotCache cache;

    @Actor
    public void owner(final IIII_Result r)
    {
        cache = arena.slotCache(1); // the cache belongs to the thread that opens it
        try
        {
            cache.release(handle);
            r.r1 = Stress.OK;
        }
        catch (final RuntimeException ex)
        {
            r.r1 = Stress.code(ex);
        }
    }

    @Actor
    public void other(final IIII_Result r)
    {
        try
        {
            arena.release(handle);
            r.r2 = Stress.OK;
        }
        catch (final RuntimeException ex)
        {
            r.r2 = Stress.code(ex);
        }
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r3 = arena.liveSlots() * 10 + arena.cachedSlots();
        final long again = arena.tryAllocateHandle();
        r.r4 = (int)arena.metrics().frees() * 10 + (again == FixedArena.NO_HANDLE ? 0 : 1);
        Stress.releaseAll(arena, again);
        arena.close(); // the region goes when the cache is collected and gives its slot back
    }
}
