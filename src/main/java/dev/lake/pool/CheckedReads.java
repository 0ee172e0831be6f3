package dev.lake.pool;

import dev.lake.memory.Memory;
import dev.lake.memory.Region;
import org.agrona.DirectBuffer;
import org.agrona.LangUtil;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;
import java.util.Objects;

/**
 * The read half of Agrona's {@link DirectBuffer}, checked by Lake on every call: first that the handle still
 * owns its memory ({@link #checkLive}), then that the bytes asked for lie inside it. Agrona's own bounds checks
 * (which {@code -Dagrona.disable.bounds.checks=true} turns off) are never relied upon. Destination arrays and
 * NIO buffers are checked too, so a wrong length throws {@link IndexOutOfBoundsException} instead of writing
 * past a caller's array.
 *
 * <p>The view cannot be re-pointed: every {@code wrap} throws {@link UnsupportedOperationException}.
 */
abstract class CheckedReads implements DirectBuffer
{
    /**
     * @return the Agrona buffer the bytes live in.
     */
    abstract UnsafeBuffer mem();

    /**
     * @return the index in {@link #mem()} of this view's first byte.
     */
    abstract int origin();

    /**
     * @return how many bytes this view may read.
     */
    abstract int limit();

    /**
     * @param action what the caller is about to do, for the message.
     * @throws dev.lake.memory.StaleHandleException if the memory is no longer this view's own.
     */
    abstract void checkLive(String action);

    /**
     * Checks a read and maps an index of this view to an index of {@link #mem()}.
     */
    final int readAt(final int index, final long size)
    {
        checkLive("read");
        final int limit = limit();
        if (index < 0 || size < 0 || index > limit - size)
        {
            throw outOfBounds(index, size, limit);
        }
        return origin() + index;
    }

    final IndexOutOfBoundsException outOfBounds(final int index, final long size, final int limit)
    {
        return new IndexOutOfBoundsException(
            this + ": index=" + index + " length=" + size + " is outside the " + limit + " bytes it holds");
    }

    private int stringAt(final int index, final ByteOrder order)
    {
        final int at = readAt(index, STR_HEADER_LEN);
        final int length = order == null ? mem().getInt(at) : mem().getInt(at, order);
        stringBodyAt(index, length);
        return at;
    }

    private int stringBodyAt(final int index, final int length)
    {
        if (length < 0)
        {
            throw outOfBounds(index, length, limit());
        }
        return readAt(index, (long)STR_HEADER_LEN + length);
    }

    /**
     * Appends {@code length} ASCII chars read from {@code index} (the caller checked the whole range first), a byte
     * above 127 as {@code '?'}, as Agrona does. Not through Agrona's loop, which reads through an address taken
     * before the first append: the appendable is user code, and one that releases, closes or spills what this view
     * reads would have that loop read memory that is no longer this view's (the next owner's bytes, or unmapped
     * memory). Each byte is checked and located again before it is read.
     *
     * @return {@code length}.
     */
    private int appendAscii(final int index, final int length, final Appendable appendable)
    {
        try
        {
            for (int i = 0; i < length; i++)
            {
                final int at = readAt(index + i, 1);
                final byte b = mem().getByte(at);
                appendable.append(b < 0 ? '?' : (char)b);
            }
        }
        catch (final IOException ex)
        {
            LangUtil.rethrowUnchecked(ex);
        }
        return length;
    }


    @Override
    public void wrap(final byte[] buffer)
    {
        throw cannotWrap();
    }

    @Override
    public void wrap(final byte[] buffer, final int offset, final int length)
    {
        throw cannotWrap();
    }

    @Override
    public void wrap(final ByteBuffer buffer)
    {
        throw cannotWrap();
    }

    @Override
    public void wrap(final ByteBuffer buffer, final int offset, final int length)
    {
        throw cannotWrap();
    }

    @Override
    public void wrap(final DirectBuffer buffer)
    {
        throw cannotWrap();
    }

    @Override
    public void wrap(final DirectBuffer buffer, final int offset, final int length)
    {
        throw cannotWrap();
    }

    @Override
    public void wrap(final long address, final int length)
    {
        throw cannotWrap();
    }

