package dev.lake.linear;

import dev.lake.memory.Memory;
import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.lang.ref.Reference;
import java.util.Objects;

/**
 * A checked handle to one allocation of a lake or view: {@code length} bytes at {@link #offset()} of the
 * lake's buffer. Made by {@link LakeAllocator#droplet(int)} and {@link LakeAllocator#process(DropletWriter)}.
 *
 * <p>Validity is exact: {@link #isValid()} is true until a rewind (reset-to-mark, snapshot rewind, sandbox
 * rollback, reset, the auto-rewind of a later droplet or view) moves its allocator's position below the
 * droplet's end, or the allocator becomes invalid (lake closed, view rewound over by its parent). It stays
 * false even if the position later moves past it again and the bytes are handed out anew. Every accessor
 * first checks validity and throws {@link StaleHandleException} without touching memory when the droplet is
 * invalid, then checks bounds itself (never relying on Agrona's optional bounds checks) and throws
 * {@link IndexOutOfBoundsException} naming the index. Multi-byte values are in native byte order, as with
 * {@code UnsafeBuffer}.
 *
 * <p>{@link #close()} gives the droplet's bytes back when it is its allocator's last allocation (the seed's
 * auto-rewind); otherwise it does nothing and the droplet stays valid until a rewind passes below it.
 *
 * <p>Cost: one small object (removed by the JIT when it does not escape); each access is an O(1) validity
 * check plus a bounds check. Not thread-safe.
 */
public final class Droplet implements AutoCloseable
{
    private final LakeAllocator owner;
    private final int from;
    private final int offset;
    private final int end;
    private final int epochIndex;
    /** The allocator's generation when this droplet was made: see {@link LakeAllocator#holdsSince}. */
    private final long born;

    Droplet(
        final LakeAllocator owner,
        final int from,
        final int offset,
        final int end,
        final int epochIndex,
        final long born)
    {
        this.owner = owner;
        this.from = from;
        this.offset = offset;
        this.end = end;
        this.epochIndex = epochIndex;
        this.born = born;
    }

    /**
     * @return whether the droplet's bytes are still its own. O(1).
     */
    public boolean isValid()
    {
        return owner.alive() && owner.holdsSince(epochIndex, born, end);
    }

    /**
     * @return offset of the first byte in the lake's {@link LakeAllocator#buffer()} (a plain number: using it
     * directly is the unchecked primitive tier).
     */
    public int offset()
    {
        return offset;
    }

    /**
     * @return size in bytes.
     */
    public int length()
    {
        return end - offset;
    }

    /**
     * @return the lake or view this droplet was allocated from.
     */
    public LakeAllocator allocator()
    {
        return owner;
    }

    /**
     * Checks validity and returns the offset, for handing the bytes to code that takes a buffer and an offset.
     *
     * @return {@link #offset()}.
     * @throws StaleHandleException if the droplet is invalid.
     */
    public int checkedOffset()
    {
        checkValid();
        return offset;
    }

    /**
     * Points a flyweight (SBE codec, Aeron flyweight) at this droplet's bytes, after checking validity, and checks
     * validity again once the wrapper returned: a wrapper that closed the lake or rewound it below this droplet's
     * end (its memory freed or handed out again) is refused. The flyweight itself is not checked afterwards: it
     * is the primitive tier. O(1) plus the wrapper.
     *
     * @param flyweight the flyweight.
     * @param wrapper   how to wrap it, e.g. {@code MyEncoder::wrap}, or for an SBE message decoder, whose
     *                  {@code wrap} also takes the acting block length and version,
     *                  {@code (d, b, o) -> d.wrap(b, o, MyDecoder.BLOCK_LENGTH, MyDecoder.SCHEMA_VERSION)}.
     * @param <F>       the flyweight type.
     * @return {@code flyweight}.
     * @throws StaleHandleException if the droplet is invalid, or the wrapper made it invalid (closed its lake,
     *                              rewound below its end) while it ran.
     */
    public <F> F wrap(final F flyweight, final FlyweightWrapper<F> wrapper)
    {
        checkValid();
        wrapper.wrap(flyweight, owner.buffer, offset);
        // the wrapper is user code: it may have closed or rewound the lake, leaving the flyweight over memory that
        // is freed or someone else's
        checkValid();
        return flyweight;
    }

    /**
     * @param index byte index inside the droplet.
     * @return the byte.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if {@code index} is outside the droplet.
     */
    public byte getByte(final int index)
    {
        return Memory.getByte(at(index, 1));
    }

    /**
     * @param index byte index inside the droplet.
     * @param value the byte.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if {@code index} is outside the droplet.
     */
    public void putByte(final int index, final byte value)
    {
        Memory.putByte(at(index, 1), value);
    }

