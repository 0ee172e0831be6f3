package dev.lake.linear;

import dev.lake.testing.ChildJvm;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bugs an eighth review of the lake found, each test failing on the code before its fix.
 */
class EighthReviewLakeTest
{
    /**
     * The sandbox stacks (ids and starts) grew one after the other: a full heap refusing the second copy left the ids
     * array twice as long as the starts array, so the next push stored its start past the end of the shorter one.
     * Every later {@code sandbox()} and {@code beginSandbox()} at that depth threw
     * {@link ArrayIndexOutOfBoundsException}, for the life of the lake. Both copies are now made before either is
     * stored.
     */
    @Test
    void aSandboxStackGrowthRefusedByAFullHeapLeavesTheLakeUsable() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(EighthFullHeapProbe.class, "sandbox");
        assertTrue(out.contains("probe: sandbox changed 0 broken 0 after "), out);
        assertFalse(out.contains(" after 0 refusals"), out); // the heap did refuse some
    }
}
