package dev.lake.stress;

import dev.lake.memory.RefCount;
import dev.lake.memory.StaleHandleException;
import org.openjdk.jcstress.annotations.*;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Two holders of a shared count release concurrently: exactly one of them must see the last release.
 */
@JCStressTest
@Outcome(id = {"1, 0", "0, 1"}, expect = Expect.ACCEPTABLE, desc = "exactly one release is the last")
@Outcome(expect = Expect.FORBIDDEN, desc = "memory returned twice or never")
@State
public class RefCountStress
{
    private final RefCount count = new RefCount();

    public RefCountStress()
    {
        count.retain();
    }

    @Actor
    public void first(final II_Result r)
    {
        r.r1 = release();
    }

    @Actor
    public void second(final II_Result r)
    {
        r.r2 = release();
    }

    private int release()
    {
        try
        {
            return count.release() ? 1 : 0;
        }
        catch (final StaleHandleException ex)
        {
            return -1;
        }
    }
}
