package dev.lake.slice;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The counters behind {@link SliceStats}. Allocation-side counters are written only by the allocating thread
 * (a release store, no atomic instruction). Released bytes are counted where the release happens: a release on
 * the allocating thread (the common case: every local slice, and most slices that never leave it) goes into that
 * thread's own {@link Cell} with a release store, any other thread's into a {@link LongAdder}. A cell belongs to
 * one thread for ever and only that thread writes it, whatever happens to the allocator's ownership, so no update
 * is ever lost; {@link #snapshot()} adds them all up. Holds no chunk, so the cleanup action of a chunk can
 * reference it without keeping any chunk reachable.
 */
final class SliceCounters
{
    private static final VarHandle ALLOCATED_BYTES;
    private static final VarHandle SLICES_ALLOCATED;
    private static final VarHandle RELEASED;

    static
    {
        try
        {
            final MethodHandles.Lookup lookup = MethodHandles.lookup();
            ALLOCATED_BYTES = lookup.findVarHandle(SliceCounters.class, "allocatedBytes", long.class);
            SLICES_ALLOCATED = lookup.findVarHandle(SliceCounters.class, "slicesAllocated", long.class);
            RELEASED = lookup.findVarHandle(Cell.class, "released", long.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private static final Cell[] NO_CELLS = new Cell[0];
    /** How often a snapshot reads the releases again for a moment without allocation (see {@link #snapshot()}). */
    private static final int CONSISTENT_TRIES = 32;

    private final AtomicLong liveChunks = new AtomicLong();
    private final AtomicLong reservedBytes = new AtomicLong();
    private final AtomicLong wastedBytes = new AtomicLong();
    private final LongAdder releasedBytes;
    /**
     * Released bytes the adder refused: its first contended add grows its cells from the heap, and on a full heap
     * that add throws (counting nothing, and leaving the adder consistent). The release must still complete (the
     * slice's count is already gone and cannot be taken again), so its bytes land here, in a counter that needs no
     * heap.
     */
    private final AtomicLong refusedByAdder = new AtomicLong();
    @SuppressWarnings("unused") // through ALLOCATED_BYTES
    private volatile long allocatedBytes;
    @SuppressWarnings("unused") // through SLICES_ALLOCATED
    private volatile long slicesAllocated;
    /** The allocating thread's cell; {@code null} until a thread allocates. */
    private volatile Cell ownerCell;
    /**
     * Every live cell, for the snapshot: replaced (copy on write) by the allocating thread only. The released bytes of
     * threads that terminated are folded into one cell of no thread in the same array, so that a snapshot, which
     * reads the array once, sees a dead thread's bytes exactly once: in its own cell or in the folded one.
     */
    private volatile Cell[] cells = NO_CELLS;

    SliceCounters()
    {
        this(new LongAdder());
    }

    /** @param releasedBytes the adder of releases on other threads (a test hands one that throws). */
    SliceCounters(final LongAdder releasedBytes)
    {
        this.releasedBytes = releasedBytes;
        linkCallSites();
    }

    /**
     * Calls every {@code VarHandle} access of a {@link Cell} once (each call-site descriptor), on a scratch cell, so
     * that they are linked while the allocator is built. The first call of a call site in the JVM links it, which
     * allocates on the heap: on a full heap the first last release of a slice on the allocating thread threw
     * {@link OutOfMemoryError} from {@link #sliceReleased} after the slice's count was gone (its chunk reference was
     * still given back), so the release threw with its work done (a retry is a double release) and the slice's bytes
     * stayed counted live for good.
     */
    private static void linkCallSites()
    {
        final Cell scratch = new Cell(null);
        RELEASED.setRelease(scratch, (long)RELEASED.getOpaque(scratch) + (long)RELEASED.getAcquire(scratch));
    }

    /** Allocating thread only. */
    void sliceAllocated(final long bytes)
    {
        ALLOCATED_BYTES.setRelease(this, (long)ALLOCATED_BYTES.getOpaque(this) + bytes);
        SLICES_ALLOCATED.setRelease(this, (long)SLICES_ALLOCATED.getOpaque(this) + 1);
    }

    /** @return slices allocated so far; exact on the allocating thread, which alone counts them. */
    long slicesAllocated()
    {
        return (long)SLICES_ALLOCATED.getOpaque(this);
    }

    /**
     * Any thread: the last reference to a slice went. On the allocating thread no atomic instruction.
     *
     * @param bytes the slice's element bytes.
     */
    void sliceReleased(final long bytes)
    {
        final Cell cell = ownerCell;
        if (cell != null && cell.thread == Thread.currentThread())
        {
            RELEASED.setRelease(cell, (long)RELEASED.getOpaque(cell) + bytes); // only this thread writes it
        }
        else
        {
            try
            {
                releasedBytes.add(bytes);
            }
            catch (final OutOfMemoryError full)
            {
                refusedByAdder.addAndGet(bytes);
            }
        }
    }

    /**
     * Allocating thread only: the calling thread becomes the one whose releases go to its own cell. Cells of
     * threads that terminated are folded into one cell of no thread on the way (their last writes are visible: a
     * thread's termination happens before another thread sees it dead). The folded total is published in the same
     * array write that drops their cells: published apart (a counter added to before the array was replaced), a
     * snapshot between the two writes counted a dead thread's released bytes twice, and saw live slice bytes below
     * zero.
     *
     * @param thread the allocating thread.
     */
    void bindOwner(final Thread thread)
    {
        final Cell[] current = cells;
        for (final Cell cell : current)
        {
            if (cell.thread == thread)
            {
                ownerCell = cell;
                return;
            }
        }
        Cell[] kept = new Cell[current.length + 2];
        int n = 0;
        long retired = 0;
        boolean folded = false;
        for (final Cell cell : current)
        {
            if (cell.thread != null && cell.thread.isAlive())
            {
                kept[n++] = cell;
            }
            else
            {
                // the folded cell of earlier handovers, or a terminated thread's: neither is written again
                retired += (long)RELEASED.getAcquire(cell);
                folded = true;
            }
        }
        if (folded)
        {
            final Cell dead = new Cell(null);
            RELEASED.setRelease(dead, retired);
            kept[n++] = dead;
        }
        final Cell mine = new Cell(thread);
        kept[n++] = mine;
        if (n != kept.length)
        {
            kept = Arrays.copyOf(kept, n);
        }
        cells = kept; // one write: a snapshot sees the dead cells or the folded one, never both, never neither
        ownerCell = mine;
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

    /**
     * Live slice bytes are allocated bytes minus released bytes: two counters, read one after the other. Read at
     * different moments they made a figure no moment had: a snapshot that read the releases, was preempted while the
     * owner allocated and released a thousand slices, and then read the allocations counted all of them as live. So
     * the allocations are read before and after the releases, and the releases again until no allocation came in
     * between (at most {@value #CONSISTENT_TRIES} tries): the allocations then stand still while the releases are
     * summed, and the figure lies between the live bytes at the start and at the end of the read. Under an allocation
     * load that never pauses for so long, the last read is used: releases before allocations, so every release
     * counted had its allocation counted and the figure is never below zero (it may count a slice released during
     * the read as live).
     */
    SliceStats snapshot()
    {
        long allocated = (long)ALLOCATED_BYTES.getAcquire(this);
        long released = 0;
        for (int tries = 0; tries < CONSISTENT_TRIES; tries++)
        {
            released = released();
            final long after = (long)ALLOCATED_BYTES.getAcquire(this);
            if (after == allocated)
            {
                break;
            }
            allocated = after;
        }
        return new SliceStats(liveChunks.get(), reservedBytes.get(), allocated - released, wastedBytes.get(),
            (long)SLICES_ALLOCATED.getAcquire(this));
    }

    /** Every released byte counted so far: the adder, its overflow, and every cell (one read of the array). */
    private long released()
    {
        long released = releasedBytes.sum() + refusedByAdder.get();
        for (final Cell cell : cells)
        {
            released += (long)RELEASED.getAcquire(cell);
        }
        return released;
    }

    /**
     * Released bytes counted by one thread, written by that thread only; or, with no thread, the folded total of
     * threads that terminated, written once before it is published.
     */
    static final class Cell
    {
        final Thread thread;
        @SuppressWarnings("unused") // through RELEASED
        private volatile long released;

        Cell(final Thread thread)
        {
            this.thread = thread;
        }
    }
}
