package dev.lake.memory;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Fourth review of the memory foundation (siblings of the third round's region-view fixes): each test fails on the
 * code before its fix. Run with Agrona's bounds checks on and off.
 */
class FourthReviewMemoryTest
{
    /** A sequence reporting a negative length, as the third round's Arena.copyOfAscii fix (0540590) refuses. */
    private static CharSequence negative(final int length)
    {
        return new CharSequence()
        {
            @Override
            public int length()
            {
                return length;
            }

            @Override
            public char charAt(final int index)
            {
                return 'x';
            }

            @Override
            public CharSequence subSequence(final int start, final int end)
            {
                throw new UnsupportedOperationException();
            }

            @Override
            public String toString()
            {
                return "negative(" + length + ")";
            }
        };
    }

    /**
     * The region view's own CharSequence write (9f33b19) read {@code length()} once, checked {@code 4 + length}
     * bytes and wrote the 4-byte prefix: a length of -1 to -4 had 3 to 0 bytes checked and 4 written, so at the end of
     * a region the prefix landed 1 to 3 bytes past it (into malloc's bookkeeping or another allocation) with Agrona's
     * bounds checks on, and the call returned {@code 4 + length} as if it had written a string. Refused now, nothing
     * written.
     */
    @Test
    void aCharSequenceWithANegativeLengthIsRefusedWithNothingWritten()
    {
        try (Region region = Region.allocate(64))
        {
            final UnsafeBuffer view = region.buffer();
            for (int length = -4; length < 0; length++)
            {
                view.setMemory(0, 64, (byte)7);
                final CharSequence value = negative(length);
                assertThrows(IndexOutOfBoundsException.class, () -> view.putStringAscii(0, value), value.toString());
                assertThrows(IndexOutOfBoundsException.class,
                    () -> view.putStringAscii(0, value, ByteOrder.BIG_ENDIAN), value.toString());
                assertThrows(IndexOutOfBoundsException.class,
                    () -> view.putStringWithoutLengthAscii(0, value), value.toString());
                for (int i = 0; i < 64; i++)
                {
                    assertEquals(7, view.getByte(i), "byte " + i + " written for " + value);
                }
            }
            assertEquals(7, view.putStringAscii(0, new StringBuilder("abc")));
            assertEquals("abc", view.getStringAscii(0));
        }
    }

    /**
     * The region view's relative ByteBuffer copies (Agrona's getBytes/putBytes(index, ByteBuffer, length)) checked the
     * NIO buffer's capacity only: a length past what remained before its limit copied the bytes past the limit (over
     * the caller's bytes past the destination's limit, or the source's bytes past its limit into the region) and only
     * then failed with an IllegalArgumentException from position(). The third round fixed this for the pool's views
     * (ec9766b), not for the region view (a lake's, an arena block's, a pool arena's raw buffer).
     */
    @Test
    void theRelativeByteBufferCopiesRefuseBytesPastTheLimitWithNothingCopied()
    {
        try (Region region = Region.allocate(16))
        {
            final UnsafeBuffer view = region.buffer();
            for (int i = 0; i < 16; i++)
            {
                view.putByte(i, (byte)(i + 1));
            }
            for (final ByteBuffer nio : new ByteBuffer[] {ByteBuffer.allocate(16), ByteBuffer.allocateDirect(16)})
            {
                final ByteBuffer all = nio.duplicate();
                for (int i = 0; i < 16; i++)
                {
                    all.put(i, (byte)-1);
                }
                nio.position(2).limit(6);
                assertThrows(IndexOutOfBoundsException.class, () -> view.getBytes(0, nio, 8));
                assertEquals(2, nio.position());
                for (int i = 0; i < 16; i++)
                {
                    assertEquals((byte)-1, all.get(i), "byte " + i + " of the destination was written");
                }
                assertThrows(IndexOutOfBoundsException.class, () -> view.putBytes(0, nio, 8));
                assertEquals(2, nio.position());
                for (int i = 0; i < 16; i++)
                {
                    assertEquals(i + 1, view.getByte(i), "byte " + i + " of the region was written");
                }
                view.getBytes(0, nio, 4); // what fits still works, both ways
                assertEquals(6, nio.position());
                assertEquals(1, all.get(2));
                assertEquals(4, all.get(5));
                nio.position(2);
                view.putBytes(10, nio, 4);
                assertEquals(6, nio.position());
                assertEquals(1, view.getByte(10));
                assertEquals(4, view.getByte(13));
                assertEquals(15, view.getByte(14));
                for (int i = 10; i < 14; i++)
                {
                    view.putByte(i, (byte)(i + 1));
                }
                nio.clear();
            }
        }
    }
}
