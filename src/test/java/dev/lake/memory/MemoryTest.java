package dev.lake.memory;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** {@link Memory}'s raw accessors and copies, checked against a region's Agrona view of the same bytes. */
class MemoryTest
{
    @Test
    void scalarAccessorsReadAndWriteNativeOrder()
    {
        try (Region region = Region.builder(64).build())
        {
            final long a = region.address();
            final UnsafeBuffer view = region.buffer();
            Memory.putInt(a, 0x01020304);
            assertEquals(0x01020304, view.getInt(0));
            assertEquals(0x01020304, Memory.getInt(a));
            assertEquals(view.getByte(0), Memory.getByte(a));
            Memory.putDouble(a + 8, 2.5);
            assertEquals(2.5, view.getDouble(8));
            Memory.putLong(a + 16, -7L);
            assertEquals(-7L, Memory.getLong(a + 16));
            assertEquals(0x01020304, Memory.getIntVolatile(a));
            assertFalse(Memory.compareAndSetInt(a, 5, 6), "a CAS with the wrong expected value changes nothing");
            assertEquals(0x01020304, view.getInt(0));
            assertTrue(Memory.compareAndSetInt(a, 0x01020304, 6));
            assertEquals(6, view.getInt(0));

            Memory.putShort(a + 24, (short)-3);
            assertEquals((short)-3, view.getShort(24));
            view.putShort(26, (short)0x7abc);
            assertEquals((short)0x7abc, Memory.getShort(a + 26));
            Memory.putFloat(a + 28, 1.25f);
            assertEquals(1.25f, view.getFloat(28));
            view.putFloat(32, -0.5f);
            assertEquals(-0.5f, Memory.getFloat(a + 32));
            view.putDouble(40, 3.75);
            assertEquals(3.75, Memory.getDouble(a + 40));
            assertEquals(-7L, view.getLong(16), "the narrower stores left their neighbours alone");
        }
    }

    @Test
    void arrayCopiesRoundTripExactlyTheRangeAsked()
    {
        try (Region region = Region.builder(256).zeroed(true).build())
        {
            final long a = region.address();
            final UnsafeBuffer view = region.buffer();
            Memory.copy(new long[] {1, 2, 3, 4}, 1, 2, a);
            assertEquals(2L, view.getLong(0));
            assertEquals(3L, view.getLong(8));
            assertEquals(0L, view.getLong(16), "nothing past the range");
            final long[] longs = {-1, -1, -1, -1};
            Memory.copy(a, longs, 1, 2);
            assertArrayEquals(new long[] {-1, 2, 3, -1}, longs);

            Memory.copy(new int[] {5, 6, 7}, 0, 3, a + 64);
            final int[] ints = new int[3];
            Memory.copy(a + 64, ints, 0, 3);
            assertArrayEquals(new int[] {5, 6, 7}, ints);

            Memory.copy(new double[] {0.5, 1.5}, 1, 1, a + 96);
            final double[] doubles = new double[2];
            Memory.copy(a + 96, doubles, 1, 1);
            assertArrayEquals(new double[] {0, 1.5}, doubles);

            final UnsafeBuffer heap = new UnsafeBuffer(new byte[] {9, 8, 7, 6});
            Memory.copy(heap, 1, a + 128, 2);
            assertEquals(8, view.getByte(128));
            assertEquals(7, view.getByte(129));
            assertEquals(0, view.getByte(130));
        }
    }
}
