package dev.lake.slice;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The counters behind {@link SliceStats}. Allocation-side counters are written only by the allocating thread
 * (a release store, no atomic instruction); release-side counters are updated by any thread. Holds no chunk,
 * so the cleanup action of a chunk can reference it without keeping any chunk reachable.
 */
final class SliceCounters
{
    private static final VarHandle ALLOCATED_BYTES;
    private static final VarHandle SLICES_ALLOCATED;

    static
    {
        try
        {
            final MethodHandles.Lookup lookup = MethodHandles.lookup();
            ALLOCATED_BYTES = lookup.findVarHandle(SliceCounters.class, "allocatedBytes", long.class);
            SLICES_ALLOCATED = lookup.findVarHandle(SliceCounters.class, "slicesAllocated", long.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private final AtomicLong liveChunks = new AtomicLong();
    private final AtomicLong reservedBytes = new AtomicLong();
    private final AtomicLong wastedBytes = new AtomicLong();
    private final LongAdder releasedBytes = new LongAdder();
    @SuppressWarnings("unused") // through ALLOCATED_BYTES
    private volatile long allocatedBytes;
    @SuppressWarnings("unused") // through SLICES_ALLOCATED
    private volatile long slicesAllocated;

    /** Allocating thread only. */
    void sliceAllocated(final long bytes)
    {
        ALLOCATED_BYTES.setRelease(this, (long)ALLOCATED_BYTES.getOpaque(this) + bytes);
        SLICES_ALLOCATED.setRelease(this, (long)SLICES_ALLOCATED.getOpaque(this) + 1);
    }

    /** Any thread: the last reference to a slice went. */
    void sliceReleased(final long bytes)
    {
        releasedBytes.add(bytes);
    }

    /** Allocating thread only. */
    void chunkCreated(final long bytes)
    {
        liveChunks.incrementAndGet();
        reservedBytes.addAndGet(bytes);
    }

    /** Any thread. */
    void chunkFreed(final long bytes, final long wasted)
    {
        if (wasted != 0)
        {
            wastedBytes.addAndGet(-wasted);
        }
        reservedBytes.addAndGet(-bytes);
        liveChunks.decrementAndGet();
    }

    /** Allocating thread only. */
    void wasted(final long bytes)
    {
        wastedBytes.addAndGet(bytes);
    }

    SliceStats snapshot()
    {
        // Releases are read before allocations: every release counted was preceded by its allocation.
        final long released = releasedBytes.sum();
        final long allocated = (long)ALLOCATED_BYTES.getAcquire(this);
        return new SliceStats(liveChunks.get(), reservedBytes.get(), allocated - released, wastedBytes.get(),
            (long)SLICES_ALLOCATED.getAcquire(this));
    }
}
