package dev.lake.slice;

import dev.lake.memory.Memory;
import dev.lake.memory.Region;
import org.agrona.DirectBuffer;
import org.agrona.LangUtil;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.nio.ByteOrder;

/**
 * The read-only {@link DirectBuffer} view of one handle's slice, zero copy. It implements only the read side
 * (it is not a {@code MutableDirectBuffer}, so a cast to one fails), refuses every {@code wrap}, and before
 * each read checks that its handle is live and that the bytes lie inside the slice, with its own checks: it stays
 * safe with {@code -Dagrona.disable.bounds.checks=true}.
 *
 * <p>Every read ends with a reachability fence on the handle: compiled code stops using the view (and so its handle)
 * once it loaded the delegate, and a GC in the middle of a read (a safepoint poll in a loop, an allocation) that found
 * a leaked handle unreachable let the cleaner free its chunk under the read (a SIGSEGV, or another allocation's bytes).
 */
final class SliceView implements DirectBuffer
{
    private static final byte[] EMPTY = new byte[0];

    private final SharedHandle handle;
    private final UnsafeBuffer delegate;
    private final int capacity;

    SliceView(final SharedHandle handle)
    {
        this.handle = handle;
        this.capacity = handle.byteLength();
        this.delegate = capacity == 0 ? new UnsafeBuffer(EMPTY) :
            // at the raw address, not over the chunk's region buffer: wrapping that one would hand this delegate the
            // region's NIO view (what a caller's own wrap keeps, Region.RegionBuffer#byteBuffer), a view over the whole
            // chunk; the handle, fenced in every read, is what keeps the chunk here
            new UnsafeBuffer(handle.chunk.memory.address + handle.offset, capacity);
    }

    private void check(final int index, final long length)
    {
        handle.checkLive();
        if (index < 0 || length < 0 || index + length > capacity)
        {
            throw new IndexOutOfBoundsException(
                "index=" + index + " length=" + length + " out of bounds for " + handle + " (" + capacity + " B)");
        }
    }

    /**
     * Checks a string of {@code length} bytes after its 4-byte length at {@code index}: a negative length (stored, or
     * passed) is refused on its own, since {@code 4 + length} of -1 to -4 would pass the range check.
     */
    private void checkString(final int index, final int length)
    {
        if (length < 0)
        {
            handle.checkLive();
            throw new IndexOutOfBoundsException(
                "index=" + index + " string length=" + length + " is negative, in " + handle + " (" + capacity + " B)");
        }
        check(index, STR_HEADER_LEN + (long)length);
    }

    private UnsupportedOperationException readOnly()
    {
        return new UnsupportedOperationException("the view of " + handle + " is read-only and cannot be re-wrapped");
    }

    /** Refused: the view always shows its slice. */
    @Override
    public void wrap(final byte[] buffer)
    {
        throw readOnly();
    }

    /** Refused: the view always shows its slice. */
    @Override
    public void wrap(final byte[] buffer, final int offset, final int length)
    {
        throw readOnly();
    }

    /** Refused: the view always shows its slice. */
    @Override
    public void wrap(final ByteBuffer buffer)
    {
        throw readOnly();
    }

    /** Refused: the view always shows its slice. */
    @Override
    public void wrap(final ByteBuffer buffer, final int offset, final int length)
    {
        throw readOnly();
    }

    /** Refused: the view always shows its slice. */
    @Override
    public void wrap(final DirectBuffer buffer)
    {
        throw readOnly();
    }

    /** Refused: the view always shows its slice. */
    @Override
    public void wrap(final DirectBuffer buffer, final int offset, final int length)
    {
        throw readOnly();
    }

    /** Refused: the view always shows its slice. */
    @Override
    public void wrap(final long address, final int length)
    {
        throw readOnly();
    }

    /** {@inheritDoc} Raw, unchecked: for Agrona internals; reading through it is the caller's risk. */
    @Override
    public long addressOffset()
    {
        handle.checkLive();
        return delegate.addressOffset();
    }

    /** @return {@code null}: the slice is off-heap. */
    @Override
    public byte[] byteArray()
    {
        handle.checkLive();
        return null;
    }

    /** @return {@code null}: no NIO buffer backs the slice view. */
    @Override
    public ByteBuffer byteBuffer()
    {
        handle.checkLive();
        return null;
    }

    /** {@inheritDoc} */
    @Override
    public int capacity()
    {
        handle.checkLive();
        return capacity;
    }

    /** {@inheritDoc} */
    @Override
    public void checkLimit(final int limit)
    {
        handle.checkLive();
        if (limit > capacity)
        {
            throw new IndexOutOfBoundsException("limit=" + limit + " is beyond capacity=" + capacity);
        }
    }

    /** {@inheritDoc} */
    @Override
    public void boundsCheck(final int index, final int length)
    {
        check(index, length);
    }

