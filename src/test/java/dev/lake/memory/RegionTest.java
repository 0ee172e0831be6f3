package dev.lake.memory;

import dev.lake.testing.NativeAccounting;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

class RegionTest
{
    @Test
    void alignsEveryPowerOfTwoUpToThePageSize()
    {
        for (int alignment = 1; alignment <= Memory.pageSize(); alignment <<= 1)
        {
            for (final int size : new int[]{1, 7, 100, 4097})
            {
                try (Region region = Region.builder(size).alignment(alignment).build())
                {
                    assertEquals(0, region.address() & (alignment - 1), "alignment " + alignment);
                    assertEquals(size, region.size());
                    assertEquals(size, region.buffer().capacity());
                    assertEquals(alignment, region.alignment());
                    region.buffer().putByte(size - 1, (byte)1);
                }
            }
        }
    }

    @Test
    void zeroedRegionReadsZeros()
    {
        final int size = 3 * Memory.pageSize() + 5;
        try (Region region = Region.builder(size).zeroed(true).preTouch(true).build())
        {
            final UnsafeBuffer buffer = region.buffer();
            for (int i = 0; i < size; i++)
            {
                assertEquals(0, buffer.getByte(i), "byte " + i);
            }
        }
    }

    @Test
    void preTouchedRegionIsUsable()
    {
        try (Region region = Region.builder(1 << 20).preTouch(true).build())
        {
            region.buffer().putLong(1 << 19, 42L);
            assertEquals(42L, region.buffer().getLong(1 << 19));
        }
    }

    @Test
    void accountingReturnsToBaselineAndFreesExactlyOnce()
    {
        final long baseline = NativeMemory.reservedBytes();
        final long regions = NativeMemory.liveRegions();
        final Region a = Region.allocate(1000);
        final Region b = Region.builder(5000).alignment(4096).build();
        assertTrue(NativeMemory.reservedBytes() >= baseline + 6000);
        assertEquals(regions + 2, NativeMemory.liveRegions());

        a.close();
        final long afterOne = NativeMemory.reservedBytes();
        a.close();
        assertEquals(afterOne, NativeMemory.reservedBytes(), "second close must not free again");
        assertFalse(a.isOpen());
        assertTrue(b.isOpen());

        b.close();
        assertEquals(baseline, NativeMemory.reservedBytes());
        assertEquals(regions, NativeMemory.liveRegions());
    }

    @Test
    void viewsFailAfterClose()
    {
        final Region region = Region.allocate(64);
        final UnsafeBuffer buffer = region.buffer();
        final ByteBuffer nio = region.byteBuffer();
        buffer.putLong(0, 7L);
        region.close();

        assertEquals(0, buffer.capacity());
        if (!Boolean.getBoolean("agrona.disable.bounds.checks")) // the raw tier relies on Agrona's checks
        {
            assertThrows(IndexOutOfBoundsException.class, () -> buffer.getLong(0));
            assertThrows(IndexOutOfBoundsException.class, () -> buffer.putLong(8, 1L));
        }
        assertEquals(0, nio.capacity());
        assertThrows(IndexOutOfBoundsException.class, () -> nio.get(0));
        assertThrows(RuntimeException.class, () -> nio.putLong(1L));
        assertThrows(IllegalArgumentException.class, () -> nio.limit(8));
        final IllegalStateException ex = assertThrows(IllegalStateException.class, region::checkOpen);
        assertTrue(ex.getMessage().contains("closed"), ex.getMessage());
        assertThrows(IllegalStateException.class, region::byteBuffer);
    }

