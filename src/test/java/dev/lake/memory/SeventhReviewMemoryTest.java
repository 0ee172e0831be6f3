package dev.lake.memory;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The seventh hostile review of the memory foundation: sizes, alignments and ranges at their extremes, each refused
 * with the documented exception and with the process-wide counters unchanged.
 */
class SeventhReviewMemoryTest
{
    /**
     * {@link Region#allocate}, {@link Region#builder} and {@link Region.Builder#alignment} refuse every size and
     * alignment out of range with {@code IllegalArgumentException} before any native memory is taken: the counters
     * ({@link NativeMemory#reservedBytes()}, {@link NativeMemory#liveRegions()}) stay exact.
     */
    @Test
    void sizesAndAlignmentsOutOfRangeAreRefusedWithNothingCounted()
    {
        final long reserved = NativeMemory.reservedBytes();
        final long regions = NativeMemory.liveRegions();
        for (final long size : new long[] {0, -1, Long.MIN_VALUE, Long.MAX_VALUE, Region.MAX_SIZE + 1,
            1L << 32, Integer.MIN_VALUE})
        {
            assertThrows(IllegalArgumentException.class, () -> Region.allocate(size), "size " + size);
            assertThrows(IllegalArgumentException.class, () -> Region.builder(size), "size " + size);
        }
        for (final int alignment : new int[] {0, -1, 3, 24, Integer.MIN_VALUE, Integer.MAX_VALUE,
            Memory.pageSize() * 2, 1 << 30})
        {
            assertThrows(IllegalArgumentException.class, () -> Region.builder(64).alignment(alignment),
                "alignment " + alignment);
        }
        assertEquals(reserved, NativeMemory.reservedBytes());
        assertEquals(regions, NativeMemory.liveRegions());

        // the largest alignment, on the smallest region: aligned, counted with its padding, and all of it back
        try (Region region = Region.builder(1).alignment(Memory.pageSize()).zeroed(true).preTouch(true).build())
        {
            assertEquals(0, region.address() % Memory.pageSize());
            assertEquals(1, region.size());
            assertTrue(NativeMemory.reservedBytes() - reserved >= 1);
            assertEquals(regions + 1, NativeMemory.liveRegions());
            assertEquals(0, region.buffer().getByte(0));
        }
        assertEquals(reserved, NativeMemory.reservedBytes());
        assertEquals(regions, NativeMemory.liveRegions());
    }

