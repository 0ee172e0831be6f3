package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.agrona.UnsafeApi;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.ReferenceQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Per-slot bookkeeping shared by the arenas: a generation and a reference count packed in one {@code long}
 * per slot (so that "is this handle still the owner" and "add a reference" are one CAS that cannot be fooled
 * by a slot freed and claimed again in between), the frozen length of primitive handles, per-slot event
 * counters and the leak trackers of the object tier.
 *
 * <p>Layout: one record of four {@code long}s per slot in one array (meta word, frozen length, allocations,
 * freezes), so that a round trip touches one cache line of bookkeeping and one array; the rarer counters (frees
 * of a buddy arena, spills) and the leak trackers live in their own arrays.
 *
 * <p>Counters are per slot and written only by the thread that owns the slot at that moment (the claimer,
 * the freezer, the thread that drops the last reference), so counting costs a plain store and no atomic; the
 * slot passes from owner to owner through the CAS of its meta word (or its bitmap bit), which orders the
 * increments; a snapshot sums them and is exact once the threads that changed them are quiet.
 *
 * <p>Memory order: the CASes that claim, share and drop references are sequentially consistent. The checks
 * before an access (is this handle the owner, is it frozen, how long is it) are plain reads: an owner sees its
 * own writes, and a holder that learnt of a release through any synchronization sees that release; a thread
 * racing a release without synchronization gets no stronger promise from a volatile read either. The
 * re-validation after a read ({@link #validate}) is fenced, so a read racing a release and reuse is caught. The
 * owner check before a write is an opaque read (no fence on x86): a write has no re-validation, and a plain read
 * is hoisted out of a hot loop by the JIT, so a stale writer looping on a released handle never saw the release.
 *
 * <p>Layout of a meta word: {@code generation << REF_BITS | parked << (REF_BITS - 1) | references}. A slot is
 * free when its references are 0. Freeing bumps the generation, so every handle of the previous owner becomes
 * stale at once. A free slot may be parked (a fixed arena's cheap release, see {@link #PARKED}).
 *
 * <p>Every table numbers its generations from its own {@link #origin} (spread over 2^34 values, one per table
 * built in the process), not from 1: otherwise every arena's first handle of slot 0 is {@code 1 << REF_BITS}, and a
 * handle of another arena of the same geometry, or of an arena closed and rebuilt, is a live handle here.
 */
final class SlotTable
{
    /** Bits of a slot index in a handle, and of the low (reference) part of a meta word. */
    static final int REF_BITS = 28;
    /** Largest number of slots. */
    static final int MAX_SLOTS = (1 << REF_BITS) - 1;
    /** The slot index of a handle. */
    static final long REF_MASK = (1L << REF_BITS) - 1;
    /** The reference count of a meta word (27 bits: at most 2^27 - 1 references to one slot). */
    static final long COUNT_MASK = (1L << (REF_BITS - 1)) - 1;
    /**
     * Flag of a meta word with no reference: the slot is free but still marked in its arena's bitmap, parked for
     * the next claim, which takes it with one CAS on this word (see {@link #takeParked}). Only a fixed arena parks.
     */
    static final long PARKED = 1L << (REF_BITS - 1);
    static final long GEN_MASK = (1L << (64 - REF_BITS)) - 1 >>> 1; // keeps handles and meta words positive

    /** Tables built so far: picks each table's {@link #origin}. */
    private static final AtomicLong TABLES = new AtomicLong();

    /** Counters ({@link #bump}, {@link #sum}). */
    static final int ALLOCS = 0;
    static final int FREES = 1;
    static final int FROZEN = 2;
    static final int SPILLS = 3;

    /** The frozen length of a slot still writing. */
    static final int WRITING = -1;

    /** A slot's record in {@link #slots}: {@code slot << SHIFT}, then these offsets. */
    static final int SHIFT = 2;
    static final int META = 0;
    static final int LENGTH = 1;
    static final int ALLOCS_AT = 2;
    private static final int FROZEN_AT = 3;

    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final long LONGS_BASE = UnsafeApi.arrayBaseOffset(long[].class);
    private static final VarHandle OBJECTS = MethodHandles.arrayElementVarHandle(Object[].class);

    private final String name;
    private final int size;
    /**
     * The generation every slot starts at: 1 to 2^34, the golden-ratio sequence over the tables of the process, so
     * that any two of the first thousands of tables start millions of generations apart and a handle of another
     * table matches a slot here only after that many frees of one of the two slots. Below {@link #GEN_MASK} by at
     * least 2^34: a slot wraps only after that many frees.
     */
    final long origin;
    /** Per slot: meta word, frozen length, allocations, freezes. */
    final long[] slots;
    /** Per slot: frees (counted by the buddy arena; a fixed arena derives them), spills. */
    private final long[] rare;
    private final Object[] trackers;
    /** Generations that wrapped (once per {@link #GEN_MASK} frees of one slot): see {@link #frees()}. */
    private final LongAdder wraps = new LongAdder();
    final ReferenceQueue<Object> queue = new ReferenceQueue<>();

    SlotTable(final String name, final int size)
    {
        this.name = name;
        this.size = size;
        this.slots = new long[size << SHIFT];
        this.rare = new long[size * 2];
        this.trackers = new Object[size];
        this.origin = 1 + ((TABLES.incrementAndGet() * 0x9E3779B97F4A7C15L) >>> 30);
        for (int i = 0; i < size; i++)
        {
            slots[i << SHIFT] = origin << REF_BITS;
        }
        linkCallSites();
    }

    /**
     * Calls every {@code VarHandle} access of this class once (each call-site descriptor), on this new table and
     * changing nothing, so that they are linked before its arena is handed out. The first call of a call site in the
     * JVM links it, which allocates on the heap: on a full heap the first last release in a JVM threw
     * {@link OutOfMemoryError} from {@link #untrack} after the CAS that freed the slot (the slot lost for good, a closed
     * arena's region with it), or from the CAS itself after {@code Bytes.release()} had marked its reference released
     * (the same loss), and the first close of a fixed arena holding a parked slot threw from {@link #unpark} after the
     * arena was marked closed. Here a full heap fails the build instead, whose builder frees the region.
     */
    private void linkCallSites()
    {
        final long[] s = slots;
        final long meta = (long)LONGS.getVolatile(s, 0); // slot 0's meta word: never -1 (a positive generation)
        final long seen = (long)LONGS.compareAndExchange(s, 0, -1L, -1L); // none of these CASes matches: no change
        final boolean swapped = LONGS.compareAndSet(s, 0, -1L, -1L) | LONGS.weakCompareAndSet(s, 0, -1L, -1L);
        final long opaque = (long)LONGS.getOpaque(s, 0);
        LONGS.setRelease(s, 0, (long)LONGS.getAcquire(s, 0)); // the value it has, on a table nobody else sees yet
        LONGS.setVolatile(s, 0, meta);
        final Object tracker = OBJECTS.getAcquire(trackers, 0);
        OBJECTS.setRelease(trackers, 0, (LeakTracker)null); // track's descriptor
        OBJECTS.setRelease(trackers, 0, null); // untrack's
        if (swapped || seen != meta || opaque != meta || tracker != null)
        {
            throw new IllegalStateException(name + ": slot table changed while it was being made (bug)");
        }
    }

    static long handle(final int slot, final long generation)
    {
        return generation << REF_BITS | slot;
    }

    static int slotOf(final long handle)
    {
        return (int)(handle & REF_MASK);
    }

    static long generationOf(final long handle)
    {
        return handle >>> REF_BITS;
    }

    private static long nextGeneration(final long generation)
    {
        final long next = (generation + 1) & GEN_MASK;
        return next == 0 ? 1 : next; // generation 0 would let slot 0's handle equal NO_HANDLE
    }

    /** After the CAS that freed a slot at {@code generation}: counts a wrap of its generation. */
    void freed(final long generation)
    {
        if (generation == GEN_MASK)
        {
            wraps.increment();
        }
    }

    int size()
    {
        return size;
    }

    /**
     * Takes a slot the caller just claimed in its allocator: one reference, writing state.
     *
     * @return the slot's generation for this allocation.
     */
    long occupy(final int slot)
    {
        final long generation = occupyUncounted(slot);
        bump(slot, ALLOCS);
        return generation;
    }

    /**
     * {@link #occupy} without counting the allocation: the caller counts it once it is sure to keep the slot.
     *
     * @return the slot's generation for this allocation.
     */
    long occupyUncounted(final int slot)
    {
        final int at = slot << SHIFT;
        final long m = (long)LONGS.getAcquire(slots, at);
        if ((m & (COUNT_MASK | PARKED)) != 0)
        {
            throw new IllegalStateException(name + ": slot " + slot + " claimed while still referenced (bug)");
        }
        slots[at + LENGTH] = WRITING;
        LONGS.setRelease(slots, at, m + 1);
        return m >>> REF_BITS;
    }

    /**
     * Takes a parked slot for a new owner: one CAS from parked to one reference, writing state. Counts nothing.
     *
     * @return the slot's generation for this allocation, or -1 if it is not parked (any more).
     */
    long takeParked(final int slot)
    {
        final long m = slots[slot << SHIFT];
        return (m & PARKED) != 0 && takeParked(slot, m & ~REF_MASK | slot) ? m >>> REF_BITS : -1;
    }

    /**
     * Takes a slot if it is still parked at the generation of {@code handle} (a fixed arena's hint): one CAS whose
     * expected and new values come from the handle, not from a read of the meta word. Counts nothing.
     *
     * @return whether the caller now holds the slot's one reference, writing, as {@code handle}.
     */
    boolean takeParked(final int slot, final long handle)
    {
        return takeParked(slots, slot << SHIFT, handle);
    }

    /*
     * Unchecked access to a word of a slot's record, for the handle tier's hot paths. Every caller passes a record
     * start it range-checked itself (at < slots.length; never negative, a slot index has 28 bits), and the array
     * holds whole records, so every word of that record is in range too. The JIT cannot prove that last step: the
     * array forms paid a bounds check per word, again after every atomic (which makes it reload the array).
     */

    static long word(final long[] slots, final int index)
    {
        return UnsafeApi.getLong(slots, LONGS_BASE + ((long)index << 3));
    }

    static long wordOpaque(final long[] slots, final int index)
    {
        return UnsafeApi.getLongOpaque(slots, LONGS_BASE + ((long)index << 3));
    }

    static long wordVolatile(final long[] slots, final int index)
    {
        return UnsafeApi.getLongVolatile(slots, LONGS_BASE + ((long)index << 3));
    }

    static void putWord(final long[] slots, final int index, final long value)
    {
        UnsafeApi.putLong(slots, LONGS_BASE + ((long)index << 3), value);
    }

    private static long exchangeWord(final long[] slots, final int index, final long expected, final long value)
    {
        return UnsafeApi.compareAndExchangeLong(slots, LONGS_BASE + ((long)index << 3), expected, value);
    }

    /** {@link #takeParked(int, long)} on a table's {@link #slots}, {@code at} the slot's record. */
    static boolean takeParked(final long[] slots, final int at, final long handle)
    {
        final long parked = handle & ~REF_MASK | PARKED;
        // hints come from the arena itself, but an unchecked CAS is not left to trust them
        if (at < 0 || at >= slots.length || exchangeWord(slots, at, parked, handle & ~REF_MASK | 1) != parked)
        {
            return false;
        }
        putWord(slots, at + LENGTH, WRITING);
        return true;
    }

    /**
     * The common last release of a fixed arena: the one reference of {@code handle}'s generation, parked at the
     * next generation in one CAS whose operands come from the handle.
     *
     * @param at   the slot's record, range-checked by the caller.
     * @param next the next generation's handle bits ({@code handle & ~REF_MASK} plus one generation), positive.
     * @return whether the CAS parked the slot; {@code false} (nothing done) when the meta word is anything else.
     */
    static boolean parkSole(final long[] slots, final int at, final long handle, final long next)
    {
        final long sole = handle & ~REF_MASK | 1;
        // the plain read spares a shared slot (several references) a CAS doomed to fail
        return word(slots, at) == sole && exchangeWord(slots, at, sole, next | PARKED) == sole;
    }

    /** Undoes a claim whose handle was never handed out: back to free at the same generation. */
    void unoccupy(final int slot)
    {
        final int at = slot << SHIFT;
        LONGS.setVolatile(slots, at, (long)LONGS.getVolatile(slots, at) & ~(REF_MASK));
    }

    /**
     * Frees counted from the generations, for a fixed arena (which counts no allocation or free on its hot path):
     * every free moves its slot's generation on by exactly one (claims that are undone restore it), from
     * {@link #origin}, and wraps (each from {@link #GEN_MASK} to 1: {@code GEN_MASK - origin + 1} frees to the first,
     * then {@code GEN_MASK} each) are counted. Exact once the threads are quiet. O(slots).
     */
    long frees()
    {
        long total = wraps.sum() * GEN_MASK;
        for (int at = 0; at < slots.length; at += 1 << SHIFT)
        {
            total += ((long)LONGS.getOpaque(slots, at) >>> REF_BITS) - origin;
        }
        return total;
    }

    /** @return whether {@code handle}'s slot is parked at that handle's generation. */
    boolean isParkedAs(final long handle)
    {
        return (long)LONGS.getVolatile(slots, (int)(handle & REF_MASK) << SHIFT) == (handle & ~REF_MASK | PARKED);
    }

    /**
     * Turns a parked slot into a plain free one (its arena then clears its bitmap bit).
     *
     * @return whether this call did it (it was parked and nobody took it meanwhile).
     */
    boolean unpark(final int slot)
    {
        final int at = slot << SHIFT;
        final long m = (long)LONGS.getVolatile(slots, at);
        return (m & PARKED) != 0 && LONGS.compareAndSet(slots, at, m, m ^ PARKED);
    }

    boolean isParked(final int slot)
    {
        return ((long)LONGS.getVolatile(slots, slot << SHIFT) & PARKED) != 0;
    }

    /** @return whether the slot's allocation has a leak tracker (object tier with leak detection). */
    boolean isTracked(final int slot)
    {
        return OBJECTS.getAcquire(trackers, slot) != null;
    }

    /**
     * Adds one reference to a live slot.
     *
     * @throws StaleHandleException if the generation is no longer current.
     */
    void retain(final int slot, final long generation)
    {
        final int at = slot << SHIFT;
        long m;
        do
        {
            m = (long)LONGS.getVolatile(slots, at);
            check(m, slot, generation, "retain");
            if ((m & COUNT_MASK) == COUNT_MASK)
            {
                throw new IllegalStateException(name + ": slot " + slot + " has too many references");
            }
        }
        while (!LONGS.weakCompareAndSet(slots, at, m, m + 1));
    }

    /**
     * Drops one reference.
     *
     * @return {@code true} for the call that dropped the last reference: the caller must then count the free
     *     ({@link #afterFree}) and return the slot, as {@code SlotArena.returnSlot} does.
     * @throws StaleHandleException if the generation is no longer current.
     */
    boolean release(final int slot, final long generation)
    {
        final int at = slot << SHIFT;
        long m;
        long next;
        do
        {
            m = (long)LONGS.getVolatile(slots, at);
            check(m, slot, generation, "release");
            next = (m & COUNT_MASK) == 1 ? nextGeneration(generation) << REF_BITS : m - 1;
        }
        while (!LONGS.weakCompareAndSet(slots, at, m, next));
        return (next & COUNT_MASK) == 0; // no call after the CAS: the caller counts the free (see afterFree)
    }

    /**
     * Drops one reference, for a fixed arena: the last one either parks the slot in the same CAS (when
     * {@code park}: the slot has no leak tracker and needs no zeroing) or frees it for the caller to return, as
     * {@link #release}. Counts no free (a fixed arena derives frees from allocations and live slots: a counter
     * written after the CAS would race the slot's next owner).
     *
     * <p>The common case, the one reference of its generation, is one CAS whose expected and new values come from
     * the handle, not from a read of the meta word; any other case retries from the value the CAS saw.
     *
     * @return the meta word written: references left ({@code & COUNT_MASK}), else parked ({@code & PARKED}) or
     *     free, at the next generation. Nothing is called after the CAS: for the last reference the caller counts
     *     the wrap ({@link #freed}) and, for a free slot, returns it through {@code SlotArena.returnSlot}.
     * @throws StaleHandleException if the generation is no longer current.
     */
    long releaseOrPark(final int slot, final long generation, final boolean park)
    {
        final int at = slot << SHIFT;
        final long sole = generation << REF_BITS | 1;
        final long last = nextGeneration(generation) << REF_BITS | (park ? PARKED : 0);
        long m = slots[at]; // the plain read only picks the path: the CAS decides
        if (m == sole)
        {
            m = (long)LONGS.compareAndExchange(slots, at, sole, last);
            if (m == sole)
            {
                return last; // no call after the CAS: the caller counts the free (see afterFree)
            }
        }
        while (true)
        {
            check(m, slot, generation, "release");
            final long next = (m & COUNT_MASK) != 1 ? m - 1 : last;
            final long witness = (long)LONGS.compareAndExchange(slots, at, m, next);
            if (witness == m)
            {
                return next;
            }
            m = witness;
        }
    }

    /**
     * Frees a slot whatever its reference count, for the leak safety net: only called for an allocation whose
     * every handle is unreachable.
     *
     * @return whether the slot was still held by that generation (and is now free).
     */
    boolean reclaim(final int slot, final long generation)
    {
        final int at = slot << SHIFT;
        long m;
        do
        {
            m = (long)LONGS.getVolatile(slots, at);
            if ((m >>> REF_BITS) != generation || (m & COUNT_MASK) == 0)
            {
                return false;
            }
        }
        while (!LONGS.weakCompareAndSet(slots, at, m, nextGeneration(generation) << REF_BITS));
        return true; // no call after the CAS: the caller counts the free (see afterFree)
    }

    /**
     * The bookkeeping of a free, after the CAS that moved the slot's generation on from {@code generation}: a wrap of
     * the generation, the slot's free count (unless {@code counted}: a fixed arena's own releases count none, see
     * {@link #releaseOrPark}), its leak tracker forgotten. Apart from the CAS so that nothing is called between the
     * CAS and its return: a call there cut short (a {@code StackOverflowError}) lost the slot, since no handle could
     * release it again; {@code SlotArena.returnSlot} runs this where a return cut short is finished later.
     */
    void afterFree(final int slot, final long generation, final boolean countFree)
    {
        freed(generation);
        if (countFree)
        {
            bump(slot, FREES);
        }
        untrack(slot);
    }

    /** @return the slot's meta word (generation, references, parked), read volatile. */
    long meta(final int slot)
    {
        return (long)LONGS.getVolatile(slots, slot << SHIFT);
    }

    /** The generation a free slot had before its last free: its meta word's generation, one step back. */
    long freedGeneration(final int slot)
    {
        final long now = (long)LONGS.getVolatile(slots, slot << SHIFT) >>> REF_BITS;
        return now == 1 ? GEN_MASK : now - 1;
    }

    /** Forgets a freed slot's leak tracker; the handle tier never has one, so it skips the barriered store. */
    private void untrack(final int slot)
    {
        if (OBJECTS.getAcquire(trackers, slot) != null)
        {
            OBJECTS.setRelease(trackers, slot, null);
        }
    }

    /**
     * Checks that a handle still owns its slot (a plain read: see the class comment).
     *
     * @return the meta word seen.
     * @throws StaleHandleException if not.
     */
    long check(final int slot, final long generation, final String action)
    {
        final long m = slots[slot << SHIFT];
        check(m, slot, generation, action);
        return m;
    }

    /**
     * After a read: throws if the slot changed owner, so that a racing stale reader never returns another
     * allocation's bytes. The fence keeps the read before this check.
     */
    void validate(final int slot, final long generation, final String action)
    {
        VarHandle.acquireFence();
        final long m = (long)LONGS.getVolatile(slots, slot << SHIFT);
        check(m, slot, generation, action);
    }

    private void check(final long m, final int slot, final long generation, final String action)
    {
        if ((m >>> REF_BITS) != generation || (m & COUNT_MASK) == 0)
        {
            throw stale(m, slot, generation, action);
        }
    }

    StaleHandleException stale(final long m, final int slot, final long generation, final String action)
    {
        return new StaleHandleException(name + ": cannot " + action + " slot " + slot + " generation " +
            generation + ": it was released (slot now at generation " + (m >>> REF_BITS) +
            ((m & COUNT_MASK) == 0 ? ", free)" : ", reused)"));
    }

    int references(final int slot)
    {
        return (int)((long)LONGS.getVolatile(slots, slot << SHIFT) & COUNT_MASK);
    }

    /** @return the frozen length, or {@link #WRITING}: a plain read by a holder of the slot. */
    int length(final int slot)
    {
        return (int)slots[(slot << SHIFT) + LENGTH];
    }

    /** Sets the frozen length: a plain write by the slot's one writer, before it shares the slot. */
    void length(final int slot, final int length)
    {
        slots[(slot << SHIFT) + LENGTH] = length;
    }

    void track(final int slot, final LeakTracker tracker)
    {
        OBJECTS.setRelease(trackers, slot, tracker);
    }

    boolean isTracked(final LeakTracker tracker)
    {
        return OBJECTS.getAcquire(trackers, tracker.slot) == tracker;
    }

    /** {@link #bump bump(slot, FROZEN)} on a table's {@link #slots}, {@code at} the slot's record. */
    static void countFrozen(final long[] slots, final int at)
    {
        putWord(slots, at + FROZEN_AT, word(slots, at + FROZEN_AT) + 1);
    }

    /** Counts an event of a slot: a plain increment by the slot's owner of the moment. */
    void bump(final int slot, final int counter)
    {
        switch (counter)
        {
            case ALLOCS:
                slots[(slot << SHIFT) + ALLOCS_AT]++;
                break;
            case FROZEN:
                slots[(slot << SHIFT) + FROZEN_AT]++;
                break;
            case FREES:
                rare[slot << 1]++;
                break;
            default:
                rare[(slot << 1) + 1]++;
                break;
        }
    }

    long sum(final int counter)
    {
        final long[] array;
        final int first;
        final int step;
        switch (counter)
        {
            case ALLOCS:
                array = slots;
                first = ALLOCS_AT;
                step = 1 << SHIFT;
                break;
            case FROZEN:
                array = slots;
                first = FROZEN_AT;
                step = 1 << SHIFT;
                break;
            case FREES:
                array = rare;
                first = 0;
                step = 2;
                break;
            default:
                array = rare;
                first = 1;
                step = 2;
                break;
        }
        long total = 0;
        for (int i = first; i < array.length; i += step)
        {
            total += (long)LONGS.getOpaque(array, i);
        }
        return total;
    }
}
