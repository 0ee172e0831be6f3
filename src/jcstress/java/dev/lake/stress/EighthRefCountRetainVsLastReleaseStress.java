package dev.lake.stress;

import dev.lake.memory.RefCount;
import dev.lake.memory.StaleHandleException;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * {@link RefCount}'s documented race: a {@code retain()} racing the last {@code release()} either wins (the count goes
 * 1 -> 2, the memory stays, and the retainer's own release is then one of two) or fails cleanly with
 * {@link StaleHandleException} (the memory is gone). Exactly one release reports the last reference, and the count
 * never comes back from zero.
 *
 * <p>Results: r1 = 1 if the retain succeeded, 0 if it was refused; r2 = 1 if the holder's release was the last;
 * r3 = 1 if the retainer's release (made only after a successful retain) was the last; r4 = the final count.
 */
@JCStressTest
@Description("RefCount: retain racing the last release; it wins or fails cleanly, and exactly one release is last")
@Outcome(id = "1, 0, 1, 0", expect = Expect.ACCEPTABLE, desc = "retain first; the retainer's release was last")
@Outcome(id = "1, 1, 0, 0", expect = Expect.ACCEPTABLE, desc = "retain first; the holder's release was last")
@Outcome(id = "0, 1, 0, 0", expect = Expect.ACCEPTABLE, desc = "the last release first; the retain was refused")
@Outcome(expect = Expect.FORBIDDEN, desc = "a count revived from zero, two last releases, or none")
@State
public class EighthRefCountRetainVsLastReleaseStress
{
    private final RefCount count = new RefCount();

    @Actor
    public void retainer(final IIII_Result r)
    {
        try
        {
            count.retain();
        }
        catch (final StaleHandleException ex)
        {
            return;
        }
        r.r1 = 1;
        r.r3 = count.release() ? 1 : 0;
    }

    @Actor
    public void holder(final IIII_Result r)
    {
        r.r2 = count.release() ? 1 : 0;
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        r.r4 = count.refCount();
    }
}