    /**
     * @param index byte index of the first of 2 bytes.
     * @return the value.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the bytes are not all inside the droplet.
     */
    public short getShort(final int index)
    {
        return Memory.getShort(at(index, Short.BYTES));
    }

    /**
     * @param index byte index of the first of 2 bytes.
     * @param value the value.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the bytes are not all inside the droplet.
     */
    public void putShort(final int index, final short value)
    {
        Memory.putShort(at(index, Short.BYTES), value);
    }

    /**
     * @param index byte index of the first of 4 bytes.
     * @return the value.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the bytes are not all inside the droplet.
     */
    public int getInt(final int index)
    {
        return Memory.getInt(at(index, Integer.BYTES));
    }

    /**
     * @param index byte index of the first of 4 bytes.
     * @param value the value.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the bytes are not all inside the droplet.
     */
    public void putInt(final int index, final int value)
    {
        Memory.putInt(at(index, Integer.BYTES), value);
    }

    /**
     * @param index byte index of the first of 8 bytes.
     * @return the value.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the bytes are not all inside the droplet.
     */
    public long getLong(final int index)
    {
        return Memory.getLong(at(index, Long.BYTES));
    }

    /**
     * @param index byte index of the first of 8 bytes.
     * @param value the value.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the bytes are not all inside the droplet.
     */
    public void putLong(final int index, final long value)
    {
        Memory.putLong(at(index, Long.BYTES), value);
    }

    /**
     * @param index byte index of the first of 4 bytes.
     * @return the value.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the bytes are not all inside the droplet.
     */
    public float getFloat(final int index)
    {
        return Memory.getFloat(at(index, Float.BYTES));
    }

    /**
     * @param index byte index of the first of 4 bytes.
     * @param value the value.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the bytes are not all inside the droplet.
     */
    public void putFloat(final int index, final float value)
    {
        Memory.putFloat(at(index, Float.BYTES), value);
    }

    /**
     * @param index byte index of the first of 8 bytes.
     * @return the value.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the bytes are not all inside the droplet.
     */
    public double getDouble(final int index)
    {
        return Memory.getDouble(at(index, Double.BYTES));
    }

    /**
     * @param index byte index of the first of 8 bytes.
     * @param value the value.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the bytes are not all inside the droplet.
     */
    public void putDouble(final int index, final double value)
    {
        Memory.putDouble(at(index, Double.BYTES), value);
    }

    /**
     * Copies {@code length} bytes out of the droplet into an array.
     *
     * @param index     first byte in the droplet.
     * @param dst       destination array.
     * @param dstOffset first index in {@code dst}.
     * @param length    bytes to copy.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if either range is out of bounds; nothing is copied.
     */
    public void getBytes(final int index, final byte[] dst, final int dstOffset, final int length)
    {
        final int at = index(index, length);
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        owner.buffer.getBytes(at, dst, dstOffset, length);
    }

    /**
     * Copies {@code length} bytes from an array into the droplet.
     *
     * @param index     first byte in the droplet.
     * @param src       source array.
     * @param srcOffset first index in {@code src}.
     * @param length    bytes to copy.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if either range is out of bounds; nothing is copied.
     */
    public void putBytes(final int index, final byte[] src, final int srcOffset, final int length)
    {
        final int at = index(index, length);
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        owner.buffer.putBytes(at, src, srcOffset, length);
    }

    /**
     * Copies all of {@code src} into the droplet at {@code index}.
     *
     * @param index first byte in the droplet.
     * @param src   source array.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if it does not fit; nothing is copied.
     */
    public void putBytes(final int index, final byte[] src)
    {
        putBytes(index, src, 0, src.length);
    }

    /**
     * Copies bytes from any Agrona buffer into the droplet (both ranges checked here).
     *
     * @param index    first byte in the droplet.
     * @param src      source buffer.
     * @param srcIndex first byte in {@code src}.
     * @param length   bytes to copy.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if either range is out of bounds; nothing is copied.
     */
    public void putBytes(final int index, final DirectBuffer src, final int srcIndex, final int length)
    {
        index(index, length);
        Objects.checkFromIndexSize(srcIndex, length, src.capacity());
        // The source's own methods run first (a Lake view checks its handle there; any other type is code Lake does
        // not know, which may close or rewind this lake), then the droplet is checked again, then the raw copy:
        // Agrona's putBytes would call them after its own check of the lake's buffer and before reading its address.
        final byte[] array = src.byteArray();
        final long from = src.addressOffset() + srcIndex;
        final int at = index(index, length);
        Memory.copy(array, from, owner.address + at, length);
        Reference.reachabilityFence(src); // a Bytes source must not be reclaimed by its safety net mid-copy
    }

