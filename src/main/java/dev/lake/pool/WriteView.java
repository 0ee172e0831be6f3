package dev.lake.pool;

import dev.lake.memory.Memory;
import org.agrona.AsciiEncoding;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ConcurrentModificationException;
import java.util.Objects;

/**
 * The checked {@link MutableDirectBuffer} of a {@link Buffer} ({@link Buffer#mutableBuffer()}): every call
 * asks its buffer first, so after freeze or close it throws, and every write is bounded by the buffer's
 * capacity (or spills). Writes whose size depends on the value (ASCII numbers, strings) compute that size
 * before writing, so nothing is written out of bounds even with Agrona's bounds checks disabled.
 */
final class WriteView extends CheckedReads implements MutableDirectBuffer
{
    /** What Agrona's own buffers write for a null UTF-8 string: the text "null" (a null ASCII one is empty). */
    private static final byte[] NULL_UTF8 = "null".getBytes(StandardCharsets.UTF_8);

    private final Buffer owner;

    WriteView(final Buffer owner)
    {
        this.owner = owner;
    }

    @Override
    UnsafeBuffer mem()
    {
        return owner.mem;
    }

    @Override
    int origin()
    {
        return owner.base;
    }

    @Override
    int limit()
    {
        return owner.capacity;
    }

    @Override
    void checkLive(final String action)
    {
        owner.checkWritable(action);
    }

    private int at(final int index, final long length)
    {
        return owner.writeAt(index, length);
    }

    /**
     * Makes {@code [index, index + length)} writable without counting it as written: spills now if it must.
     * For copies into this view, so that the spill (and the waiting requests it serves) happens before the
     * copy reads its source.
     */
    void ensureCapacity(final int index, final int length)
    {
        owner.ensureCapacity(index, length);
    }

    private static int intAsciiLength(final int value)
    {
        if (value >= 0)
        {
            return AsciiEncoding.digitCount(value);
        }
        return value == Integer.MIN_VALUE ? 11 : 1 + AsciiEncoding.digitCount(-value);
    }

    private static int longAsciiLength(final long value)
    {
        if (value >= 0)
        {
            return AsciiEncoding.digitCount(value);
        }
        return value == Long.MIN_VALUE ? 20 : 1 + AsciiEncoding.digitCount(-value);
    }

    private static void checkNatural(final long value)
    {
        if (value < 0)
        {
            throw new IllegalArgumentException("a natural number cannot be negative: " + value);
        }
    }

    @Override
    public String toString()
    {
        return "MutableDirectBuffer view of " + owner;
    }

    /** The view grows (spills) past its capacity exactly when its buffer has auto-spill on. */
    @Override
    public boolean isExpandable()
    {
        return owner.source.autoSpill();
    }

    /**
     * Checks that {@code limit} lies within the view's capacity, as Agrona does. The view is expandable exactly when
     * its buffer has auto-spill on ({@link #isExpandable()}), and then, as Agrona's expandable buffers grow, a limit
     * past the capacity spills the buffer to hold it instead of throwing; it counts nothing as written.
     *
     * @throws dev.lake.memory.StaleHandleException if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException            if {@code limit} is past the capacity and the buffer cannot
     *                                              spill (auto-spill off, or beyond the largest heap array).
     */
    @Override
    public void checkLimit(final int limit)
    {
        if (limit > owner.capacity() && owner.source.autoSpill())
        {
            owner.ensureCapacity(limit, 0);
            return;
        }
        super.checkLimit(limit);
    }

