package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.HeapFiller;

/**
 * Child JVM of {@link EleventhFullHeapSliceTest}: the first release of a local slice in the JVM, on a heap filled to
 * the brim, retried with one heap filler let go after each refusal (as a caller that catches the error and retries
 * would); then the heap is freed and another thread, while the allocating thread still lives, takes the allocator
 * over, which is refused only while that thread holds local slices. Prints
 * {@code probe: local-release refused R rebind ok|refused: MESSAGE close ok|not run live-bytes B left-regions N}: the
 * new owner closes the allocator, after which the slice allocator's stats must count nothing live and its chunk must
 * be freed.
 */
public final class EleventhFullHeapSliceProbe
{
    private static String rebind = "not run";
    private static String closed = "not run";
    /** Diagnostics: the refusals met, printed at the end with {@code -Dprobe.verbose=true}. */
    private static final Throwable[] SEEN = new Throwable[64];

    private EleventhFullHeapSliceProbe()
    {
    }

    public static void main(final String[] args) throws InterruptedException
    {
        final long regions = NativeMemory.liveRegions();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        final SliceReader reader = alloc.allocateLocalLongs(4, i -> i, new SliceReader());
        reader.isBound(); // the probe's own query, linked on a heap with room
        int refused = 0;
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        while (reader.isBound())
        {
            try
            {
                reader.close();
            }
            catch (final OutOfMemoryError full)
            {
                refused++;
                if (refused <= SEEN.length)
                {
                    SEEN[refused - 1] = full;
                }
                if (!fillers.freeOne())
                {
                    break;
                }
            }
        }
        fillers.freeAll();
        final Thread other = new Thread(() ->
        {
            try
            {
                alloc.bindToCurrentThread();
                rebind = "ok";
                alloc.close(); // confined: the new owner closes it
                closed = "ok";
            }
            catch (final IllegalStateException e)
            {
                rebind = "refused: " + e.getMessage();
            }
        });
        other.start();
        other.join();
        System.out.println("probe: local-release refused " + refused + " rebind " + rebind + " close " + closed +
            " live-bytes " + alloc.stats().liveSliceBytes() + " left-regions " + (NativeMemory.liveRegions() - regions));
        if (Boolean.getBoolean("probe.verbose"))
        {
            for (int i = 0; i < Math.min(refused, SEEN.length); i++)
            {
                SEEN[i].printStackTrace(System.out);
            }
        }
    }
}
