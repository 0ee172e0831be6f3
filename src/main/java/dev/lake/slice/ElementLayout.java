package dev.lake.slice;

import dev.lake.memory.Memory;
import dev.lake.memory.Region;

/**
 * What one element of a slice is: its byte size and alignment. The four primitive layouts are constants, so a
 * typed accessor checks its layout with one reference comparison; {@link #record(int, int)} describes a
 * fixed-size record (an SBE message body, a struct) by its size and alignment.
 *
 * <p>Elements are laid out every {@link #stride()} bytes: the size rounded up to the alignment, so every
 * element of a slice starts aligned.
 */
public final class ElementLayout
{
    /** One byte per element, no alignment: read with {@code getByte}. */
    public static final ElementLayout BYTE = new ElementLayout("BYTE", 1, 1);
    /** A 4-byte {@code int} per element, 4-aligned: read with {@code getInt}. */
    public static final ElementLayout INT = new ElementLayout("INT", 4, 4);
    /** An 8-byte {@code long} per element, 8-aligned: read with {@code getLong}. */
    public static final ElementLayout LONG = new ElementLayout("LONG", 8, 8);
    /** An 8-byte {@code double} per element, 8-aligned: read with {@code getDouble}. */
    public static final ElementLayout DOUBLE = new ElementLayout("DOUBLE", 8, 8);

    private final String name;
    private final int size;
    private final int alignment;
    private final int stride;

    private ElementLayout(final String name, final int size, final int alignment)
    {
        this.name = name;
        this.size = size;
        this.alignment = alignment;
        this.stride = (int)((size + (long)alignment - 1) & -alignment);
    }

    /**
     * Describes a fixed-size record read and written through a buffer (for example an SBE flyweight).
     *
     * @param size      bytes per record, from 1 up to the largest record that one chunk holds with its slice header:
     *                  {@link Region#MAX_SIZE} minus {@code max(8, alignment)}, rounded down to a multiple of
     *                  {@code alignment}.
     * @param alignment alignment of every record, a power of two up to {@link Memory#pageSize()}.
     * @return the layout.
     * @throws IllegalArgumentException naming the value if the size or alignment is out of range.
     */
    public static ElementLayout record(final int size, final int alignment)
    {
        Region.checkAlignment(alignment, Memory.pageSize());
        // One element and its header must fit in a chunk of at most Region.MAX_SIZE bytes: a larger record was
        // accepted here and then refused by SliceAllocator.builder(layout), which documents no such exception.
        final long room = Region.MAX_SIZE - Math.max(SliceAllocator.HEADER, alignment);
        Region.checkSize(size, room - room % alignment, "record size");
        return new ElementLayout("RECORD", size, alignment);
    }

    /**
     * @return bytes per element.
     */
    public int size()
    {
        return size;
    }

    /**
     * @return alignment of every element's first byte.
     */
    public int alignment()
    {
        return alignment;
    }

    /**
     * @return distance in bytes between consecutive elements: {@link #size()} rounded up to {@link #alignment()}.
     */
    public int stride()
    {
        return stride;
    }

    /**
     * @return whether this is a record layout (read through a buffer) rather than one of the primitive constants.
     */
    public boolean isRecord()
    {
        return this != BYTE && this != INT && this != LONG && this != DOUBLE;
    }

    @Override
    public boolean equals(final Object other)
    {
        if (this == other)
        {
            return true;
        }
        if (!(other instanceof ElementLayout))
        {
            return false;
        }
        final ElementLayout that = (ElementLayout)other;
        return isRecord() && that.isRecord() && size == that.size && alignment == that.alignment;
    }

    @Override
    public int hashCode()
    {
        return 31 * (31 * name.hashCode() + size) + alignment;
    }

    @Override
    public String toString()
    {
        return isRecord() ? "RECORD[" + size + " B, align " + alignment + "]" : name;
    }
}