    @Override
    public void setMemory(final int index, final int length, final byte value)
    {
        try
        {
            final int at = at(index, length);
            owner.mem.setMemory(at, length, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putLong(final int index, final long value, final ByteOrder byteOrder)
    {
        try
        {
            final int at = at(index, Long.BYTES);
            owner.mem.putLong(at, value, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putLong(final int index, final long value)
    {
        try
        {
            final int at = at(index, Long.BYTES);
            owner.mem.putLong(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putInt(final int index, final int value, final ByteOrder byteOrder)
    {
        try
        {
            final int at = at(index, Integer.BYTES);
            owner.mem.putInt(at, value, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putInt(final int index, final int value)
    {
        try
        {
            final int at = at(index, Integer.BYTES);
            owner.mem.putInt(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public int putIntAscii(final int index, final int value)
    {
        try
        {
            final int at = at(index, intAsciiLength(value));
            return owner.mem.putIntAscii(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public int putNaturalIntAscii(final int index, final int value)
    {
        try
        {
            checkNatural(value);
            final int at = at(index, AsciiEncoding.digitCount(value));
            return owner.mem.putNaturalIntAscii(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putNaturalPaddedIntAscii(final int offset, final int length, final int value)
    {
        try
        {
            // Agrona refuses a value that does not fit the field only after the bytes were claimed: check first,
            // so a refused write neither counts as written nor spills
            checkNatural(value);
            if (length >= 0 && value != 0 && AsciiEncoding.digitCount(value) > length)
            {
                throw new NumberFormatException("cannot write " + value + " in " + length + " bytes");
            }
            final int at = at(offset, length);
            owner.mem.putNaturalPaddedIntAscii(at, length, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    /**
     * As Agrona: the digits of {@code value} end just before {@code endExclusive}; for 0 no digit is written, but the
     * byte before the end must lie in the buffer all the same (an end of 0 is refused, whatever block this is).
     *
     * @param value        a natural number.
     * @param endExclusive the index just past the last digit.
     * @return the index of the first digit ({@code endExclusive} for 0).
     * @throws IllegalArgumentException             if {@code value} is negative.
     * @throws IndexOutOfBoundsException            if the digits (for 0: the byte before the end) lie outside the
     *                                              buffer and it cannot spill.
     * @throws dev.lake.memory.StaleHandleException if the buffer is frozen or closed.
     */
    @Override
    public int putNaturalIntAsciiFromEnd(final int value, final int endExclusive)
    {
        try
        {
            checkNatural(value);
            final int digits = value == 0 ? 0 : AsciiEncoding.digitCount(value); // Agrona writes no digit for 0
            if (value == 0)
            {
                // but it checks the byte before the end all the same: checked here, against this buffer, or Agrona's
                // check ran against the arena's whole region and refused an end of 0 only for a block at its start
                owner.ensureCapacity(endExclusive - 1, 1);
            }
            final int at = at(endExclusive - digits, digits);
            return owner.mem.putNaturalIntAsciiFromEnd(value, at + digits) - owner.base;
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public int putNaturalLongAscii(final int index, final long value)
    {
        try
        {
            checkNatural(value);
            final int at = at(index, AsciiEncoding.digitCount(value));
            return owner.mem.putNaturalLongAscii(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public int putLongAscii(final int index, final long value)
    {
        try
        {
            final int at = at(index, longAsciiLength(value));
            return owner.mem.putLongAscii(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putDouble(final int index, final double value, final ByteOrder byteOrder)
    {
        try
        {
            final int at = at(index, Double.BYTES);
            owner.mem.putDouble(at, value, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putDouble(final int index, final double value)
    {
        try
        {
            final int at = at(index, Double.BYTES);
            owner.mem.putDouble(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putFloat(final int index, final float value, final ByteOrder byteOrder)
    {
        try
        {
            final int at = at(index, Float.BYTES);
            owner.mem.putFloat(at, value, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putFloat(final int index, final float value)
    {
        try
        {
            final int at = at(index, Float.BYTES);
            owner.mem.putFloat(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putShort(final int index, final short value, final ByteOrder byteOrder)
    {
        try
        {
            final int at = at(index, Short.BYTES);
            owner.mem.putShort(at, value, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putShort(final int index, final short value)
    {
        try
        {
            final int at = at(index, Short.BYTES);
            owner.mem.putShort(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putChar(final int index, final char value, final ByteOrder byteOrder)
    {
        try
        {
            final int at = at(index, Character.BYTES);
            owner.mem.putChar(at, value, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putChar(final int index, final char value)
    {
        try
        {
            final int at = at(index, Character.BYTES);
            owner.mem.putChar(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putByte(final int index, final byte value)
    {
        try
        {
            final int at = at(index, Byte.BYTES);
            owner.mem.putByte(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putBytes(final int index, final byte[] src)
    {
        putBytes(index, src, 0, src.length);
    }

    @Override
    public void putBytes(final int index, final byte[] src, final int offset, final int length)
    {
        try
        {
            Objects.checkFromIndexSize(offset, length, src.length);
            final int at = at(index, length);
            owner.mem.putBytes(at, src, offset, length);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    /**
     * Copies {@code length} bytes from {@code srcBuffer}'s position, advancing it. The bytes must lie between its
     * position and its limit: checked first, so a longer copy throws {@link IndexOutOfBoundsException} with nothing
     * written (Agrona's own buffers copied the bytes past the limit, then failed to move the position there).
     */
    @Override
    public void putBytes(final int index, final ByteBuffer srcBuffer, final int length)
    {
        final int position = srcBuffer.position();
        Objects.checkFromIndexSize(position, length, srcBuffer.limit());
        putBytes(index, srcBuffer, position, length);
        srcBuffer.position(position + length);
    }

    @Override
    public void putBytes(final int index, final ByteBuffer srcBuffer, final int srcIndex, final int length)
    {
        try
        {
            Objects.checkFromIndexSize(srcIndex, length, srcBuffer.capacity());
            if (index + (long)length > owner.capacity())
            {
                ensureCapacity(index, length);
                // again: the spill ran waiters' callbacks, which may have closed what backs the source
                Objects.checkFromIndexSize(srcIndex, length, srcBuffer.capacity());
            }
            final int at = at(index, length);
            owner.mem.putBytes(at, srcBuffer, srcIndex, length);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public void putBytes(final int index, final DirectBuffer srcBuffer, final int srcIndex, final int length)
    {
        try
        {
            srcBuffer.boundsCheck(srcIndex, length);
            if (index + (long)length > owner.capacity())
            {
                ensureCapacity(index, length);
                srcBuffer.boundsCheck(srcIndex, length); // again: the spill's callbacks may have closed the source
            }
            // the source's own methods run before the buffer is checked for the last time (see Buffer.putBytes)
            final byte[] array = srcBuffer.byteArray();
            final long from = srcBuffer.addressOffset() + srcIndex;
            final int at = at(index, length);
            Memory.copy(array, from, owner.mem, at, length);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
            Reference.reachabilityFence(srcBuffer); // nor a Bytes source, whose address the copy holds
        }
    }

    @Override
    public int putStringAscii(final int index, final String value)
    {
        try
        {
            final int at = at(index, (long)STR_HEADER_LEN + (value == null ? 0 : value.length()));
            return owner.mem.putStringAscii(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public int putStringAscii(final int index, final CharSequence value)
    {
        return putAscii(index, value, 0, Integer.MAX_VALUE, true, null);
    }

    @Override
    public int putStringAscii(final int index, final String value, final ByteOrder byteOrder)
    {
        try
        {
            final int at = at(index, (long)STR_HEADER_LEN + (value == null ? 0 : value.length()));
            return owner.mem.putStringAscii(at, value, byteOrder);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public int putStringAscii(final int index, final CharSequence value, final ByteOrder byteOrder)
    {
        return putAscii(index, value, 0, Integer.MAX_VALUE, true, byteOrder);
    }

    @Override
    public int putStringWithoutLengthAscii(final int index, final String value)
    {
        try
        {
            final int at = at(index, value == null ? 0 : value.length());
            return owner.mem.putStringWithoutLengthAscii(at, value);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public int putStringWithoutLengthAscii(final int index, final CharSequence value)
    {
        return putAscii(index, value, 0, Integer.MAX_VALUE, false, null);
    }

    @Override
    public int putStringWithoutLengthAscii(
        final int index, final String value, final int valueOffset, final int length)
    {
        try
        {
            final int at = at(index, asciiRange(value, valueOffset, length));
            return owner.mem.putStringWithoutLengthAscii(at, value, valueOffset, length);
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public int putStringWithoutLengthAscii(
        final int index, final CharSequence value, final int valueOffset, final int length)
    {
        return putAscii(index, value, valueOffset, length, false, null);
    }

    private static int asciiRange(final CharSequence value, final int valueOffset, final int length)
    {
        return value == null ? 0 : asciiCount(value.length(), valueOffset, length);
    }

    /** Chars of a {@code chars}-long string that a write of {@code length} from {@code valueOffset} covers. */
    private static int asciiCount(final int chars, final int valueOffset, final int length)
    {
        if (valueOffset < 0 || length < 0 || valueOffset > chars)
        {
            throw new IndexOutOfBoundsException("valueOffset=" + valueOffset + " length=" + length +
                " for a string of " + chars + " chars");
        }
        return Math.min(chars - valueOffset, length);
    }

    /**
     * The CharSequence ASCII writes, in Agrona's layout (an optional int length prefix, in {@code byteOrder} or
     * native order, then one byte a char, {@code '?'} above 127), without Agrona's loop: that one reads
     * {@code length()} again, so a sequence that grew since the range was checked (a {@code StringBuilder} another
     * thread appends to) was written past this buffer into the neighbouring slot, where no bounds check looks.
     * Here the length is read once, every byte lands in the range checked for it, and if {@code charAt} froze,
     * closed or spilled this buffer the write stops before the next byte.
     */
    private int putAscii(final int index, final CharSequence value, final int valueOffset, final int length,
        final boolean prefixed, final ByteOrder byteOrder)
    {
        try
        {
            final int count = value == null ? 0 : asciiCount(value.length(), valueOffset, length);
            final int header = prefixed ? STR_HEADER_LEN : 0;
            // room first (spilling now if it must), counted as written byte by byte: charAt is user code, and when
            // it throws, the length must not cover the chars never written (a freeze would share them: under
            // UNINIT, a previous owner's bytes), while every byte written before it ran must count (a spill it
            // causes copies, and under ZERO zeroes, what counts)
            owner.ensureCapacity(index, (long)header + count);
            final UnsafeBuffer mem = owner.mem;
            final int at = owner.base + index;
            if (prefixed)
            {
                owner.written(index + header);
                if (byteOrder == null)
                {
                    mem.putInt(at, count);
                }
                else
                {
                    mem.putInt(at, count, byteOrder);
                }
            }
            for (int i = 0; i < count; i++)
            {
                final char c = value.charAt(valueOffset + i);
                if (owner.mem != mem)
                {
                    owner.checkWritable("write"); // closed or frozen: says which
                    throw new ConcurrentModificationException(owner + ": charAt() spilled this buffer mid-write");
                }
                owner.checkWritable("write");
                owner.written(index + header + i + 1);
                mem.putByte(at + header + i, c > 127 ? (byte)'?' : (byte)c);
            }
            return header + count;
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public int putStringUtf8(final int index, final String value)
    {
        return putUtf8(index, value, null, Integer.MAX_VALUE);
    }

    @Override
    public int putStringUtf8(final int index, final String value, final ByteOrder byteOrder)
    {
        return putUtf8(index, value, byteOrder, Integer.MAX_VALUE);
    }

    @Override
    public int putStringUtf8(final int index, final String value, final int maxEncodedLength)
    {
        return putUtf8(index, value, null, maxEncodedLength);
    }

    @Override
    public int putStringUtf8(final int index, final String value, final ByteOrder byteOrder,
        final int maxEncodedLength)
    {
        return putUtf8(index, value, byteOrder, maxEncodedLength);
    }

    private int putUtf8(final int index, final String value, final ByteOrder byteOrder, final int maxEncodedLength)
    {
        final byte[] bytes = value == null ? NULL_UTF8 : value.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > maxEncodedLength)
        {
            throw new IllegalArgumentException("Encoded string larger than maximum size: " + maxEncodedLength);
        }
        try
        {
            final int at = at(index, (long)STR_HEADER_LEN + bytes.length);
            final UnsafeBuffer mem = owner.mem;
            if (byteOrder == null)
            {
                mem.putInt(at, bytes.length);
            }
            else
            {
                mem.putInt(at, bytes.length, byteOrder);
            }
            mem.putBytes(at + STR_HEADER_LEN, bytes);
            return STR_HEADER_LEN + bytes.length;
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }

    @Override
    public int putStringWithoutLengthUtf8(final int index, final String value)
    {
        try
        {
            final byte[] bytes = value == null ? NULL_UTF8 : value.getBytes(StandardCharsets.UTF_8);
            final int at = at(index, bytes.length);
            owner.mem.putBytes(at, bytes);
            return bytes.length;
        }
        finally
        {
            Reference.reachabilityFence(owner); // the safety net must not reclaim mid-write
        }
    }
}
