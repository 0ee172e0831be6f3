package dev.lake.pool;

import dev.lake.memory.Memory;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;
import dev.lake.memory.StaleHandleException;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * A buddy arena: variable-size allocations from power-of-two blocks of one contiguous off-heap {@link Region},
 * safe from any number of threads, producing the same {@link Buffer} and {@link Bytes} as {@link FixedArena}
 * (write, freeze, retain, slice, release, auto-spill, init policy, leak safety net) and the same zero-garbage
 * {@code long}-handle tier.
 *
 * <h2>Geometry</h2>
 * The region is {@code minBlock << maxOrder} bytes (both powers of two; up to {@value #MAX_TOTAL_BYTES} bytes and
 * {@value #MAX_MIN_BLOCKS} minimum blocks). A request of {@code n} bytes takes a block of order
 * {@code k = max(0, ceil(log2 n) - log2 minBlock)}, {@code minBlock << k} bytes; a buffer's capacity is its
 * whole block. Every block starts at a multiple of its size from the region's start (the region itself is
 * aligned to {@code min(minBlock, page)}, at least 64). Larger free blocks split on demand; on release a block
 * coalesces with its buddy as long as the buddy is free, so once every allocation is released the arena is one
 * free block again. Heap cost: about 60 bytes per minimum block (bookkeeping and free lists: 58 bytes of arrays,
 * plus one reference for the leak tracker).
 *
 * <h2>Concurrency: what is lock-free and what is not</h2>
 * <ul>
 *   <li>Lock-free: everything about a live allocation (writes, reads, freeze, retain, release of a reference that
 *   is not the last; the per-block generation and reference count are one CAS in {@link SlotTable}); and, with
 *   the free-block cache on (the default), the steady state of allocation: the last release of a block parks
 *   it in one of a few cells of its order (one CAS) and the next request of that order takes it back (one CAS),
 *   no lock, no split, no coalesce.</li>
 *   <li>Under one small lock (a test-and-test-and-set spin lock that yields after a few spins; no
 *   {@code synchronized}, no allocation, so no garbage even when contended): splitting (an allocation whose
 *   order's cache cells are empty), coalescing (a release whose cells are full), flushing the cache (when an
 *   allocation finds no free block, on {@link #metrics()} and at close). Each holds the lock for O(orders):
 *   per-order doubly-linked free lists and a bit mask of non-empty orders make finding, splitting and removing
 *   a buddy O(1) each.</li>
 * </ul>
 * Parked blocks count as in use for the buddy structure (they never coalesce while parked), so the cache can
 * delay coalescing but never lose capacity: an allocation that finds no free block flushes the cache (coalescing
 * every parked block) before it reports the arena full, and {@link #metrics()} flushes it before it counts.
 *
 * <h2>Errors</h2>
 * A request above the whole arena is a {@link RequestTooLargeException}, never a wait; "full right now" (no free
 * block of the order, even after flushing the cache and reclaiming leaks) is {@link ArenaFullException}.
 *
 * <h2>Waiting for capacity</h2>
 * {@link #allocateAsync(int)} and {@link #allocate(int, Duration)}, as for {@link FixedArena}: one FIFO JCTools
 * queue per order; the oldest request over all orders is served first and blocks younger ones until it fits,
 * and while any request waits the immediate paths refuse, so released capacity coalesces for the waiters instead
 * of being taken by a stream of small allocations. Releases do not park blocks while requests wait.
 */
public final class BuddyArena extends SlotArena
{
    /** The {@code long} that is never a valid handle: returned by {@link #tryAllocateHandle(int)} when full. */
    public static final long NO_HANDLE = 0L;

    /** Largest arena: offsets are {@code int}s. */
    public static final int MAX_TOTAL_BYTES = 1 << 30;

    /** Most minimum blocks in one arena (bookkeeping is per minimum block). */
    public static final int MAX_MIN_BLOCKS = 1 << 20;

    /** Smallest minimum block: every block can hold an aligned {@code long}. */
    public static final int MIN_MIN_BLOCK = 8;

    private static final byte NONE = 0;
    private static final byte FREE = 1;
    private static final byte ALLOCATED = 2;

    /** Bits {@link #swap} exchanges between the top and the bottom of a leaf index. */
    private static final int SWAP_BITS = 4;

    /** Cache cells per order, each on its own cache line. */
    private static final int CELLS = 4;
    private static final int PAD = Memory.CACHE_LINE / Integer.BYTES;
    private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);

    private final int totalBytes;
    private final int minBlock;
    private final int minShift;
    private final int maxOrder;
    private final boolean cache;
    private final JfrRegistration jfrHook;
    private final int swapShift;
    private final int swapMiddle;

    // Buddy structure: guarded by the lock (order[] of a live block is also read without it, after the
    // generation check that published it).
    private final byte[] order;
    private final byte[] state;
    private final int[] next;
    private final int[] prev;
    private final int[] heads;
    private final long[] freeBlocks;
    private long nonEmpty;
    private long splits;
    private long coalesces;

    /** The lock word at index {@link #PAD}, alone on its cache line. */
    private final int[] lock = new int[3 * PAD];
    /** Parked block + 1 (0 = empty) per cell; cell {@code c} of order {@code k} at {@code (k * CELLS + c + 1) * PAD}. */
    private final int[] cells;

    private BuddyArena(final Builder builder, final String name, final Region region, final int totalBytes,
        final int minBlock)
    {
        super(name, region, totalBytes / minBlock, builder.initPolicy, builder.autoSpill, builder.leakDetection,
            Integer.numberOfTrailingZeros(totalBytes / minBlock) + 1, builder.executor);
        this.totalBytes = totalBytes;
        this.minBlock = minBlock;
        this.minShift = Integer.numberOfTrailingZeros(minBlock);
        this.maxOrder = Integer.numberOfTrailingZeros(totalBytes / minBlock);
        this.cache = builder.freeBlockCache;
        final int leaves = totalBytes / minBlock;
        this.swapShift = maxOrder >= 2 * SWAP_BITS ? maxOrder - SWAP_BITS : 0;
        this.swapMiddle = swapShift == 0 ? 0 : ((1 << swapShift) - 1) & ~((1 << SWAP_BITS) - 1);
        this.order = new byte[leaves];
        this.state = new byte[leaves];
        this.next = new int[leaves];
        this.prev = new int[leaves];
        this.heads = new int[maxOrder + 1];
        this.freeBlocks = new long[maxOrder + 1];
        java.util.Arrays.fill(heads, -1);
        this.cells = new int[((maxOrder + 1) * CELLS + 2) * PAD];
        push(0, maxOrder);
        linkCallSites();
        if (builder.jfrEvents)
        {
            this.jfrHook = new JfrRegistration(this, BuddyArenaMetricsEvent.class, new JfrHook(this));
        }
        else
        {
            this.jfrHook = null;
        }
    }

    /**
     * Starts a builder for an arena of {@code totalBytes} cut into blocks of at least {@code minBlock} bytes.
     * Both must be powers of two with {@code totalBytes >= minBlock}, unless the builder is told to round them
     * ({@link Builder#roundUp(boolean)}).
     *
     * @param totalBytes the region size, 1 to {@value #MAX_TOTAL_BYTES}.
     * @param minBlock   the smallest block, {@value #MIN_MIN_BLOCK} or more.
     * @return a builder with defaults: exact geometry (no rounding), {@link InitPolicy#UNINIT}, no pre-fault, no
     *     auto-spill, leak detection on, free-block cache on, JFR events off, waiters completed on the releasing
     *     thread.
     * @throws IllegalArgumentException naming the value if a size is out of range.
     */
    public static Builder builder(final long totalBytes, final int minBlock)
    {
        Region.checkSize(totalBytes, MAX_TOTAL_BYTES, "buddy arena size");
        if (minBlock <= 0)
        {
            throw new IllegalArgumentException("minimum block must be positive: " + minBlock);
        }
        return new Builder((int)totalBytes, minBlock);
    }

    /**
     * @return the region's size: the largest block.
     */
    public int totalBytes()
    {
        return totalBytes;
    }

    /**
     * @return the smallest block (order 0).
     */
    public int minBlock()
    {
        return minBlock;
    }

    /**
     * @return the order of the whole region: it is {@code minBlock << maxOrder} bytes.
     */
    public int maxOrder()
    {
        return maxOrder;
    }

    /**
     * @param size bytes wanted, 1 to {@link #totalBytes()}.
     * @return the size of the block such a request takes: the next power of two, at least {@link #minBlock()}.
     * @throws IllegalArgumentException if {@code size} is not positive.
     * @throws RequestTooLargeException if it exceeds the arena.
     */
    public int blockSizeFor(final int size)
    {
        return minBlock << sizeClass(size);
    }

    /**
     * Allocates a writable buffer over a block of at least {@code size} bytes. O(1) from the cache, else
     * O(orders) under the lock (see the class comment).
     *
     * @param size bytes wanted, 1 to {@link #totalBytes()}.
     * @return the buffer, positioned at 0; its capacity is the whole block ({@link #blockSizeFor(int)}).
     * @throws IllegalArgumentException if {@code size} is not positive.
     * @throws RequestTooLargeException if {@code size} exceeds the whole arena.
     * @throws ArenaFullException       if no block of that order is free right now, or requests are waiting.
     * @throws ArenaClosedException     if the arena is closed.
     */
    public Buffer allocate(final int size)
    {
        final Buffer buffer = tryAllocate(size);
        if (buffer == null)
        {
            throw full();
        }
        return buffer;
    }

    /**
     * Like {@link #allocate(int)} but returns {@code null} instead of throwing when no block is free now (or
     * requests are waiting: their capacity is reserved). No exception object is created.
     *
     * @param size bytes wanted, 1 to {@link #totalBytes()}.
     * @return the buffer or {@code null}.
     * @throws IllegalArgumentException if {@code size} is not positive.
     * @throws RequestTooLargeException if {@code size} exceeds the whole arena.
     * @throws ArenaClosedException     if the arena is closed.
     */
    public Buffer tryAllocate(final int size)
    {
        return immediate(sizeClass(size), size);
    }

    /**
     * Allocates a block on the zero-garbage tier. Allocates no object.
     *
     * @param size bytes wanted, 1 to {@link #totalBytes()}.
     * @return the handle of the block, writing; its capacity is {@link #handleCapacity(long)}.
     * @throws IllegalArgumentException if {@code size} is not positive.
     * @throws RequestTooLargeException if {@code size} exceeds the whole arena.
     * @throws ArenaFullException       if no block is free right now, or requests are waiting.
     * @throws ArenaClosedException     if the arena is closed.
     */
    public long allocateHandle(final int size)
    {
        final long handle = tryAllocateHandle(size);
        if (handle == NO_HANDLE)
        {
            throw full();
        }
        return handle;
    }

    /**
     * Allocates a block on the zero-garbage tier, or returns {@link #NO_HANDLE} when none is free now (or
     * requests are waiting).
     *
     * @param size bytes wanted, 1 to {@link #totalBytes()}.
     * @return the handle or {@link #NO_HANDLE}.
     * @throws IllegalArgumentException if {@code size} is not positive.
     * @throws RequestTooLargeException if {@code size} exceeds the whole arena.
     * @throws ArenaClosedException     if the arena is closed.
     */
    public long tryAllocateHandle(final int size)
    {
        return immediateHandle(sizeClass(size), size);
    }

    /**
     * @param handle a live handle.
     * @return the bytes of its block.
     * @throws StaleHandleException if the handle is no longer live.
     */
    public int handleCapacity(final long handle)
    {
        // liveSlot's opaque read: a thread polling this for another thread's release must see it; validate after
        // the read: the block may have been freed and taken, at another size, by its next owner in between
        final int capacity = capacity(liveSlot(handle, "size"));
        validate(slots, handle, "size");
        return capacity;
    }

    /**
     * A snapshot of the arena's counters, exact once the threads using the arena are quiet. Reclaims leaked
     * blocks and flushes the free-block cache first (under the lock), so free bytes and the largest free block
     * describe fully coalesced memory. O(minimum blocks) for the summed counters.
     *
     * @return the snapshot.
     */
    public BuddyArenaMetrics metrics()
    {
        drainLeaks();
        final long[] perOrder = new long[maxOrder + 1];
        final long splitCount;
        final long coalesceCount;
        long free = 0;
        int largest = 0;
        lockArena();
        try
        {
            flushLocked();
            for (int k = 0; k <= maxOrder; k++)
            {
                perOrder[k] = freeBlocks[k] * ((long)minBlock << k);
                free += perOrder[k];
                if (freeBlocks[k] > 0)
                {
                    largest = minBlock << k;
                }
            }
            splitCount = splits;
            coalesceCount = coalesces;
        }
        finally
        {
            unlockArena();
        }
        // Frees before allocations: a free is counted after its allocation, so allocations - frees is never
        // negative (read the other way round, frees counted meanwhile made it so). While other threads allocate it
        // may count the allocations made during the read as live; it can never pass the arena's minimum blocks.
        final long frees = table.sum(SlotTable.FREES);
        final long allocations = table.sum(SlotTable.ALLOCS);
        // clamped at 0 too: the counters are read opaquely, and a weakly ordered CPU may let the later read see older
        // values than the earlier one
        final long liveBlocks = Math.max(0, Math.min(allocations - frees, totalBytes / minBlock));
        return new BuddyArenaMetrics(
            name,
            totalBytes,
            minBlock,
            maxOrder,
            allocations,
            failed.sum(),
            frees,
            table.sum(SlotTable.FROZEN) + frozenOnHeap.sum(),
            table.sum(SlotTable.SPILLS),
            leaks.get(),
            isRegionFreed() ? 0 : region.size(),
            totalBytes - free,
            liveBlocks,
            splitCount,
            coalesceCount,
            largest,
            free,
            perOrder,
            waits.metrics());
    }

    @Override
    public String toString()
    {
        return name + "[" + totalBytes + " B in blocks of " + minBlock + " B and up" + (closed ? ", closed]" : "]");
    }

    @Override
    int start(final int slot)
    {
        return swap(slot) << minShift;
    }

    @Override
    int capacity(final int slot)
    {
        return minBlock << order[swap(slot)];
    }

    /**
     * Between a block's first leaf and its slot (the index of its bookkeeping in the slot table, and of its
     * handles), both ways: the top and bottom {@value #SWAP_BITS} bits swapped. Neighbouring blocks often belong
     * to different threads, and every allocation, freeze and release writes its slot's entries; numbered by leaf,
     * up to 8 neighbours would share each cache line of those tables and two threads would bounce the lines on
     * every operation. Swapped, slots that share a line belong to blocks a sixteenth of the arena apart.
     * The identity for arenas of fewer than 256 minimum blocks.
     */
    int swap(final int index)
    {
        return (index & swapMiddle) | ((index & ((1 << SWAP_BITS) - 1)) << swapShift) | (index >>> swapShift);
    }

    @Override
    int sizeClass(final int size)
    {
        if (size <= 0)
        {
            throw new IllegalArgumentException(name + ": requested size must be positive: " + size);
        }
        if (size > totalBytes)
        {
            throw new RequestTooLargeException(name, size, totalBytes);
        }
        final int log2 = 32 - Integer.numberOfLeadingZeros(size - 1);
        return Math.max(0, log2 - minShift);
    }

    @Override
    ArenaFullException full()
    {
        long free = 0;
        lockArena();
        try
        {
            for (int k = 0; k <= maxOrder; k++)
            {
                free += freeBlocks[k] * ((long)minBlock << k);
            }
        }
        finally
        {
            unlockArena();
        }
        return new ArenaFullException(name, totalBytes, totalBytes - free, "bytes", waits.waiters());
    }

    @Override
    void removeJfrHook()
    {
        if (jfrHook != null)
        {
            jfrHook.remove();
        }
    }

    @Override
    void onClose()
    {
        lockArena();
        try
        {
            flushLocked();
        }
        finally
        {
            unlockArena();
        }
    }

    @Override
    boolean isEmpty()
    {
        lockArena();
        try
        {
            flushLocked();
            return freeBlocks[maxOrder] == 1;
        }
        finally
        {
            unlockArena();
        }
    }

    @Override
    long claimHandle(final int k, final int size)
    {
        final int slot = claim(k);
        if (slot < 0)
        {
            return NO_HANDLE;
        }
        try
        {
            final long generation = table.occupyUncounted(slot);
            slots[(slot << SlotTable.SHIFT) + SlotTable.ALLOCS_AT]++; // counted where the table took it, no call
            return SlotTable.handle(slot, generation);
        }
        catch (final Throwable cutShort)
        {
            // claimed, no handle handed out (a StackOverflowError at one of the calls): nothing deeper fits here;
            // stores only, for finishOrphans() to release the table's reference, or give the block back if it has none
            orphaned[slot] = ORPHAN_CLAIMED;
            orphans = true;
            throw cutShort;
        }
    }

    /** Claims a block of order {@code k}: its slot, or -1 when there is none right now. */
    private int claim(final int k)
    {
        if (closed)
        {
            throw closedException();
        }
        int leaf = cache ? takeParked(k) : -1;
        if (leaf < 0)
        {
            leaf = claimOrFlush(k);
            if (leaf < 0 && (leakDetection || orphans) && drainLeaks() > 0)
            {
                leaf = claimOrFlush(k);
            }
            if (leaf < 0)
            {
                return -1;
            }
        }
        if (closed)
        {
            // close() raced this claim: give the block back (and free the region if that was the last one).
            returnSlot(swap(leaf), 0);
            throw closedException();
        }
        return swap(leaf);
    }

    @Override
    void free(final int slot)
    {
        final int leaf = swap(slot);
        if (cache && !closed && !waits.hasWaiters() && park(leaf, order[leaf]))
        {
            // Dekker with close() and with a new waiter: both publish first and then flush, we park first and
            // then look, so a parked block is never stranded.
            if (closed || waits.hasWaiters())
            {
                flushRaced();
            }
            return;
        }
        lockArena();
        try
        {
            releaseLocked(leaf, order[leaf]);
        }
        finally
        {
            unlockArena();
        }
    }

    /**
     * A close or a new waiter raced a park: flushes the cache. The block is given back already (parked), so nothing
     * here may throw ({@link SlotArena#free} is all or nothing, and a return cut short after it would be finished a
     * second time): cut short (a {@link StackOverflowError} at the edge of the stack), the flush is left to
     * {@link #finishOrphans()}, whose region check ({@link #isEmpty()}) and waiters' signal flush the cache.
     */
    private void flushRaced()
    {
        try
        {
            lockArena();
            try
            {
                flushLocked();
            }
            finally
            {
                unlockArena();
            }
        }
        catch (final Throwable cutShort)
        {
            orphans = true; // a store only; the release that parked the block stands
        }
    }

    private int claimOrFlush(final int k)
    {
        lockArena();
        try
        {
            int leaf = claimLocked(k);
            if (leaf < 0 && cache && flushLocked() > 0)
            {
                leaf = claimLocked(k);
            }
            return leaf;
        }
        finally
        {
            unlockArena();
        }
    }

    // ---- the free-block cache (lock-free) ----

    @SuppressWarnings("deprecation") // Thread.getId(): threadId() only exists from JDK 19
    private static int preferredCell()
    {
        return (int)((Thread.currentThread().getId() * 0x9E3779B97F4A7C15L) >>> 62) & (CELLS - 1);
    }

    private static int cellIndex(final int k, final int cell)
    {
        return (k * CELLS + cell + 1) * PAD;
    }

    private int takeParked(final int k)
    {
        final int first = preferredCell();
        for (int i = 0; i < CELLS; i++)
        {
            final int at = cellIndex(k, (first + i) & (CELLS - 1));
            final int v = (int)INTS.getVolatile(cells, at);
            if (v != 0 && INTS.compareAndSet(cells, at, v, 0))
            {
                return v - 1;
            }
        }
        return -1;
    }

    private boolean park(final int leaf, final int k)
    {
        final int first = preferredCell();
        for (int i = 0; i < CELLS; i++)
        {
            final int at = cellIndex(k, (first + i) & (CELLS - 1));
            if ((int)INTS.getVolatile(cells, at) == 0 && INTS.compareAndSet(cells, at, 0, leaf + 1))
            {
                return true;
            }
        }
        return false;
    }

    /** Coalesces every parked block back into the buddy structure. Under the lock. @return how many. */
    private int flushLocked()
    {
        if (!cache)
        {
            return 0;
        }
        int flushed = 0;
        for (int k = 0; k <= maxOrder; k++)
        {
            for (int c = 0; c < CELLS; c++)
            {
                final int v = (int)INTS.getAndSet(cells, cellIndex(k, c), 0);
                if (v != 0)
                {
                    releaseLocked(v - 1, k);
                    flushed++;
                }
            }
        }
        return flushed;
    }

    /**
     * Calls every {@code VarHandle} access of this class once (each call-site descriptor), on the lock array's padding
     * and changing nothing, so that they are linked before the arena is handed out. The first call of a call site in
     * the JVM links it, which allocates on the heap: the first close of a buddy arena that never allocated linked the
     * unlock's {@code setRelease} (the unlock makes no VarHandle call now) after {@code closed} was set, and on a full
     * heap threw {@link OutOfMemoryError} with the region held (a retry does nothing) and the lock taken for good. Here
     * a full heap fails the build instead, whose builder frees the region.
     */
    private void linkCallSites()
    {
        final int[] scratch = lock; // index 0: padding before the lock word, never read or written elsewhere
        final boolean swapped = INTS.compareAndSet(scratch, 0, 1, 1); // 0 is not 1: no change
        final int seen = (int)INTS.getAndSet(scratch, 0, 0);
        final int now = (int)INTS.getVolatile(scratch, 0);
        VarHandle.releaseFence(); // as the unlock does
        scratch[0] = swapped ? 0 : seen | now; // 0, as it was
    }

    // ---- the buddy structure (under the lock) ----

    private void lockArena()
    {
        if (!INTS.compareAndSet(lock, PAD, 0, 1))
        {
            lockSlow();
        }
    }

    private void lockSlow()
    {
        int spins = 0;
        while (true)
        {
            if ((int)INTS.getVolatile(lock, PAD) == 0 && INTS.compareAndSet(lock, PAD, 0, 1))
            {
                return;
            }
            if (++spins < 100)
            {
                Thread.onSpinWait();
            }
            else
            {
                Thread.yield(); // the holder may be descheduled: more threads than cores
            }
        }
    }

    /**
     * A release fence and a plain store, not {@code setRelease}: the unlock runs in {@code finally} blocks, so it must
     * fit wherever the lock's CAS fitted. {@code setRelease} goes a frame deeper than {@code compareAndSet} (through
     * {@code Unsafe.putIntRelease}), so a {@link StackOverflowError} striking under the lock overflowed the unlock too
     * and left the lock taken for good (every later locked call spun for ever); the fence is one call, shallower than
     * the CAS's chain, and the store none. Same ordering: nothing written under the lock moves past the store.
     */
    private void unlockArena()
    {
        VarHandle.releaseFence();
        lock[PAD] = 0;
    }

    /** Takes a free block of order {@code k}, splitting a larger one if needed. @return its first leaf or -1. */
    private int claimLocked(final int k)
    {
        final long available = nonEmpty & (-1L << k);
        if (available == 0)
        {
            return -1;
        }
        int j = Long.numberOfTrailingZeros(available);
        final int leaf = heads[j];
        unlink(leaf, j);
        while (j > k)
        {
            j--;
            push(leaf + (1 << j), j); // the upper half stays free
            splits++;
        }
        state[leaf] = ALLOCATED;
        order[leaf] = (byte)k;
        return leaf;
    }

    /** Returns a block of order {@code k}, merging it with its buddy for as long as the buddy is free. */
    private void releaseLocked(final int leaf, final int k)
    {
        if (state[leaf] != ALLOCATED || order[leaf] != k)
        {
            throw new IllegalStateException(name + ": block " + leaf + " of order " + k + " freed twice (bug)");
        }
        state[leaf] = NONE;
        int block = leaf;
        int j = k;
        while (j < maxOrder)
        {
            final int buddy = block ^ (1 << j);
            if (state[buddy] != FREE || order[buddy] != j)
            {
                break;
            }
            unlink(buddy, j);
            state[buddy] = NONE;
            coalesces++;
            block &= ~(1 << j);
            j++;
        }
        push(block, j);
    }

    private void push(final int leaf, final int k)
    {
        state[leaf] = FREE;
        order[leaf] = (byte)k;
        final int head = heads[k];
        next[leaf] = head;
        prev[leaf] = -1;
        if (head >= 0)
        {
            prev[head] = leaf;
        }
        heads[k] = leaf;
        nonEmpty |= 1L << k;
        freeBlocks[k]++;
    }

    private void unlink(final int leaf, final int k)
    {
        final int p = prev[leaf];
        final int n = next[leaf];
        if (p >= 0)
        {
            next[p] = n;
        }
        else
        {
            heads[k] = n;
        }
        if (n >= 0)
        {
            prev[n] = p;
        }
        if (heads[k] < 0)
        {
            nonEmpty &= ~(1L << k);
        }
        freeBlocks[k]--;
    }

    /** The periodic JFR hook; holds its arena weakly so that registration never keeps an arena alive. */
    private static final class JfrHook implements Runnable
    {
        private final WeakReference<BuddyArena> arena;

        JfrHook(final BuddyArena arena)
        {
            this.arena = new WeakReference<>(arena);
        }

        @Override
        public void run()
        {
            final BuddyArena target = arena.get();
            if (target == null)
            {
                return;
            }
            final BuddyArenaMetricsEvent event = new BuddyArenaMetricsEvent();
            if (event.isEnabled())
            {
                event.set(target.metrics());
                event.commit();
            }
        }
    }

    /**
     * Builder of a {@link BuddyArena}.
     */
    public static final class Builder extends ArenaBuilder<Builder>
    {
        private final int totalBytes;
        private final int minBlock;
        private boolean roundUp;
        private boolean freeBlockCache = true;

        private Builder(final int totalBytes, final int minBlock)
        {
            this.totalBytes = totalBytes;
            this.minBlock = minBlock;
        }

        /**
         * @param roundUp whether a geometry that is not exact is rounded instead of rejected: the minimum block up
         *                to a power of two (at least {@value #MIN_MIN_BLOCK}), the total up to the minimum block
         *                times a power of two (at most {@value #MAX_TOTAL_BYTES}). Off by default: a
         *                non-power-of-two size is an {@link IllegalArgumentException} at {@link #build()}.
         * @return this builder.
         */
        public Builder roundUp(final boolean roundUp)
        {
            this.roundUp = roundUp;
            return this;
        }

        /**
         * @param freeBlockCache whether released blocks are parked in a few lock-free cells per order for the
         *                       next request of the same order (on by default). Off: every allocation and every
         *                       last release takes the lock and splits or coalesces eagerly.
         * @return this builder.
         */
        public Builder freeBlockCache(final boolean freeBlockCache)
        {
            this.freeBlockCache = freeBlockCache;
            return this;
        }

        @Override
        Builder self()
        {
            return this;
        }

        /**
         * @return a new arena; its region is allocated now.
         * @throws IllegalArgumentException naming the value if the geometry is not exact (and not rounded), the
         *                                  minimum block is below {@value #MIN_MIN_BLOCK}, the total is below the
         *                                  minimum block, or there are more than {@value #MAX_MIN_BLOCKS}
         *                                  minimum blocks.
         * @throws OutOfMemoryError         if the operating system refuses the memory, or the Java heap has no room
         *                                  for the block tables (about 60 bytes a minimum block); the region is
         *                                  then freed at once and nothing stays reserved or counted.
         * @throws IllegalStateException    if the JVM lacks {@link Memory#REQUIRED_FLAG}.
         */
        public BuddyArena build()
        {
            int block = minBlock;
            long total = totalBytes;
            if (Integer.bitCount(block) != 1 || block < MIN_MIN_BLOCK)
            {
                if (!roundUp)
                {
                    throw new IllegalArgumentException("minimum block must be a power of two of at least " +
                        MIN_MIN_BLOCK + ": " + block + " (or let the builder roundUp(true))");
                }
                if (block > MAX_TOTAL_BYTES)
                {
                    // the next power of two would overflow an int (and no arena holds one such block anyway)
                    throw new IllegalArgumentException("minimum block " + block + " is larger than the largest arena (" +
                        MAX_TOTAL_BYTES + " bytes)");
                }
                block = Math.max(MIN_MIN_BLOCK, Integer.highestOneBit(block - 1) << 1);
            }
            if (Long.bitCount(total) != 1 || total < block)
            {
                if (!roundUp)
                {
                    throw new IllegalArgumentException("arena size must be the minimum block (" + block +
                        ") times a power of two: " + total + " (or let the builder roundUp(true))");
                }
                total = Math.max(block, Long.highestOneBit(total - 1) << 1);
                if (total > MAX_TOTAL_BYTES)
                {
                    throw new IllegalArgumentException("arena size " + totalBytes + " rounds up to " + total +
                        ", above the largest arena of " + MAX_TOTAL_BYTES + " bytes");
                }
            }
            if (total / block > MAX_MIN_BLOCKS)
            {
                throw new IllegalArgumentException("too many minimum blocks: " + total / block + " (at most " +
                    MAX_MIN_BLOCKS + "): raise the minimum block above " + block);
            }
            final String arenaName = nameOrDefault("BuddyArena");
            final Region region = Region.builder(total)
                .alignment(Math.max(Region.DEFAULT_ALIGNMENT, Math.min(block, Memory.pageSize())))
                .zeroed(initPolicy == InitPolicy.ZERO)
                .preTouch(preFault)
                .build();
            try
            {
                return new BuddyArena(this, arenaName, region, (int)total, block);
            }
            catch (final Throwable ex)
            {
                // the slot table, block lists and wait queues come from the Java heap (about 60 bytes a minimum
                // block): an OutOfMemoryError there left the region reserved until a GC, then reported as a leak
                region.close();
                throw ex;
            }
        }
    }
}
