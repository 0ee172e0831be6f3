package dev.lake.reliability;

import dev.lake.memory.NativeMemory;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.FixedArena;
import dev.lake.testing.ChildJvm;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
