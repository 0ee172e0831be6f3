package dev.lake.thread;

import dev.lake.linear.Lake;
import dev.lake.memory.NativeMemory;
import dev.lake.testing.HeapFiller;

/**
 * Child JVM of {@link EighthReviewThreadTest}: fills a small heap, then calls {@link ThreadLakes#init()} again and
 * again, letting go of one heap filler before each call so that the {@link OutOfMemoryError} meets each of its heap
 * allocations in turn (the lease, its cleaner entry, the lease set, the thread-local map), releasing after each
 * success. Then frees the heap, closes the thread lakes and prints
 * {@code probe: refused R leased L created C closed D pooled P leaked-bytes B}.
 */
public final class EighthThreadFullHeapProbe
{
    private EighthThreadFullHeapProbe()
    {
    }

    public static void main(final String[] args)
    {
        final long baseline = NativeMemory.reservedBytes();
        final ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(1).build();
        for (int i = 0; i < 3; i++) // links every path, and pools the one lake, before the heap is full
        {
            final Lake lake = lakes.init();
            lake.allocate(8);
            lakes.release();
        }
        int refused = 0;
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        for (int i = 0; i < 400; i++)
        {
            if (!fillers.freeOne())
            {
                break;
            }
            try
            {
                lakes.init();
                lakes.release();
            }
            catch (final OutOfMemoryError refusedByTheHeap)
            {
                refused++;
            }
        }
        fillers.freeAll();
        lakes.release(); // in case a refusal came after the lease was recorded
        final ThreadLakes.Stats stats = lakes.stats();
        lakes.close();
        final ThreadLakes.Stats after = lakes.stats();
        System.out.println("probe: refused " + refused + " leased " + stats.leased() + " created " + after.created() +
            " closed " + after.closed() + " pooled " + after.pooled() + " leaked-bytes " +
            (NativeMemory.reservedBytes() - baseline));
        System.out.flush();
    }
}
