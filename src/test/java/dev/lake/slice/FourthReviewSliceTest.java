package dev.lake.slice;

import org.agrona.DirectBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Findings of the fourth hostile review (siblings of the third round's fixes) in the slice view, each test failing
 * on the code before its fix.
 */
class FourthReviewSliceTest extends NativeBaselineTest
{
    /**
     * The relative {@code getBytes(index, ByteBuffer, length)} checked the destination against its capacity, not its
     * limit (the third round fixed this for the pool's views only): a length longer than what remained before the
     * limit wrote the bytes past the limit, over the caller's bytes, and only then failed with an
     * {@link IllegalArgumentException} from {@code position()}, a failed call that changed the destination.
     */
    @Test
    void theRelativeByteBufferReadRefusesBytesPastTheDestinationsLimitAndWritesNothing()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build())
        {
            final SharedSlice slice = alloc.allocateBytes(16, i -> (byte)(i + 1));
            final DirectBuffer view = slice.buffer();
            for (final ByteBuffer dst : new ByteBuffer[] {ByteBuffer.allocate(16), ByteBuffer.allocateDirect(16)})
            {
                final ByteBuffer all = dst.duplicate(); // reads past the limit set below
                for (int i = 0; i < 16; i++)
                {
                    all.put(i, (byte)-1);
                }
                dst.position(2).limit(6); // 4 bytes remain before the limit
                assertThrows(IndexOutOfBoundsException.class, () -> view.getBytes(0, dst, 8));
                assertEquals(2, dst.position());
                for (int i = 0; i < 16; i++)
                {
                    assertEquals((byte)-1, all.get(i), "byte " + i + " of the destination was written");
                }
                view.getBytes(0, dst, 4); // what fits still works
                assertEquals(6, dst.position());
                assertEquals(1, all.get(2));
                assertEquals(4, all.get(5));
                assertEquals((byte)-1, all.get(6));
            }
            slice.release();
        }
    }

    /**
     * The string reads with an explicit or stored length accepted a negative length of -1 to -4: the view's range
     * check covered {@code 4 + length} bytes (0 to 3), which passed, and Agrona then failed to make a
     * {@code byte[length]} ({@link NegativeArraySizeException}), where the pool's view and Agrona's contract say
     * {@link IndexOutOfBoundsException}; the {@code Appendable} overloads returned the negative length as if read.
     */
    @Test
    void stringReadsWithANegativeLengthAreRefusedAsOutOfBounds()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build())
        {
            final SharedSlice slice = alloc.allocateBytes(16, i -> (byte)(i < 4 ? 0xFF : 'a'));
            final DirectBuffer view = slice.buffer();
            assertEquals(-1, view.getInt(0)); // a stored length of -1
            final StringBuilder out = new StringBuilder();
            assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(0));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(0, java.nio.ByteOrder.nativeOrder()));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getStringUtf8(0));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getStringUtf8(0, java.nio.ByteOrder.nativeOrder()));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(0, out));
            assertThrows(IndexOutOfBoundsException.class,
                () -> view.getStringAscii(0, out, java.nio.ByteOrder.nativeOrder()));
            for (int length = -4; length < 0; length++)
            {
                final int l = length;
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(4, l));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringUtf8(4, l));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(4, l, out));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringWithoutLengthAscii(4, l));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringWithoutLengthAscii(4, l, out));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringWithoutLengthUtf8(4, l));
            }
            assertEquals("", out.toString());
            assertEquals("aaaa", view.getStringWithoutLengthAscii(4, 4));
            slice.release();
        }
    }
}
