package dev.lake.slice;

import dev.lake.testing.HeapFiller;

/**
 * Child JVM of {@link NineteenthReviewSliceTest}: a strict allocator's first allocation, on the main thread, meets a
 * full heap ({@link OutOfMemoryError}); the heap is then freed and another thread makes the first allocation that
 * succeeds. With the argument {@code dedicated} the first call needs a dedicated chunk. Prints {@code probe: first-call <refused AT|ok> other <ok|refused: MESSAGE> stats-after-first STATS}.
 */
public final class NineteenthFullHeapSliceProbe
{
    private static String other = "not run";

    private NineteenthFullHeapSliceProbe()
    {
    }

    public static void main(final String[] args) throws InterruptedException
    {
        final LongInit init = i -> i;
        // "dedicated": the first call needs a chunk of its own (100 longs against a 64-long chunk), made on the full heap
        final int firstLength = args.length > 0 && args[0].equals("dedicated") ? 100 : 1;
        // link the claim's code on a heap with room: a warm-up allocator of its own
        final SliceAllocator warm = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        warm.allocateLongs(1, init).release();
        warm.close();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        String first = "ok";
        OutOfMemoryError seen = null;
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        try
        {
            alloc.allocateLongs(firstLength, init).release();
        }
        catch (final OutOfMemoryError full)
        {
            seen = full;
        }
        fillers.freeAll();
        StackTraceElement[] at = null;
        if (seen != null)
        {
            first = "refused";
            at = seen.getStackTrace();
        }
        final StringBuilder where = new StringBuilder();
        if (at != null)
        {
            for (int i = 0; i < Math.min(4, at.length); i++)
            {
                where.append(' ').append(at[i].getClassName().replace("dev.lake.slice.", "")).append('.')
                    .append(at[i].getMethodName());
            }
        }
        final SliceStats afterRefusal = alloc.stats();
        final Thread t = new Thread(() ->
        {
            try
            {
                alloc.allocateLongs(1, init).release();
                other = "ok";
            }
            catch (final IllegalStateException e)
            {
                other = "refused: " + e.getMessage();
            }
        }, "second-caller");
        t.start();
        t.join();
        System.out.println("probe: first-call " + first + " at" + where + " other " + other + " stats-after-first " + afterRefusal);
    }
}