    @Test
    void byteBufferSharesTheBytesWithNoCopy(@TempDir final Path dir) throws Exception
    {
        try (Region region = Region.allocate(16))
        {
            final ByteBuffer nio = region.byteBuffer();
            assertTrue(nio.isDirect());
            assertSame(nio, region.byteBuffer());
            assertEquals(16, nio.capacity());
            region.buffer().putByte(3, (byte)99);
            assertEquals(99, nio.get(3));
            nio.put(5, (byte)-3);
            assertEquals(-3, region.buffer().getByte(5));

            final Path file = dir.resolve("bytes");
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE))
            {
                assertEquals(16, channel.write(nio.clear()));
            }
            region.buffer().setMemory(0, 16, (byte)0);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
            {
                assertEquals(16, channel.read(nio.clear()));
            }
            assertEquals(99, region.buffer().getByte(3));
            assertEquals(-3, region.buffer().getByte(5));
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {0, -1, -4096, Long.MIN_VALUE, Region.MAX_SIZE + 1, Long.MAX_VALUE})
    void rejectsBadSizesNamingTheValue(final long size)
    {
        final long baseline = NativeMemory.reservedBytes();
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> Region.allocate(size));
        assertTrue(ex.getMessage().contains(Long.toString(size)), ex.getMessage());
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, -64, 3, 12, 100, Integer.MIN_VALUE})
    void rejectsAlignmentsThatAreNotPowersOfTwo(final int alignment)
    {
        final IllegalArgumentException ex = assertThrows(
            IllegalArgumentException.class, () -> Region.builder(64).alignment(alignment));
        assertTrue(ex.getMessage().contains(Integer.toString(alignment)), ex.getMessage());
    }

    @Test
    void rejectsAlignmentAboveThePageSize()
    {
        final int tooBig = Memory.pageSize() * 2;
        final IllegalArgumentException ex = assertThrows(
            IllegalArgumentException.class, () -> Region.builder(64).alignment(tooBig));
        assertTrue(ex.getMessage().contains(Integer.toString(tooBig)), ex.getMessage());
    }

    @Test
    void safetyNetFreesAnUnclosedRegionAndCountsTheLeak()
    {
        final long baseline = NativeMemory.reservedBytes();
        final long reports = NativeAccounting.reportsNaming("Region[12345 B");
        NativeMemory.setLeakTracking(true);
        try
        {
            leakOne(12_345);
        }
        finally
        {
            NativeMemory.setLeakTracking(false);
        }
        await().atMost(Duration.ofSeconds(30)).until(() ->
        {
            System.gc();
            // its own report (another test's leak freed here would also raise the count)
            return NativeAccounting.reportsNaming("Region[12345 B") > reports &&
                NativeAccounting.reservedBackTo(baseline);
        });
        assertTrue(NativeMemory.leakReports().stream().anyMatch(report ->
            report.what().contains("12345") &&
            report.allocationSite() != null &&
            stackMentions(report.allocationSite(), "leakOne")));
    }

    @Test
    void aReachableViewKeepsItsRegionAlive()
    {
        final long reports = NativeAccounting.reportsNaming("Region[4099 B"); // a size no other test leaks
        Region region = Region.allocate(4099);
        final java.lang.ref.WeakReference<Region> weak = new java.lang.ref.WeakReference<>(region);
        final UnsafeBuffer view = viewOnly(region);
        region = null;
        for (int i = 0; i < 5; i++)
        {
            System.gc();
        }
        view.putLong(4088, 11L);
        assertEquals(11L, view.getLong(4088));
        assertEquals(reports, NativeAccounting.reportsNaming("Region[4099 B"), "reclaimed while its view was live");
        assertNotNull(weak.get(), "the view must keep its region reachable");
        weak.get().close();
        assertEquals(0, view.capacity());
    }

    private static UnsafeBuffer viewOnly(final Region region)
    {
        return region.buffer();
    }

    private static void leakOne(final int size)
    {
        Region.allocate(size).buffer().putByte(0, (byte)1);
    }

    private static boolean stackMentions(final Throwable site, final String method)
    {
        for (final StackTraceElement element : site.getStackTrace())
        {
            if (element.getMethodName().equals(method))
            {
                return true;
            }
        }
        return false;
    }
}
