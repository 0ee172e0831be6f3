package dev.lake.slice;

import dev.lake.testing.ChildJvm;
import org.junit.jupiter.api.Test;

import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The eleventh round's full-heap finding in the slice allocator, each case in a child JVM on a 24 MiB heap (see
 * {@link EleventhFullHeapSliceProbe}).
 */
class EleventhFullHeapSliceTest
{
    /**
     * The first release of a local slice in a JVM linked the {@code setRelease} of the allocator's open-local count
     * there, its last step, after the slice was given back (its bytes, its chunk reference, its stats): on a full heap
     * the {@link OutOfMemoryError} left the reader bound, so each retry of {@code close()} released the slice again.
     * Before the fix the probe met 4 or 5 refusals, and the allocator ended counting -128 or -160 live bytes, holding
     * a spare chunk reference per retry that nobody owned (its chunk was never freed: one region left), and refusing
     * the hand-over to another thread as a double release. Now the count's store is linked when the allocator is
     * built, and the first local release on a full heap meets no refusal at all.
     */
    @Test
    void theFirstLocalReleaseOnAFullHeapLeavesNoSliceCountedOpen() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(EleventhFullHeapSliceProbe.class);
        assertTrue(Pattern.compile("probe: local-release refused \\d+ rebind ok close ok live-bytes 0 left-regions 0\\R").matcher(out).find(), out);
    }
}
