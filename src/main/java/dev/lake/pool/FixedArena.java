package dev.lake.pool;

import dev.lake.memory.Memory;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;
import dev.lake.memory.StaleHandleException;
import jdk.jfr.FlightRecorder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * A lock-free arena of uniform slots over one off-heap {@link Region}, safe from any number of threads.
 * Buffers written into a slot freeze into immutable, shared {@link Bytes}; the slot returns when the last
 * reference is released.
 *
 * <h2>Two tiers</h2>
 * <ul>
 *   <li>Object tier: {@link #allocate()} gives a checked {@link Buffer}; {@link Buffer#freeze()} gives
 *   {@link Bytes} ({@code retain}, {@code slice}, {@code release}). Each handle checks on every access that its
 *   memory is still its own. Costs two small objects per allocation (buffer, bytes) and, with leak detection
 *   on (the default), one phantom reference.</li>
 *   <li>Primitive tier, zero garbage: {@link #allocateHandle()} returns a {@code long} handle (slot index and
 *   generation packed); write with {@link #putLong(long, int, long)} and friends, {@link #freezeHandle},
 *   {@link #retain(long)}, {@link #release(long)}. The slot's generation is checked on every access, so a
 *   stale handle throws {@link StaleHandleException} and never reads another allocation's bytes, even after
 *   its slot was reused (reads re-check the generation after reading). Trade-off: references are counted per
 *   slot, not per holder, so a holder that keeps using a handle after its own release is detected only once
 *   the last reference is gone; a handle lost without release is not reclaimed by the leak safety net (there
 *   is no object to track); and a handle of another arena is caught only when its slot is out of range or its
 *   generation differs.</li>
 * </ul>
 *
 * <h2>Claiming a slot</h2>
 * One bit per slot in {@code long} words; a claim finds a zero bit and sets it with one CAS
 * ({@link VarHandle#compareAndExchange}); a release clears it with one atomic AND. Each bitmap word sits on its
 * own 64-byte cache line so threads working in different words never false-share, and each thread starts its
 * search at a word derived from its thread id, so threads spread over the bitmap. Lock-free: a failed CAS
 * means another thread made progress. O(1) when the starting word has a free bit; O(words) to find the last
 * free slots of a nearly full arena. No lock, and on the primitive tier no allocation, on any of these paths.
 *
 * <h2>Lifetime</h2>
 * {@link #close()} refuses new allocations at once; live {@code Bytes}, buffers and handles stay valid, and the
 * region is freed when the last of them is released (at once when none are live). A slot whose every
 * {@code Buffer}/{@code Bytes} became unreachable without release is reclaimed by the safety net, counted in
 * {@link FixedArenaMetrics#leaks()} and {@link NativeMemory#leaks()}, with its allocation site when
 * {@link NativeMemory#setLeakTracking(boolean) leak tracking} (strict mode) is on. Reclaiming happens when the
 * arena would otherwise be full, on {@link #metrics()}, on {@link #close()}, and on object-tier allocations
 * (one queue poll, no lock, when nothing leaked).
 */
public final class FixedArena implements AutoCloseable
{
    /** The {@code long} that is never a valid handle: returned by {@link #tryAllocateHandle()} when full. */
    public static final long NO_HANDLE = 0L;

    /** Most slots an arena can hold (the slot index shares a handle with the generation). */
    public static final int MAX_SLOTS = SlotTable.MAX_SLOTS;

    /** Default slot alignment. */
    public static final int DEFAULT_ALIGNMENT = 8;

    /** One bitmap word per cache line: {@code long}s between consecutive words. */
    private static final int STRIDE = Memory.CACHE_LINE / Long.BYTES;
    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle CLOSED;
    private static final VarHandle FREED;

    static
    {
        try
        {
            CLOSED = MethodHandles.lookup().findVarHandle(FixedArena.class, "closed", boolean.class);
            FREED = MethodHandles.lookup().findVarHandle(FixedArena.class, "regionFreed", boolean.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private final String name;
    private final int slotCount;
    private final int slotCapacity;
    private final int alignment;
    private final InitPolicy initPolicy;
    private final boolean autoSpill;
    private final boolean leakDetection;
    private final Region region;
    private final UnsafeBuffer memory;
    private final long address;
    private final int wordCount;
    private final long[] words;
    private final SlotTable table;
    private final LongAdder failed = new LongAdder();
    private final LongAdder frozenOnHeap = new LongAdder();
    private final AtomicLong leaks = new AtomicLong();
    private final Runnable jfrHook;
    private final Source source = new Source();
    private volatile boolean closed;
    @SuppressWarnings("unused") // accessed through FREED
    private volatile boolean regionFreed;

    private FixedArena(final Builder builder, final int slotCount, final int slotCapacity)
    {
        this.name = builder.name != null ? builder.name : "FixedArena@" + Integer.toHexString(System.identityHashCode(this));
        this.slotCount = slotCount;
        this.slotCapacity = slotCapacity;
        this.alignment = builder.alignment;
        this.initPolicy = builder.initPolicy;
        this.autoSpill = builder.autoSpill;
        this.leakDetection = builder.leakDetection;
        this.region = Region.builder((long)slotCount * slotCapacity)
            .alignment(Math.max(Region.DEFAULT_ALIGNMENT, alignment))
            .zeroed(initPolicy == InitPolicy.ZERO)
            .preTouch(builder.preFault)
            .build();
        this.memory = region.buffer();
        this.address = region.address();
        this.wordCount = (slotCount + 63) >>> 6;
        this.words = new long[(wordCount + 2) * STRIDE];
        final int tail = slotCount & 63;
        if (tail != 0)
        {
            // Bits past the last slot are set once and for all, so a claim never finds them free.
            words[index(wordCount - 1)] = -1L << tail;
        }
        this.table = new SlotTable(name, slotCount);
        if (builder.jfrEvents)
        {
            final Runnable hook = new JfrHook(this);
            FlightRecorder.addPeriodicEvent(FixedArenaMetricsEvent.class, hook);
            this.jfrHook = hook;
        }
        else
        {
            this.jfrHook = null;
        }
    }

    /**
     * Starts a builder for {@code slotCount} slots of {@code slotCapacity} bytes each.
     *
     * @param slotCount    slots, 1 to {@link #MAX_SLOTS}.
     * @param slotCapacity bytes per slot, at least 1 (rounded up to the alignment).
     * @return a builder with defaults: alignment {@value #DEFAULT_ALIGNMENT}, {@link InitPolicy#UNINIT}, no
     *     pre-fault, no auto-spill, leak detection on, JFR events off.
     * @throws IllegalArgumentException naming the value if a count or capacity is out of range.
     */
    public static Builder builder(final int slotCount, final int slotCapacity)
    {
        if (slotCount <= 0 || slotCount > MAX_SLOTS)
        {
            throw new IllegalArgumentException("slot count must be between 1 and " + MAX_SLOTS + ": " + slotCount);
        }
        return new Builder(slotCount, 0, slotCapacity);
    }

    /**
     * Starts a builder sized by total capacity: as many slots of {@code slotCapacity} (after rounding to the
     * alignment) as fit in {@code totalBytes}.
     *
     * @param totalBytes   the region size to cut into slots, 1 to {@link Region#MAX_SIZE}.
     * @param slotCapacity bytes per slot, at least 1.
     * @return a builder with the same defaults as {@link #builder(int, int)}.
     * @throws IllegalArgumentException naming the value if a size is out of range; {@link Builder#build()}
     *                                  throws if not even one slot fits.
     */
    public static Builder builderForCapacity(final long totalBytes, final int slotCapacity)
    {
        Region.checkSize(totalBytes, Region.MAX_SIZE, "arena capacity");
        return new Builder(0, totalBytes, slotCapacity);
    }

    private static int index(final int word)
    {
        return (word + 1) * STRIDE;
    }

    /**
     * @return the arena's name (messages, metrics, JFR).
     */
    public String name()
    {
        return name;
    }

    /**
     * @return slots in the arena.
     */
    public int slotCount()
    {
        return slotCount;
    }

    /**
     * @return bytes per slot, after rounding up to the alignment.
     */
    public int slotCapacity()
    {
        return slotCapacity;
    }

    /**
     * @return the slot alignment: every slot starts at a multiple of it.
     */
    public int alignment()
    {
        return alignment;
    }

    /**
     * @return what fresh capacity reads.
     */
    public InitPolicy initPolicy()
    {
        return initPolicy;
    }

    /**
     * @return whether buffers spill to the heap instead of failing when they outgrow their slot.
     */
    public boolean autoSpill()
    {
        return autoSpill;
    }

    /**
     * @return whether {@link #close()} was called.
     */
    public boolean isClosed()
    {
        return closed;
    }

    /**
     * @return whether the region's memory has been freed (closed and no slot live).
     */
    public boolean isRegionFreed()
    {
        return regionFreed;
    }

    /**
     * Allocates a writable buffer over one free slot. Lock-free; O(1) typically (see the class comment).
     *
     * @return the buffer, positioned at 0, capacity {@link #slotCapacity()}.
     * @throws ArenaFullException    if every slot is in use right now.
     * @throws IllegalStateException if the arena is closed.
     */
    public Buffer allocate()
    {
        final Buffer buffer = tryAllocate();
        if (buffer == null)
        {
            throw full();
        }
        return buffer;
    }

    /**
     * Allocates a writable buffer able to hold at least {@code minCapacity} bytes.
     *
     * @param minCapacity bytes the caller needs, 1 to {@link #slotCapacity()}.
     * @return the buffer.
     * @throws RequestTooLargeException if {@code minCapacity} exceeds a slot (even with auto-spill: spilling is
     *                                  for buffers that outgrow their slot, not for requests that never fit).
     * @throws IllegalArgumentException if {@code minCapacity} is not positive.
     * @throws ArenaFullException       if every slot is in use right now.
     * @throws IllegalStateException    if the arena is closed.
     */
    public Buffer allocate(final int minCapacity)
    {
        checkRequest(minCapacity);
        return allocate();
    }

    /**
     * Like {@link #allocate(int)} but returns {@code null} instead of throwing when the arena is full.
     *
     * @param minCapacity bytes the caller needs, 1 to {@link #slotCapacity()}.
     * @return the buffer, or {@code null} if every slot is in use right now.
     * @throws RequestTooLargeException if {@code minCapacity} exceeds a slot.
     * @throws IllegalArgumentException if {@code minCapacity} is not positive.
     * @throws IllegalStateException    if the arena is closed.
     */
    public Buffer tryAllocate(final int minCapacity)
    {
        checkRequest(minCapacity);
        return tryAllocate();
    }

    /**
     * Allocates a writable buffer, or returns {@code null} when every slot is in use right now (no exception
     * object is created). Lock-free.
     *
     * @return the buffer or {@code null}.
     * @throws IllegalStateException if the arena is closed.
     */
    public Buffer tryAllocate()
    {
        if (leakDetection)
        {
            drainLeaks();
        }
        final int slot = claim();
        if (slot < 0)
        {
            return null;
        }
        final long generation = table.occupy(slot);
        final Buffer buffer = new Buffer(source, slot, generation, slot * slotCapacity, slotCapacity);
        if (leakDetection)
        {
            final Throwable site = NativeMemory.isLeakTracking() ?
                NativeMemory.allocationSite(name + " buffer (slot " + slot + ")") : null;
            table.track(slot, new LeakTracker(buffer, table.queue, slot, generation, site));
        }
        return buffer;
    }

    /**
     * Allocates a slot on the zero-garbage tier. Lock-free, allocates no object.
     *
     * @return the handle of the slot, writing.
     * @throws ArenaFullException    if every slot is in use right now.
     * @throws IllegalStateException if the arena is closed.
     */
    public long allocateHandle()
    {
        final long handle = tryAllocateHandle();
        if (handle == NO_HANDLE)
        {
            throw full();
        }
        return handle;
    }

    /**
     * Allocates a slot on the zero-garbage tier, or returns {@link #NO_HANDLE} when every slot is in use.
     *
     * @return the handle or {@link #NO_HANDLE}.
     * @throws IllegalStateException if the arena is closed.
     */
    public long tryAllocateHandle()
    {
        final int slot = claim();
        if (slot < 0)
        {
            return NO_HANDLE;
        }
        return SlotTable.handle(slot, table.occupy(slot));
    }

    /**
     * The arena's whole region as one shared Agrona buffer, for the unchecked primitive tier: a handle's bytes
     * start at {@link #offset(long)}. Nothing stops a write through it from crossing into another slot or
     * into frozen bytes; use the checked accessors ({@link #putLong(long, int, long)}...) unless the caller
     * bounds its own writes. Capacity 0 once the region is freed.
     *
     * @return the shared view.
     */
    public UnsafeBuffer uncheckedBuffer()
    {
        return memory;
    }

    /**
     * @param handle a live handle.
     * @return the index in {@link #uncheckedBuffer()} of the handle's first byte.
     * @throws StaleHandleException if the handle is no longer live.
     */
    public int offset(final long handle)
    {
        final int slot = slotOf(handle);
        table.check(slot, SlotTable.generationOf(handle), "reach");
        return slot * slotCapacity;
    }

    /**
     * @param handle any {@code long}.
     * @return whether it is a live handle of this arena (a generation match, see the class comment).
     */
    public boolean isLive(final long handle)
    {
        final int slot = (int)(handle & SlotTable.REF_MASK);
        if (handle <= 0 || slot >= slotCount)
        {
            return false;
        }
        try
        {
            table.check(slot, SlotTable.generationOf(handle), "check");
            return true;
        }
        catch (final StaleHandleException ex)
        {
            return false;
        }
    }

    /**
     * @param handle a live handle.
     * @return its frozen length, or -1 while it is still writing.
     * @throws StaleHandleException if the handle is no longer live.
     */
    public int length(final long handle)
    {
        final int slot = slotOf(handle);
        table.check(slot, SlotTable.generationOf(handle), "read the length of");
        return table.length(slot);
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
    public void putLong(final long handle, final int index, final long value)
    {
        memory.putLong(writeAt(handle, index, Long.BYTES), value);
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
    public void putInt(final long handle, final int index, final int value)
    {
        memory.putInt(writeAt(handle, index, Integer.BYTES), value);
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
    public void putByte(final long handle, final int index, final byte value)
    {
        memory.putByte(writeAt(handle, index, Byte.BYTES), value);
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
    public void putBytes(final long handle, final int index, final byte[] src, final int offset, final int length)
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
    public void putBytes(final long handle, final int index, final DirectBuffer src, final int srcIndex,
        final int length)
    {
        src.boundsCheck(srcIndex, length);
        memory.putBytes(writeAt(handle, index, length), src, srcIndex, length);
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
    public long getLong(final long handle, final int index)
    {
        final int at = readAt(handle, index, Long.BYTES);
        final long value = memory.getLong(at);
        table.validate(SlotTable.slotOf(handle), SlotTable.generationOf(handle), "read");
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
    public int getInt(final long handle, final int index)
    {
        final int at = readAt(handle, index, Integer.BYTES);
        final int value = memory.getInt(at);
        table.validate(SlotTable.slotOf(handle), SlotTable.generationOf(handle), "read");
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
    public byte getByte(final long handle, final int index)
    {
        final int at = readAt(handle, index, Byte.BYTES);
        final byte value = memory.getByte(at);
        table.validate(SlotTable.slotOf(handle), SlotTable.generationOf(handle), "read");
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
    public void getBytes(final long handle, final int index, final byte[] dst, final int offset, final int length)
    {
        Objects.checkFromIndexSize(offset, length, dst.length);
        memory.getBytes(readAt(handle, index, length), dst, offset, length);
        table.validate(SlotTable.slotOf(handle), SlotTable.generationOf(handle), "read");
    }

    /**
     * Copies bytes out into an Agrona buffer, checked as {@link #getLong(long, int)}. O(n).
     *
     * @param handle   a live handle.
     * @param index    byte index.
     * @param dst      the destination (checked with its own {@code boundsCheck} unless expandable).
     * @param dstIndex first byte of {@code dst}.
     * @param length   how many bytes.
     * @throws StaleHandleException      if the handle is no longer live.
     * @throws IndexOutOfBoundsException if a range is out of bounds.
     */
    public void getBytes(final long handle, final int index, final MutableDirectBuffer dst, final int dstIndex,
        final int length)
    {
        final int at = readAt(handle, index, length);
        if (!dst.isExpandable())
        {
            dst.boundsCheck(dstIndex, length);
        }
        dst.putBytes(dstIndex, memory, at, length);
        table.validate(SlotTable.slotOf(handle), SlotTable.generationOf(handle), "read");
    }

    /**
     * Freezes a handle: from now on its first {@code length} bytes are read-only and readable, and it can be
     * shared with {@link #retain(long)}. O(1), no allocation.
     *
     * @param handle a live, writing handle.
     * @param length bytes written, 0 to {@link #slotCapacity()}.
     * @throws StaleHandleException     if the handle is no longer live.
     * @throws IllegalStateException    if it is already frozen.
     * @throws IllegalArgumentException naming the length if it is out of range.
     */
    public void freezeHandle(final long handle, final int length)
    {
        final int slot = slotOf(handle);
        table.check(slot, SlotTable.generationOf(handle), "freeze");
        if (table.length(slot) != SlotTable.WRITING)
        {
            throw new IllegalStateException(name + ": handle of slot " + slot + " is already frozen");
        }
        if (length < 0 || length > slotCapacity)
        {
            throw new IllegalArgumentException(
                name + ": frozen length must be between 0 and " + slotCapacity + ": " + length);
        }
        table.bump(slot, SlotTable.FROZEN);
        table.length(slot, length);
    }

    /**
     * Adds a reference to a frozen handle (for another holder, another thread). O(1): one CAS.
     *
     * @param handle a live, frozen handle.
     * @throws StaleHandleException  if the handle is no longer live.
     * @throws IllegalStateException if it is not frozen yet (a writing slot has one owner).
     */
    public void retain(final long handle)
    {
        final int slot = slotOf(handle);
        final long generation = SlotTable.generationOf(handle);
        table.check(slot, generation, "retain");
        if (table.length(slot) == SlotTable.WRITING)
        {
            throw new IllegalStateException(name + ": freeze the handle of slot " + slot + " before sharing it");
        }
        table.retain(slot, generation);
    }

    /**
     * Drops a reference to a handle (frozen or still writing); the last one returns the slot (zeroed under
     * {@link InitPolicy#ZERO}) and makes every copy of the handle stale. O(1): one CAS, one atomic bit clear on
     * the last.
     *
     * @param handle a live handle.
     * @throws StaleHandleException if the handle is no longer live (for example released twice).
     */
    public void release(final long handle)
    {
        final int slot = slotOf(handle);
        if (table.release(slot, SlotTable.generationOf(handle)))
        {
            returnSlot(slot, slotCapacity);
        }
    }

    /**
     * A snapshot of the arena's counters (exact once the threads using the arena are quiet). Reclaims leaked
     * slots first. O(slots).
     *
     * @return the snapshot.
     */
    public FixedArenaMetrics metrics()
    {
        drainLeaks();
        final int live = liveSlots();
        return new FixedArenaMetrics(
            name,
            slotCount,
            slotCapacity,
            table.sum(SlotTable.ALLOCS),
            failed.sum(),
            table.sum(SlotTable.FREES),
            table.sum(SlotTable.FROZEN) + frozenOnHeap.sum(),
            table.sum(SlotTable.SPILLS),
            leaks.get(),
            regionFreed ? 0 : region.size(),
            (long)live * slotCapacity,
            live);
    }

    /**
     * @return slots in use now (a popcount of the bitmap). O(slots / 64).
     */
    public int liveSlots()
    {
        int live = 0;
        for (int w = 0; w < wordCount; w++)
        {
            live += Long.bitCount((long)WORDS.getVolatile(words, index(w)));
        }
        final int tail = slotCount & 63;
        return tail == 0 ? live : live - (64 - tail);
    }

    /**
     * Refuses new allocations from now on. Live buffers, bytes and handles stay valid; the region is freed now
     * if no slot is live, otherwise when the last one is released. Idempotent.
     */
    @Override
    public void close()
    {
        if (!CLOSED.compareAndSet(this, false, true))
        {
            return;
        }
        if (jfrHook != null)
        {
            FlightRecorder.removePeriodicEvent(jfrHook);
        }
        drainLeaks();
        freeRegionIfEmpty();
    }

    @Override
    public String toString()
    {
        return name + "[" + slotCount + " x " + slotCapacity + " B" + (closed ? ", closed]" : "]");
    }

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
            if (table.release(slot, generation))
            {
                returnSlot(slot, dirtyBytes);
            }
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
        public void spill(final int slot, final long generation, final int dirtyBytes)
        {
            table.bump(slot, SlotTable.SPILLS);
            release(slot, generation, dirtyBytes);
        }
    }

    private void checkRequest(final int minCapacity)
    {
        if (minCapacity <= 0)
        {
            throw new IllegalArgumentException(name + ": requested capacity must be positive: " + minCapacity);
        }
        if (minCapacity > slotCapacity)
        {
            throw new RequestTooLargeException(name, minCapacity, slotCapacity);
        }
    }

    private ArenaFullException full()
    {
        return new ArenaFullException(name, slotCount, liveSlots(), "slots");
    }

    private int slotOf(final long handle)
    {
        final int slot = (int)(handle & SlotTable.REF_MASK);
        if (handle <= 0 || slot >= slotCount)
        {
            throw new StaleHandleException(name + ": 0x" + Long.toHexString(handle) + " is not a handle of this arena");
        }
        return slot;
    }

    private int writeAt(final long handle, final int index, final int length)
    {
        final int slot = slotOf(handle);
        table.check(slot, SlotTable.generationOf(handle), "write");
        if (table.length(slot) != SlotTable.WRITING)
        {
            throw new StaleHandleException(name + ": handle of slot " + slot + " is frozen: it can no longer write");
        }
        if (index < 0 || length < 0 || index > slotCapacity - length)
        {
            throw new IndexOutOfBoundsException(name + ": index=" + index + " length=" + length +
                " is outside the slot's " + slotCapacity + " bytes");
        }
        return slot * slotCapacity + index;
    }

    private int readAt(final long handle, final int index, final int length)
    {
        final int slot = slotOf(handle);
        table.check(slot, SlotTable.generationOf(handle), "read");
        final int frozen = table.length(slot);
        final int limit = frozen == SlotTable.WRITING ? slotCapacity : frozen;
        if (index < 0 || length < 0 || index > limit - length)
        {
            throw new IndexOutOfBoundsException(name + ": index=" + index + " length=" + length +
                " is outside the handle's " + limit + " bytes");
        }
        return slot * slotCapacity + index;
    }

    /** Claims a free slot's bit; -1 when full. Refuses (and undoes) claims once the arena is closed. */
    private int claim()
    {
        if (closed)
        {
            throw closedException();
        }
        int slot = scan();
        if (slot < 0 && leakDetection && drainLeaks() > 0)
        {
            slot = scan();
        }
        if (slot < 0)
        {
            failed.increment();
            return -1;
        }
        if (closed)
        {
            // close() raced this claim: give the bit back (and free the region if that was the last one).
            returnSlot(slot, 0);
            throw closedException();
        }
        return slot;
    }

    private int scan()
    {
        final int n = wordCount;
        int w = n == 1 ? 0 : startWord(n);
        for (int i = 0; i < n; i++)
        {
            final int at = index(w);
            long word = (long)WORDS.getVolatile(words, at);
            while (word != -1L)
            {
                final long bit = Long.lowestOneBit(~word);
                final long witness = (long)WORDS.compareAndExchange(words, at, word, word | bit);
                if (witness == word)
                {
                    return (w << 6) + Long.numberOfTrailingZeros(bit);
                }
                word = witness;
            }
            if (++w == n)
            {
                w = 0;
            }
        }
        return -1;
    }

    /** The word a thread starts searching at: its id, mixed, so threads spread over the bitmap. */
    @SuppressWarnings("deprecation") // Thread.getId(): threadId() only exists from JDK 19
    private static int startWord(final int wordCount)
    {
        final long mixed = Thread.currentThread().getId() * 0x9E3779B97F4A7C15L;
        return (int)(((mixed >>> 32) * wordCount) >>> 32);
    }

    private void returnSlot(final int slot, final int dirtyBytes)
    {
        if (initPolicy == InitPolicy.ZERO && dirtyBytes > 0)
        {
            Memory.fill(address + (long)slot * slotCapacity, Math.min(dirtyBytes, slotCapacity), (byte)0);
        }
        final long bit = 1L << (slot & 63);
        final long before = (long)WORDS.getAndBitwiseAnd(words, index(slot >>> 6), ~bit);
        if ((before & bit) == 0)
        {
            throw new IllegalStateException(name + ": slot " + slot + " was returned twice (bug)");
        }
        if (closed)
        {
            freeRegionIfEmpty();
        }
    }

    private void freeRegionIfEmpty()
    {
        if (liveSlots() == 0 && FREED.compareAndSet(this, false, true))
        {
            region.close();
        }
    }

    private IllegalStateException closedException()
    {
        return new IllegalStateException(name + " is closed: no new allocations");
    }

    /** Reclaims the slots of allocations whose every handle became unreachable. @return how many. */
    int drainLeaks()
    {
        int reclaimed = 0;
        Reference<?> ref;
        while ((ref = table.queue.poll()) != null)
        {
            final LeakTracker tracker = (LeakTracker)ref;
            if (table.isTracked(tracker) && table.reclaim(tracker.slot, tracker.generation))
            {
                leaks.incrementAndGet();
                NativeMemory.recordLeak(name + " buffer (slot " + tracker.slot + ") not released", slotCapacity,
                    tracker.site);
                returnSlot(tracker.slot, slotCapacity);
                reclaimed++;
            }
        }
        return reclaimed;
    }

    /** The periodic JFR hook; holds its arena weakly so that registration never keeps an arena alive. */
    private static final class JfrHook implements Runnable
    {
        private final WeakReference<FixedArena> arena;

        JfrHook(final FixedArena arena)
        {
            this.arena = new WeakReference<>(arena);
        }

        @Override
        public void run()
        {
            final FixedArena target = arena.get();
            if (target == null)
            {
                return;
            }
            final FixedArenaMetricsEvent event = new FixedArenaMetricsEvent();
            if (event.isEnabled())
            {
                event.set(target.metrics());
                event.commit();
            }
        }
    }

    /**
     * Builder of a {@link FixedArena}.
     */
    public static final class Builder
    {
        private final int slotCount;
        private final long totalBytes;
        private final int requestedCapacity;
        private int alignment = DEFAULT_ALIGNMENT;
        private InitPolicy initPolicy = InitPolicy.UNINIT;
        private boolean preFault;
        private boolean autoSpill;
        private boolean leakDetection = true;
        private boolean jfrEvents;
        private String name;

        private Builder(final int slotCount, final long totalBytes, final int slotCapacity)
        {
            this.slotCount = slotCount;
            this.totalBytes = totalBytes;
            this.requestedCapacity = (int)Region.checkSize(slotCapacity, Region.MAX_SIZE, "slot capacity");
        }

        /**
         * @param alignment slot alignment: a power of two up to the page size; the slot capacity is rounded up
         *                  to a multiple of it.
         * @return this builder.
         * @throws IllegalArgumentException naming the value if it is not a power of two or above the page size.
         */
        public Builder alignment(final int alignment)
        {
            this.alignment = Region.checkAlignment(alignment, Memory.pageSize());
            return this;
        }

        /**
         * @param initPolicy what fresh capacity reads ({@link InitPolicy#UNINIT} by default).
         * @return this builder.
         */
        public Builder initPolicy(final InitPolicy initPolicy)
        {
            this.initPolicy = Objects.requireNonNull(initPolicy, "initPolicy");
            return this;
        }

        /**
         * @param preFault whether to touch every page of the region at build, so first writes do not fault.
         * @return this builder.
         */
        public Builder preFault(final boolean preFault)
        {
            this.preFault = preFault;
            return this;
        }

        /**
         * @param autoSpill whether a buffer that outgrows its slot moves to the heap (and returns its slot)
         *                  instead of throwing.
         * @return this builder.
         */
        public Builder autoSpill(final boolean autoSpill)
        {
            this.autoSpill = autoSpill;
            return this;
        }

        /**
         * @param leakDetection whether object-tier allocations are tracked so that buffers and bytes lost without
         *                      release are reclaimed and counted (on by default; costs one phantom reference per
         *                      allocation and no lock). The handle tier is never tracked.
         * @return this builder.
         */
        public Builder leakDetection(final boolean leakDetection)
        {
            this.leakDetection = leakDetection;
            return this;
        }

        /**
         * @param jfrEvents whether to publish {@link FixedArenaMetricsEvent} periodically (off by default).
         * @return this builder.
         */
        public Builder jfrEvents(final boolean jfrEvents)
        {
            this.jfrEvents = jfrEvents;
            return this;
        }

        /**
         * @param name a name for messages, metrics and JFR events.
         * @return this builder.
         */
        public Builder name(final String name)
        {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /**
         * @return a new arena; its region is allocated now.
         * @throws IllegalArgumentException naming the value if the slots do not fit in one region (2 GiB), or if a
         *                                  capacity-sized arena cannot hold even one slot.
         * @throws OutOfMemoryError         if the operating system refuses the memory.
         */
        public FixedArena build()
        {
            final long capacity = ((long)requestedCapacity + alignment - 1) & -alignment;
            Region.checkSize(capacity, Region.MAX_SIZE, "slot capacity rounded to alignment " + alignment);
            final long count;
            if (totalBytes > 0)
            {
                count = Math.min(totalBytes / capacity, MAX_SLOTS);
                if (count == 0)
                {
                    throw new IllegalArgumentException("arena capacity " + totalBytes +
                        " bytes holds no slot of " + capacity + " bytes");
                }
            }
            else
            {
                count = slotCount;
            }
            Region.checkSize(count * capacity, Region.MAX_SIZE, "arena size (" + count + " slots x " + capacity + " B)");
            return new FixedArena(this, (int)count, (int)capacity);
        }
    }
}