    /**
     * Copies bytes from the droplet into any Agrona buffer (both ranges checked here). No allocation into Agrona's
     * and Lake's own buffers; another {@code MutableDirectBuffer} type (a subclass, an adapter: code Lake does not
     * know, which may rewind or close the lake inside its own methods) is asked for its capacity before the droplet
     * is checked and gets the bytes through one heap copy ({@link Memory#copyOut}), never the lake's buffer.
     *
     * @param index    first byte in the droplet.
     * @param dst      destination buffer.
     * @param dstIndex first byte in {@code dst}.
     * @param length   bytes to copy.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if either range is out of bounds; nothing is copied.
     */
    public void getBytes(final int index, final MutableDirectBuffer dst, final int dstIndex, final int length)
    {
        final int room = dst.capacity(); // foreign code first: it may rewind or close the lake
        final int at = index(index, length);
        Objects.checkFromIndexSize(dstIndex, length, room);
        Memory.copyOut(owner.buffer, at, dst, dstIndex, length);
    }

    /**
     * Sets {@code length} bytes from {@code index} to {@code value}.
     *
     * @param index  first byte in the droplet.
     * @param length bytes to set.
     * @param value  the byte.
     * @throws StaleHandleException      if the droplet is invalid.
     * @throws IndexOutOfBoundsException if the range is outside the droplet; nothing is written.
     */
    public void setMemory(final int index, final int length, final byte value)
    {
        owner.buffer.setMemory(index(index, length), length, value);
    }

    /**
     * Sets every byte of the droplet to {@code value}.
     *
     * @param value the byte.
     * @throws StaleHandleException if the droplet is invalid.
     */
    public void fill(final byte value)
    {
        setMemory(0, end - offset, value);
    }

    /**
     * @return a copy of the droplet's bytes (allocates an array).
     * @throws StaleHandleException if the droplet is invalid.
     */
    public byte[] toByteArray()
    {
        // before the array: a stale droplet of a large lake threw OutOfMemoryError (or took the heap) instead
        checkValid();
        final byte[] copy = new byte[end - offset];
        getBytes(0, copy, 0, copy.length);
        return copy;
    }

    /**
     * Gives the droplet's bytes (and the alignment padding before them) back to its allocator if it is the
     * last allocation there and no mark or sandbox was opened after it; the droplet then becomes invalid.
     * Otherwise does nothing: the droplet stays valid and its bytes come back with the next rewind below it.
     * Closing an invalid droplet, or closing twice, does nothing. O(1). The give-back is a rewind: a snapshot
     * taken after the droplet (at or above its end) is stale afterwards, and rewinding to it throws
     * {@link StaleHandleException} (it would move the position forward over given-back memory). Take a mark or
     * open a sandbox instead to keep a point above a droplet that may be closed: either blocks the give-back.
     */
    @Override
    public void close()
    {
        if (isValid())
        {
            owner.releaseIfLast(from, end, epochIndex);
        }
    }

    @Override
    public String toString()
    {
        return "Droplet[" + offset + ", " + (end - offset) + " B" + state() + "]";
    }

    /** For toString(), which loggers call from any thread: never throws, not even for a confined lake. */
    private String state()
    {
        try
        {
            return isValid() ? "" : ", invalid";
        }
        catch (final IllegalStateException confinedElsewhere)
        {
            return ", confined to another thread";
        }
    }

    private void checkValid()
    {
        if (!isValid())
        {
            throw stale();
        }
    }

    /** Checks validity and bounds; returns the buffer index of byte {@code index} (for bulk copies). */
    private int index(final int index, final int size)
    {
        if (!isValid())
        {
            throw stale();
        }
        if (size < 0 || index < 0 || index > end - offset - size)
        {
            throw outOfBounds(index, size);
        }
        return offset + index;
    }

    /**
     * Checks validity and bounds; returns the absolute address of byte {@code index}. Single values go through
     * raw memory rather than the buffer: a raw store does not make the JIT reload the lake's fields that
     * {@link #close()} reads next (a store through a buffer may touch any Java field, as far as C2 can tell).
     */
    private long at(final int index, final int size)
    {
        return owner.address + index(index, size);
    }

    private IndexOutOfBoundsException outOfBounds(final int index, final int size)
    {
        return new IndexOutOfBoundsException(
            "index " + index + " + " + size + " B outside droplet of " + (end - offset) + " B");
    }

    private StaleHandleException stale()
    {
        final String why = !owner.alive() ?
            (owner.root.closed ? "its lake is closed" : "its view was rewound over by its parent") :
            "its allocator was rewound below its end";
        return new StaleHandleException("droplet at " + offset + " (" + (end - offset) + " B) of " + owner +
            " is no longer valid: " + why);
    }
}
