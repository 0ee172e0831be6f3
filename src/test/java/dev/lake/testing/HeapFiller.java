package dev.lake.testing;

/**
 * Fills a child JVM's small heap to the brim, for probes of what an {@link OutOfMemoryError} in the middle of an
 * operation leaves behind: fill, then {@link #freeOne()} filler at a time and retry the operation, so that each
 * step of it meets the error in turn. One home for the fill that the heap-exhaustion probes share.
 */
public final class HeapFiller
{
    private Object[] fillers;
    private int count;

    private HeapFiller(final int capacity)
    {
        fillers = new Object[capacity];
    }

    /**
     * Allocates 32-byte objects until the heap refuses, then the smallest objects, several times over (a refusal
     * may come from the GC's overhead limit with room left).
     *
     * @param capacity most fillers to keep (the array is allocated first).
     * @return the filler, holding what it allocated.
     */
    public static HeapFiller fill(final int capacity)
    {
        final HeapFiller filler = new HeapFiller(capacity);
        for (int pass = 0; pass < 5; pass++)
        {
            filler.fillWith(pass == 0);
        }
        return filler;
    }

    private void fillWith(final boolean arrays)
    {
        try
        {
            while (count < fillers.length)
            {
                fillers[count] = arrays ? new byte[16] : new Object();
                count++;
            }
        }
        catch (final OutOfMemoryError full)
        {
            // full for this size: the caller's next pass tries smaller objects, or again
        }
    }

    /** @return how many fillers are held. */
    public int count()
    {
        return count;
    }

    /**
     * Lets go of the newest filler (collected at the next GC).
     *
     * @return false when none was left.
     */
    public boolean freeOne()
    {
        if (count == 0)
        {
            return false;
        }
        fillers[--count] = null;
        return true;
    }

    /** Lets go of every filler. */
    public void freeAll()
    {
        fillers = null;
        count = 0;
    }
}
