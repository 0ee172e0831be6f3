package dev.lake.pool;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * What a {@link Buffer} and the {@link Bytes} frozen from it need from the arena that backs them: the shared
 * memory view and how to add and drop references to their slot. {@link FixedArena} implements it over a
 * bitmap of uniform slots; a second arena kind (the buddy arena) implements it over blocks of varying size
 * and produces the very same {@code Buffer} and {@code Bytes}.
 *
 * <p>A slot is named by an {@code int} index and the {@code long} generation it had when it was claimed; a
 * call with a generation that is no longer current throws {@link dev.lake.memory.StaleHandleException}.
 */
interface SlotSource
{
    /**
     * @return the arena's name, for messages.
     */
    String name();

    /**
     * @return the view over the whole region; a slot's bytes start at the base offset its buffer was given.
     */
    UnsafeBuffer memory();

    /**
     * @return whether buffers copy themselves to the heap instead of failing when they outgrow their slot.
     */
    boolean autoSpill();

    /**
     * Adds one reference to a frozen slot.
     *
     * @param slot       the slot.
     * @param generation the generation the caller holds.
     */
    void retain(int slot, long generation);

    /**
     * Drops one reference; the last one returns the slot to the arena (zeroing the dirty bytes under
     * {@link InitPolicy#ZERO}).
     *
     * @param slot       the slot.
     * @param generation the generation the caller holds.
     * @param dirtyBytes how many bytes from the slot's start may have been written.
     */
    void release(int slot, long generation, int dirtyBytes);

    /**
     * Counts the freeze of a buffer still backed by its slot.
     *
     * @param slot the slot.
     */
    void frozen(int slot);

    /** Counts the freeze of a buffer that spilled to the heap. */
    void frozenOnHeap();

    /**
     * Counts a spill; the caller then returns the slot ({@link #release}), its contents copied to the heap. Two calls,
     * so that a spill cut short between them is neither counted twice nor left uncounted when it is finished.
     *
     * @param slot the slot, still held by the caller.
     */
    void spilled(int slot);
}
