package dev.lake.stress;

import dev.lake.pool.BuddyArena;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.Expect;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * A 128 B buddy arena holds a 64 B block and a 32 B block. One thread releases the 64 B block (which may coalesce
 * with free neighbours) while another asks for 64 B (which may split): the request either finds the arena full or
 * gets a block that overlaps nothing live, and once everything is released the arena is one free block again.
 *
 * <p>Results: r1 = 1 if the request got a block; r2 = 1 if that block overlaps the live 32 B block; r3 = live blocks
 * before the clean-up; r4 = 1 if the arena coalesced back to one free block after releasing everything.
 */
@JCStressTest
@Description("BuddyArena: split for a request racing the coalesce of a release")
@Outcome(id = {"1, 0, 2, 1", "0, 0, 1, 1"}, expect = Expect.ACCEPTABLE,
    desc = "the request got a block beside the live one, or came first and saw the arena full")
@Outcome(expect = Expect.FORBIDDEN, desc = "overlapping blocks, a lost block, or no full coalesce at the end")
@State
public class BuddyAllocateVsReleaseStress
{
    private final BuddyArena arena = BuddyArena.builder(128, 32).leakDetection(false).build();
    private final long big = arena.allocateHandle(64);
    private final long small = arena.allocateHandle(32);
    private long claimed;

    @Actor
    public void releaser()
    {
        arena.release(big);
    }

    @Actor
    public void requester(final IIII_Result r)
    {
        claimed = arena.tryAllocateHandle(64);
        r.r1 = claimed == BuddyArena.NO_HANDLE ? 0 : 1;
    }

    @Arbiter
    public void arbiter(final IIII_Result r)
    {
        if (claimed != BuddyArena.NO_HANDLE)
        {
            final int at = arena.offset(claimed);
            final int other = arena.offset(small);
            r.r2 = at < other + 32 && other < at + arena.handleCapacity(claimed) ? 1 : 0;
            r.r3 = (int)arena.metrics().liveBlocks();
            arena.release(claimed);
        }
        else
        {
            r.r3 = (int)arena.metrics().liveBlocks();
        }
        arena.release(small);
        r.r4 = arena.metrics().fullyCoalesced() ? 1 : 0;
        arena.close();
    }
}
