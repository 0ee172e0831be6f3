package dev.lake.memory;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

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
}
