package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.Lake;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.FixedArena;
import dev.lake.pool.InitPolicy;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SliceAllocator;
import dev.lake.testing.ChildJvm;
import dev.lake.thread.ThreadLakes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fifth review, builders and factories: option extremes and combinations, and what a refused build leaves behind.
 */
class BuilderReviewTest
{
    /**
     * A pool arena's build() reserved its region first and then built the slot table, bitmap and block lists on the
     * Java heap (about 60 bytes a slot): when the heap had no room (a large slot count, a small heap) build() threw
     * OutOfMemoryError and left the region reserved by nobody, counted in {@link NativeMemory#reservedBytes()} and
     * {@link NativeMemory#liveRegions()} until a GC, which then reported it as a leak. The child JVM has a 64 MiB heap.
     */
    @Test
    void fixedArenaBuildThatRunsOutOfHeapReservesNothing() throws Exception
    {
        final String out = ChildJvm.run(HeapProbe.class, true, "fixed");
        assertTrue(out.contains("REFUSED CLEANLY"), out);
    }

    @Test
    void buddyArenaBuildThatRunsOutOfHeapReservesNothing() throws Exception
    {
        final String out = ChildJvm.run(HeapProbe.class, true, "buddy");
        assertTrue(out.contains("REFUSED CLEANLY"), out);
    }

    /**
     * An arena built without a name was named after its builder's identity hash: two arenas built by one builder
     * had the same name in toString(), metrics() and their JFR events, so their figures could not be told apart.
     */
    @Test
    void arenasBuiltByOneUnnamedBuilderHaveDistinctNames()
    {
        final FixedArena.Builder fixed = FixedArena.builder(2, 16);
        try (FixedArena a = fixed.build(); FixedArena b = fixed.build())
        {
            assertNotEquals(a.name(), b.name());
            assertNotEquals(a.metrics().name(), b.metrics().name());
            assertNotEquals(a.toString(), b.toString());
            assertTrue(a.name().startsWith("FixedArena"), a.name());
        }
        final BuddyArena.Builder buddy = BuddyArena.builder(1024, 64);
        try (BuddyArena a = buddy.build(); BuddyArena b = buddy.build())
        {
            assertNotEquals(a.name(), b.name());
            assertNotEquals(a.metrics().name(), b.metrics().name());
            assertTrue(a.name().startsWith("BuddyArena"), a.name());
        }
    }

    /** A name set on the builder is used by every arena it builds; changing the builder later changes none. */
    @Test
    void namedBuilderNamesEveryArenaAndLaterChangesDoNotLeak()
    {
        final FixedArena.Builder builder = FixedArena.builder(2, 16).name("orders");
        try (FixedArena a = builder.build())
        {
            builder.name("other").alignment(64).initPolicy(dev.lake.pool.InitPolicy.ZERO).autoSpill(true);
            assertEquals("orders", a.name());
            assertEquals(16, a.metrics().slotCapacity());
            assertEquals(dev.lake.pool.InitPolicy.UNINIT, a.initPolicy());
            assertTrue(!a.autoSpill());
            try (FixedArena b = builder.build())
            {
                assertEquals("other", b.name());
                assertEquals(64, b.metrics().slotCapacity());
                assertEquals(64, b.alignment());
                assertEquals(dev.lake.pool.InitPolicy.ZERO, b.initPolicy());
                assertTrue(b.autoSpill());
            }
        }
    }

