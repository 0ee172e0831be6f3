package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class DropletTest
{
    @Test
    void accessorsReadWhatWasWritten()
    {
        try (Lake lake = Lake.of(1024))
        {
            final Droplet d = lake.droplet(64);
            assertEquals(64, d.length());
            assertSame(lake, d.allocator());
            d.putByte(0, (byte)1);
            d.putShort(2, (short)-2);
            d.putInt(4, 3);
            d.putLong(8, 4L);
            d.putFloat(16, 5.5f);
            d.putDouble(24, 6.25);
            d.putBytes(32, new byte[]{7, 8, 9});
            assertEquals(1, d.getByte(0));
            assertEquals(-2, d.getShort(2));
            assertEquals(3, d.getInt(4));
            assertEquals(4L, d.getLong(8));
            assertEquals(5.5f, d.getFloat(16));
            assertEquals(6.25, d.getDouble(24));
            final byte[] three = new byte[3];
            d.getBytes(32, three, 0, 3);
            assertArrayEquals(new byte[]{7, 8, 9}, three);
            assertEquals(4L, lake.buffer().getLong(d.checkedOffset() + 8), "same bytes as the primitive tier");

            final UnsafeBuffer other = new UnsafeBuffer(new byte[16]);
            other.putLong(0, 99L);
            d.putBytes(40, other, 0, 8);
            assertEquals(99L, d.getLong(40));
            final UnsafeBuffer out = new UnsafeBuffer(new byte[8]);
            d.getBytes(8, out, 0, 8);
            assertEquals(4L, out.getLong(0));
            d.setMemory(48, 16, (byte)3);
            assertEquals(3, d.getByte(63));
            d.fill((byte)0);
            assertEquals(0L, d.getLong(8));
        }
    }

    @Test
    void accessorsCheckBoundsThemselvesAndWriteNothingOutside()
    {
        try (Lake lake = Lake.of(1024))
        {
            final Droplet d = lake.droplet(16);
            final Droplet next = lake.droplet(16);
            next.fill((byte)0x11);
            final List<Executable> outside = List.of(
                () -> d.getByte(-1),
                () -> d.getByte(16),
                () -> d.putByte(16, (byte)1),
                () -> d.putShort(15, (short)1),
                () -> d.putInt(13, 1),
                () -> d.putLong(9, 1L),
                () -> d.getLong(Integer.MAX_VALUE),
                () -> d.putDouble(-8, 1.0),
                () -> d.putBytes(10, new byte[7]),
                () -> d.putBytes(0, new byte[4], 2, 4),
                () -> d.getBytes(0, new byte[4], -1, 2),
                () -> d.getBytes(0, new byte[4], 0, -1),
                () -> d.setMemory(8, 9, (byte)1),
                () -> d.putBytes(0, new UnsafeBuffer(new byte[4]), 0, 8),
                () -> d.getBytes(0, new UnsafeBuffer(new byte[4]), 0, 8));
            for (final Executable e : outside)
            {
                assertThrows(IndexOutOfBoundsException.class, e);
            }
            for (int i = 0; i < 16; i++)
            {
                assertEquals(0x11, next.getByte(i), "the neighbour was never touched");
            }
        }
    }

    @Test
    void validityIsExactAcrossRewinds()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Droplet below = lake.droplet(32);
            lake.mark();
            final Droplet above = lake.droplet(32);
            lake.resetToMark();
            assertTrue(below.isValid(), "not rewound over: still valid");
            assertFalse(above.isValid());

            final Droplet reuse = lake.droplet(32); // the very same bytes as 'above'
            assertEquals(above.offset(), reuse.offset());
            assertTrue(reuse.isValid());
            assertFalse(above.isValid(), "stays invalid when the position moves past it again");
            reuse.putLong(0, 5L);
            assertThrows(StaleHandleException.class, () -> above.putLong(0, 6L));
            assertEquals(5L, reuse.getLong(0), "the stale handle wrote nothing");

            final LakeSnapshot atEnd = lake.snapshot();
            lake.allocate(8);
            lake.rewind(atEnd);
            assertTrue(reuse.isValid(), "a rewind to exactly its end keeps a droplet");
        }
    }

    @Test
    void everyAccessorOnAnInvalidDropletThrowsAndTouchesNothing()
    {
        try (Lake lake = Lake.of(1024))
        {
            final Droplet d = lake.droplet(64);
            lake.reset();
            final Droplet owner = lake.droplet(64);
            owner.fill((byte)0x22);
            final List<Executable> uses = List.of(
                () -> d.getByte(0), () -> d.putByte(0, (byte)1),
                () -> d.getShort(0), () -> d.putShort(0, (short)1),
                () -> d.getInt(0), () -> d.putInt(0, 1),
                () -> d.getLong(0), () -> d.putLong(0, 1),
                () -> d.getFloat(0), () -> d.putFloat(0, 1),
                () -> d.getDouble(0), () -> d.putDouble(0, 1),
                () -> d.getBytes(0, new byte[1], 0, 1), () -> d.putBytes(0, new byte[1]),
                () -> d.putBytes(0, new UnsafeBuffer(new byte[1]), 0, 1),
                () -> d.getBytes(0, new UnsafeBuffer(new byte[1]), 0, 1),
                () -> d.setMemory(0, 1, (byte)1), () -> d.fill((byte)1), d::toByteArray, d::checkedOffset,
                () -> d.wrap(new Object(), (f, b, o) -> fail("wrapped a stale droplet")),
                () -> d.getLong(1_000_000)); // validity first, bounds second
            for (final Executable use : uses)
            {
                assertThrows(StaleHandleException.class, use);
            }
            for (int i = 0; i < 64; i++)
            {
                assertEquals(0x22, owner.getByte(i));
            }
            d.close(); // closing a stale droplet is harmless
            assertTrue(owner.isValid());
            assertEquals(64, lake.position());
        }
    }

    @Test
    void closingTheLastDropletRewindsIncludingItsPadding()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(3);
            final Droplet d = lake.droplet(64, 64);
            assertEquals(64, d.offset());
            d.close();
            assertEquals(3, lake.position(), "auto-rewind to where the droplet began, padding included");
            assertFalse(d.isValid());
            d.close(); // twice: nothing more
            assertEquals(3, lake.position());
            assertEquals(1, lake.generation());
        }
    }

    @Test
    void closingAnEarlierDropletDoesNothing()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Droplet first = lake.droplet(16);
            final Droplet second = lake.droplet(16);
            first.close();
            assertEquals(32, lake.position());
            assertTrue(first.isValid(), "its memory is still its own");
            second.close();
            assertEquals(16, lake.position());
            first.close();
            assertEquals(0, lake.position());
        }
    }

    @Test
    void closingNeverCrossesAMarkOrSandboxOpenedAfterIt()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Droplet d = lake.droplet(16);
            lake.mark();
            d.close();
            assertEquals(16, lake.position());
            assertEquals(1, lake.markDepth());
            lake.resetToMark();
            try (Sandbox sandbox = lake.sandbox())
            {
                d.close();
                assertEquals(16, lake.position());
                assertTrue(sandbox.isOpen());
            }
            d.close();
            assertEquals(0, lake.position());
        }
    }

    @Test
    void tryWithResourcesDropletLoopReusesTheSameBytes()
    {
        try (Lake lake = Lake.of(256))
        {
            for (int i = 0; i < 1000; i++)
            {
                try (Droplet d = lake.droplet(64))
                {
                    assertEquals(0, d.offset());
                    d.putLong(0, i);
                }
            }
            assertEquals(0, lake.used());
        }
    }

    @Test
    void aClosedDropletStaysInvalidWhileLaterDropletsReuseItsPlace()
    {
        // closing the last droplet renews its epoch in place for the next one: the old handles must stay dead
        try (Lake lake = Lake.of(4096))
        {
            final LakeView view = lake.split(256);
            final Droplet keeper = lake.droplet(16);
            final List<Droplet> closed = new java.util.ArrayList<>();
            final List<LakeSnapshot> snapshots = new java.util.ArrayList<>();
            for (int i = 0; i < 100; i++)
            {
                final Droplet d = lake.droplet(64);
                final LakeSnapshot atEnd = lake.snapshot();
                d.putLong(0, i);
                d.close();
                assertFalse(d.isValid(), "closed as the last allocation: rewound below its end");
                assertThrows(StaleHandleException.class, () -> lake.rewind(atEnd), "a snapshot above the rewind");
                closed.add(d);
                snapshots.add(atEnd);
                for (final Droplet old : closed)
                {
                    assertFalse(old.isValid(), "round " + i + ": " + old);
                    assertThrows(StaleHandleException.class, () -> old.getLong(0));
                }
            }
            assertTrue(keeper.isValid());
            assertTrue(view.isValid(), "rewinds that kill only droplets leave views alone");
            final Droplet last = lake.droplet(64);
            last.putLong(0, 7L);
            for (final LakeSnapshot s : snapshots)
            {
                assertThrows(StaleHandleException.class, () -> lake.rewind(s));
            }
            assertEquals(7L, last.getLong(0));
            assertTrue(last.isValid());
        }
    }

    @Test
    void aViewBesideRenewedDropletsDiesExactlyWhenRewoundOver()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot start = lake.snapshot();
            final Droplet d = lake.droplet(32);
            final LakeView view = lake.split(64);
            final LakeView child = view.split(16);
            final Droplet inChild = child.droplet(8);
            for (int i = 0; i < 10; i++)
            {
                try (Droplet temp = lake.droplet(32))
                {
                    temp.putInt(0, i);
                }
            }
            assertTrue(view.isValid());
            assertTrue(child.isValid());
            assertTrue(inChild.isValid());
            lake.rewind(start);
            assertFalse(d.isValid());
            assertFalse(view.isValid(), "rewound below its end");
            assertFalse(child.isValid(), "its parent died");
            assertFalse(inChild.isValid());
            assertThrows(StaleHandleException.class, () -> inChild.putLong(0, 1L));
            assertThrows(StaleHandleException.class, () -> child.allocate(8));
        }
    }
}
