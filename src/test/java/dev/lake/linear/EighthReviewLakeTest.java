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

    /**
     * droplet(), split() and process() moved the position before making the handle: a full heap refusing the handle
     * object (or the first growth of the handle stack) threw {@link OutOfMemoryError} with the bytes allocated and no
     * handle to give them back, so the lake lost them until its next rewind below them (used() and position() off, a
     * later droplet's close no longer the last allocation). The refused call now changes nothing.
     */
    @Test
    void aHandleRefusedByAFullHeapLeavesThePositionWhereItWas() throws Exception
    {
        for (final String mode : new String[] {"droplet", "split", "process"})
        {
            final String out = ChildJvm.runOnSmallHeap(EighthFullHeapProbe.class, mode);
            assertTrue(out.contains("probe: " + mode + " changed 0 broken 0 after "), out);
            assertFalse(out.contains(" after 0 refusals"), out);
        }
    }
}
