package dev.lake.stress;

import dev.lake.pool.FixedArena;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * {@link FixedArena#close()} races the release of the last live handle, which takes the one-CAS parking path (the
 * handle came from its word's hint). A parked slot stays marked in the bitmap, so close and release must agree
 * (Dekker: close sets closed and then unparks what it sees; the release parks and then looks at closed) that the
 * region is freed, exactly once, whoever comes last.
 *
 * <p>Results: r1 = release outcome; r2 = 1 if the region is freed at the end; r3 = live slots at the end;
 * r4 = 1 if a claim after both is refused.
 */
@JCStressTest
@Description("FixedArena: close racing a release that parks its slot frees the region exactly once")
@Outcome(id = "1, 1, 0, 1", expect = Expect.ACCEPTABLE, desc = "the region was freed, nothing live, no claim after close")
@Outcome(expect = Expect.FORBIDDEN, desc = "the region never freed (a parked slot kept it), or the release refused")
@State
public class ParkedReleaseVsCloseStress
{
    private final FixedArena arena = FixedArena.builder(2, 8).leakDetection(false).build();
    private final long handle;

    public ParkedReleaseVsCloseStress()
    {
        arena.release(arena.allocateHandle());
        handle = arena.allocateHandle(); // from the hint: its release parks in one CAS
    }

    @Actor
    public void closer()
    {
        arena.close();
    }

    @Actor
    public void releaser(final IIII_Result r)
    {
        try
        {
            arena.release(handle);
            r.r1 = Stress.OK;
        }
        catch (final RuntimeException ex)
        {
            r.r1 = Stress.code(ex);
        }
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r2 = arena.isRegionFreed() ? 1 : 0;
        r.r3 = arena.liveSlots();
        try
        {
            r.r4 = arena.tryAllocateHandle() == FixedArena.NO_HANDLE ? 0 : -1;
        }
        catch (final IllegalStateException closed)
        {
            r.r4 = 1;
        }
    }
}
