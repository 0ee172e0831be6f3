package dev.lake.linear;

import dev.lake.memory.Memory;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;

/**
 * A fixed-capacity linear "memory lake": one off-heap {@link Region} with a bump position, owned by one
 * thread. It never grows and never frees single allocations; it rewinds (marks, snapshots, sandboxes,
 * droplet auto-rewind, reset). Everything it can do is described on {@link LakeAllocator}, which it shares
 * with its {@link LakeView}s.
 *
 * <pre>{@code
 * try (Lake lake = Lake.builder(1 << 20).preTouch(true).build())
 * {
 *     int at = lake.allocate(64);                 // primitive tier: an offset, no object
 *     lake.buffer().putLong(at, 42L);
 *     try (Sandbox s = lake.sandbox())            // speculative work, rolled back unless committed
 *     {
 *         Droplet d = lake.droplet(16);           // handle tier: checked on every access
 *         d.putLong(0, 7L);
 *         s.commit();
 *     }
 * }
 * }</pre>
 *
 * <p>{@link #close()} frees the region exactly once; afterwards the lake throws
 * {@link IllegalStateException} and its droplets, views, snapshots and sandboxes throw
 * {@link dev.lake.memory.StaleHandleException}. A lake that becomes unreachable without {@code close()} is
 * freed by the {@link NativeMemory} safety net and counted as a leak.
 *
 * <p>Cost: building is one native allocation (plus O(capacity) when zeroed or pre-touched); see
 * {@link LakeAllocator} for every operation. Not thread-safe.
 */
public final class Lake extends LakeAllocator implements AutoCloseable
{
    /** Default base alignment of the region: one cache line. */
    public static final int DEFAULT_BASE_ALIGNMENT = Memory.CACHE_LINE;

    /**
     * The largest capacity in bytes: {@code Integer.MAX_VALUE - 7}, the largest {@code int} offset that an 8-byte
     * alignment cannot carry past {@code Integer.MAX_VALUE}, so the allocation fast path runs in {@code int}
     * arithmetic as a raw bump does (7 bytes less than {@link Region#MAX_SIZE}).
     */
    public static final int MAX_CAPACITY = Integer.MAX_VALUE - (DEFAULT_ALIGNMENT - 1);

    private static final int CLOSED = 1;
    private static final int CONFINED = 2;

    private final Region region;
    /** Set once by close(). */
    boolean closed;
    /**
     * The one field every operation reads first: 0 while the lake is open and not confined to a thread, so
     * the check costs what checking {@code closed} alone would. Bit 0: closed; bit 1: confined to {@link #owner}.
     */
    int guard;
    private Thread owner;
    /**
     * Bumped by close and by every rewind anywhere in this lake that may have invalidated a view: views
     * revalidate when it changed.
     */
    long stamp;

    private Lake(final Region region, final boolean zeroing)
    {
        super(null, region.buffer(), region.address() & (Memory.pageSize() - 1), 0, region.size(), zeroing, zeroing,
            0, 0, 0);
        this.region = region;
    }

    /**
     * A lake with default options: cache-line aligned, not zeroing, not pre-touched.
     *
     * @param capacity bytes, 1 to {@link #MAX_CAPACITY}.
     * @return the open lake.
     * @throws IllegalArgumentException if {@code capacity} is out of range.
     * @throws IllegalStateException    if the JVM lacks {@link Memory#REQUIRED_FLAG}.
     * @throws OutOfMemoryError         if the operating system refuses the memory, or the Java heap has no room for the
     *                                  lake's objects; nothing is then held.
     */
    public static Lake of(final long capacity)
    {
        return builder(capacity).build();
    }

    /**
     * Starts a lake builder.
     *
     * @param capacity bytes, 1 to {@link #MAX_CAPACITY}.
     * @return a builder with the defaults of {@link #of(long)}.
     * @throws IllegalArgumentException naming the value if {@code capacity} is out of range.
     */
    public static Builder builder(final long capacity)
    {
        return new Builder(capacity);
    }

    /**
     * @return whether {@link #close()} has not been called.
     */
    public boolean isOpen()
    {
        return !closed;
    }

    /**
     * @return absolute address of offset 0 of {@link #buffer()}; only meaningful while open. Unchecked: prefer
     * the buffer.
     */
    public long address()
    {
        return region.address();
    }

