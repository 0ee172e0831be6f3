package dev.lake.pool;

import dev.lake.memory.Memory;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;
import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * What {@link FixedArena} and {@link BuddyArena} share: one off-heap {@link Region}, the per-slot bookkeeping
 * ({@link SlotTable}: generation, references, frozen length, counters, leak trackers), the object tier's
 * {@link Buffer}/{@link Bytes} plumbing, the zero-garbage handle tier's checked accessors, the leak safety net,
 * waiting for capacity ({@link WaitQueue}) and the close protocol. A "slot" is one allocation: a fixed arena's
 * slot, or a buddy arena's block named by its first minimum block.
 *
 * <p>Subclasses say where a slot starts and how big it is, claim and free capacity, and say when nothing is live.
 */
abstract class SlotArena implements AutoCloseable
{
    private static final VarHandle CLOSED;
    private static final VarHandle FREED;
    private static final VarHandle ORPHANS;

    static
    {
        try
        {
            CLOSED = MethodHandles.lookup().findVarHandle(SlotArena.class, "closed", boolean.class);
            FREED = MethodHandles.lookup().findVarHandle(SlotArena.class, "regionFreed", boolean.class);
            ORPHANS = MethodHandles.lookup().findVarHandle(SlotArena.class, "orphans", boolean.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    final String name;
    final InitPolicy initPolicy;
    final boolean autoSpill;
    final boolean leakDetection;
    final Region region;
    final UnsafeBuffer memory;
    final long address;
    final SlotTable table;
    /** {@link SlotTable#slots}, one load closer: the checked accessors read it on every call. */
    final long[] slots;
    final WaitQueue waits;
    final LongAdder failed = new LongAdder();
    final LongAdder frozenOnHeap = new LongAdder();
    final AtomicLong leaks = new AtomicLong();
    private final Source source = new Source();
    volatile boolean closed;
    @SuppressWarnings("unused") // accessed through FREED
    private volatile boolean regionFreed;
    /**
     * Per slot, what a return cut short left to do ({@link #returnSlot}): 0 for nothing, else one of the
     * {@code ORPHAN_*} stages. Written with plain stores by the thread whose return failed, then published by
     * {@link #orphans}; read and cleared under its own monitor by {@link #finishOrphans()}.
     */
    final byte[] orphaned;
    /** Whether a return was cut short since the last {@link #finishOrphans()}: one volatile read when none was. */
    volatile boolean orphans;
    /** Whether the first close() threw part-way: a later close() then runs every step again. */
    private volatile boolean closeCutShort;

    /** Stages of a return ({@link #returnSlot}): the free still to count, with or without the slot's free count. */
    static final byte ORPHAN_UNCOUNTED = 1;
    static final byte ORPHAN_UNCOUNTED_NO_FREES = 2;
    /** The slot's bytes still to zero (under {@link InitPolicy#ZERO}; then the whole slot, its dirty length lost). */
    static final byte ORPHAN_DIRTY = 3;
    /** Only the slot's capacity still to give back ({@link #free}). */
    static final byte ORPHAN_CLEAN = 4;
    /**
     * Claimed, and no handle handed out (a claim or its give-back cut short): released if the table took it (one
     * reference), given back if not (no reference, not parked).
     */
    static final byte ORPHAN_CLAIMED = 5;

    SlotArena(final String name, final Region region, final int slots, final InitPolicy initPolicy,
        final boolean autoSpill, final boolean leakDetection, final int sizeClasses, final Executor executor)
    {
        this.name = name;
        this.region = region;
        this.memory = region.buffer();
        this.address = region.address();
        this.initPolicy = initPolicy;
        this.autoSpill = autoSpill;
        this.leakDetection = leakDetection;
        this.table = new SlotTable(name, slots);
        this.slots = table.slots;
        this.orphaned = new byte[slots];
        this.waits = new WaitQueue(name, sizeClasses, this::grant, executor);
        Buffer.linkCallSites();
        Bytes.linkCallSites();
    }

    /** @return the index in {@link #memory} of the slot's first byte. */
    abstract int start(int slot);

    /** @return the bytes of a live slot. */
    abstract int capacity(int slot);

    /**
     * Gives a slot's capacity back (its references are all gone; zeroing is done). All or nothing: it returns once the
     * slot is given back and throws only before anything changed ({@link #returnSlot} relies on it).
     */
    abstract void free(int slot);

    /** @return whether no slot is live (called once closed, to free the region with the last one). */
    abstract boolean isEmpty();

    /**
     * Claims capacity for {@code size} bytes of size class {@code sizeClass}, ignoring the wait gate, and occupies
     * its slot ({@link SlotTable#occupy}: one reference, writing, counted as an allocation).
     *
     * @return the handle of the slot, or {@link FixedArena#NO_HANDLE} when there is none right now.
     * @throws ArenaClosedException if the arena is closed.
     */
    abstract long claimHandle(int sizeClass, int size);

    /**
     * Validates a request.
     *
     * @return its size class.
     * @throws IllegalArgumentException if the size is not positive.
     * @throws RequestTooLargeException if no allocation of this arena can ever hold it.
     */
    abstract int sizeClass(int size);

    /** @return the error a full arena reports. */
    abstract ArenaFullException full();

    /**
     * @return the arena's name (messages, metrics, JFR).
     */
    public final String name()
    {
        return name;
    }

    /**
     * @return what fresh capacity reads.
     */
    public final InitPolicy initPolicy()
    {
        return initPolicy;
    }

    /**
     * @return whether buffers spill to the heap instead of failing when they outgrow their capacity.
     */
    public final boolean autoSpill()
    {
        return autoSpill;
    }

    /**
     * @return whether {@link #close()} was called.
     */
    public final boolean isClosed()
    {
        return closed;
    }

    /**
     * @return whether the region's memory has been freed (closed and nothing live).
     */
    public final boolean isRegionFreed()
    {
        return regionFreed;
    }

    /**
     * @return requests waiting for capacity now (cancelled and timed-out ones excluded). O(1), one volatile read.
     */
    public final int waiters()
    {
        return waits.waiters();
    }

    /**
     * Allocates a buffer of at least {@code size} bytes, waiting for capacity if there is none now. Completes at
     * once (no queueing) when capacity is free and nobody waits; otherwise the request queues FIFO behind earlier
     * waiters (see the class comment of {@link WaitQueue}: the oldest request is served first, over all sizes).
     *
     * <p>The future is completed by the thread that frees the capacity (a release, a leak reclaim), so
     * dependent stages ({@code thenAccept}...) run on that thread unless the arena was built with a completion
     * executor: keep them short and never block in them. Cancel the future, or give it a timeout with
     * {@code orTimeout}, to stop waiting: capacity handed over at that very moment goes back to the arena. A
     * buffer delivered to a future its caller dropped is reclaimed by the leak safety net (with leak detection on, the
     * default; without it that capacity stays lost until the arena goes). Do not
     * {@code obtrude} a value. {@link #close()} fails the future with {@link ArenaClosedException}.
     *
     * @param size bytes wanted.
     * @return a future of the buffer.
     * @throws IllegalArgumentException if {@code size} is not positive.
     * @throws RequestTooLargeException if no allocation of this arena can ever hold {@code size} bytes (never a
     *                                  wait).
     * @throws ArenaClosedException     if the arena is closed.
     */
    public final CompletableFuture<Buffer> allocateAsync(final int size)
    {
        final int sizeClass = sizeClass(size);
        checkOpen();
        if (!waits.hasWaiters())
        {
            final Buffer buffer = claimBuffer(sizeClass, size);
            if (buffer != null)
            {
                return completed(buffer);
            }
        }
        return waits.enqueue(sizeClass, size);
    }

    /** The future of a buffer claimed at once; on a full heap the buffer goes back rather than to nobody. */
    private static CompletableFuture<Buffer> completed(final Buffer buffer)
    {
        try
        {
            return CompletableFuture.completedFuture(buffer);
        }
        catch (final Throwable t)
        {
            buffer.close();
            throw t;
        }
    }

    /**
     * Allocates a buffer of at least {@code size} bytes, blocking the calling thread up to {@code timeout} for
     * capacity (FIFO with the other waiters, as {@link #allocateAsync(int)}).
     *
     * @param size    bytes wanted.
     * @param timeout how long to wait at most; zero or negative: only what is free now.
     * @return the buffer.
     * @throws AllocationTimeoutException if no capacity came in time (the request left the queue; nothing is held).
     * @throws InterruptedException       if the thread was interrupted while waiting (the request left the queue;
     *                                    nothing is held). If the buffer was already handed over when the interrupt
     *                                    came, it is returned and the thread's interrupt status is set again; likewise
     *                                    a failure that ended the wait first (the close's
     *                                    {@link ArenaClosedException}) is thrown with the status set.
     * @throws IllegalArgumentException   if {@code size} is not positive.
     * @throws RequestTooLargeException   if no allocation can ever hold {@code size} bytes (never a wait).
     * @throws ArenaClosedException       if the arena is closed, or was closed while waiting.
     * @throws NullPointerException       if {@code timeout} is null; nothing is claimed or queued.
     * @throws OutOfMemoryError           if the heap refused the wait's own objects: the request ends first (counted
     *                                    as cancelled; a buffer granted at that moment goes back), nothing is held.
     */
    public final Buffer allocate(final int size, final Duration timeout) throws InterruptedException
    {
        Objects.requireNonNull(timeout, "timeout");
        final long nanos = saturatedNanos(timeout); // before anything is claimed or queued: it cannot fail after
        final CompletableFuture<Buffer> future = allocateAsync(size);
        try
        {
            try
            {
                return future.get(nanos, TimeUnit.NANOSECONDS);
            }
            catch (final TimeoutException ex)
            {
                final AllocationTimeoutException timedOut = new AllocationTimeoutException(name, size, timeout);
                if (future.completeExceptionally(timedOut))
                {
                    throw timedOut;
                }
                return outcome(future); // completed at the same moment: a buffer (ours) or the close error
            }
            catch (final InterruptedException ex)
            {
                // The JDK's timed get looks at the interrupt before the result, so it throws this also when the buffer
                // was handed over just before: given back, that hand-over was wasted and counted as completed for a
                // caller who got none. The request ends as cancelled only if the interrupt wins it; otherwise its
                // outcome stands and the interrupt is kept for the caller's next blocking call, as SynchronousQueue
                // does with an item already transferred.
                if (future.complete(null))
                {
                    throw ex;
                }
                Thread.currentThread().interrupt();
                return outcome(future); // a buffer (ours) or the close error
            }
            catch (final ExecutionException ex)
            {
                throw unwrap(ex.getCause());
            }
        }
        catch (final Throwable t)
        {
            // An error while waiting or making the timeout's exception (an OutOfMemoryError on a full heap): nobody
            // else holds the future, so end the request here, or it keeps counting as waiting (the gate shut for good)
            // and a buffer granted to it is lost. A no-op after the outcomes thrown above, which ended it already.
            giveUp(future);
            throw t;
        }
    }

    /**
     * Ends a request its caller no longer waits for, giving back a buffer granted at the same moment: its caller gets
     * an error, not the buffer, so the wait counts as cancelled, not completed. Best effort and allocation-free:
     * {@code complete(null)} stores a shared constant (it ends the request as cancelled), where {@code cancel} would
     * need two objects from a heap that may just have refused one. Package-private for tests.
     */
    final void giveUp(final CompletableFuture<Buffer> future)
    {
        try
        {
            if (!future.complete(null) && !future.isCompletedExceptionally())
            {
                final Buffer granted = future.getNow(null);
                if (granted != null)
                {
                    try
                    {
                        granted.close();
                    }
                    finally
                    {
                        waits.givenBack(future, granted);
                    }
                }
            }
        }
        catch (final Throwable ignored)
        {
            // the caller's own exception matters more; a failure here has no further way out
        }
    }

    /**
     * A timeout in nanoseconds, 0 for zero or negative, {@code Long.MAX_VALUE} (about 292 years, "forever") for
     * anything longer: {@code Duration.toNanos()} throws beyond that, and {@code ChronoUnit.FOREVER} is a
     * common way to say "wait as long as it takes".
     */
    static long saturatedNanos(final Duration timeout)
    {
        if (timeout.isNegative() || timeout.isZero())
        {
            return 0;
        }
        try
        {
            return timeout.toNanos();
        }
        catch (final ArithmeticException tooLong)
        {
            return Long.MAX_VALUE;
        }
    }

    /**
     * What a failed wait throws to the blocked caller: the request's own exception, unwrapped. An {@code Error}
     * (an {@code OutOfMemoryError} while handing the capacity over) is rethrown as it is, not wrapped, so that a
     * caller catching {@code IllegalStateException} for a timeout or a closed arena does not take it for one.
     */
    final RuntimeException unwrap(final Throwable cause)
    {
        if (cause instanceof RuntimeException)
        {
            return (RuntimeException)cause;
        }
        if (cause instanceof Error)
        {
            throw (Error)cause;
        }
        return new IllegalStateException(name + ": waiting failed", cause);
    }

    private Buffer outcome(final CompletableFuture<Buffer> done)
    {
        try
        {
            return done.join();
        }
        catch (final CompletionException ex)
        {
            throw unwrap(ex.getCause());
        }
    }

    /**
     * The immediate (non-waiting) path: refuses while requests wait (their capacity is reserved) or when full.
     *
     * @return a buffer or {@code null}.
     */
    final Buffer immediate(final int sizeClass, final int size)
    {
        checkOpen();
        final Buffer buffer = waits.hasWaiters() ? null : claimBuffer(sizeClass, size);
        if (buffer == null)
        {
            failed.increment();
        }
        return buffer;
    }

    /** The immediate path of the handle tier: a handle or {@link FixedArena#NO_HANDLE}. */
    final long immediateHandle(final int sizeClass, final int size)
    {
        checkOpen();
        final long handle = waits.hasWaiters() ? FixedArena.NO_HANDLE : claimHandle(sizeClass, size);
        if (handle == FixedArena.NO_HANDLE)
        {
            failed.increment();
        }
        return handle;
    }

    /** Claims and wraps capacity in a tracked buffer, ignoring the gate; {@code null} when none. */
    final Buffer claimBuffer(final int sizeClass, final int size)
    {
        if (leakDetection)
        {
            drainLeaks();
        }
        final long handle = claimHandle(sizeClass, size);
        if (handle == FixedArena.NO_HANDLE)
        {
            return null;
        }
        final int slot = (int)(handle & SlotTable.REF_MASK);
        final long generation = SlotTable.generationOf(handle);
        try
        {
            final Buffer buffer = new Buffer(source, slot, generation, start(slot), capacity(slot));
            if (leakDetection)
            {
                final Throwable site = NativeMemory.isLeakTracking() ?
                    NativeMemory.allocationSite(name + " buffer (slot " + slot + ")") : null;
                table.track(slot, new LeakTracker(buffer, table.queue, slot, generation, site));
            }
            return buffer;
        }
        catch (final Throwable t)
        {
            // an OutOfMemoryError between claim and hand-out: the slot goes back instead of being lost
            try
            {
                releaseReference(slot, generation, 0, true);
            }
            catch (final Throwable cutShort)
            {
                // the give-back cut short too (a StackOverflowError): if its CAS was not done (this thread's own
                // write, so a plain read sees it; once done, the return finishes or records itself), the slot is left
                // for finishOrphans(), with stores only: nothing else fits here
                final long m = slots[slot << SlotTable.SHIFT];
                if ((m & SlotTable.COUNT_MASK) != 0 && m >>> SlotTable.REF_BITS == generation)
                {
                    orphaned[slot] = ORPHAN_CLAIMED;
                    orphans = true;
                }
            }
            throw t;
        }
    }

    /** What the wait queue calls to serve a waiter. */
    private Buffer grant(final int sizeClass, final int size)
    {
        if (closed)
        {
            return null;
        }
        try
        {
            return claimBuffer(sizeClass, size);
        }
        catch (final ArenaClosedException ex)
        {
            return null;
        }
    }

    final void checkOpen()
    {
        if (closed)
        {
            throw closedException();
        }
    }

    /**
     * The arena's whole region as one shared Agrona buffer, for the unchecked primitive tier: a handle's bytes
     * start at {@link #offset(long)}. Nothing stops a write through it from crossing into another slot or
     * into frozen bytes; use the checked accessors ({@link #putLong(long, int, long)}...) unless the caller
     * bounds its own writes. Capacity 0 once the region is freed.
     *
     * @return the shared view.
     */
    public final UnsafeBuffer uncheckedBuffer()
    {
        return memory;
    }

    /**
     * @param handle a live handle.
     * @return the index in {@link #uncheckedBuffer()} of the handle's first byte.
     * @throws StaleHandleException if the handle is no longer live.
     */
    public final int offset(final long handle)
    {
        return start(liveSlot(handle, "reach"));
    }

    /**
     * Safe from any thread, also polled in a loop: a thread waiting for another thread's release sees it (the read
     * is opaque, so the JIT cannot hoist it out of the caller's loop).
     *
     * @param handle any {@code long}.
     * @return whether it is a live handle of this arena (a generation match, see the class comment).
     */
    public final boolean isLive(final long handle)
    {
        final long[] s = slots;
        final int at = (int)(handle & SlotTable.REF_MASK) << SlotTable.SHIFT;
        return handle > 0 && at < s.length && isLive(SlotTable.wordOpaque(s, at), handle);
    }

    /**
     * Safe from any thread, also polled in a loop (waiting for the writer's freeze, or a release): the reads are
     * opaque, so the JIT cannot hoist them out of the caller's loop. Seeing the freeze here does not publish the
     * bytes written before it (the freeze is a plain store, to keep the handle round trip fast): hand a frozen
     * handle to its readers through a queue or any other happens-before edge, as the hand-overs in pool.md do.
     *
     * @param handle a live handle.
     * @return its frozen length, or -1 while it is still writing.
     * @throws StaleHandleException if the handle is no longer live.
     */
    public final int length(final long handle)
    {
        final int length = frozenLength(liveSlot(handle, "read the length of"));
        validate(slots, handle, "read the length of"); // the length read was this handle's, not its slot's next owner's
        return length;
    }

    /**
     * Writes a long (native byte order) into a writing handle's slot. O(1), no allocation.
     *
     * @param handle a live, unfrozen handle.
     * @param index  byte index within the slot.
     * @param value  the value.
     * @throws StaleHandleException      if the handle is no longer live or is frozen.
     * @throws IndexOutOfBoundsException if {@code [index, index + 8)} is outside the slot.
     */
    public final void putLong(final long handle, final int index, final long value)
    {
        Memory.putLong(address + writeAt(handle, index, Long.BYTES), value);
    }

    /**
     * Writes an int (native byte order) into a writing handle's slot. O(1).
     *
     * @param handle a live, unfrozen handle.
     * @param index  byte index within the slot.
     * @param value  the value.
     * @throws StaleHandleException      if the handle is no longer live or is frozen.
     * @throws IndexOutOfBoundsException if the bytes are outside the slot.
     */
    public final void putInt(final long handle, final int index, final int value)
    {
        Memory.putInt(address + writeAt(handle, index, Integer.BYTES), value);
    }

    /**
     * Writes a byte into a writing handle's slot. O(1).
     *
     * @param handle a live, unfrozen handle.
     * @param index  byte index within the slot.
     * @param value  the value.
     * @throws StaleHandleException      if the handle is no longer live or is frozen.
     * @throws IndexOutOfBoundsException if the byte is outside the slot.
     */
    public final void putByte(final long handle, final int index, final byte value)
    {
        Memory.putByte(address + writeAt(handle, index, Byte.BYTES), value);
    }

    /**
     * Copies bytes from an array into a writing handle's slot. O(n).
     *
     * @param handle a live, unfrozen handle.
     * @param index  byte index within the slot.
     * @param src    the source.
     * @param offset first byte of {@code src}.
     * @param length how many bytes.
     * @throws StaleHandleException      if the handle is no longer live or is frozen.
     * @throws IndexOutOfBoundsException if a range is outside the slot or {@code src}.
     */
    public final void putBytes(final long handle, final int index, final byte[] src, final int offset, final int length)
    {
        Objects.checkFromIndexSize(offset, length, src.length);
        memory.putBytes(writeAt(handle, index, length), src, offset, length);
    }

    /**
     * Copies bytes from an Agrona buffer into a writing handle's slot. O(n).
     *
     * @param handle   a live, unfrozen handle.
     * @param index    byte index within the slot.
     * @param src      the source (checked with its own {@code boundsCheck}).
     * @param srcIndex first byte of {@code src}.
     * @param length   how many bytes.
     * @throws StaleHandleException      if the handle is no longer live or is frozen.
     * @throws IndexOutOfBoundsException if a range is outside the slot or {@code src}.
     */
    public final void putBytes(final long handle, final int index, final DirectBuffer src, final int srcIndex,
        final int length)
    {
        src.boundsCheck(srcIndex, length);
        // the source's own methods run before the handle is checked: Agrona's putBytes called them after, so a
        // source that released the handle there had the copy land in the slot's next owner
        final byte[] array = src.byteArray();
        final long from = src.addressOffset() + srcIndex;
        Memory.copy(array, from, address + writeAt(handle, index, length), length);
        Reference.reachabilityFence(src); // a Bytes source must not be reclaimed by its safety net mid-copy
    }

    /**
     * Reads a long (native byte order). Re-checks the generation after reading, so a racing stale reader throws
     * rather than return another allocation's bytes. O(1), no allocation.
     *
     * @param handle a live handle.
     * @param index  byte index: within the frozen length, or within the slot while writing.
     * @return the value.
     * @throws StaleHandleException      if the handle is no longer live.
     * @throws IndexOutOfBoundsException if the bytes are out of bounds.
     */
    public final long getLong(final long handle, final int index)
    {
        final long[] s = slots;
        final int at = readAt(s, handle, index, Long.BYTES);
        final long value = Memory.getLong(address + at);
        validate(s, handle);
        return value;
    }

    /**
     * Reads an int (native byte order), checked as {@link #getLong(long, int)}. O(1).
     *
     * @param handle a live handle.
     * @param index  byte index.
     * @return the value.
     * @throws StaleHandleException      if the handle is no longer live.
     * @throws IndexOutOfBoundsException if the bytes are out of bounds.
     */
    public final int getInt(final long handle, final int index)
    {
        final long[] s = slots;
        final int at = readAt(s, handle, index, Integer.BYTES);
        final int value = Memory.getInt(address + at);
        validate(s, handle);
        return value;
    }

    /**
     * Reads a byte, checked as {@link #getLong(long, int)}. O(1).
     *
     * @param handle a live handle.
     * @param index  byte index.
     * @return the value.
     * @throws StaleHandleException      if the handle is no longer live.
     * @throws IndexOutOfBoundsException if the byte is out of bounds.
     */
    public final byte getByte(final long handle, final int index)
    {
        final long[] s = slots;
        final int at = readAt(s, handle, index, Byte.BYTES);
        final byte value = Memory.getByte(address + at);
        validate(s, handle);
        return value;
    }

    /**
     * Copies bytes out into an array, checked as {@link #getLong(long, int)}. O(n).
     *
     * @param handle a live handle.
     * @param index  byte index.
     * @param dst    the destination.
     * @param offset first byte of {@code dst}.
     * @param length how many bytes.
     * @throws StaleHandleException      if the handle is no longer live.
     * @throws IndexOutOfBoundsException if a range is out of bounds.
     */
    public final void getBytes(final long handle, final int index, final byte[] dst, final int offset, final int length)
    {
        Objects.checkFromIndexSize(offset, length, dst.length);
        memory.getBytes(readAt(slots, handle, index, length), dst, offset, length);
        validate(slots, handle);
    }

    /**
     * Copies bytes out into an Agrona buffer, checked as {@link #getLong(long, int)}. O(n), no allocation into
     * Agrona's and Lake's own buffers; a destination of another type (code Lake does not know) gets the bytes
     * through one heap copy ({@link Memory#copyOut}), never the arena's region.
     *
     * @param handle   a live handle.
     * @param index    byte index.
     * @param dst      the destination (checked with its own {@code boundsCheck} unless expandable).
     * @param dstIndex first byte of {@code dst}.
     * @param length   how many bytes.
     * @throws StaleHandleException      if the handle is no longer live.
     * @throws IndexOutOfBoundsException if a range is out of bounds.
     */
    public final void getBytes(final long handle, final int index, final MutableDirectBuffer dst, final int dstIndex,
        final int length)
    {
        readAt(slots, handle, index, length);
        if (dst instanceof WriteView)
        {
            // a Lake buffer spills before the read, not in the middle of the copy: a spill serves waiting
            // requests on this thread, and their callbacks may release this very handle
            ((WriteView)dst).ensureCapacity(dstIndex, length);
        }
        else if (!dst.isExpandable())
        {
            dst.boundsCheck(dstIndex, length);
        }
        final int at = readAt(slots, handle, index, length);
        if (dst instanceof WriteView)
        {
            dst.putBytes(dstIndex, memory, at, length);
        }
        else
        {
            // a destination of a type Lake does not know gets a heap copy, never the arena's whole region (its
            // putBytes could close the arena and release the handle, then read the freed region)
            Memory.copyOut(memory, at, dst, dstIndex, length);
        }
        validate(slots, handle);
    }

    /**
     * Freezes a handle: from now on its first {@code length} bytes are read-only and readable, and it can be
     * shared with {@link #retain(long)}. O(1), no allocation.
     *
     * @param handle a live, writing handle.
     * @param length bytes written, 0 to the slot's capacity.
     * @throws StaleHandleException     if the handle is no longer live.
     * @throws IllegalStateException    if it is already frozen.
     * @throws IllegalArgumentException naming the length if it is out of range.
     */
    public final void freezeHandle(final long handle, final int length)
    {
        final long[] s = slots;
        final int at = (int)(handle & SlotTable.REF_MASK) << SlotTable.SHIFT;
        if (!inRange(at, s) || SlotTable.word(s, at) != (handle & ~SlotTable.REF_MASK | 1) ||
            SlotTable.word(s, at + SlotTable.LENGTH) != SlotTable.WRITING)
        {
            throw freezeRefused(handle);
        }
        final int slot = at >>> SlotTable.SHIFT;
        final int capacity = capacity(slot);
        if (length < 0 || length > capacity)
        {
            throw new IllegalArgumentException(
                name + ": frozen length must be between 0 and " + capacity + ": " + length);
        }
        SlotTable.countFrozen(s, at);
        // Plain: a release store here cost the handle round trip 1.4 ns of 13.4 (alternated runs, 2026-12-07), and the
        // bytes are published by whatever hands the handle to a reader (a queue); length(h) does not publish them
        SlotTable.putWord(s, at + SlotTable.LENGTH, length);
    }

    /** Why a freeze was refused, found again off the fast path. */
    private RuntimeException freezeRefused(final long handle)
    {
        final int slot = liveSlot(handle, "freeze");
        if (frozenLength(slot) != SlotTable.WRITING)
        {
            return new IllegalStateException(name + ": handle of slot " + slot + " is already frozen");
        }
        return new IllegalStateException(name + ": handle of slot " + slot + " is writing with several references (bug)");
    }

    /**
     * Adds a reference to a frozen handle (for another holder, another thread). O(1): one CAS.
     *
     * @param handle a live, frozen handle.
     * @throws StaleHandleException  if the handle is no longer live.
     * @throws IllegalStateException if it is not frozen yet (a writing slot has one owner), or if its slot already
     *                               holds the most references one slot can count (2<sup>27</sup> - 1, as for
     *                               {@link Bytes#retain()}); nothing changes.
     */
    public final void retain(final long handle)
    {
        final int slot = liveSlot(handle, "retain");
        final long generation = SlotTable.generationOf(handle);
        if (frozenLength(slot) == SlotTable.WRITING)
        {
            validate(slots, handle, "retain"); // still writing as this handle, not as its slot's next owner: else stale
            throw new IllegalStateException(name + ": freeze the handle of slot " + slot + " before sharing it");
        }
        table.retain(slot, generation);
    }

    /**
     * Drops a reference to a handle (frozen or still writing); the last one returns the slot (zeroed under
     * {@link InitPolicy#ZERO}) and makes every copy of the handle stale. One CAS for a reference that is not the
     * last. The last gives the slot back: a fixed arena parks it in its own word (one CAS) or clears its bitmap bit;
     * a buddy arena parks the block in a cache cell (one CAS) or takes the arena's lock and coalesces (O(orders));
     * under {@link InitPolicy#ZERO} it first zeroes the bytes written; and while requests wait for capacity it
     * serves them on the calling thread (their inline callbacks run here, unless the arena has a completion
     * executor).
     *
     * @param handle a live handle.
     * @throws StaleHandleException if the handle is no longer live (for example released twice).
     */
    public final void release(final long handle)
    {
        releaseHandle(handle);
    }

    /** {@link #release(long)}; a fixed arena first tries its one-CAS parking path. */
    void releaseHandle(final long handle)
    {
        final int slot = slotOf(handle);
        releaseReference(slot, SlotTable.generationOf(handle), capacity(slot), false);
    }

    /**
     * Drops one reference; the last one returns the slot ({@link #returnSlot}, zeroing {@code dirtyBytes} under
     * {@link InitPolicy#ZERO}). A fixed arena parks the slot instead where it can.
     *
     * @param objectTier whether the reference is a {@code Buffer}'s or a {@code Bytes}' (its allocation may have a
     *                   leak tracker); {@code false} for a handle of the primitive tier, which never has one.
     * @throws StaleHandleException if the generation is no longer current.
     */
    void releaseReference(final int slot, final long generation, final int dirtyBytes, final boolean objectTier)
    {
        if (table.release(slot, generation))
        {
            returnSlot(slot, generation, dirtyBytes, ORPHAN_UNCOUNTED);
        }
    }

    /**
     * Refuses new allocations from now on and fails every waiting request with {@link ArenaClosedException}
     * (no thread stays parked). Live buffers, bytes and handles stay valid; the region is freed now if nothing is
     * live, otherwise when the last allocation is released. Idempotent.
     *
     * @throws OutOfMemoryError only if a full heap refused failing a waiting request (its exception and its
     *                          future's completion are heap objects) or the removal of the arena's JFR hook (JDK
     *                          code that allocates): the arena is closed and its region freed as above all the same,
     *                          and a later {@code close()} fails the requests still waiting and removes the hook. A
     *                          later {@code close()} also finishes any other step a first one was cut short in (a
     *                          {@link StackOverflowError}): parked or cached slots given back, the region freed.
     */
    @Override
    public void close()
    {
        if (!CLOSED.compareAndSet(this, false, true))
        {
            // A later close(), or one racing the first: fails what still waits, at once (not held up behind the
            // first's cache flush). If the first was cut short (a full heap failing a waiter, a StackOverflowError in
            // the cache flush or the region's free), it also runs every other step again, each a no-op once done:
            // before, an arena with nothing live then kept its region until the GC's safety net freed it as a leak.
            try
            {
                waits.close(false);
            }
            finally
            {
                if (closeCutShort)
                {
                    onClose();
                    finishClose();
                }
                else
                {
                    removeJfrHook();
                }
            }
            return;
        }
        try
        {
            onClose();
            try
            {
                // On a full heap failing a waiter is refused (the exception and the future's completion are heap
                // objects): the request stays queued and this throws, after the rest below, so that a retry fails
                // it. Before, the refusal was only logged and the request could wait for ever.
                waits.close(true);
            }
            finally
            {
                finishClose();
            }
        }
        catch (final Throwable cutShort)
        {
            closeCutShort = true; // a store only: the next close() does it all again
            throw cutShort;
        }
    }

    /** close()'s last steps, each idempotent: reclaimed leaks, the region if nothing is live, the JFR hook. */
    private void finishClose()
    {
        drainLeaks();
        freeRegionIfEmpty();
        // Last, after the region is freed: the Flight Recorder's removal is JDK code that allocates on the heap (an
        // iterator of its hook list), so on a full heap it threw OutOfMemoryError; run first, it left the arena
        // closed with its region held (a retry did nothing) and the hook registered for good. Now such a close has
        // freed what it could, and the removal is retried by the next close().
        removeJfrHook();
    }

    /** Subclass work at close, before waiters are failed (cache flush, parked slots). */
    abstract void onClose();

    /**
     * Removes the arena's periodic JFR hook, if it has one; idempotent, and retried by a later call if it throws.
     */
    abstract void removeJfrHook();

    /** What Buffer and Bytes call: kept off the public API so that only checked handles reach it. */
    private final class Source implements SlotSource
    {
        @Override
        public String name()
        {
            return name;
        }

        @Override
        public UnsafeBuffer memory()
        {
            return memory;
        }

        @Override
        public boolean autoSpill()
        {
            return autoSpill;
        }

        @Override
        public void retain(final int slot, final long generation)
        {
            table.retain(slot, generation);
        }

        @Override
        public void release(final int slot, final long generation, final int dirtyBytes)
        {
            releaseReference(slot, generation, dirtyBytes, true);
        }

        @Override
        public void frozen(final int slot)
        {
            table.bump(slot, SlotTable.FROZEN);
        }

        @Override
        public void frozenOnHeap()
        {
            frozenOnHeap.increment();
        }

        @Override
        public void spilled(final int slot)
        {
            table.bump(slot, SlotTable.SPILLS);
        }
    }

    final int slotOf(final long handle)
    {
        final int slot = (int)(handle & SlotTable.REF_MASK);
        if (handle <= 0 || slot >= table.size())
        {
            throw notAHandle(handle);
        }
        return slot;
    }

    private StaleHandleException notAHandle(final long handle)
    {
        return new StaleHandleException(name + ": 0x" + Long.toHexString(handle) + " is not a handle of this arena");
    }

    /**
     * The slot of a live handle: in range, its generation current, referenced. One opaque read of the meta word (see
     * {@link SlotTable}'s memory-order note): a plain one was hoisted out of a caller's loop by the JIT, so a thread
     * polling {@link #length(long)} (or {@code handleCapacity}) never saw another thread's release.
     *
     * @throws StaleHandleException if not.
     */
    final int liveSlot(final long handle, final String action)
    {
        final long[] s = slots;
        final int at = (int)(handle & SlotTable.REF_MASK) << SlotTable.SHIFT;
        if (handle <= 0 || at >= s.length)
        {
            throw notAHandle(handle);
        }
        final long m = SlotTable.wordOpaque(s, at);
        if (!isLive(m, handle))
        {
            throw table.stale(m, at >>> SlotTable.SHIFT, SlotTable.generationOf(handle), action);
        }
        return at >>> SlotTable.SHIFT;
    }

    /**
     * Whether a slot's record index ({@code slot << SHIFT}, never negative) is inside the table. A handle that is
     * not positive needs no test of its own on the fast paths: its generation bits never match a meta word
     * (generations start at 1 and meta words are positive).
     */
    static boolean inRange(final int at, final long[] s)
    {
        return at < s.length;
    }

    /**
     * @return whether meta word {@code m} is live at {@code handle}'s generation: 1 to {@link SlotTable#COUNT_MASK}
     *     references and nothing else in its low bits, one test.
     */
    private static boolean isLive(final long m, final long handle)
    {
        final long x = m ^ (handle & ~SlotTable.REF_MASK); // the low bits of m if the generation matches
        return ((x - 1) | (SlotTable.COUNT_MASK - x)) >= 0;
    }

    /**
     * @return the frozen length of a live slot (in range), or {@link SlotTable#WRITING}. Opaque, as in
     *     {@link #liveSlot}: a thread polling {@link #length(long)} for the writer's freeze must see it.
     */
    private int frozenLength(final int slot)
    {
        return (int)SlotTable.wordOpaque(slots, (slot << SlotTable.SHIFT) + SlotTable.LENGTH);
    }

    /**
     * Checks a write of {@code length} bytes at {@code index} by {@code handle}: it must be live and writing (so it
     * holds its slot's one reference: retain refuses a writing handle) and the bytes inside the slot.
     *
     * @return the index in the region of the first byte.
     */
    private int writeAt(final long handle, final int index, final int length)
    {
        final long[] s = slots;
        final int at = (int)(handle & SlotTable.REF_MASK) << SlotTable.SHIFT;
        // opaque, not plain: a writer looping on a handle another thread releases must see the release at some
        // point; a plain read is loop-invariant and the JIT hoists it, so such a writer never threw and kept writing
        // into the slot's next owner (a write has no re-validation after it, unlike a read)
        if (!inRange(at, s) || SlotTable.wordOpaque(s, at) != (handle & ~SlotTable.REF_MASK | 1) ||
            SlotTable.word(s, at + SlotTable.LENGTH) != SlotTable.WRITING)
        {
            throw writeRefused(handle);
        }
        final int slot = at >>> SlotTable.SHIFT;
        final int capacity = capacity(slot);
        if ((index | length) < 0 || length > capacity - index)
        {
            throw outside(index, length, "slot's", capacity);
        }
        return start(slot) + index;
    }

    /** Why a write was refused, found again off the fast path. */
    private RuntimeException writeRefused(final long handle)
    {
        final int slot = liveSlot(handle, "write");
        if (frozenLength(slot) != SlotTable.WRITING)
        {
            return new StaleHandleException(name + ": handle of slot " + slot + " is frozen: it can no longer write");
        }
        return new IllegalStateException(name + ": handle of slot " + slot + " is writing with several references (bug)");
    }

    /** Why a read was refused, found again off the fast path. */
    private RuntimeException readRefused(final long handle)
    {
        liveSlot(handle, "read");
        return new IllegalStateException(name + ": handle 0x" + Long.toHexString(handle) + " was refused (bug)");
    }

    private IndexOutOfBoundsException outside(final int index, final int length, final String what, final int limit)
    {
        return new IndexOutOfBoundsException(name + ": index=" + index + " length=" + length +
            " is outside the " + what + " " + limit + " bytes");
    }

    private int readAt(final long[] s, final long handle, final int index, final int length)
    {
        final int at = (int)(handle & SlotTable.REF_MASK) << SlotTable.SHIFT;
        if (!inRange(at, s) || !isLive(SlotTable.word(s, at), handle))
        {
            throw readRefused(handle);
        }
        final int slot = at >>> SlotTable.SHIFT;
        final int frozen = (int)SlotTable.word(s, at + SlotTable.LENGTH);
        final int limit = frozen == SlotTable.WRITING ? capacity(slot) : frozen;
        if ((index | length) < 0 || length > limit - index)
        {
            throw outside(index, length, "handle's", limit);
        }
        return start(slot) + index;
    }

    /**
     * After a read: throws if the handle's slot changed owner, so that a racing stale reader never returns another
     * allocation's bytes. The fence keeps the read before this check.
     */
    final void validate(final long[] s, final long handle)
    {
        validate(s, handle, "read");
    }

    /** {@link #validate(long[], long)} for a stale refusal that names {@code action} ("retain", "size", ...). */
    final void validate(final long[] s, final long handle, final String action)
    {
        VarHandle.acquireFence();
        final int at = (int)(handle & SlotTable.REF_MASK) << SlotTable.SHIFT;
        final long m = SlotTable.wordVolatile(s, at); // readAt range-checked this handle against s
        // the check before the read found the slot live at this generation; only a free moves a generation on
        if ((m ^ handle) >>> SlotTable.REF_BITS != 0)
        {
            throw table.stale(m, at >>> SlotTable.SHIFT, SlotTable.generationOf(handle), action);
        }
    }

    /** {@link #returnSlot(int, long, int, byte)} of a slot whose free is counted already (or was never claimed). */
    final void returnSlot(final int slot, final int dirtyBytes)
    {
        returnSlot(slot, 0L, dirtyBytes, ORPHAN_DIRTY);
    }

    /**
     * The last reference of a slot is gone (the CAS that moved its generation on is done, so no handle can release it
     * again): counts the free, zeroes what was written (ZERO), frees the slot, serves waiters.
     *
     * <p>Cut short part-way (a {@link StackOverflowError} at one of its calls, the release made deep in a recursion),
     * the slot would be lost for good: marked, no reference left, never handed out again, and a closed arena's
     * region never freed. So the stage reached is kept with plain stores (nothing else fits at the edge of the
     * stack) and {@link #finishOrphans()} does the rest on the next {@link #drainLeaks()}: when the arena is full,
     * on {@link #close()}, on {@code metrics()} and on object-tier allocations. Zero cost when nothing fails.
     *
     * @param stage {@link #ORPHAN_UNCOUNTED} (or {@link #ORPHAN_UNCOUNTED_NO_FREES}) when the free is still to count,
     *              with {@code generation} the one released; {@link #ORPHAN_DIRTY} when it is counted.
     */
    final void returnSlot(final int slot, final long generation, final int dirtyBytes, final byte stage)
    {
        byte reached = stage;
        try
        {
            if (reached != ORPHAN_DIRTY)
            {
                table.afterFree(slot, generation, reached == ORPHAN_UNCOUNTED);
                reached = ORPHAN_DIRTY;
            }
            if (initPolicy == InitPolicy.ZERO && dirtyBytes > 0)
            {
                Memory.fill(address + start(slot), Math.min(dirtyBytes, capacity(slot)), (byte)0);
            }
            reached = ORPHAN_CLEAN;
            free(slot);
            reached = 0;
            if (closed)
            {
                freeRegionIfEmpty();
            }
            waits.signal();
        }
        catch (final Throwable ex)
        {
            // stores only, no call: the slot (if not given back yet), then the flag that publishes it; the region's
            // free and the waiters' signal, if those were cut short, are redone by finishOrphans() too
            if (reached != 0)
            {
                orphaned[slot] = reached;
            }
            orphans = true;
            throw ex;
        }
    }

    /**
     * Finishes the returns (and claims) that were cut short. Rare: one volatile read when none was. Under its own
     * monitor, one CAS on the flag and a plain scan, O(slots), when one was.
     *
     * @return how many slots it gave back.
     */
    final int finishOrphans()
    {
        if (!orphans)
        {
            return 0;
        }
        int finished = 0;
        synchronized (orphaned)
        {
            // cleared by a CAS, not a store: reading the last true (of whichever return set it) is what makes that
            // return's plain stores visible to the scan; a return cut short after the CAS sets it again
            if (!ORPHANS.compareAndSet(this, true, false))
            {
                return 0;
            }
            for (int slot = 0; slot < orphaned.length; slot++)
            {
                final byte stage = orphaned[slot];
                if (stage == ORPHAN_CLAIMED)
                {
                    orphaned[slot] = 0;
                    finished += finishClaim(slot);
                }
                else if (stage != 0)
                {
                    orphaned[slot] = 0; // before the free: once free, the slot may be handed out and orphaned anew
                    if (stage < ORPHAN_DIRTY)
                    {
                        table.afterFree(slot, table.freedGeneration(slot), stage == ORPHAN_UNCOUNTED);
                    }
                    if (stage <= ORPHAN_DIRTY && initPolicy == InitPolicy.ZERO)
                    {
                        Memory.fill(address + start(slot), capacity(slot), (byte)0);
                    }
                    free(slot);
                    finished++;
                }
            }
        }
        if (closed)
        {
            freeRegionIfEmpty();
        }
        waits.signal();
        return finished;
    }

    final void freeRegionIfEmpty()
    {
        if (isEmpty() && FREED.compareAndSet(this, false, true))
        {
            region.close();
        }
    }

    final ArenaClosedException closedException()
    {
        return new ArenaClosedException(name + " is closed: no new allocations");
    }

    /** {@link #finishOrphans()} for {@link #ORPHAN_CLAIMED}. @return 1 if it gave the slot back. */
    private int finishClaim(final int slot)
    {
        final long m = table.meta(slot);
        if ((m & SlotTable.COUNT_MASK) != 0)
        {
            releaseReference(slot, SlotTable.generationOf(m), capacity(slot), true); // the reference nobody got
            return 1;
        }
        if ((m & SlotTable.PARKED) == 0)
        {
            free(slot); // claimed, never taken by the table
            return 1;
        }
        return 0;
    }

    /**
     * Reclaims the slots of allocations whose every handle became unreachable, and finishes the returns cut short
     * ({@link #finishOrphans()}). @return how many slots came back.
     */
    final int drainLeaks()
    {
        int reclaimed = finishOrphans();
        Reference<?> ref;
        while ((ref = table.queue.poll()) != null)
        {
            final LeakTracker tracker = (LeakTracker)ref;
            if (table.isTracked(tracker))
            {
                final int capacity = capacity(tracker.slot);
                if (table.reclaim(tracker.slot, tracker.generation))
                {
                    // Counted before the slot goes back: giving it back may serve a waiting request on this thread,
                    // whose stages then saw the free of this leak but not the leak. The report comes after: a user's
                    // logging backend must never cost capacity.
                    leaks.incrementAndGet();
                    returnSlot(tracker.slot, tracker.generation, capacity, ORPHAN_UNCOUNTED);
                    reclaimed++;
                    NativeMemory.recordLeak(name + " buffer (slot " + tracker.slot + ") not released", capacity,
                        tracker.site);
                }
            }
        }
        return reclaimed;
    }
}
