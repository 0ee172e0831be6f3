package dev.lake.slice;

import dev.lake.memory.RefCount;

import java.lang.ref.Cleaner;

/**
 * One chunk: a region with a reference count. The allocator holds one reference while the chunk is current,
 * and every live slice holds one (a slice's handles share it through the slice's header count). The memory is
 * freed exactly when the count reaches zero. Handles hold the chunk object; the allocator holds it only while it
 * is current, or in the primitive tier's table once pinned, so a chunk whose handles all became unreachable
 * becomes unreachable itself and the cleaner frees it and counts the leak.
 */
final class Chunk extends RefCount
{
    /** Stands for "no chunk" in an empty slice's handles: never freed, never read. */
    static final Chunk NONE = new Chunk();

    final ChunkMemory memory;
    private final Cleaner.Cleanable cleanable;
    /** Primitive-tier generation: 0 while unpinned or once freed. Written by the owner, or by the freeing thread. */
    int generation;

    Chunk(final ChunkMemory memory, final Cleaner cleaner)
    {
        this.memory = memory;
        this.cleanable = cleaner.register(this, memory);
    }

    private Chunk()
    {
        this.memory = null;
        this.cleanable = null;
    }

    /**
     * Drops one reference and frees the memory if it was the last. Any thread.
     *
     * @throws dev.lake.memory.StaleHandleException if the count already reached zero.
     */
    void releaseReference()
    {
        if (release())
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
