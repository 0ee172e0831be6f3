package dev.lake.slice;

import dev.lake.memory.Memory;
import dev.lake.memory.NativeMemory;
import dev.lake.testing.HeapFiller;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The sixth hostile review of the slice allocator, its handles and views.
 */
class SixthReviewSliceTest
{
    /**
     * An {@code OutOfMemoryError} while an allocator is built (its counters, slot pool, window, table, or any step of
     * its first chunk) holds and counts nothing: no native memory stays reserved and no leak is reported by the
     * safety net later. A child JVM with a small, nearly full heap builds allocators until the heap refuses them at
     * every step, closing each one built.
     */
    @Test
    void anAllocatorWhoseBuildRunsOutOfHeapHoldsNothingAndReportsNoLeak() throws Exception
    {
        final String out = run(BuildHeapExhaustionProbe.class);
        assertTrue(out.contains("probe: native 0 leaks 0 after"), out);
        assertFalse(out.contains(" after 0 refusals"), out); // the heap did refuse some builds
    }

    /**
     * {@code close()} of a strict allocator nobody had bound binds the closer, and that gave the closer a counter cell
     * from the heap after the owner CAS: on a full heap, {@code close()} threw {@code OutOfMemoryError} and left the
     * allocator open and confined to the closer (a failed call that changed state); an allocator dropped after that
     * close went to the safety net, counted as a leak. A child JVM builds allocators, fills its heap and closes them
     * all: no close may fail, no leak may be counted.
     */
    @Test
    void closingAnUnboundAllocatorOnAFullHeapNeverFailsNorLeaks() throws Exception
    {
        final String out = run(CloseOnFullHeapProbe.class);
        assertTrue(out.contains("probe: failed closes 0 open 0 native 0 leaks 0"), out);
    }

    private static String run(final Class<?> probe) throws Exception
    {
        return dev.lake.testing.ChildJvm.runOnSmallHeap(probe);
    }

    /** The child JVM of {@link #closingAnUnboundAllocatorOnAFullHeapNeverFailsNorLeaks()}. */
    public static final class CloseOnFullHeapProbe
    {
        private CloseOnFullHeapProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            final SliceAllocator.Builder builder = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64);
            builder.build().close(); // links the paths before the heap is full
            final long reserved = NativeMemory.reservedBytes();
            final long leaks = NativeMemory.leaks();
            final SliceAllocator[] allocators = new SliceAllocator[20];
            for (int i = 0; i < allocators.length; i++)
            {
                allocators[i] = builder.build();
            }
            int failed = 0;
            final HeapFiller fillers = HeapFiller.fill(1 << 21);
            for (final SliceAllocator a : allocators)
            {
                try
                {
                    a.close();
                }
                catch (final OutOfMemoryError ex)
                {
                    failed++;
                }
            }
            fillers.freeAll();
            int open = 0;
            for (int i = 0; i < allocators.length; i++)
            {
                open += allocators[i].isClosed() ? 0 : 1;
                allocators[i] = null; // dropped, as a caller whose close failed would
            }
            for (int i = 0; i < 50; i++)
            {
                System.gc();
                Thread.sleep(10); // the safety net's cleaner frees (and counts) what was left to it
            }
            System.out.println("probe: failed closes " + failed + " open " + open + " native " +
                (NativeMemory.reservedBytes() - reserved) + " leaks " + (NativeMemory.leaks() - leaks));
            System.out.flush();
        }
    }

    /** The child JVM of {@link #anAllocatorWhoseBuildRunsOutOfHeapHoldsNothingAndReportsNoLeak()}. */
    public static final class BuildHeapExhaustionProbe
    {
        private BuildHeapExhaustionProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            final SliceAllocator.Builder builder = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64);
            builder.build().close(); // links the paths before the heap is full
            final long reserved = NativeMemory.reservedBytes();
            final long leaks = NativeMemory.leaks();
            int built = 0;
            int refused = 0;
            int closeRefused = 0;
            final HeapFiller fillers = HeapFiller.fill(1 << 21);
            final int n = fillers.count();
            while (built < 20 && refused < 3000 && fillers.freeOne())
            {
                final SliceAllocator a;
                try
                {
                    a = builder.build();
                }
                catch (final OutOfMemoryError ex)
                {
                    refused++;
                    continue;
                }
                built++;
                while (true)
                {
                    try
                    {
                        a.close(); // binds an allocator nobody bound: that may meet the full heap too, and is retried
                        break;
                    }
                    catch (final OutOfMemoryError ex)
                    {
                        closeRefused++;
                        fillers.freeOne();
                    }
                }
            }
            fillers.freeAll();
            for (int i = 0; i < 50 && NativeMemory.reservedBytes() != reserved; i++)
            {
                System.gc();
                Thread.sleep(20); // the safety net's cleaner frees (and counts) what was left to it
            }
            for (int i = 0; i < 10; i++)
            {
                System.gc();
                Thread.sleep(20);
            }
            System.out.println("probe: native " + (NativeMemory.reservedBytes() - reserved) + " leaks " +
                (NativeMemory.leaks() - leaks) + " after " + refused + " refusals and " + built + " built (" + n +
                " fillers, " + closeRefused + " closes refused)");
            System.out.flush();
        }
    }
}
