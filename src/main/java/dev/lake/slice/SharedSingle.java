package dev.lake.slice;

import dev.lake.memory.Memory;
import dev.lake.memory.StaleHandleException;

/**
 * A handle to a slice of exactly one element: the seed's {@code ArcSingle}, from
 * {@link SliceAllocator#allocateSingle(ElementInit)}, the {@code allocateValue} family or
 * {@link SharedSlice#toSingle()}. Reads the element without an index. See {@link SharedHandle} for the safety
 * and thread rules. Every accessor is O(1) and allocation free ({@link #buffer()} makes its view once, on its
 * first call).
 */
public final class SharedSingle extends SharedHandle
{
    SharedSingle(final Chunk chunk, final int offset, final ElementLayout layout)
    {
        super(chunk, offset, 1, layout);
    }

    /**
     * @return the element of a {@link ElementLayout#LONG} single.
     * @throws StaleHandleException  if this handle was released.
     * @throws IllegalStateException if the layout is not {@link ElementLayout#LONG}.
     */
    public long getLong()
    {
        final Chunk c = checkLive();
        checkLayout(ElementLayout.LONG);
        return Memory.getLong(base(c));
    }

    /**
     * @return the element of a {@link ElementLayout#DOUBLE} single.
     * @throws StaleHandleException  if this handle was released.
     * @throws IllegalStateException if the layout is not {@link ElementLayout#DOUBLE}.
     */
    public double getDouble()
    {
        final Chunk c = checkLive();
        checkLayout(ElementLayout.DOUBLE);
        return Double.longBitsToDouble(Memory.getLong(base(c)));
    }

    /**
     * @return the element of an {@link ElementLayout#INT} single.
     * @throws StaleHandleException  if this handle was released.
     * @throws IllegalStateException if the layout is not {@link ElementLayout#INT}.
     */
    public int getInt()
    {
        final Chunk c = checkLive();
        checkLayout(ElementLayout.INT);
        return Memory.getInt(base(c));
    }

    /**
     * @return the element of a {@link ElementLayout#BYTE} single.
     * @throws StaleHandleException  if this handle was released.
     * @throws IllegalStateException if the layout is not {@link ElementLayout#BYTE}.
     */
    public byte getByte()
    {
        final Chunk c = checkLive();
        checkLayout(ElementLayout.BYTE);
        return Memory.getByte(base(c));
    }

    /**
     * {@inheritDoc}
     */
    @Override
    public SharedSingle share()
    {
        return new SharedSingle(shareReference(), offset, layout);
    }

    /**
     * Converts this single into a slice of length 1. The reference moves: this handle becomes released.
     *
     * @return the slice handle.
     * @throws StaleHandleException if this handle was released.
     */
    public SharedSlice toSlice()
    {
        return new SharedSlice(transfer("SharedSlice"), offset, 1, layout);
    }
}
