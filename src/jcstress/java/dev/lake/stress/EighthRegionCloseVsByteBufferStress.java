package dev.lake.stress;

import dev.lake.memory.Region;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import java.nio.ByteBuffer;

/**
 * {@link Region#close()} races the first {@link Region#byteBuffer()} call, which makes the region's one NIO view.
 * Whichever comes first, a view that escaped must be emptied once the region is closed (capacity and limit 0), so it
 * can never reach the freed memory: either the close saw the view and emptied it, or the call saw the close and
 * emptied it (and threw {@link IllegalStateException}).
 *
 * <p>Results: r1 = 1 if byteBuffer() returned a view, 0 if it threw IllegalStateException; r2 = the capacity of the
 * view it returned once both are done (-1 without one); r3 = 1 if the region is closed.
 */
@JCStressTest
@Description("Region: close() racing the first byteBuffer(); a view that escaped is emptied either way")
@Outcome(id = "1, 0, 1", expect = Expect.ACCEPTABLE, desc = "the view came first and the close emptied it")
@Outcome(id = "0, -1, 1", expect = Expect.ACCEPTABLE, desc = "the close came first: the call threw")
@Outcome(expect = Expect.FORBIDDEN, desc = "a view over freed memory escaped")
@State
public class EighthRegionCloseVsByteBufferStress
{
    private final Region region = Region.allocate(64);
    private ByteBuffer view;

    @Actor
    public void closer()
    {
        region.close();
    }

    @Actor
    public void viewer(final III_Result r)
    {
        try
        {
            view = region.byteBuffer();
            r.r1 = 1;
        }
        catch (final IllegalStateException ex)
        {
            r.r1 = 0;
        }
    }

    @Arbiter
    public void arbiter(final III_Result r)
    {
        r.r2 = view == null ? -1 : view.capacity();
        r.r3 = region.isOpen() ? 0 : 1;
    }
}
