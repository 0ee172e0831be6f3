package dev.lake.pool;

import dev.lake.testing.ChildJvm;
import org.junit.jupiter.api.Test;

import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The eleventh round's full-heap findings in the pool arenas' waiting, each in a child JVM on a 24 MiB heap (see
 * {@link TenthFullHeapPoolProbe}'s {@code fixed-waiter-release} and {@code fixed-waiter-close}).
 */
class EleventhFullHeapPoolTest
{
    /**
     * The only slot released on a full heap while a request waits for it. Two bugs met there: the dispatcher, failing
     * to hand the slot over, logged the refusal through {@code LakeLog}, whose first call in the JVM loads its class,
     * which the full heap refused; that escaped the dispatcher's failure handler and left its work-in-progress count
     * at 1 for good, so no request of the arena was ever served or failed again (the first request never got the slot
     * once the heap had room). And {@code Buffer.close()} threw {@link OutOfMemoryError} after giving its slot back
     * (its closing {@code reachabilityFence} call, first resolved there), a release its caller cannot tell from one
     * that did nothing. Also pinned: the dispatcher does not spin while the heap stays full (a refused grant gives
     * its slot back, which signalled a new pass at once: the probe hung in {@code close()} until killed).
     */
    @Test
    void aReleaseOnAFullHeapWithARequestWaitingNeitherThrowsNorWedgesTheQueue() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(TenthFullHeapPoolProbe.class, "fixed-waiter-release");
        assertTrue(Pattern.compile("probe: fixed-waiter-release refused 0 first-served true second-waits true\\R")
            .matcher(out).find(), out);
    }

    /**
     * A request waiting for a slot when its arena's {@code close()} met a full heap was not failed: failing it takes
     * heap (the {@link ArenaClosedException}, the future's completion), the dispatcher only logged the refusal, and
     * {@code close()} returned normally with the request still queued, its caller waiting until some later release
     * ran the dispatcher, or for ever. Now {@code close()} throws the {@link OutOfMemoryError} (after freeing what it
     * can) and a retry of {@code close()} fails the request. The probe retries the close after each refusal, as a
     * caller catching the error would; at least one refusal shows the full heap met the close.
     */
    @Test
    void aRequestWaitingWhenCloseMeetsAFullHeapIsFailedByTheRetriedClose() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(TenthFullHeapPoolProbe.class, "fixed-waiter-close");
        assertTrue(Pattern.compile("probe: fixed-waiter-close stranded 0 refused [1-9]\\d* warm-failed true " +
            "closed-exception true left-regions 0\\R").matcher(out).find(), out);
    }
}
