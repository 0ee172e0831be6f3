package dev.lake.stress;

import dev.lake.slice.ElementLayout;
import dev.lake.slice.SliceAllocator;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * A {@link SliceAllocator}'s first owner allocated a slice, released it on its own thread (so its bytes went to that
 * thread's own counter cell) and terminated. One thread then takes the allocator over ({@code bindToCurrentThread()},
 * which folds the dead owner's cell into the retired total) while another reads {@code stats()}. No slice is live at
 * any moment, so every snapshot must say 0 live slice bytes: never the released bytes counted twice (-32) or not at
 * all (32).
 *
 * <p>Results: r1 = live slice bytes seen by the racing snapshot; r2 = the same once both actors are done.
 */
@JCStressTest
@Description("SliceAllocator: stats() racing a handover that retires a dead owner's counter cell")
@Outcome(id = "0, 0", expect = Expect.ACCEPTABLE, desc = "no slice is live, and every snapshot says so")
@Outcome(expect = Expect.FORBIDDEN, desc = "a snapshot counted the dead owner's released bytes twice or not at all")
@State
public class EighthSliceStatsVsHandoverStress
{
    private final SliceAllocator allocator =
        SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(16).strict(false).build();

    public EighthSliceStatsVsHandoverStress()
    {
        final Thread first = new Thread(() -> allocator.allocateLongs(4, i -> i).release(), "first-owner");
        first.start();
        try
        {
            first.join();
        }
        catch (final InterruptedException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    @Actor
    public void newOwner()
    {
        allocator.bindToCurrentThread();
    }

    @Actor
    public void observer(final II_Result r)
    {
        r.r1 = (int)allocator.stats().liveSliceBytes();
    }

    @Arbiter
    public void arbiter(final II_Result r)
    {
        r.r2 = (int)allocator.stats().liveSliceBytes();
        allocator.close(); // not strict: any thread may close
    }
}
