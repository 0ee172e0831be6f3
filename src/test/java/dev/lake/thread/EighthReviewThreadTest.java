package dev.lake.thread;

import dev.lake.testing.ChildJvm;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bugs an eighth review of the thread lakes found, each test failing on the code before its fix, and the hammer of
 * close against running owners.
 */
class EighthReviewThreadTest
{
    /**
     * init() took a lake (from the pool, or built one) and then made its lease: four heap allocations (the lease, its
     * cleaner entry, its entry in the lease set, the thread-local map's entry). A full heap refusing any of them lost
     * the lake: out of the pool, leased to no one (or recorded as leased to a thread that did not know it), its native
     * memory held until the leak safety net freed it and counted a leak. The lake now goes back.
     */
    @Test
    void aLeaseRefusedByAFullHeapGivesItsLakeBack() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(EighthThreadFullHeapProbe.class);
        final java.util.regex.Matcher m = java.util.regex.Pattern.compile(
            "probe: refused (\\d+) leased (\\d+) created (\\d+) closed (\\d+) pooled (\\d+) leaked-bytes (-?\\d+)").matcher(out);
        assertTrue(m.find(), out);
        assertNotEquals("0", m.group(1), "the heap refused some: " + out);
        assertEquals("0", m.group(2), "no lease left behind: " + out);
        assertEquals(m.group(3), m.group(4), "every lake built was closed, none lost: " + out);
        assertEquals("0", m.group(6), "every native byte back: " + out);
    }
}
