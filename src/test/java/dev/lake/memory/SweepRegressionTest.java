package dev.lake.memory;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sites the sweep for "check, then code Lake does not know, then raw access" found in the memory package, each test
 * failing on the code before its fix.
 */
class SweepRegressionTest
{
    /**
     * A region's view ({@code Region.buffer()}, which is also the lake's, an arena block's and a pool arena's buffer)
     * compared itself with another buffer through Agrona's {@code compareTo}: that reads this view's address, then
     * asks the other buffer (code Lake does not know) for its address, then reads both raw, with no bounds check
     * whatever Agrona's setting. Another buffer whose {@code addressOffset()} closed the region had the comparison
     * read the freed memory: a JVM crash (or, where the allocator reused it, another allocation's bytes), with
     * Agrona's bounds checks on. Run in a child JVM so that the bug shows as a crash of that JVM.
     */
    @Test
    void aRegionViewComparedWithABufferThatClosesTheRegionNeverReadsTheFreedMemory() throws Exception
    {
        for (final String when : new String[] {"capacity", "byteArray", "addressOffset"})
        {
            final String out = ClosingComparandProbe.run(when);
            assertTrue(out.contains("probe: compared without reading the freed memory"), out);
        }
    }

    /**
     * A region's view copied from another buffer through Agrona's {@code putBytes(int, DirectBuffer, int, int)}: that
     * checks this view's range, then asks the source (code Lake may not know) for its array and address, then writes
     * through this view's address read after them. A source that closed the region there had the write land at
     * address 0 plus the index (a JVM crash at the null page, or, for an index past 1 GiB of a large region, the Java
     * heap's own memory), with Agrona's bounds checks on, which Lake's close relies on to refuse every access to a
     * closed view. The source is asked first now, and the view's range checked after it. Child JVM, checks on.
     */
    @Test
    void aRegionViewCopyFromASourceThatClosesTheRegionIsRefused() throws Exception
    {
        for (final String when : new String[] {"boundsCheck", "byteArray", "addressOffset"})
        {
            final String out = ClosingSourceProbe.run(when);
            assertTrue(out.contains("probe: refused") && out.contains("IndexOutOfBoundsException"), out);
        }
    }

    /** The child JVM of {@link #aRegionViewCopyFromASourceThatClosesTheRegionIsRefused()}. */
    public static final class ClosingSourceProbe
    {
        private ClosingSourceProbe()
        {
        }

        static String run(final String when) throws Exception
        {
            return ClosingComparandProbe.run(ClosingSourceProbe.class, when);
        }

        public static void main(final String[] args)
        {
            final String when = args[0];
            final Region region = Region.builder(1 << 20).build();
            final UnsafeBuffer view = region.buffer();
            final UnsafeBuffer source = new UnsafeBuffer(new byte[64])
            {
                private void close(final String method)
                {
                    if (method.equals(when))
                    {
                        region.close();
                    }
                }

                @Override
                public void boundsCheck(final int index, final int length)
                {
                    close("boundsCheck");
                    super.boundsCheck(index, length);
                }

                @Override
                public byte[] byteArray()
                {
                    close("byteArray");
                    return super.byteArray();
                }

                @Override
                public long addressOffset()
                {
                    close("addressOffset");
                    return super.addressOffset();
                }
            };
            try
            {
                view.putBytes(4096, source, 0, 64);
                System.out.println("probe: NOT refused: wrote through a closed region's view");
            }
            catch (final RuntimeException ex)
            {
                System.out.println("probe: refused (" + ex + ")");
            }
            System.out.flush();
        }
    }

    /** The region view's own compareTo orders buffers exactly as Agrona's does. */
    @Test
    void aRegionViewComparesAsAgronasBuffersDo()
    {
        try (Region region = Region.builder(64).build())
        {
            final UnsafeBuffer view = region.buffer();
            final UnsafeBuffer agrona = new UnsafeBuffer(region.address(), region.size());
            final java.util.Random random = new java.util.Random(42);
            for (int round = 0; round < 2_000; round++)
            {
                view.setMemory(0, 64, (byte)0);
                final byte[] bytes = new byte[random.nextInt(80)];
                for (int i = 0; i < 4; i++)
                {
                    view.putByte(random.nextInt(64), (byte)random.nextInt(4));
                    if (bytes.length > 0)
                    {
                        bytes[random.nextInt(bytes.length)] = (byte)(random.nextInt(4) - 1);
                    }
                }
                final UnsafeBuffer other = random.nextBoolean() ? new UnsafeBuffer(bytes) :
                    new UnsafeBuffer(java.nio.ByteBuffer.allocateDirect(bytes.length).put(bytes).flip());
                assertEquals(Integer.signum(agrona.compareTo(other)), Integer.signum(view.compareTo(other)));
                assertEquals(Integer.signum(other.compareTo(agrona)), Integer.signum(other.compareTo(view)));
            }
            assertEquals(0, view.compareTo(view));
        }
    }

