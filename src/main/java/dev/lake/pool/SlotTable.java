package dev.lake.pool;

import dev.lake.memory.StaleHandleException;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.ReferenceQueue;

/**
 * Per-slot bookkeeping shared by the arenas: a generation and a reference count packed in one {@code long}
 * per slot (so that "is this handle still the owner" and "add a reference" are one CAS that cannot be fooled
 * by a slot freed and claimed again in between), the frozen length of primitive handles, per-slot event
 * counters and the leak trackers of the object tier.
 *
 * <p>Counters are per slot and written only by the thread that owns the slot at that moment (the claimer,
 * the freezer, the thread that drops the last reference), so counting costs a plain store and no atomic;
 * a snapshot sums them and is exact once the threads that changed them are quiet.
 *
 * <p>Layout of a meta word: {@code generation << REF_BITS | references}. A slot is free when its references
 * are 0. Freeing bumps the generation, so every handle of the previous owner becomes stale at once.
 */
final class SlotTable
{
    /** Bits of a slot index in a handle, and of a reference count in a meta word. */
    static final int REF_BITS = 28;
    /** Largest number of slots (and of references to one slot). */
    static final int MAX_SLOTS = (1 << REF_BITS) - 1;
    static final long REF_MASK = (1L << REF_BITS) - 1;
    static final long GEN_MASK = (1L << (64 - REF_BITS)) - 1 >>> 1; // keeps handles and meta words positive

    static final int ALLOCS = 0;
    static final int FREES = 1;
    static final int FROZEN = 2;
    static final int SPILLS = 3;
    private static final int COUNTERS = 4;

    static final int WRITING = -1;

    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);
    private static final VarHandle OBJECTS = MethodHandles.arrayElementVarHandle(Object[].class);

    private final String name;
    private final long[] meta;
    private final int[] lengths;
    private final long[] counts;
    private final Object[] trackers;
    final ReferenceQueue<Object> queue = new ReferenceQueue<>();

    SlotTable(final String name, final int slots)
    {
        this.name = name;
        this.meta = new long[slots];
        this.lengths = new int[slots];
        this.counts = new long[slots * COUNTERS];
        this.trackers = new Object[slots];
        for (int i = 0; i < slots; i++)
        {
            meta[i] = 1L << REF_BITS;
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

    int size()
    {
        return meta.length;
    }

    /**
     * Takes a slot the caller just claimed in its allocator: one reference, writing state.
     *
     * @return the slot's generation for this allocation.
     */
    long occupy(final int slot)
    {
        final long m = (long)LONGS.getAcquire(meta, slot);
        if ((m & REF_MASK) != 0)
        {
            throw new IllegalStateException(name + ": slot " + slot + " claimed while still referenced (bug)");
        }
        lengths[slot] = WRITING;
        bump(slot, ALLOCS);
        LONGS.setRelease(meta, slot, m + 1);
        return m >>> REF_BITS;
    }

    /**
     * Adds one reference to a live slot.
     *
     * @throws StaleHandleException if the generation is no longer current.
     */
    void retain(final int slot, final long generation)
    {
        long m;
        do
        {
            m = (long)LONGS.getVolatile(meta, slot);
            check(m, slot, generation, "retain");
            if ((m & REF_MASK) == REF_MASK)
            {
                throw new IllegalStateException(name + ": slot " + slot + " has too many references");
            }
        }
        while (!LONGS.weakCompareAndSet(meta, slot, m, m + 1));
    }

    /**
     * Drops one reference.
     *
     * @return {@code true} for the call that dropped the last reference: the caller must then return the slot.
     * @throws StaleHandleException if the generation is no longer current.
     */
    boolean release(final int slot, final long generation)
    {
        long m;
        long next;
        do
        {
            m = (long)LONGS.getVolatile(meta, slot);
            check(m, slot, generation, "release");
            next = (m & REF_MASK) == 1 ? nextGeneration(generation) << REF_BITS : m - 1;
        }
        while (!LONGS.weakCompareAndSet(meta, slot, m, next));
        if ((next & REF_MASK) == 0)
        {
            bump(slot, FREES);
            untrack(slot);
            return true;
        }
        return false;
    }

    /**
     * Frees a slot whatever its reference count, for the leak safety net: only called for an allocation whose
     * every handle is unreachable.
     *
     * @return whether the slot was still held by that generation (and is now free).
     */
    boolean reclaim(final int slot, final long generation)
    {
        long m;
        do
        {
            m = (long)LONGS.getVolatile(meta, slot);
            if ((m >>> REF_BITS) != generation || (m & REF_MASK) == 0)
            {
                return false;
            }
        }
        while (!LONGS.weakCompareAndSet(meta, slot, m, nextGeneration(generation) << REF_BITS));
        bump(slot, FREES);
        untrack(slot);
        return true;
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
     * Checks that a handle still owns its slot.
     *
     * @return the meta word seen, for a later {@link #validate}.
     * @throws StaleHandleException if not.
     */
    long check(final int slot, final long generation, final String action)
    {
        final long m = (long)LONGS.getVolatile(meta, slot);
        check(m, slot, generation, action);
        return m;
    }

    /**
     * After a read: throws if the slot changed owner since {@code seen}, so that a racing stale reader never
     * returns another allocation's bytes.
     */
    void validate(final int slot, final long generation, final String action)
    {
        VarHandle.acquireFence();
        check(slot, generation, action);
    }

    private void check(final long m, final int slot, final long generation, final String action)
    {
        if ((m >>> REF_BITS) != generation || (m & REF_MASK) == 0)
        {
            throw new StaleHandleException(name + ": cannot " + action + " slot " + slot + " generation " +
                generation + ": it was released (slot now at generation " + (m >>> REF_BITS) +
                ((m & REF_MASK) == 0 ? ", free)" : ", reused)"));
        }
    }

    int references(final int slot)
    {
        return (int)((long)LONGS.getVolatile(meta, slot) & REF_MASK);
    }

    int length(final int slot)
    {
        return (int)INTS.getAcquire(lengths, slot);
    }

    void length(final int slot, final int length)
    {
        INTS.setRelease(lengths, slot, length);
    }

    void track(final int slot, final LeakTracker tracker)
    {
        OBJECTS.setRelease(trackers, slot, tracker);
    }

    boolean isTracked(final LeakTracker tracker)
    {
        return OBJECTS.getAcquire(trackers, tracker.slot) == tracker;
    }

    void bump(final int slot, final int counter)
    {
        final int i = slot * COUNTERS + counter;
        LONGS.setOpaque(counts, i, (long)LONGS.getOpaque(counts, i) + 1);
    }

    long sum(final int counter)
    {
        long total = 0;
        for (int i = counter; i < counts.length; i += COUNTERS)
        {
            total += (long)LONGS.getOpaque(counts, i);
        }
        return total;
    }
}
