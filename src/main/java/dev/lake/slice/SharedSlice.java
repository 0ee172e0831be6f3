package dev.lake.slice;

import dev.lake.memory.Memory;
import dev.lake.memory.StaleHandleException;

/**
 * A handle to a slice of {@link #length()} elements: the seed's {@code ArcSlice}. Typed accessors match the
 * allocator's {@link ElementLayout} ({@code getLong} on a {@link ElementLayout#LONG} slice...); records are read
 * through {@link #buffer()} at {@link #elementOffset(int)}. See {@link SharedHandle} for the safety and thread
 * rules. Every accessor is O(1) and allocation free ({@link #buffer()} makes its view once, on its first call).
 */
public final class SharedSlice extends SharedHandle
{
    SharedSlice(final Chunk chunk, final int offset, final int length, final ElementLayout layout)
    {
        super(chunk, offset, length, layout);
    }

    /**
     * @param index element index.
     * @return the element of a {@link ElementLayout#LONG} slice.
     * @throws StaleHandleException      if this handle was released.
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code 0..length()-1}.
     * @throws IllegalStateException     if the slice's layout is not {@link ElementLayout#LONG}.
     */
    public long getLong(final int index)
    {
        final Chunk c = checkIndex(index);
        checkLayout(ElementLayout.LONG);
        return Memory.getLong(base(c) + ((long)index << 3));
    }

    /**
     * @param index element index.
     * @return the element of a {@link ElementLayout#DOUBLE} slice.
     * @throws StaleHandleException      if this handle was released.
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code 0..length()-1}.
     * @throws IllegalStateException     if the slice's layout is not {@link ElementLayout#DOUBLE}.
     */
    public double getDouble(final int index)
    {
        final Chunk c = checkIndex(index);
        checkLayout(ElementLayout.DOUBLE);
        return Double.longBitsToDouble(Memory.getLong(base(c) + ((long)index << 3)));
    }

    /**
     * @param index element index.
     * @return the element of an {@link ElementLayout#INT} slice.
     * @throws StaleHandleException      if this handle was released.
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code 0..length()-1}.
     * @throws IllegalStateException     if the slice's layout is not {@link ElementLayout#INT}.
     */
    public int getInt(final int index)
    {
        final Chunk c = checkIndex(index);
        checkLayout(ElementLayout.INT);
        return Memory.getInt(base(c) + ((long)index << 2));
    }

    /**
     * @param index element index.
     * @return the element of a {@link ElementLayout#BYTE} slice.
     * @throws StaleHandleException      if this handle was released.
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code 0..length()-1}.
     * @throws IllegalStateException     if the slice's layout is not {@link ElementLayout#BYTE}.
     */
    public byte getByte(final int index)
    {
        final Chunk c = checkIndex(index);
        checkLayout(ElementLayout.BYTE);
        return Memory.getByte(base(c) + index);
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public SharedSlice share()
    {
        return new SharedSlice(shareReference(), offset, length, layout);
    }

    /**
     * Converts a slice of exactly one element into a {@link SharedSingle} (the seed's
     * {@code ArcSingle::from_slice}). The reference moves: this handle becomes released, no count changes.
     *
     * @return the single-element handle.
     * @throws StaleHandleException     if this handle was released.
     * @throws IllegalArgumentException if {@link #length()} is not 1 (this handle stays live).
     */
    public SharedSingle toSingle()
    {
        checkLive();
        if (length != 1)
        {
            throw new IllegalArgumentException("only a slice of length 1 converts to a single: " + this);
        }
        return new SharedSingle(transfer("SharedSingle"), offset, layout);
    }
}
