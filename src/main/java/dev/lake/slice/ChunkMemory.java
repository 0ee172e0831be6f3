package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The memory of one chunk and the action that frees it: run exactly once, either by the last release of the
 * chunk's reference count, or by the cleaner when the chunk became unreachable while still referenced (a
 * leaked handle or reference, or an allocator dropped without close). It references no {@link Chunk}, so
 * registering it with the cleaner keeps nothing reachable.
 *
 * <p>Slices are laid out so the cleaner can walk them: a slice starting at cursor {@code p} has its data at
 * {@code align(p + 8, dataAlign)} and an 8-byte header {@code [int length][int references]} just before the data.
 */
final class ChunkMemory implements Runnable
{
    final Region region;
    final UnsafeBuffer buffer;
    final long address;
    final int capacity;
    final SliceCounters counters;
    final SlotPool slots;
    final String description;
    final Throwable site;
    private final int stride;
    private final int dataAlign;

    /**
     * Next free byte: written by the allocating thread only; read by any thread that validates a reference (plain:
     * a reference holder's own slice always ends at or below every value it can see, see checkCounted).
     */
    int offset;
    /** Bytes at the tail abandoned by the allocator, counted in the stats until the chunk is freed. */
    int wasted;
    /** Set when the chunk is pinned in the primitive tier's table. */
    SlotPool.Node node;
    volatile boolean freedByOwner;

    ChunkMemory(
        final Region region,
        final SliceCounters counters,
        final SlotPool slots,
        final int stride,
        final int dataAlign,
        final String description,
        final Throwable site)
    {
        this.region = region;
        this.buffer = region.buffer();
        this.address = region.address();
        this.capacity = region.size();
        this.counters = counters;
        this.slots = slots;
        this.stride = stride;
        this.dataAlign = dataAlign;
        this.description = description;
        this.site = site;
    }

    @Override
    public void run()
    {
        String leak = null;
        if (!freedByOwner)
        {
            // Reached only when the chunk is unreachable: nothing can touch its memory any more.
            long liveSlices = 0;
            long liveBytes = 0;
            long cursor = 0;
            final int end = offset;
            while (cursor < end)
            {
                final int data = (int)((cursor + SliceAllocator.HEADER + dataAlign - 1) & -dataAlign);
                final int length = buffer.getInt(data - SliceAllocator.HEADER);
                final int references = buffer.getInt(data - Integer.BYTES);
                final long bytes = (long)length * stride;
                if (length <= 0 || data + bytes > end)
                {
                    break; // not a header this allocator wrote: never walk backwards or past the end
                }
                if (references > 0 || references == SliceAllocator.LOCAL_COUNT)
                {
                    liveSlices++;
                    liveBytes += bytes;
                }
                cursor = data + bytes;
            }
            counters.sliceReleased(liveBytes);
            leak = description + (liveSlices == 0 ?
                " of a SliceAllocator that" :
                " holding " + liveSlices + " unreleased slice(s) (" + liveBytes + " B)");
        }
        try
        {
            if (leak != null)
            {
                // counted and recorded before the chunk is counted freed and its region released, so whoever waits
                // for those then finds the leak
                NativeMemory.recordLeak(leak, capacity, site);
            }
        }
        finally
        {
            // whatever the report does: it runs a logging backend, and should anything ever escape it (recordLeak
            // swallows every Throwable now) it must not leave the chunk counted live and its region to a second leak
            // report
            counters.chunkFreed(capacity, wasted);
            region.close();
            final SlotPool.Node slot = node;
            if (slot != null)
            {
                slots.push(slot);
            }
        }
    }
}
