package dev.lake.slice;

import dev.lake.memory.StaleHandleException;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;

/**
 * One chunk: a region with a reference count. The allocator holds one reference while the chunk is current,
 * plus a batch of spare ones it hands to new slices without an atomic instruction (see
 * {@link SliceAllocator}'s credit), and every live slice holds one (a slice's handles share it through the
 * slice's header count). The memory is freed exactly when the count reaches zero. Handles hold the chunk object;
 * the allocator holds it only while it is current, or in the primitive tier's table once pinned, so a chunk
 * whose handles all became unreachable becomes unreachable itself and the cleaner frees it and counts the leak.
 *
 * <p>Not a {@link dev.lake.memory.RefCount}: that one counts one at a time, and the allocator needs to take and
 * give back its batch of spare references in one atomic instruction each.
 */
final class Chunk
{
    /** Stands for "no chunk" in an empty slice's handles: never freed, never read. */
    static final Chunk NONE = new Chunk();

    private static final VarHandle COUNT;

    static
    {
        try
        {
            COUNT = MethodHandles.lookup().findVarHandle(Chunk.class, "count", int.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    final ChunkMemory memory;
    private final Cleaner.Cleanable cleanable;
    /** Primitive-tier generation: 0 while unpinned or once freed. Written by the owner, or by the freeing thread. */
    int generation;
    @SuppressWarnings("unused") // through COUNT
    private volatile int count = 1;

    Chunk(final ChunkMemory memory, final Cleaner cleaner)
    {
        this.memory = memory;
        // Links the release's CAS (expecting -1, which the count never is: no change) before the cleaner owns the
        // region, so a full heap fails here, where newChunk frees the region. The first call of a call site in the JVM
        // links it, which allocates on the heap: the first release of a chunk reference in a JVM on a full heap threw
        // OutOfMemoryError there after the slice's count was gone (or after close() marked the allocator closed), and
        // the chunk kept a reference nobody held: its region waited for a GC and was counted as a leak (JDK 25).
        COUNT.weakCompareAndSet(this, -1, -1);
        this.cleanable = cleaner.register(this, memory);
    }

    private Chunk()
    {
        this.memory = null;
        this.cleanable = null;
    }

    /**
     * @return the current count: exact for the allocating thread when it holds the only way to add references.
     */
    int refCount()
    {
        return count;
    }

    /**
     * Adds references: the allocating thread only, on a chunk it holds a reference to (so the count is positive).
     *
     * @param n references to add.
     */
    void addReferences(final int n)
    {
        COUNT.getAndAdd(this, n);
    }

    /**
     * Drops one reference and frees the memory if it was the last. Any thread.
     *
     * @throws StaleHandleException if the count already reached zero.
     */
    void releaseReference()
    {
        releaseReferences(1);
    }

    /**
     * Drops {@code n} references at once and frees the memory if they were the last. Any thread. A CAS loop, not
     * an add, so that a release past zero is refused rather than driving the count negative.
     *
     * @param n references to drop, at least 1.
     * @throws StaleHandleException if fewer than {@code n} remain.
     */
    void releaseReferences(final int n)
    {
        int current;
        do
        {
            current = count;
            if (current < n)
            {
                throw new StaleHandleException(this + " is already released: double release");
            }
        }
        while (!COUNT.weakCompareAndSet(this, current, current - n));
        if (current == n)
        {
            generation = 0;
            memory.freedByOwner = true;
            cleanable.clean();
        }
    }

    @Override
    public String toString()
    {
        return memory == null ? "no chunk" : memory.description;
    }
}
