package dev.lake.linear;

import dev.lake.testing.ChildJvm;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ninth review: the lifecycle of lakes and arenas on a full heap (child JVMs with a 24 MiB heap, see
 * {@link NinthLifecycleFullHeapProbe}). The contract: {@code close()} frees the native memory now, or throws before
 * changing anything so that a retry frees it; {@code build()} returns an allocator or holds nothing. Never a closed
 * allocator whose memory waits for a GC and counts as a leak.
 */
class NinthFullHeapLakeTest
{
    private static final String CLEAN = " broken 0 leaks 0 left-bytes 0 ";

    /**
     * The first {@code Region.close()} in a JVM linked its {@code VarHandle} compare-and-set, which allocates on the
     * heap: on a full heap that threw {@link OutOfMemoryError} after {@code Lake.close()} had marked the lake closed,
     * so the lake was closed, its region still held, a retry did nothing and the memory went to the safety net
     * (counted as a leak at the next GC). JDK 17 and 25 alike.
     */
    @Test
    void aLakeClosedFirstOnAFullHeapFreesItsRegion() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(NinthLifecycleFullHeapProbe.class, "lake-first-close");
        assertTrue(out.contains("probe: lake-first-close" + CLEAN), out);
    }

    /** The same for an arena: its close marked it closed, then its first block's close threw, leaving every block. */
    @Test
    void anArenaClosedFirstOnAFullHeapFreesEveryBlock() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(NinthLifecycleFullHeapProbe.class, "arena-first-close");
        assertTrue(out.contains("probe: arena-first-close" + CLEAN), out);
    }

    /**
     * {@code Lake.builder(..).build()} reserved the region, then made the {@code Lake} object: a full heap refusing
     * that object threw with the region held by nobody, freed only by the safety net at a later GC and counted as a
     * leak (5 to 7 of 3,000 builds on JDK 17 and 25).
     */
    @Test
    void aLakeBuildRefusedByAFullHeapHoldsNoRegion() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(NinthLifecycleFullHeapProbe.class, "lake-cycles");
        assertTrue(out.contains("probe: lake-cycles" + CLEAN), out);
        assertFalse(out.contains("refused-builds 0 "), out); // the heap did refuse some
    }

    /** Arena build, growth and close cycles on a full heap: nothing held after a refusal, nothing left after close. */
    @Test
    void arenaBuildGrowAndCloseCyclesOnAFullHeapHoldNothing() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(NinthLifecycleFullHeapProbe.class, "arena-cycles");
        assertTrue(out.contains("probe: arena-cycles" + CLEAN), out);
        assertFalse(out.contains("refused-builds 0 "), out);
    }
}
