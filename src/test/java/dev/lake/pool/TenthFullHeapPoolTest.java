package dev.lake.pool;

import dev.lake.testing.ChildJvm;
import org.junit.jupiter.api.Test;

import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tenth review: the pool arenas' and slice allocators' lifecycle on a full heap (child JVMs with a 24 MiB heap, see
 * {@link TenthFullHeapPoolProbe}). The contract: {@code close()} frees the native memory now, or throws before changing
 * anything so that a retry frees it; the last release after close frees the region, or throws with the reference
 * still held. Never a closed arena whose memory waits for a GC and counts as a leak. Each case is the first of its
 * kind in its JVM: the first call of a {@code VarHandle} call site links it, which allocates on the heap, and the
 * arenas made such first calls after their point of no return.
 */
class TenthFullHeapPoolTest
{
    private static void assertClean(final String mode) throws Exception
    {
        assertClean(mode, "");
    }

    private static void assertClean(final String mode, final String more) throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(TenthFullHeapPoolProbe.class, mode);
        assertTrue(Pattern.compile("probe: " + mode +
            " broken 0 leaks 0 left-regions 0 refused \\d+ late-throws 0 live-bytes 0" + more + "\\R").matcher(out)
            .find(), out);
    }

    /**
     * A buddy arena that never allocated, closed first on a full heap: its close flushed the free-block cache under
     * the arena's spin lock and linked the unlock's {@code setRelease} there, after {@code closed} was set. The
     * {@link OutOfMemoryError} left the arena closed with its region held (a retry did nothing) and its lock taken for
     * good (any later release would spin on it for ever).
     */
    @Test
    void aBuddyArenaClosedFirstOnAFullHeapFreesItsRegion() throws Exception
    {
        assertClean("buddy-close");
    }

    /**
     * A fixed arena holding a parked slot, closed on a full heap after other arenas' closes: unparking the slot linked
     * the slot table's compare-and-set after {@code closed} was set, so the close threw with the region held.
     */
    @Test
    void aFixedArenaWithAParkedSlotClosedOnAFullHeapFreesItsRegion() throws Exception
    {
        assertClean("fixed-parked-close");
    }

    /**
     * {@code Bytes.release()} after close, the first last release in the JVM, on a full heap: the {@code Bytes} were
     * marked released, then the slot table's release linked its compare-and-exchange and threw, so the slot kept its
     * reference and the closed arena its region, with no reference left to release.
     */
    @Test
    void theLastBytesReleasedAfterCloseOnAFullHeapFreesAFixedArenasRegion() throws Exception
    {
        assertClean("fixed-release");
    }

    /** The same on the handle tier: the slot's count dropped, then the tracker's clean-up linked and threw. */
    @Test
    void theLastHandleReleasedAfterCloseOnAFullHeapFreesAFixedArenasRegion() throws Exception
    {
        assertClean("fixed-handle-release");
    }

    /** {@link #theLastBytesReleasedAfterCloseOnAFullHeapFreesAFixedArenasRegion()} for a buddy arena. */
    @Test
    void theLastBytesReleasedAfterCloseOnAFullHeapFreesABuddyArenasRegion() throws Exception
    {
        assertClean("buddy-release");
    }

    /** {@link #theLastHandleReleasedAfterCloseOnAFullHeapFreesAFixedArenasRegion()} for a buddy arena. */
    @Test
    void theLastHandleReleasedAfterCloseOnAFullHeapFreesABuddyArenasRegion() throws Exception
    {
        assertClean("buddy-handle-release");
    }

    /**
     * The first last release of a slice in a JVM, on a full heap, after its allocator was closed there: the stats'
     * per-thread cell linked its {@code VarHandle} after the slice's count was gone, so the release threw
     * {@link OutOfMemoryError} with its work done (a retry is a double release) and the slice's bytes stayed counted
     * live for good (JDK 17); on JDK 25 the chunk's own count CAS linked there too and threw, leaving the chunk a
     * reference nobody held (its region held, left to the safety net).
     */
    @Test
    void theLastSliceReleasedAfterCloseOnAFullHeapFreesItsChunkAndCountsIt() throws Exception
    {
        assertClean("slice-release");
    }

    /**
     * The same through a primitive reference, whose chunk is pinned in the table: freeing it gives its table slot back
     * to a lock-free stack whose compare-and-set linked there, after the region was freed, and threw out of the
     * release (its work done, a retry refused as stale, the table slot lost).
     */
    @Test
    void theLastReferenceReleasedOnAFullHeapAfterCloseFreesItsChunkWithoutThrowing() throws Exception
    {
        assertClean("slice-ref-release");
        assertClean("slice-ref-closed-release");
    }

    /**
     * An arena with its JFR hook, closed on a full heap after other arenas' closes: removing the hook from the Flight
     * Recorder allocates (an iterator of its hook list), and it ran first in the close, after {@code closed} was set:
     * the close threw with the region held (a retry did nothing) and the hook's removal was lost for good (the
     * cleanable unregisters itself before it runs). Now the hook goes last, after the region is freed, and a later
     * {@code close()} retries it.
     */
    @Test
    void anArenaWithAJfrHookClosedOnAFullHeapFreesItsRegionAndRemovesItsHook() throws Exception
    {
        assertClean("fixed-jfr-prelinked-close", " hook-removed true");
        assertClean("buddy-jfr-prelinked-close", " hook-removed true");
    }
}