    /** {@inheritDoc} */
    @Override
    public int wrapAdjustment()
    {
        handle.checkLive();
        return 0;
    }

    /** {@inheritDoc} */
    @Override
    public long getLong(final int index, final ByteOrder byteOrder)
    {
        check(index, Long.BYTES);
        try
        {
            return delegate.getLong(index, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public long getLong(final int index)
    {
        check(index, Long.BYTES);
        try
        {
            return delegate.getLong(index);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public int getInt(final int index, final ByteOrder byteOrder)
    {
        check(index, Integer.BYTES);
        try
        {
            return delegate.getInt(index, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public int getInt(final int index)
    {
        check(index, Integer.BYTES);
        try
        {
            return delegate.getInt(index);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public int parseNaturalIntAscii(final int index, final int length)
    {
        check(index, length);
        try
        {
            return delegate.parseNaturalIntAscii(index, length);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public long parseNaturalLongAscii(final int index, final int length)
    {
        check(index, length);
        try
        {
            return delegate.parseNaturalLongAscii(index, length);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public int parseIntAscii(final int index, final int length)
    {
        check(index, length);
        try
        {
            return delegate.parseIntAscii(index, length);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public long parseLongAscii(final int index, final int length)
    {
        check(index, length);
        try
        {
            return delegate.parseLongAscii(index, length);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public double getDouble(final int index, final ByteOrder byteOrder)
    {
        check(index, Double.BYTES);
        try
        {
            return delegate.getDouble(index, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public double getDouble(final int index)
    {
        check(index, Double.BYTES);
        try
        {
            return delegate.getDouble(index);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public float getFloat(final int index, final ByteOrder byteOrder)
    {
        check(index, Float.BYTES);
        try
        {
            return delegate.getFloat(index, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public float getFloat(final int index)
    {
        check(index, Float.BYTES);
        try
        {
            return delegate.getFloat(index);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public short getShort(final int index, final ByteOrder byteOrder)
    {
        check(index, Short.BYTES);
        try
        {
            return delegate.getShort(index, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public short getShort(final int index)
    {
        check(index, Short.BYTES);
        try
        {
            return delegate.getShort(index);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public char getChar(final int index, final ByteOrder byteOrder)
    {
        check(index, Character.BYTES);
        try
        {
            return delegate.getChar(index, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public char getChar(final int index)
    {
        check(index, Character.BYTES);
        try
        {
            return delegate.getChar(index);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public byte getByte(final int index)
    {
        check(index, Byte.BYTES);
        try
        {
            return delegate.getByte(index);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public void getBytes(final int index, final byte[] dst)
    {
        check(index, dst.length);
        delegate.getBytes(index, dst);
        Reference.reachabilityFence(handle); // a copy may reach a safepoint: the handle's chunk stays
    }

    /** {@inheritDoc} */
    @Override
    public void getBytes(final int index, final byte[] dst, final int offset, final int length)
    {
        check(index, length);
        // the destination too: Agrona's own check is off under -Dagrona.disable.bounds.checks=true
        Objects.checkFromIndexSize(offset, length, dst.length);
        delegate.getBytes(index, dst, offset, length);
        Reference.reachabilityFence(handle); // a copy may reach a safepoint: the handle's chunk stays
    }

    /** {@inheritDoc} */
    @Override
    public void getBytes(final int index, final MutableDirectBuffer dstBuffer, final int dstIndex, final int length)
    {
        check(index, length);
        if (!dstBuffer.isExpandable())
        {
            Objects.checkFromIndexSize(dstIndex, length, dstBuffer.capacity());
        }
        // the destination copies from this view, not from the raw delegate: a destination that makes room first
        // (a Lake pool buffer spills, and the spill serves waiting requests on this thread, whose callbacks may
        // release this slice and free its chunk) asks this view for its address only after that, and the view
        // checks the handle again then
        dstBuffer.putBytes(dstIndex, this, index, length);
        Reference.reachabilityFence(handle); // the destination may copy after its last call on this view
    }

    /**
     * Copies {@code length} bytes into {@code dstBuffer} at its position, advancing it. The bytes must fit between
     * its position and its limit: checked first, so a longer copy throws {@link IndexOutOfBoundsException} with
     * nothing written (Agrona's copy wrote past the limit, then failed to move the position there).
     *
     * @throws java.nio.ReadOnlyBufferException if {@code dstBuffer} is read-only; nothing is written.
     * @throws IndexOutOfBoundsException        if either range is out of bounds; nothing is written.
     */
    @Override
    public void getBytes(final int index, final ByteBuffer dstBuffer, final int length)
    {
        check(index, length);
        final int position = dstBuffer.position();
        Region.checkDestination(dstBuffer, position, length);
        Objects.checkFromIndexSize(position, length, dstBuffer.limit());
        delegate.getBytes(index, dstBuffer, position, length);
        dstBuffer.position(position + length);
        Reference.reachabilityFence(handle); // a copy may reach a safepoint: the handle's chunk stays
    }

    /** {@inheritDoc} */
    @Override
    public void getBytes(final int index, final ByteBuffer dstBuffer, final int dstOffset, final int length)
    {
        check(index, length);
        Region.checkDestination(dstBuffer, dstOffset, length);
        delegate.getBytes(index, dstBuffer, dstOffset, length);
        Reference.reachabilityFence(handle); // a copy may reach a safepoint: the handle's chunk stays
    }

    /**
     * Appends {@code length} ASCII chars from {@code index} (the caller checked the whole range), a byte above 127 as
     * {@code '?'}, as Agrona does, but checking the handle again before every byte: the appendable is user code, and
     * one that releases this handle (its last) would have Agrona's loop read a freed chunk.
     *
     * @return {@code length}.
     */
    private int appendAscii(final int index, final int length, final Appendable appendable)
    {
        try
        {
            for (int i = 0; i < length; i++)
            {
                check(index + i, 1);
                final byte b = delegate.getByte(index + i);
                appendable.append(b < 0 ? '?' : (char)b);
            }
        }
        catch (final IOException ex)
        {
            LangUtil.rethrowUnchecked(ex);
        }
        finally
        {
            Reference.reachabilityFence(handle); // as every read: see the class comment
        }
        return length;
    }


    /** {@inheritDoc} */
    @Override
    public String getStringAscii(final int index, final int length)
    {
        checkString(index, length);
        try
        {
            return delegate.getStringAscii(index, length);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public int getStringAscii(final int index, final int length, final Appendable appendable)
    {
        checkString(index, length);
        return appendAscii(index + STR_HEADER_LEN, length, appendable);
    }

    /** {@inheritDoc} */
    @Override
    public String getStringWithoutLengthAscii(final int index, final int length)
    {
        check(index, length);
        try
        {
            return delegate.getStringWithoutLengthAscii(index, length);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public int getStringWithoutLengthAscii(final int index, final int length, final Appendable appendable)
    {
        check(index, length);
        return appendAscii(index, length, appendable);
    }

    /** {@inheritDoc} */
    @Override
    public String getStringUtf8(final int index, final int length)
    {
        checkString(index, length);
        try
        {
            return delegate.getStringUtf8(index, length);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public String getStringWithoutLengthUtf8(final int index, final int length)
    {
        check(index, length);
        try
        {
            return delegate.getStringWithoutLengthUtf8(index, length);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public String getStringAscii(final int index)
    {
        check(index, STR_HEADER_LEN);
        checkString(index, delegate.getInt(index));
        try
        {
            return delegate.getStringAscii(index);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public int getStringAscii(final int index, final Appendable appendable)
    {
        check(index, STR_HEADER_LEN);
        final int length = delegate.getInt(index);
        checkString(index, length);
        return appendAscii(index + STR_HEADER_LEN, length, appendable);
    }

    /** {@inheritDoc} */
    @Override
    public String getStringAscii(final int index, final ByteOrder byteOrder)
    {
        check(index, STR_HEADER_LEN);
        checkString(index, delegate.getInt(index, byteOrder));
        try
        {
            return delegate.getStringAscii(index, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public int getStringAscii(final int index, final Appendable appendable, final ByteOrder byteOrder)
    {
        check(index, STR_HEADER_LEN);
        final int length = delegate.getInt(index, byteOrder);
        checkString(index, length);
        return appendAscii(index + STR_HEADER_LEN, length, appendable);
    }

    /** {@inheritDoc} */
    @Override
    public String getStringUtf8(final int index)
    {
        check(index, STR_HEADER_LEN);
        checkString(index, delegate.getInt(index));
        try
        {
            return delegate.getStringUtf8(index);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public String getStringUtf8(final int index, final ByteOrder byteOrder)
    {
        check(index, STR_HEADER_LEN);
        checkString(index, delegate.getInt(index, byteOrder));
        try
        {
            return delegate.getStringUtf8(index, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    /** {@inheritDoc} */
    @Override
    public int compareTo(final DirectBuffer that)
    {
        // through this view's checked accessors: Agrona's compareTo asks the other buffer (code Lake may not know)
        // for its capacity, array and address after the handle was checked and then reads this slice raw, so
        // another buffer that released this handle (its last) there had the comparison read a freed chunk
        return Memory.compareInAgronaOrder(this, that);
    }

    @Override
    public boolean equals(final Object other)
    {
        return other instanceof SliceView && compareTo((SliceView)other) == 0;
    }

    @Override
    public int hashCode()
    {
        handle.checkLive();
        try
        {
            return delegate.hashCode();
        }
        finally
        {
            Reference.reachabilityFence(handle); // mid-read, a GC must still find the handle: see the class comment
        }
    }

    @Override
    public String toString()
    {
        return "SliceView[" + handle + "]";
    }
}