    /**
     * Every builder and factory refuses an out-of-range option with the documented exception, naming the value, and
     * a refused build() reserves no native memory.
     */
    @Test
    void everyBuilderRefusesExtremesNamingTheValueAndReservesNothing()
    {
        final long reserved = NativeMemory.reservedBytes();
        final long regions = NativeMemory.liveRegions();
        refuses(IllegalArgumentException.class, "0", () -> Region.builder(0));
        refuses(IllegalArgumentException.class, "2147483648", () -> Region.builder(Region.MAX_SIZE + 1));
        refuses(IllegalArgumentException.class, "3", () -> Region.builder(8).alignment(3));
        refuses(IllegalArgumentException.class, "-2147483648", () -> Region.builder(8).alignment(Integer.MIN_VALUE));
        refuses(IllegalArgumentException.class, "9223372036854775807", () -> Lake.of(Long.MAX_VALUE));
        refuses(IllegalArgumentException.class, "-1", () -> Lake.builder(-1));
        refuses(IllegalArgumentException.class, "0", () -> Lake.builder(8).alignment(0));
        refuses(IllegalArgumentException.class, "0", () -> Arena.withCapacity(0));
        refuses(IllegalArgumentException.class, "-5", () -> Arena.builder().maxBlockSize(-5));
        refuses(IllegalArgumentException.class, "0", () -> Arena.builder().maxReservedBytes(0));
        refuses(IllegalArgumentException.class, "99", () -> Arena.builder().initialBlockSize(100).maxReservedBytes(99).build());
        refuses(IllegalArgumentException.class, "0", () -> FixedArena.builder(0, 8));
        refuses(IllegalArgumentException.class, "268435456", () -> FixedArena.builder(FixedArena.MAX_SLOTS + 1, 8));
        refuses(IllegalArgumentException.class, "-1", () -> FixedArena.builder(1, -1));
        refuses(IllegalArgumentException.class, "2147483648", () -> FixedArena.builder(1, Integer.MAX_VALUE).build());
        refuses(IllegalArgumentException.class, "2147483648", () -> FixedArena.builder(2, 1 << 30).build());
        refuses(IllegalArgumentException.class, "8192", () -> FixedArena.builder(1, 8).alignment(8192));
        refuses(IllegalArgumentException.class, "7", () -> FixedArena.builderForCapacity(7, 8).build());
        refuses(IllegalArgumentException.class, "9223372036854775807", () -> FixedArena.builderForCapacity(Long.MAX_VALUE, 8));
        refuses(NullPointerException.class, "name", () -> FixedArena.builder(1, 8).name(null));
        refuses(NullPointerException.class, "initPolicy", () -> BuddyArena.builder(64, 8).initPolicy(null));
        refuses(IllegalArgumentException.class, "0", () -> BuddyArena.builder(0, 8));
        refuses(IllegalArgumentException.class, "-8", () -> BuddyArena.builder(64, -8));
        refuses(IllegalArgumentException.class, "4", () -> BuddyArena.builder(64, 4).build());
        refuses(IllegalArgumentException.class, "100", () -> BuddyArena.builder(100, 8).build());
        refuses(IllegalArgumentException.class, "2147483647", () -> BuddyArena.builder(1, Integer.MAX_VALUE).roundUp(true).build());
        refuses(IllegalArgumentException.class, "134217728", () -> BuddyArena.builder(1 << 30, 8).build());
        refuses(NullPointerException.class, "layout", () -> SliceAllocator.builder(null));
        refuses(IllegalArgumentException.class, "0", () -> SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(0));
        refuses(IllegalArgumentException.class, "2147483647", () -> SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(Integer.MAX_VALUE));
        refuses(IllegalArgumentException.class, "0", () -> ElementLayout.record(0, 8));
        refuses(IllegalArgumentException.class, "3", () -> ElementLayout.record(8, 3));
        refuses(IllegalArgumentException.class, "2147483647", () -> ElementLayout.record(Integer.MAX_VALUE, 1));
        refuses(IllegalArgumentException.class, "0", () -> ThreadLakes.builder(0));
        refuses(IllegalArgumentException.class, "-1", () -> ThreadLakes.builder(8).poolBound(-1));
        refuses(NullPointerException.class, "hint", () -> ThreadLakes.builder(8).affinity(null));
        assertEquals(reserved, NativeMemory.reservedBytes());
        assertEquals(regions, NativeMemory.liveRegions());
    }

    /** Option combinations build, and what metrics/toString echo is what the arena really uses. */
    @Test
    void optionCombinationsAreEchoedTruly()
    {
        try (FixedArena f = FixedArena.builder(3, 1).alignment(4096).initPolicy(InitPolicy.ZERO).autoSpill(true)
            .preFault(true).jfrEvents(true).leakDetection(false).name("z").build())
        {
            assertEquals(4096, f.alignment());
            assertEquals(4096, f.metrics().slotCapacity());
            assertEquals(3 * 4096L, f.metrics().bytesReserved());
            assertEquals("z[3 x 4096 B]", f.toString());
            final long h = f.allocateHandle();
            assertEquals(0, f.offset(h) % 4096);
            assertEquals(0L, f.getLong(h, 4088));
            f.release(h);
        }
        try (FixedArena f = FixedArena.builderForCapacity(100, 8).alignment(64).build())
        {
            assertEquals(1, f.metrics().slotCount());
            assertEquals(64, f.metrics().slotCapacity());
        }
        try (BuddyArena b = BuddyArena.builder(100, 12).roundUp(true).initPolicy(InitPolicy.ZERO).build())
        {
            assertEquals(128, b.metrics().totalBytes());
            assertEquals(16, b.metrics().minBlock());
            assertEquals(3, b.metrics().maxOrder());
            assertEquals(128L, b.metrics().bytesReserved());
        }
        try (Arena a = Arena.builder().initialBlockSize(100).maxBlockSize(1).maxReservedBytes(200).build())
        {
            a.allocate(100, 1);
            a.allocate(100, 1);
            assertEquals(2, a.stats().blockCount());
            assertEquals(200L, a.stats().bytesReserved());
        }
    }

    private static void refuses(final Class<? extends Throwable> type, final String value, final Executable call)
    {
        final Throwable thrown = assertThrows(type, call);
        assertTrue(String.valueOf(thrown.getMessage()).contains(value), thrown.toString());
    }

    /** Builds an arena whose bookkeeping cannot fit the child's 64 MiB heap and reports what stays reserved. */
    public static final class HeapProbe
    {
        public static void main(final String[] args)
        {
            final long reserved = NativeMemory.reservedBytes();
            final long regions = NativeMemory.liveRegions();
            byte[] ballast = null;
            try
            {
                if ("fixed".equals(args[0]))
                {
                    // 4 M slots of 8 B: 32 MiB of native memory, about 200 MiB of slot table
                    FixedArena.builder(4_000_000, 8).build().close();
                }
                else
                {
                    // 1 M minimum blocks: 8 MiB of native memory, about 60 MiB of tables, next to 40 MiB held
                    ballast = new byte[40 << 20];
                    BuddyArena.builder(BuddyArena.MAX_MIN_BLOCKS * 8L, 8).build().close();
                }
                System.out.println("BUILT: the probe did not exhaust the heap");
                return;
            }
            catch (final OutOfMemoryError expected)
            {
                ballast = null; // room for the report
            }
            final long reservedAfter = NativeMemory.reservedBytes();
            final long regionsAfter = NativeMemory.liveRegions();
            System.out.println(reservedAfter == reserved && regionsAfter == regions ? "REFUSED CLEANLY" :
                "LEFT RESERVED: " + (reservedAfter - reserved) + " B in " + (regionsAfter - regions) + " regions");
        }
    }
}