    /**
     * Confines the lake to one thread (strict mode): from now on every operation of the lake, its views,
     * droplets and sandboxes from any other thread throws {@link IllegalStateException} naming both threads,
     * and touches nothing; so does asking for {@link #buffer()} (accesses through a buffer reference kept from
     * before, or through {@link #address()}, are the unchecked tier and cannot be checked). {@code null} lifts the
     * confinement. Free when off: the check folds into the closed
     * check every operation already makes. May be called from any thread (a pool hands a lake over with it).
     *
     * @param thread the only thread allowed to use the lake, or {@code null} for none.
     */
    public void confineTo(final Thread thread)
    {
        owner = thread;
        guard = (closed ? CLOSED : 0) | (thread != null ? CONFINED : 0);
        refreshFastLimit();
    }

    /**
     * @return the thread the lake is confined to, or {@code null}.
     */
    public Thread confinedTo()
    {
        return owner;
    }

    /** The slow path of the guard: closed, or confined (then the calling thread must be the owner). */
    boolean guardAllows()
    {
        if (closed)
        {
            return false;
        }
        checkConfinement();
        return true;
    }

    /** Throws if the lake is confined to a thread other than the caller. */
    void checkConfinement()
    {
        final Thread confined = owner;
        if (confined != null && confined != Thread.currentThread())
        {
            throw new IllegalStateException(this + " is confined to thread '" + confined.getName() +
                "' and was used from thread '" + Thread.currentThread().getName() + "': a lake has one owner");
        }
    }

    /**
     * Frees the region once; later calls do nothing. Every droplet, view, snapshot and sandbox of this lake
     * becomes invalid and the buffer's capacity drops to 0. O(1). A lake {@linkplain #confineTo(Thread)
     * confined} to a thread is closed by that thread only (lift the confinement first to close it elsewhere):
     * another thread must not free the memory its owner is using.
     *
     * <p>It allocates nothing on the heap, so on a full heap it still frees the memory before it returns. The lake is
     * marked closed once its region is freed, never before: should anything stop the close earlier, the lake is left
     * open and unchanged and a retry frees it.
     *
     * @throws IllegalStateException if the lake is open and confined to another thread (nothing changes).
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        checkConfinement();
        try
        {
            region.close();
        }
        finally
        {
            // the lake is marked closed once its region is, not before: a close that failed before freeing (the first
            // Region.close() in a JVM once linked code on the heap) left a closed lake whose retry did nothing and
            // whose memory waited for the safety net; a close that failed after freeing must still close the lake
            if (!region.isOpen())
            {
                closed = true;
                guard |= CLOSED;
                refreshFastLimit();
                stamp++;
            }
        }
    }

    @Override
    public String toString()
    {
        return "Lake[" + capacity() + " B" + (closed ? ", closed]" : ", used " + offset + "]");
    }

    /**
     * Builder of a {@link Lake}.
     */
    public static final class Builder
    {
        private final long capacity;
        private int alignment = DEFAULT_BASE_ALIGNMENT;
        private boolean zeroing;
        private boolean preTouch;

        private Builder(final long capacity)
        {
            this.capacity = Region.checkSize(capacity, MAX_CAPACITY, "lake capacity");
        }

        /**
         * @param alignment base address alignment of the region: a power of two up to the page size.
         * @return this builder.
         * @throws IllegalArgumentException naming the value if it is not a power of two or above the page size.
         */
        public Builder alignment(final int alignment)
        {
            this.alignment = Region.checkAlignment(alignment, Memory.pageSize());
            return this;
        }

        /**
         * @param zeroing start zeroed and wipe memory on reuse (see {@link LakeAllocator#setZeroing(boolean)}).
         * @return this builder.
         */
        public Builder zeroing(final boolean zeroing)
        {
            this.zeroing = zeroing;
            return this;
        }

        /**
         * @param preTouch write every page now, so the first allocation does not page-fault on a hot path.
         * @return this builder.
         */
        public Builder preTouch(final boolean preTouch)
        {
            this.preTouch = preTouch;
            return this;
        }

        /**
         * @return a new open lake.
         * @throws IllegalStateException if the JVM lacks {@link Memory#REQUIRED_FLAG}.
         * @throws OutOfMemoryError      if the operating system refuses the memory, or the Java heap has no room for
         *                               the lake's objects; nothing is then held.
         */
        public Lake build()
        {
            // never below 8: the allocation fast path aligns offsets, which aligns addresses only on such a base
            final Region region = Region.builder(capacity).alignment(Math.max(alignment, DEFAULT_ALIGNMENT))
                .zeroed(zeroing).preTouch(preTouch).build();
            try
            {
                return new Lake(region, zeroing);
            }
            catch (final Throwable ex)
            {
                // a full heap refusing the Lake object left the region held by nobody until a GC counted it a leak
                region.close();
                throw ex;
            }
        }
    }
}
