package dev.lake.stress;

import dev.lake.thread.ThreadLakes;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * {@link ThreadLakes} (a lake itself is single-owner and has nothing to race): one thread takes a lake and gives it
 * back while another closes the thread lakes. Whatever the order, no lake may stay pooled or open afterwards (the
 * pool's lakes are freed by close, a lake given back after close is closed), and a lake is never handed out after
 * close.
 *
 * <p>Results: r1 = 1 if the thread got and gave back a lake, 0 if init was refused as closed; r2 = pooled lakes;
 * r3 = leased lakes; r4 = lakes created minus lakes closed (still open).
 */
@JCStressTest
@Description("ThreadLakes: give-back racing close leaves no lake pooled or open")
@Outcome(id = {"1, 0, 0, 0", "0, 0, 0, 0"}, expect = Expect.ACCEPTABLE,
    desc = "the lake was closed by close() or on its way back; or init was refused after close")
@Outcome(expect = Expect.FORBIDDEN, desc = "a lake left pooled, leased or open after close")
@State
public class ThreadLakesReleaseVsCloseStress
{
    private final ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(1).build();

    @Actor
    public void user(final IIII_Result r)
    {
        try
        {
            lakes.init().allocate(64);
            lakes.release();
            r.r1 = 1;
        }
        catch (final IllegalStateException ex)
        {
            r.r1 = 0;
        }
    }

    @Actor
    public void closer()
    {
        lakes.close();
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        final ThreadLakes.Stats stats = lakes.stats();
        r.r2 = stats.pooled();
        r.r3 = stats.leased();
        r.r4 = (int)(stats.created() - stats.closed());
    }
}