    private UnsupportedOperationException cannotWrap()
    {
        return new UnsupportedOperationException(this + " is bound to its own memory and cannot be re-wrapped");
    }

    /**
     * The raw address of this view's first byte, for Agrona's copy routines (with {@link #byteArray()}).
     * Checked for liveness when asked; what the caller does with the number afterwards is unchecked.
     */
    @Override
    public long addressOffset()
    {
        try
        {
            checkLive("reach the address of");
            return mem().addressOffset() + origin();
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public byte[] byteArray()
    {
        try
        {
            return mem().byteArray();
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    /** Always {@code null}: the view exposes no NIO buffer that could outlive its checks. */
    @Override
    public ByteBuffer byteBuffer()
    {
        return null;
    }

    @Override
    public int capacity()
    {
        return limit();
    }

    @Override
    public void checkLimit(final int limit)
    {
        checkLive("check");
        if (limit > limit())
        {
            throw new IndexOutOfBoundsException(this + ": limit=" + limit + " is beyond capacity=" + limit());
        }
    }

    @Override
    public long getLong(final int index, final ByteOrder byteOrder)
    {
        try
        {
            return mem().getLong(readAt(index, Long.BYTES), byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public long getLong(final int index)
    {
        try
        {
            return mem().getLong(readAt(index, Long.BYTES));
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public int getInt(final int index, final ByteOrder byteOrder)
    {
        try
        {
            return mem().getInt(readAt(index, Integer.BYTES), byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public int getInt(final int index)
    {
        try
        {
            return mem().getInt(readAt(index, Integer.BYTES));
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public int parseNaturalIntAscii(final int index, final int length)
    {
        try
        {
            return mem().parseNaturalIntAscii(readAt(index, length), length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public long parseNaturalLongAscii(final int index, final int length)
    {
        try
        {
            return mem().parseNaturalLongAscii(readAt(index, length), length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public int parseIntAscii(final int index, final int length)
    {
        try
        {
            return mem().parseIntAscii(readAt(index, length), length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public long parseLongAscii(final int index, final int length)
    {
        try
        {
            return mem().parseLongAscii(readAt(index, length), length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public double getDouble(final int index, final ByteOrder byteOrder)
    {
        try
        {
            return mem().getDouble(readAt(index, Double.BYTES), byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public double getDouble(final int index)
    {
        try
        {
            return mem().getDouble(readAt(index, Double.BYTES));
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public float getFloat(final int index, final ByteOrder byteOrder)
    {
        try
        {
            return mem().getFloat(readAt(index, Float.BYTES), byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public float getFloat(final int index)
    {
        try
        {
            return mem().getFloat(readAt(index, Float.BYTES));
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public short getShort(final int index, final ByteOrder byteOrder)
    {
        try
        {
            return mem().getShort(readAt(index, Short.BYTES), byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public short getShort(final int index)
    {
        try
        {
            return mem().getShort(readAt(index, Short.BYTES));
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public char getChar(final int index, final ByteOrder byteOrder)
    {
        try
        {
            return mem().getChar(readAt(index, Character.BYTES), byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public char getChar(final int index)
    {
        try
        {
            return mem().getChar(readAt(index, Character.BYTES));
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public byte getByte(final int index)
    {
        try
        {
            return mem().getByte(readAt(index, Byte.BYTES));
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public void getBytes(final int index, final byte[] dst)
    {
        getBytes(index, dst, 0, dst.length);
    }

    @Override
    public void getBytes(final int index, final byte[] dst, final int offset, final int length)
    {
        try
        {
            Objects.checkFromIndexSize(offset, length, dst.length);
            mem().getBytes(readAt(index, length), dst, offset, length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public void getBytes(final int index, final MutableDirectBuffer dstBuffer, final int dstIndex, final int length)
    {
        try
        {
            readAt(index, length);
            if (dstBuffer instanceof WriteView)
            {
                // a Lake buffer spills before the read, not in the middle of the copy: a spill gives its slot
                // back and serves waiting requests on this thread, so the bytes to read may have moved (a copy
                // within one buffer: to the heap) or stopped being this view's (a callback released them)
                ((WriteView)dstBuffer).ensureCapacity(dstIndex, length);
            }
            else if (!dstBuffer.isExpandable())
            {
                dstBuffer.boundsCheck(dstIndex, length);
            }
            readAt(index, length);
            // the destination copies from this view, never from the arena's whole-region buffer: foreign code gets
            // no unchecked reach into other slots, and reads the address (checked again) only once it made room
            dstBuffer.putBytes(dstIndex, this, index, length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    /**
     * Copies {@code length} bytes into {@code dstBuffer} at its position, advancing it. The bytes must fit between
     * its position and its limit: checked first, so a longer copy throws {@link IndexOutOfBoundsException} with
     * nothing written (Agrona's own buffers wrote past the limit, then failed to move the position there).
     */
    @Override
    public void getBytes(final int index, final ByteBuffer dstBuffer, final int length)
    {
        final int position = dstBuffer.position();
        if (dstBuffer.isReadOnly())
        {
            throw new ReadOnlyBufferException();
        }
        Objects.checkFromIndexSize(position, length, dstBuffer.limit());
        getBytes(index, dstBuffer, position, length);
        dstBuffer.position(position + length);
    }

    @Override
    public void getBytes(final int index, final ByteBuffer dstBuffer, final int dstOffset, final int length)
    {
        try
        {
            Region.checkDestination(dstBuffer, dstOffset, length);
            mem().getBytes(readAt(index, length), dstBuffer, dstOffset, length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public String getStringAscii(final int index)
    {
        try
        {
            return mem().getStringAscii(stringAt(index, null));
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public int getStringAscii(final int index, final Appendable appendable)
    {
        try
        {
            return appendAscii(index + STR_HEADER_LEN, mem().getInt(stringAt(index, null)), appendable);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public String getStringAscii(final int index, final ByteOrder byteOrder)
    {
        try
        {
            return mem().getStringAscii(stringAt(index, byteOrder), byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public int getStringAscii(final int index, final Appendable appendable, final ByteOrder byteOrder)
    {
        try
        {
            return appendAscii(index + STR_HEADER_LEN, mem().getInt(stringAt(index, byteOrder), byteOrder), appendable);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public String getStringAscii(final int index, final int length)
    {
        try
        {
            return mem().getStringAscii(stringBodyAt(index, length), length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public int getStringAscii(final int index, final int length, final Appendable appendable)
    {
        try
        {
            stringBodyAt(index, length);
            return appendAscii(index + STR_HEADER_LEN, length, appendable);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public String getStringWithoutLengthAscii(final int index, final int length)
    {
        try
        {
            return mem().getStringWithoutLengthAscii(readAt(index, length), length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public int getStringWithoutLengthAscii(final int index, final int length, final Appendable appendable)
    {
        try
        {
            readAt(index, length);
            return appendAscii(index, length, appendable);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public String getStringUtf8(final int index)
    {
        try
        {
            return mem().getStringUtf8(stringAt(index, null));
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public String getStringUtf8(final int index, final ByteOrder byteOrder)
    {
        try
        {
            return mem().getStringUtf8(stringAt(index, byteOrder), byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public String getStringUtf8(final int index, final int length)
    {
        try
        {
            return mem().getStringUtf8(stringBodyAt(index, length), length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    @Override
    public String getStringWithoutLengthUtf8(final int index, final int length)
    {
        try
        {
            return mem().getStringWithoutLengthUtf8(readAt(index, length), length);
        }
        finally
        {
            Reference.reachabilityFence(this); // the safety net must not reclaim mid-read
        }
    }

    /** Checks liveness and that {@code [index, index + length)} lies inside the view, whatever Agrona's setting. */
    @Override
    public void boundsCheck(final int index, final int length)
    {
        readAt(index, length);
    }

    @Override
    public int wrapAdjustment()
    {
        return byteArray() != null ? origin() : 0;
    }

    /**
     * Compares in Agrona's order (native-order longs, then signed bytes, then lengths), as Agrona's buffers do, so
     * that the order is the same both ways; every read is checked.
     */
    @Override
    public int compareTo(final DirectBuffer that)
    {
        return Memory.compareInAgronaOrder(this, that);
    }
}
