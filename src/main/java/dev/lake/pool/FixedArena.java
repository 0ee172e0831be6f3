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
 *   is no object to track); and a handle of another arena is caught by its slot (out of range) or its generation:
 *   each arena numbers its generations from its own starting point, millions apart from other arenas' (also an
 *   identical arena built after this one was closed), so another arena's handle matches a live slot here only
 *   after millions of reuses of that slot.</li>
 * </ul>
 *
 * <h2>Claiming a slot</h2>
 * One bit per slot in {@code long} words; a claim finds a zero bit and sets it with one CAS
 * ({@link VarHandle#compareAndExchange}); a release that cannot park the slot clears it with one atomic AND, and
 * one that parks it leaves the bit set (see "Parking release" in {@code docs/pool.md}). Each bitmap word sits on its
 * own 64-byte cache line so threads working in different words never false-share, and each thread starts its
 * search at a word derived from its thread id, so threads spread over the bitmap. Lock-free: a failed CAS
 * means another thread made progress. O(1) when the starting word has a free bit; O(words) to find the last
 * free slots of a nearly full arena. No lock, and on the primitive tier no allocation, on any of these paths. A
 * refusal ({@link ArenaFullException}) is slower: the exception names the live count, which walks every slot.
 *
 * <h2>Waiting for capacity</h2>
 * {@link #allocateAsync()} returns a {@link CompletableFuture} completed when a slot frees up;
 * {@link #allocate(Duration)} blocks up to a timeout. Waiters queue FIFO on a JCTools queue; while any request
 * waits, the immediate paths ({@link #allocate()}, {@link #tryAllocate()}, the handle tier) refuse, so freed
 * slots go to the waiters in arrival order. A release costs one extra volatile read when nobody waits. See
 * {@link #allocateAsync(int)} for threads, cancellation and timeouts.
 *
 * <h2>Lifetime</h2>
 * {@link #close()} refuses new allocations at once and fails every waiter with {@link ArenaClosedException};
 * live {@code Bytes}, buffers and handles stay valid, and the region is freed when the last of them is released
 * (at once when none are live). A slot whose every {@code Buffer}/{@code Bytes} became unreachable without
 * release is reclaimed by the safety net, counted in {@link FixedArenaMetrics#leaks()} and
 * {@link NativeMemory#leaks()}, with its allocation site when
 * {@link NativeMemory#setLeakTracking(boolean) leak tracking} (strict mode) is on. Reclaiming happens when the
 * arena would otherwise be full, on {@link #metrics()}, on {@link #close()}, and on object-tier allocations
 * (one queue poll, no lock, when nothing leaked).
 */
public final class FixedArena extends SlotArena
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
    /**
     * Offset, from a bitmap word, of its hint: the handle of the slot last parked in that word (at first a handle of
     * generation 0, which matches no slot). Same cache line.
     */
    private static final int HINT = 1;

    private final int slotCount;
    private final int slotCapacity;
    private final int alignment;
    private final int wordCount;
    /** 64 - log2(wordCount rounded up to a power of two): {@link #startWord()} keeps that many top bits. */
    private final int startShift;
    private final long[] words;
    private final JfrRegistration jfrHook;
    /** Whether a released slot may park: it needs no zeroing ({@link InitPolicy#UNINIT}). */
    private final boolean parkOnRelease;

    private FixedArena(final Builder builder, final String name, final Region region, final int slotCount,
        final int slotCapacity)
    {
        super(name, region, slotCount, builder.initPolicy, builder.autoSpill, builder.leakDetection, 1, builder.executor);
        this.slotCount = slotCount;
        this.slotCapacity = slotCapacity;
        this.alignment = builder.alignment;
        this.parkOnRelease = builder.initPolicy == InitPolicy.UNINIT;
        this.wordCount = (slotCount + 63) >>> 6;
        this.startShift = wordCount == 1 ? 63 : Long.numberOfLeadingZeros(wordCount - 1);
        this.words = new long[(wordCount + 2) * STRIDE];
        for (int w = 0; w < wordCount; w++)
        {
            // a handle of the word's first slot at generation 0, which no slot ever has: never taken, no test
            words[index(w) + HINT] = (long)w << 6;
        }
        final int tail = slotCount & 63;
        if (tail != 0)
        {
            // Bits past the last slot are set once and for all, so a claim never finds them free.
            words[index(wordCount - 1)] = -1L << tail;
        }
        linkCallSites();
        if (builder.jfrEvents)
        {
            this.jfrHook = new JfrRegistration(this, FixedArenaMetricsEvent.class, new JfrHook(this));
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
     *     pre-fault, no auto-spill, leak detection on, JFR events off, waiters completed on the releasing thread.
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
     * Allocates a writable buffer over one free slot. Lock-free; O(1) typically (see the class comment).
     *
     * @return the buffer, positioned at 0, capacity {@link #slotCapacity()}.
     * @throws ArenaFullException   if every slot is in use right now, or requests are waiting for slots.
     * @throws ArenaClosedException if the arena is closed.
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
     * @throws ArenaFullException       if every slot is in use right now, or requests are waiting for slots.
     * @throws ArenaClosedException     if the arena is closed.
     */
    public Buffer allocate(final int minCapacity)
    {
        sizeClass(minCapacity);
        return allocate();
    }

    /**
     * Like {@link #allocate(int)} but returns {@code null} instead of throwing when the arena is full.
     *
     * @param minCapacity bytes the caller needs, 1 to {@link #slotCapacity()}.
     * @return the buffer, or {@code null} if every slot is in use right now or requests are waiting.
     * @throws RequestTooLargeException if {@code minCapacity} exceeds a slot.
     * @throws IllegalArgumentException if {@code minCapacity} is not positive.
     * @throws ArenaClosedException     if the arena is closed.
     */
    public Buffer tryAllocate(final int minCapacity)
    {
        sizeClass(minCapacity);
        return tryAllocate();
    }

    /**
     * Allocates a writable buffer, or returns {@code null} when every slot is in use right now (no exception
     * object is created), or while requests wait for slots (their slots are reserved). Lock-free.
     *
     * @return the buffer or {@code null}.
     * @throws ArenaClosedException if the arena is closed.
     */
    public Buffer tryAllocate()
    {
        return immediate(0, slotCapacity);
    }

    /**
     * Allocates a buffer over one slot, waiting if none is free: see {@link #allocateAsync(int)}.
     *
     * @return a future of the buffer.
     * @throws ArenaClosedException if the arena is closed.
     */
    public CompletableFuture<Buffer> allocateAsync()
    {
        return allocateAsync(slotCapacity);
    }

    /**
     * Allocates a buffer over one slot, blocking up to {@code timeout}: see {@link #allocate(int, Duration)}.
     *
     * @param timeout how long to wait at most.
     * @return the buffer.
     * @throws AllocationTimeoutException if no slot came in time.
     * @throws InterruptedException       if interrupted while waiting (a slot already handed over when the interrupt
     *                                    came is returned instead, with the interrupt status set again).
     * @throws ArenaClosedException       if the arena is or gets closed.
     * @throws NullPointerException       if {@code timeout} is null; nothing is claimed or queued.
     */
    public Buffer allocate(final Duration timeout) throws InterruptedException
    {
        return allocate(slotCapacity, timeout);
    }

    /**
     * Allocates a slot on the zero-garbage tier. Lock-free, allocates no object.
     *
     * @return the handle of the slot, writing.
     * @throws ArenaFullException   if every slot is in use right now, or requests are waiting for slots.
     * @throws ArenaClosedException if the arena is closed.
     */
    public long allocateHandle()
    {
        final long hint = parkedHint();
        if (hint != NO_HANDLE)
        {
            return hint;
        }
        final long handle = immediateHandle(0, slotCapacity);
        if (handle == NO_HANDLE)
        {
            throw full();
        }
        return handle;
    }

    /**
     * Allocates a slot on the zero-garbage tier, or returns {@link #NO_HANDLE} when every slot is in use (or
     * requests are waiting).
     *
     * @return the handle or {@link #NO_HANDLE}.
     * @throws ArenaClosedException if the arena is closed.
     */
    public long tryAllocateHandle()
    {
        final long hint = parkedHint();
        return hint != NO_HANDLE ? hint : immediateHandle(0, slotCapacity);
    }

    /**
     * The fast path of the handle tier: the slot last parked in this thread's starting word, taken with one CAS
     * whose operands come from the hint (see {@link #claimHandle}).
     *
     * @return its handle, or {@link #NO_HANDLE} (nothing done) when the arena is closed, requests wait, or the
     *     hint is not parked any more: then the caller takes the full path.
     */
    private long parkedHint()
    {
        if (!closed && !waits.hasWaiters())
        {
            final long hint = words[index(startWord()) + HINT];
            if (SlotTable.takeParked(slots, (int)(hint & SlotTable.REF_MASK) << SlotTable.SHIFT, hint))
            {
                return hint;
            }
        }
        return NO_HANDLE;
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
        // nothing is counted on the hot path: every free moved a generation on by one, every allocation is live
        // or was freed exactly once (released, spilled, leaked)
        final long frees = table.frees();
        return new FixedArenaMetrics(
            name,
            slotCount,
            slotCapacity,
            frees + live,
            failed.sum(),
            frees,
            table.sum(SlotTable.FROZEN) + frozenOnHeap.sum(),
            table.sum(SlotTable.SPILLS),
            leaks.get(),
            isRegionFreed() ? 0 : region.size(),
            (long)live * slotCapacity,
            live,
            waits.metrics());
    }

    /**
     * @return slots in use now: marked in the bitmap and not parked. O(slots).
     */
    public int liveSlots()
    {
        int live = 0;
        for (int w = 0; w < wordCount; w++)
        {
            long word = (long)WORDS.getVolatile(words, index(w));
            if (w == wordCount - 1 && (slotCount & 63) != 0)
            {
                word &= ~(-1L << (slotCount & 63)); // the bits past the last slot
            }
            while (word != 0)
            {
                final int slot = (w << 6) + Long.numberOfTrailingZeros(word);
                word &= word - 1;
                if (!table.isParked(slot))
                {
                    live++;
                }
            }
        }
        return live;
    }

    @Override
    public String toString()
    {
        return name + "[" + slotCount + " x " + slotCapacity + " B" + (closed ? ", closed]" : "]");
    }

    @Override
    int start(final int slot)
    {
        return slot * slotCapacity;
    }

    @Override
    int capacity(final int slot)
    {
        return slotCapacity;
    }

    @Override
    int sizeClass(final int minCapacity)
    {
        if (minCapacity <= 0)
        {
            throw new IllegalArgumentException(name + ": requested capacity must be positive: " + minCapacity);
        }
        if (minCapacity > slotCapacity)
        {
            throw new RequestTooLargeException(name, minCapacity, slotCapacity);
        }
        return 0;
    }

    @Override
    ArenaFullException full()
    {
        return new ArenaFullException(name, slotCount, liveSlots(), "slots", waits.waiters());
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
        // Dekker with a release that parks: closed was set first, then we look; it parks first, then looks.
        // Whoever sees the other unparks the slot (one CAS decides), so no parked slot keeps the region alive.
        for (int w = 0; w < wordCount; w++)
        {
            long word = (long)WORDS.getVolatile(words, index(w));
            while (word != 0)
            {
                final int slot = (w << 6) + Long.numberOfTrailingZeros(word);
                word &= word - 1;
                if (slot < slotCount && table.unpark(slot))
                {
                    free(slot);
                }
            }
        }
    }

    /** Only asked once closed, when nothing parks any more (see {@link #onClose()}): a popcount. */
    @Override
    boolean isEmpty()
    {
        int marked = 0;
        for (int w = 0; w < wordCount; w++)
        {
            marked += Long.bitCount((long)WORDS.getVolatile(words, index(w)));
        }
        final int tail = slotCount & 63;
        return (tail == 0 ? marked : marked - (64 - tail)) == 0;
    }

    /**
     * Claims and occupies a slot: the parked slot of the thread's starting word (one CAS on its meta word), else
     * a free bit of the bitmap (one CAS on the bitmap word), else any parked slot. Refuses (and undoes) claims
     * once the arena is closed.
     */
    @Override
    long claimHandle(final int sizeClass, final int size)
    {
        long handle = take();
        if (handle == NO_HANDLE && (leakDetection || orphans) && drainLeaks() > 0)
        {
            handle = take();
        }
        if (handle == NO_HANDLE)
        {
            return NO_HANDLE;
        }
        if (closed)
        {
            // close() raced this claim: give the slot back (and free the region if that was the last one),
            // at the same generation: the handle never left, and generations count frees (see metrics())
            final int slot = (int)(handle & SlotTable.REF_MASK);
            table.unoccupy(slot);
            free(slot);
            freeRegionIfEmpty();
            waits.signal();
            throw closedException();
        }
        return handle;
    }

    private long take()
    {
        final int w = startWord();
        // the hint is the handle the slot had when it was parked: its generation gives the CAS its operands
        final long hint = words[index(w) + HINT];
        if (table.takeParked((int)(hint & SlotTable.REF_MASK), hint))
        {
            return hint;
        }
        int slot = scan(w);
        if (slot < 0)
        {
            final long parked = takeAnyParked(w);
            if (parked != RESCAN)
            {
                return parked;
            }
            slot = scan(w);
            if (slot < 0)
            {
                return NO_HANDLE;
            }
        }
        try
        {
            return SlotTable.handle(slot, table.occupyUncounted(slot));
        }
        catch (final Throwable cutShort)
        {
            // the bit claimed, no handle handed out (a StackOverflowError at one of the calls): nothing deeper fits
            // here; stores only, for finishOrphans() to release the table's reference or give the bit back
            orphaned[slot] = ORPHAN_CLAIMED;
            orphans = true;
            throw cutShort;
        }
    }

    private int scan(final int start)
    {
        final int n = wordCount;
        int w = start;
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

    /** {@link #takeAnyParked}'s answer when it took no parked slot but freed some: scan the bitmap again. */
    private static final long RESCAN = -1L;

    /**
     * No free bit anywhere: take a parked slot. First the slots hinted by each word, then, for slots parked by
     * two releases that raced for one hint (rare), every marked slot: those are unparked into free bits, so that
     * the next claims find them with the bitmap. O(slots) at worst.
     *
     * @return a parked slot's handle, {@link #RESCAN} when it freed some (the caller scans again), else NO_HANDLE.
     */
    private long takeAnyParked(final int start)
    {
        final int n = wordCount;
        int w = start;
        for (int i = 0; i < n; i++)
        {
            final long hint = (long)WORDS.getOpaque(words, index(w) + HINT);
            if (table.takeParked((int)(hint & SlotTable.REF_MASK), hint))
            {
                return hint;
            }
            if (++w == n)
            {
                w = 0;
            }
        }
        boolean unparked = false;
        for (w = 0; w < n; w++)
        {
            long word = (long)WORDS.getVolatile(words, index(w));
            while (word != 0)
            {
                final int slot = (w << 6) + Long.numberOfTrailingZeros(word);
                word &= word - 1;
                if (slot < slotCount && table.unpark(slot))
                {
                    try
                    {
                        free(slot);
                    }
                    catch (final Throwable cutShort)
                    {
                        orphaned[slot] = ORPHAN_CLEAN; // unparked, bit still set: stores only, see returnSlot
                        orphans = true;
                        throw cutShort;
                    }
                    unparked = true;
                }
            }
        }
        return unparked ? RESCAN : NO_HANDLE;
    }

    /**
     * The handle tier's release. Fast path, the steady state of a thread that allocates and releases in its own
     * word: the handle is its word's hint (it was claimed from there) and holds its slot's one reference; one CAS
     * parks the slot at the next generation and the hint follows. Anything else takes {@link #releaseReference}.
     */
    @Override
    void releaseHandle(final long handle)
    {
        final long[] s = slots;
        final int slot = (int)(handle & SlotTable.REF_MASK);
        final int at = slot << SlotTable.SHIFT;
        final long next = (handle & ~SlotTable.REF_MASK) + (1L << SlotTable.REF_BITS); // negative: the generation wraps
        if (inRange(at, s))
        {
            final int hintAt = index(slot >>> 6) + HINT;
            final long[] w = words;
            // only a slot that parks can be a hint (never in a ZERO arena); closed is checked after the CAS
            if (w[hintAt] == handle && next > 0 && SlotTable.parkSole(s, at, handle, next))
            {
                parked(slot, hintAt, next | slot);
                return;
            }
        }
        super.releaseHandle(handle);
    }

    /** close() raced a release that parked: the parked slot may have been missed, free it as close would. */
    private void raceWithClose(final int slot)
    {
        free(slot);
        freeRegionIfEmpty();
    }

    /**
     * Drops a reference. The last one parks the slot in the same CAS (it stays marked in the bitmap, and the next
     * claim in its word takes it with one CAS on its meta word instead of two bitmap operations), unless the
     * arena is closed, slots need zeroing ({@link InitPolicy#ZERO} arenas never park), the allocation is tracked
     * for leaks, or its word's hint already points to another parked slot: then the slot is freed in the bitmap.
     */
    @Override
    void releaseReference(final int slot, final long generation, final int dirtyBytes, final boolean objectTier)
    {
        final int hintAt = index(slot >>> 6) + HINT;
        final long hint = words[hintAt];
        final boolean park = parkOnRelease && !closed &&
            ((int)(hint & SlotTable.REF_MASK) == slot || !table.isParkedAs(hint)) &&
            !(objectTier && table.isTracked(slot));
        final long next = table.releaseOrPark(slot, generation, park);
        if ((next & SlotTable.COUNT_MASK) != 0)
        {
            return;
        }
        if ((next & SlotTable.PARKED) == 0)
        {
            // a fixed arena's releases count no free of their own (see SlotTable.releaseOrPark)
            returnSlot(slot, generation, dirtyBytes, ORPHAN_UNCOUNTED_NO_FREES);
            return;
        }
        table.freed(generation); // a parked slot stays marked: cut short here, its claim or close() still finds it
        parked(slot, hintAt, next & ~SlotTable.REF_MASK | slot);
    }

    /**
     * After the CAS that parked {@code slot}: its word's hint points at the handle it will have next (a plain store:
     * claims trust only the CAS), a close that raced the park is completed, and a waiter is served.
     */
    private void parked(final int slot, final int hintAt, final long nextHandle)
    {
        words[hintAt] = nextHandle;
        if (closed && table.unpark(slot))
        {
            raceWithClose(slot);
        }
        waits.signal();
    }

    /**
     * Calls every {@code VarHandle} access of this class once (each call-site descriptor), on the bitmap's padding and
     * changing nothing, so that they are linked before the arena is handed out: the first call of a call site in the
     * JVM links it, which allocates on the heap, and a full heap must fail the build (whose builder frees the region)
     * rather than the release that frees a slot's bit after its count dropped, or the close that follows.
     */
    private void linkCallSites()
    {
        final long[] scratch = words; // index 0: padding before the first word's line, never used otherwise
        final long seen = (long)WORDS.compareAndExchange(scratch, 0, -1L, -1L); // 0 is not -1: no change
        final long anded = (long)WORDS.getAndBitwiseAnd(scratch, 0, -1L); // and with all ones: no change
        if ((seen | anded | (long)WORDS.getOpaque(scratch, 0) | (long)WORDS.getVolatile(scratch, 0)) != 0)
        {
            throw new IllegalStateException(name + ": bitmap padding in use (bug)");
        }
    }

    /**
     * The word a thread starts searching at: its id, mixed (Fibonacci hashing: one multiply, the top bits), so
     * threads spread over the bitmap. Words past the last fold back once.
     */
    @SuppressWarnings("deprecation") // Thread.getId(): threadId() only exists from JDK 19
    private int startWord()
    {
        final int w = (int)((Thread.currentThread().getId() * 0x9E3779B97F4A7C15L) >>> startShift);
        return w < wordCount ? w : w - wordCount; // one word: 0 or 1, folded to 0
    }

    @Override
    void free(final int slot)
    {
        final long bit = 1L << (slot & 63);
        final long before = (long)WORDS.getAndBitwiseAnd(words, index(slot >>> 6), ~bit);
        if ((before & bit) == 0)
        {
            throw new IllegalStateException(name + ": slot " + slot + " was returned twice (bug)");
        }
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
    public static final class Builder extends ArenaBuilder<Builder>
    {
        private final int slotCount;
        private final long totalBytes;
        private final int requestedCapacity;
        private int alignment = DEFAULT_ALIGNMENT;

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

        @Override
        Builder self()
        {
            return this;
        }

        /**
         * @return a new arena; its region is allocated now.
         * @throws IllegalArgumentException naming the value if the slots do not fit in one region (2 GiB), or if a
         *                                  capacity-sized arena cannot hold even one slot.
         * @throws OutOfMemoryError         if the operating system refuses the memory, or the Java heap has no room
         *                                  for the slot table (about 60 bytes a slot); the region is then freed
         *                                  at once and nothing stays reserved or counted.
         * @throws IllegalStateException    if the JVM lacks {@link Memory#REQUIRED_FLAG}.
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
            final String arenaName = nameOrDefault("FixedArena");
            final Region region = Region.builder(count * capacity)
                .alignment(Math.max(Region.DEFAULT_ALIGNMENT, alignment))
                .zeroed(initPolicy == InitPolicy.ZERO)
                .preTouch(preFault)
                .build();
            try
            {
                return new FixedArena(this, arenaName, region, (int)count, (int)capacity);
            }
            catch (final Throwable ex)
            {
                // the slot table, bitmap and wait queues come from the Java heap (about 60 bytes a slot): an
                // OutOfMemoryError there left the region reserved until a GC, then reported as a leak
                region.close();
                throw ex;
            }
        }
    }
}
