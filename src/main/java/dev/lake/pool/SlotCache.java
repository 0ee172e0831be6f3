package dev.lake.pool;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;

import java.lang.ref.Cleaner;

/**
 * A small cache of free slots in front of one {@link FixedArena}'s handle tier, owned by one thread: the
 * magazine of jemalloc or Netty's {@code PoolThreadCache}, made explicit (the owner holds it, so there is no
 * {@code ThreadLocal} lookup). When its owner releases the last reference of a slot, the slot is parked here
 * instead of going back to the shared bitmap, and the owner's next allocation takes it back without touching
 * the bitmap. A round trip through a warm cache costs one atomic operation (the reference count CAS that makes
 * a double release fail) instead of three.
 *
 * <pre>{@code
 * try (SlotCache cache = arena.slotCache(8))
 * {
 *     final long h = cache.allocateHandle();
 *     arena.putLong(h, 0, 42L);
 *     arena.freezeHandle(h, 8);
 *     cache.release(h);            // any thread may instead call arena.release(h)
 * }
 * }</pre>
 *
 * <p>Guarantees: handles from a cache are ordinary handles of the arena (read, write, freeze, retain and
 * release them through the arena from any thread); a stale or double release through the cache throws
 * {@link StaleHandleException} exactly as {@link FixedArena#release(long)} does; a parked slot is free memory
 * (zeroed first under {@link InitPolicy#ZERO}) and is never handed out twice.
 *
 * <p>Trade-off: parked slots are free but reserved for this cache's owner, so other threads can see the arena
 * full while up to {@link #capacity()} slots sit here. {@link FixedArenaMetrics#cachedSlots()} shows them (they
 * are not counted as live). A cache gives every parked slot back on {@link #close()}; when requests are waiting
 * for slots or the arena is closed, on its next call; and if it is dropped without close, when the garbage
 * collector finds it unreachable. An arena closed while a cache still holds slots frees its region once the
 * cache has given them back.
 *
 * <p>Not thread-safe by design: every method except {@link #cached()} and {@link #capacity()} must be called
 * by the thread that created the cache, which is checked (one compare per call).
 */
public final class SlotCache implements AutoCloseable
{
    private final FixedArena arena;
    private final SlotTable table;
    private final Stash stash;
    private final Cleaner.Cleanable cleanable;
    /** The creating thread while open; {@code null} once closed, so one compare checks both. */
    private Thread owner;

    SlotCache(final FixedArena arena, final int capacity)
    {
        this.arena = arena;
        this.table = arena.table;
        this.stash = new Stash(capacity);
        this.owner = Thread.currentThread();
        arena.register(stash);
        this.cleanable = NativeMemory.cleaner().register(this, new GiveBack(arena, stash));
    }

    /**
     * Allocates a slot on the zero-garbage tier: a parked slot when there is one (no atomic operation), else
     * one claimed from the arena's bitmap as {@link FixedArena#allocateHandle()} does. No allocation.
     *
     * @return the handle of the slot, writing.
     * @throws ArenaFullException    if the cache is empty and every slot of the arena is in use (or requests
     *                               are waiting for slots).
     * @throws ArenaClosedException  if the arena is closed.
     * @throws IllegalStateException if called from another thread than the owner, or after {@link #close()}.
     */
    public long allocateHandle()
    {
        final long handle = tryAllocateHandle();
        if (handle == FixedArena.NO_HANDLE)
        {
            throw arena.full();
        }
        return handle;
    }

    /**
     * Like {@link #allocateHandle()} but returns {@link FixedArena#NO_HANDLE} when the cache is empty and the
     * arena has no free slot (or requests are waiting).
     *
     * @return the handle, or {@link FixedArena#NO_HANDLE}.
     * @throws ArenaClosedException  if the arena is closed.
     * @throws IllegalStateException if called from another thread than the owner, or after {@link #close()}.
     */
    public long tryAllocateHandle()
    {
        checkOwner();
        final Stash s = stash;
        final int n = s.count;
        if (n > 0)
        {
            if (arena.mayPark())
            {
                final int slot = s.slots[n - 1];
                s.count = n - 1;
                return SlotTable.handle(slot, table.occupy(slot));
            }
            arena.giveBack(s); // waiters or a closed arena: the parked slots are theirs (or the region's)
        }
        return arena.tryAllocateHandle();
    }

    /**
     * Drops a reference to a handle of this cache's arena, as {@link FixedArena#release(long)} does; when it
     * was the last, the slot is parked in this cache if there is room (and nobody waits for slots and the arena
     * is open), else returned to the arena. O(1): one CAS.
     *
     * @param handle a live handle of the arena (from this cache, the arena, or another cache).
     * @throws StaleHandleException  if the handle is no longer live (for example released twice).
     * @throws IllegalStateException if called from another thread than the owner, or after {@link #close()}.
     */
    public void release(final long handle)
    {
        checkOwner();
        final int slot = arena.slotOf(handle);
        if (table.release(slot, SlotTable.generationOf(handle)))
        {
            final Stash s = stash;
            final int n = s.count;
            if (n < s.slots.length && arena.mayPark())
            {
                arena.zero(slot, arena.slotCapacity());
                s.slots[n] = slot;
                s.count = n + 1;
            }
            else
            {
                arena.returnSlot(slot, arena.slotCapacity());
            }
        }
    }

    /**
     * @return slots parked here now (read racily from other threads: exact once the owner is quiet).
     */
    public int cached()
    {
        return stash.count;
    }

    /**
     * @return the most slots this cache parks.
     */
    public int capacity()
    {
        return stash.slots.length;
    }

    /**
     * Gives every parked slot back to the arena (serving waiters, freeing a closed arena's region when nothing
     * else is live). Idempotent; handles allocated through the cache stay valid.
     *
     * @throws IllegalStateException if called from another thread than the owner while open.
     */
    @Override
    public void close()
    {
        if (owner == null)
        {
            return;
        }
        checkOwner();
        owner = null;
        cleanable.clean();
    }

    @Override
    public String toString()
    {
        return "SlotCache[" + arena.name() + ", " + stash.count + "/" + stash.slots.length +
            (owner == null ? ", closed]" : "]");
    }

    private void checkOwner()
    {
        if (Thread.currentThread() != owner)
        {
            throw new IllegalStateException(owner == null ?
                "SlotCache of " + arena.name() + " is closed" :
                "SlotCache of " + arena.name() + " belongs to thread " + owner.getName() + ", not " +
                    Thread.currentThread().getName());
        }
    }

    /** The parked slots: shared with the arena (metrics) and the cleaner, never with the cache object itself. */
    static final class Stash
    {
        final int[] slots;
        /** Written only by the owner (or, once the owner is gone, the one give-back); read racily by metrics. */
        int count;

        Stash(final int capacity)
        {
            this.slots = new int[capacity];
        }
    }

    /** Runs once: on close, or when the cache became unreachable. */
    private static final class GiveBack implements Runnable
    {
        private final FixedArena arena;
        private final Stash stash;

        GiveBack(final FixedArena arena, final Stash stash)
        {
            this.arena = arena;
            this.stash = stash;
        }

        @Override
        public void run()
        {
            arena.giveBack(stash);
            arena.unregister(stash);
        }
    }
}
