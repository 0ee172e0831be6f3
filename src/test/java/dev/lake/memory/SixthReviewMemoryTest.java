package dev.lake.memory;

import dev.lake.testing.ChildJvm;
import dev.lake.testing.HeapFiller;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Findings of the sixth hostile review in the memory foundation: each test fails on the code before its fix.
 */
class SixthReviewMemoryTest
{
    /**
     * {@code NativeMemory.recordLeak} is documented never to throw because of its report: the safety net calls it
     * from the shared cleaner thread and from allocators' reclaim paths. It counted the leak and then built the
     * report and the log line on the heap, so on a full heap it threw {@code OutOfMemoryError} to its caller. A child
     * JVM with a nearly full heap records leaks as the heap gives way a little at a time: no call may throw, and every
     * call must be counted.
     */
    @Test
    void recordingALeakOnAFullHeapNeverThrowsAndAlwaysCounts() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(LeakOnFullHeapProbe.class);
        assertTrue(out.contains("probe: thrown 0 uncounted 0 after"), out);
        assertFalse(out.contains(" after 0 calls"), out);
    }

    /** The child JVM of {@link #recordingALeakOnAFullHeapNeverThrowsAndAlwaysCounts()}. */
    public static final class LeakOnFullHeapProbe
    {
        private LeakOnFullHeapProbe()
        {
        }

        public static void main(final String[] args)
        {
            final String what = "Region[64 B]"; // its constant resolved (a String made) before the heap is full
            NativeMemory.recordLeak(what, 1, null); // links the report and logging paths before the heap is full
            final long before = NativeMemory.leaks();
            int calls = 0;
            int thrown = 0;
            Throwable first = null;
            final HeapFiller fillers = HeapFiller.fill(1 << 21);
            for (int i = 0; i < 200; i++)
            {
                if (i % 4 == 3 && !fillers.freeOne())
                {
                    break;
                }
                calls++;
                try
                {
                    NativeMemory.recordLeak(what, 64, null);
                }
                catch (final Throwable t)
                {
                    if (thrown++ == 0)
                    {
                        first = t;
                    }
                }
            }
            fillers.freeAll();
            if (first != null)
            {
                first.printStackTrace(System.out);
            }
            final long uncounted = calls - (NativeMemory.leaks() - before);
            System.out.println("probe: thrown " + thrown + " uncounted " + uncounted + " after " + calls + " calls");
            System.out.flush();
        }
    }
}