    /** The child JVM of {@link #aRegionViewComparedWithABufferThatClosesTheRegionNeverReadsTheFreedMemory()}. */
    public static final class ClosingComparandProbe
    {
        private ClosingComparandProbe()
        {
        }

        static String run(final String when) throws Exception
        {
            return run(ClosingComparandProbe.class, when);
        }

        /** Runs {@code probe} in a child JVM with Agrona's bounds checks on; its exit and output. */
        static String run(final Class<?> probe, final String when) throws Exception
        {
            return "closed in " + when + ": " + dev.lake.testing.ChildJvm.run(probe, true, when); // compareTo has no bounds checks
        }

        public static void main(final String[] args)
        {
            final String when = args[0];
            final Region region = Region.builder(64 << 20).build(); // large enough that closing it unmaps it
            final UnsafeBuffer view = region.buffer();
            final int size = 1 << 20;
            final UnsafeBuffer other = new UnsafeBuffer(new byte[size])
            {
                private void close(final String method)
                {
                    if (method.equals(when))
                    {
                        region.close();
                    }
                }

                @Override
                public int capacity()
                {
                    close("capacity");
                    return super.capacity();
                }

                @Override
                public byte[] byteArray()
                {
                    close("byteArray");
                    return super.byteArray();
                }

                @Override
                public long addressOffset()
                {
                    close("addressOffset");
                    return super.addressOffset();
                }
            };
            final int cmp = view.compareTo(other); // all zeros on both sides up to the shorter one
            System.out.println("probe: compared without reading the freed memory (" + cmp + ")");
            System.out.flush();
        }
    }

    /**
     * The raw buffers Lake hands out (Region.buffer(), Lake.buffer(), Arena.buffer(ref), a FixedArena's unchecked
     * buffer, an empty ArenaView's) are the very objects Lake's own checked copies write through: a wrap() on one
     * re-pointed every later checked write of its allocator wherever the caller aimed it (with Agrona's checks
     * off, memory corruption anywhere). wrap is refused; the buffer still points where it did. Found by the sweep.
     */
    @Test
    void theSharedRawBuffersRefuseToBeRepointed()
    {
        final byte[] elsewhere = new byte[64];
        try (Region region = Region.allocate(64);
            dev.lake.linear.Lake lake = dev.lake.linear.Lake.of(4096);
            dev.lake.linear.Arena arena = new dev.lake.linear.Arena();
            dev.lake.pool.FixedArena pool = dev.lake.pool.FixedArena.builder(1, 64).build())
        {
            final long ref = arena.allocate(8, 8);
            final org.agrona.DirectBuffer[] shared = {
                region.buffer(), lake.buffer(), arena.buffer(ref), pool.uncheckedBuffer(),
                dev.lake.linear.ArenaVec.ofLongs(arena).finish().buffer()};
            for (final org.agrona.DirectBuffer b : shared)
            {
                final long address = b.addressOffset();
                final int capacity = b.capacity();
                assertThrows(UnsupportedOperationException.class, () -> b.wrap(elsewhere));
                assertThrows(UnsupportedOperationException.class, () -> b.wrap(elsewhere, 0, 8));
                assertThrows(UnsupportedOperationException.class, () -> b.wrap(java.nio.ByteBuffer.allocateDirect(8)));
                assertThrows(UnsupportedOperationException.class,
                    () -> b.wrap(java.nio.ByteBuffer.allocateDirect(8), 0, 8));
                assertThrows(UnsupportedOperationException.class, () -> b.wrap(new org.agrona.concurrent.UnsafeBuffer(elsewhere)));
                assertThrows(UnsupportedOperationException.class,
                    () -> b.wrap(new org.agrona.concurrent.UnsafeBuffer(elsewhere), 0, 8));
                assertThrows(UnsupportedOperationException.class, () -> b.wrap(region.address(), 8));
                assertEquals(address, b.addressOffset(), "still where it was");
                assertEquals(capacity, b.capacity());
            }
            lake.buffer().putLong(0, 7L);
            assertEquals(7L, lake.buffer().getLong(0));
        }
    }

    /** Closing still empties the shared buffer: close is the one caller allowed to re-point it. */
    @Test
    void closeStillEmptiesTheSharedBuffer()
    {
        final Region region = Region.allocate(64);
        final org.agrona.concurrent.UnsafeBuffer b = region.buffer();
        region.close();
        assertEquals(0, b.capacity());
        assertEquals(0L, b.addressOffset());
    }
}