    /** {@link Region#checkSize} and {@link Region#checkAlignment} at the edges of their ranges. */
    @Test
    void theCheckersAcceptExactlyTheirRanges()
    {
        assertEquals(1, Region.checkSize(1, 1, "x"));
        assertEquals(Long.MAX_VALUE, Region.checkSize(Long.MAX_VALUE, Long.MAX_VALUE, "x"));
        assertThrows(IllegalArgumentException.class, () -> Region.checkSize(0, Long.MAX_VALUE, "x"));
        assertThrows(IllegalArgumentException.class, () -> Region.checkSize(Long.MIN_VALUE, Long.MAX_VALUE, "x"));
        assertThrows(IllegalArgumentException.class, () -> Region.checkSize(2, 1, "x"));
        final IllegalArgumentException named =
            assertThrows(IllegalArgumentException.class, () -> Region.checkSize(-5, 10, "thing"));
        assertTrue(named.getMessage().contains("thing") && named.getMessage().contains("-5"), named.getMessage());

        assertEquals(1, Region.checkAlignment(1, 1));
        assertEquals(1 << 30, Region.checkAlignment(1 << 30, Integer.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> Region.checkAlignment(Integer.MIN_VALUE, Integer.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> Region.checkAlignment(0, Integer.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> Region.checkAlignment(6, Integer.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> Region.checkAlignment(8, 4));
    }

    /**
     * {@link Region#checkDestination} refuses a read-only buffer first and then any range outside the capacity,
     * including ranges whose {@code offset + length} overflows an {@code int} (which a plain sum would let pass).
     */
    @Test
    void checkDestinationRefusesOverflowingRanges()
    {
        final ByteBuffer dst = ByteBuffer.allocate(16);
        Region.checkDestination(dst, 0, 16);
        Region.checkDestination(dst, 16, 0);
        for (final int[] range : new int[][] {{1, 16}, {Integer.MAX_VALUE, 1}, {1, Integer.MAX_VALUE},
            {Integer.MAX_VALUE, Integer.MAX_VALUE}, {-1, 1}, {0, -1}, {Integer.MIN_VALUE, 0}, {8, Integer.MIN_VALUE}})
        {
            assertThrows(IndexOutOfBoundsException.class, () -> Region.checkDestination(dst, range[0], range[1]),
                range[0] + ", " + range[1]);
        }
        assertThrows(ReadOnlyBufferException.class, () -> Region.checkDestination(dst.asReadOnlyBuffer(), 0, 0));
    }

    /**
     * The region's shared view (the raw tier, Agrona's checks on in this suite) refuses indexes and lengths at their
     * extremes, including {@code index + length} overflowing an {@code int}, and nothing is written; after close it
     * has capacity 0 and refuses everything, {@code byteBuffer()} and {@code checkOpen()} throw
     * {@code IllegalStateException}, a second close does nothing and the counters come back exactly.
     */
    @Test
    void theRegionViewRefusesExtremeRangesAndEverythingAfterClose()
    {
        // the raw tier: without Agrona's checks these reads go where the index says (docs/memory.md)
        assumeTrue(UnsafeBuffer.SHOULD_BOUNDS_CHECK, "the region's raw view relies on Agrona's bounds checks");
        final long reserved = NativeMemory.reservedBytes();
        final Region region = Region.builder(64).zeroed(true).build();
        final UnsafeBuffer buffer = region.buffer();
        final byte[] array = new byte[8];
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.getByte(Integer.MAX_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.getByte(-1));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.getLong(Integer.MAX_VALUE - 3));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.setMemory(8, Integer.MAX_VALUE, (byte)1));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.setMemory(Integer.MAX_VALUE, 2, (byte)1));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.putBytes(60, array, 0, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.putBytes(Integer.MAX_VALUE, array, 0, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.getBytes(8, array, 4, Integer.MAX_VALUE));
        assertThrows(IndexOutOfBoundsException.class,
            () -> buffer.putBytes(0, new UnsafeBuffer(new byte[8]), Integer.MAX_VALUE, 2));
        for (int i = 0; i < 64; i++)
        {
            assertEquals(0, buffer.getByte(i), "nothing written at " + i);
        }
        final ByteBuffer nio = region.byteBuffer();
        assertEquals(64, nio.capacity());

        region.close();
        region.close();
        assertEquals(0, buffer.capacity());
        assertEquals(0, nio.capacity());
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.getByte(0));
        assertThrows(IndexOutOfBoundsException.class, () -> buffer.putBytes(0, new UnsafeBuffer(new byte[8]), 0, 8));
        assertThrows(IllegalStateException.class, region::byteBuffer);
        assertThrows(IllegalStateException.class, region::checkOpen);
        assertFalse(region.isOpen());
        assertTrue(region.toString().endsWith("closed"), region.toString());
        assertEquals(reserved, NativeMemory.reservedBytes());
    }

    /**
     * {@link RefCount}: a released count refuses both a retain and another release with
     * {@code StaleHandleException}, staying at 0; exactly one release of many reports the last.
     */
    @Test
    void aReleasedRefCountStaysReleased()
    {
        final RefCount count = new RefCount();
        count.retain();
        count.retain();
        assertFalse(count.release());
        assertFalse(count.release());
        assertTrue(count.release());
        assertEquals(0, count.refCount());
        assertThrows(StaleHandleException.class, count::retain);
        assertThrows(StaleHandleException.class, count::release);
        assertEquals(0, count.refCount());
    }
}
