package dev.lake.linear;

import dev.lake.memory.Memory;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

class LakeTest
{
    @Test
    void builderOptionsAndCounters()
    {
        try (Lake lake = Lake.builder(8192).alignment(4096).zeroing(true).preTouch(true).build())
        {
            assertEquals(0, lake.address() & 4095);
            assertEquals(8192, lake.capacity());
            assertEquals(0, lake.used());
            assertEquals(8192, lake.remaining());
            assertTrue(lake.isZeroing());
            assertEquals(new LakeStats(0, 8192, 8192, 0, 0, 0), lake.stats());
            lake.allocate(100);
            assertEquals(new LakeStats(100, 8092, 8192, 0, 0, 0), lake.stats());
            lake.reset();
            assertEquals(new LakeStats(0, 8192, 8192, 1, 0, 0), lake.stats());
        }
    }

    @Test
    void primitiveAllocationsAreAlignedOnTheAbsoluteAddress()
    {
        // base alignment 1 makes the region address arbitrary: alignment must be on the address, not the offset
        try (Lake lake = Lake.builder(1 << 16).alignment(1).build())
        {
            for (int alignment = 1; alignment <= Memory.pageSize(); alignment <<= 1)
            {
                lake.allocate(1, 1);
                final int at = lake.allocate(3, alignment);
                assertEquals(0, (lake.address() + at) & (alignment - 1), "alignment " + alignment);
                assertEquals(at + 3, lake.position());
            }
            final int plain = lake.allocate(5);
            assertEquals(0, (lake.address() + plain) & 7, "default alignment is 8");
        }
    }

    @Test
    void allocationsAreDisjointAndWritableThroughTheSharedBuffer()
    {
        try (Lake lake = Lake.of(4096))
        {
            final int a = lake.allocate(64);
            final int b = lake.allocate(64);
            assertTrue(b >= a + 64);
            lake.buffer().putLong(a, 1L);
            lake.buffer().putLong(b, 2L);
            assertEquals(1L, lake.buffer().getLong(a));
            assertEquals(2L, lake.buffer().getLong(b));
        }
    }

    @Test
    void tryAllocateReturnsTheSentinelWhenFull()
    {
        try (Lake lake = Lake.of(128))
        {
            assertEquals(0, lake.tryAllocate(100));
            assertEquals(LakeAllocator.NO_SPACE, lake.tryAllocate(100));
            assertEquals(LakeAllocator.NO_SPACE, lake.tryAllocate(8, 64));
            assertEquals(100, lake.position(), "a failed try changes nothing");
            assertEquals(104, lake.tryAllocate(24));
            assertEquals(128, lake.position());
            assertEquals(0, lake.remaining());
        }
    }

    @Test
    void typedArrayRegionsAreAlignedForTheirElement()
    {
        try (Lake lake = Lake.builder(4096).alignment(1).build())
        {
            lake.allocate(1, 1);
            final int longs = lake.allocateLongs(10);
            assertEquals(0, (lake.address() + longs) & 7);
            lake.allocate(1, 1);
            final int ints = lake.allocateInts(10);
            assertEquals(0, (lake.address() + ints) & 3);
            lake.allocate(1, 1);
            final int doubles = lake.allocateDoubles(10);
            assertEquals(0, (lake.address() + doubles) & 7);
            for (int i = 0; i < 10; i++)
            {
                lake.buffer().putLong(longs + i * 8, i);
                lake.buffer().putInt(ints + i * 4, -i);
                lake.buffer().putDouble(doubles + i * 8, i / 2.0);
            }
            for (int i = 0; i < 10; i++)
            {
                assertEquals(i, lake.buffer().getLong(longs + i * 8));
                assertEquals(-i, lake.buffer().getInt(ints + i * 4));
                assertEquals(i / 2.0, lake.buffer().getDouble(doubles + i * 8));
            }
            assertTrue(ints >= longs + 80 && doubles >= ints + 40, "regions do not overlap");
        }
    }

    @Test
    void marksNestAndRewind()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(8);
            lake.mark();
            lake.allocate(8);
            lake.mark();
            final Droplet inner = lake.droplet(8);
            assertEquals(2, lake.markDepth());
            lake.resetToMark();
            assertFalse(inner.isValid());
            assertEquals(16, lake.position());
            lake.allocate(32);
            lake.moveMark();
            lake.allocate(8);
            lake.resetToMark();
            assertEquals(48, lake.position(), "moveMark kept the 32 bytes");
            assertEquals(0, lake.markDepth());
            assertEquals(2, lake.generation());
        }
    }

    @Test
    void markStackGrowsToAnyDepthAndIsReusedWithoutGarbage()
    {
        try (Lake lake = Lake.of(1 << 20))
        {
            for (int i = 0; i < 10_000; i++)
            {
                lake.mark();
                lake.allocate(8);
            }
            assertEquals(10_000, lake.markDepth());
            for (int i = 0; i < 10_000; i++)
            {
                lake.resetToMark();
            }
            assertEquals(0, lake.position());
            assertEquals(0, lake.markDepth());
        }
    }

    @Test
    void snapshotRestoresExactlyAndCanBeReused()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Droplet kept = lake.droplet(24);
            final LakeSnapshot snapshot = lake.snapshot();
            assertEquals(lake, snapshot.allocator());
            assertEquals(24, snapshot.position());
            for (int round = 0; round < 3; round++)
            {
                final Droplet temp = lake.droplet(100);
                lake.mark();
                lake.allocate(50);
                lake.rewind(snapshot);
                assertEquals(24, lake.position());
                assertFalse(temp.isValid());
                assertEquals(0, lake.markDepth(), "marks pushed after the snapshot are discarded");
                assertTrue(kept.isValid());
            }
        }
    }

    @Test
    void snapshotBelowARewindStaysValidAndOneAboveBecomesStale()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(16);
            final LakeSnapshot low = lake.snapshot();
            lake.allocate(16);
            final LakeSnapshot high = lake.snapshot();
            lake.allocate(16);
            lake.mark();
            lake.rewind(low);
            lake.allocate(64); // the position is now past 'high' again, over reused bytes
            assertThrows(StaleHandleException.class, () -> lake.rewind(high));
            lake.rewind(low);
            assertEquals(16, lake.position());
        }
    }

    @Test
    void resetInvalidatesEveryDropletAndZeroesWhenAsked()
    {
        try (Lake lake = Lake.builder(256).zeroing(true).build())
        {
            final Droplet a = lake.droplet(64);
            final Droplet b = lake.droplet(64);
            a.fill((byte)7);
            b.fill((byte)9);
            lake.reset();
            assertFalse(a.isValid());
            assertFalse(b.isValid());
            assertEquals(0, lake.used());
            for (int i = 0; i < 128; i++)
            {
                assertEquals(0, lake.buffer().getByte(i), "wiped byte " + i);
            }
        }
    }

    @Test
    void zeroingHandsOutZeroedMemoryEvenWhenSwitchedOnLate()
    {
        try (Lake lake = Lake.of(256))
        {
            lake.buffer().setMemory(0, 256, (byte)0x55); // stale data everywhere
            lake.setZeroing(true);
            final int at = lake.allocate(100);
            for (int i = 0; i < 100; i++)
            {
                assertEquals(0, lake.buffer().getByte(at + i));
            }
            lake.buffer().setMemory(at, 100, (byte)0x66);
            lake.mark();
            final int second = lake.allocate(50);
            lake.buffer().setMemory(second, 50, (byte)0x77);
            lake.resetToMark();
            for (int i = 0; i < 50; i++)
            {
                assertEquals(0, lake.buffer().getByte(second + i), "given-back memory is wiped at once");
            }
            lake.setZeroing(false);
            lake.allocate(8);
        }
    }

    @Test
    void clearWipesTheWholeLake()
    {
        try (Lake lake = Lake.of(512))
        {
            lake.buffer().setMemory(0, 512, (byte)1);
            lake.allocate(64);
            lake.clear();
            assertEquals(0, lake.used());
            for (int i = 0; i < 512; i++)
            {
                assertEquals(0, lake.buffer().getByte(i));
            }
        }
    }

    @Test
    void processKeepsExactlyWhatTheWriterReportsWithoutCopying()
    {
        try (Lake lake = Lake.of(1024))
        {
            lake.allocate(3);
            final byte[] payload = "hello, lake".getBytes(StandardCharsets.US_ASCII);
            final Droplet d = lake.process((buffer, offset, capacity) ->
            {
                assertEquals(1024 - offset, capacity);
                assertEquals(0, offset & 7);
                buffer.putBytes(offset, payload);
                return payload.length;
            });
            assertEquals(8, d.offset());
            assertEquals(payload.length, d.length());
            assertEquals(8 + payload.length, lake.position());
            assertArrayEquals(payload, d.toByteArray());
            final Droplet empty = lake.process((buffer, offset, capacity) -> 0);
            assertEquals(0, empty.length());
            assertTrue(empty.isValid());
        }
    }

    @Test
    void closeFreesTheRegionAndEverythingFailsCleanlyAfterwards()
    {
        final long before = NativeMemory.reservedBytes();
        final Lake lake = Lake.of(1 << 16);
        final long open = NativeMemory.reservedBytes();
        assertTrue(open - before >= 1 << 16);
        final Droplet d = lake.droplet(8);
        final LakeView view = lake.split(128);
        final Droplet inView = view.droplet(8);
        final LakeSnapshot snapshot = lake.snapshot();
        final Sandbox sandbox = lake.sandbox();
        lake.close();
        lake.close(); // idempotent
        assertTrue(open - NativeMemory.reservedBytes() >= 1 << 16, "the region was freed");
        assertTrue(NativeMemory.reservedBytes() <= before);
        assertFalse(lake.isOpen());
        assertFalse(lake.isValid());
        assertEquals(0, lake.buffer().capacity());
        assertEquals(0, lake.used());
        assertEquals(0, lake.remaining());

        final IllegalStateException closed = assertThrows(IllegalStateException.class, () -> lake.allocate(8));
        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        assertThrows(IllegalStateException.class, () -> lake.tryAllocate(8));
        assertThrows(IllegalStateException.class, lake::mark);
        assertThrows(IllegalStateException.class, lake::reset);
        assertThrows(IllegalStateException.class, lake::sandbox);
        assertThrows(IllegalStateException.class, () -> lake.split(8));
        assertThrows(IllegalStateException.class, () -> lake.rewind(snapshot));
        assertThrows(IllegalStateException.class, () -> lake.process((b, o, c) -> 0));
        assertFalse(d.isValid());
        assertThrows(StaleHandleException.class, () -> d.getLong(0));
        assertThrows(StaleHandleException.class, () -> d.putLong(0, 1));
        assertThrows(StaleHandleException.class, () -> view.allocate(8));
        assertThrows(StaleHandleException.class, () -> inView.putLong(0, 1));
        assertThrows(StaleHandleException.class, sandbox::commit);
        d.close();
        view.close();
        sandbox.close();
    }

    @Test
    void placesAFlyweightAndReadsTheMessageBackInPlace()
    {
        try (Lake lake = Lake.of(4096))
        {
            final OrderFlyweight encoder = lake.place(
                new OrderFlyweight(), OrderFlyweight.LENGTH, 8, OrderFlyweight::wrap);
            encoder.orderId(42L).price(101.25).quantity(300).symbol("LAKE");
            final int at = encoder.offset();
            assertEquals(0, (lake.address() + at) & 7);

            // zero-copy read: a decoder wraps the same bytes, nothing is copied out
            final OrderFlyweight decoder = new OrderFlyweight();
            decoder.wrap(lake.buffer(), at);
            assertEquals(42L, decoder.orderId());
            assertEquals(101.25, decoder.price());
            assertEquals(300, decoder.quantity());
            assertEquals("LAKE", decoder.symbol());
        }
    }

    @Test
    void decodesAReceivedMessageInPlaceThroughADroplet()
    {
        // the "wire": an encoded order arriving from elsewhere
        final UnsafeBuffer wire = new UnsafeBuffer(new byte[OrderFlyweight.LENGTH]);
        new OrderFlyweight().wrap(wire, 0).orderId(7L).price(9.5).quantity(11).symbol("SBE");

        try (Lake lake = Lake.of(4096))
        {
            // receive straight into lake memory (as a channel read would), then decode it where it lies
            final Droplet message = lake.process((buffer, offset, capacity) ->
            {
                buffer.putBytes(offset, wire, 0, OrderFlyweight.LENGTH);
                return OrderFlyweight.LENGTH;
            });
            final OrderFlyweight decoder = message.wrap(new OrderFlyweight(), OrderFlyweight::wrap);
            assertEquals(message.offset(), decoder.offset());
            assertEquals(7L, decoder.orderId());
            assertEquals(9.5, decoder.price());
            assertEquals(11, decoder.quantity());
            assertEquals("SBE", decoder.symbol());
            lake.reset();
            assertThrows(StaleHandleException.class, () -> message.wrap(decoder, OrderFlyweight::wrap));
        }
    }

    @Test
    void placeUndoesTheAllocationWhenTheWrapperFails()
    {
        try (Lake lake = Lake.of(256))
        {
            lake.allocate(8);
            final LakeStats before = lake.stats();
            assertThrows(IllegalStateException.class, () -> lake.place(new Object(), 16, 8,
                (flyweight, buffer, offset) ->
                {
                    throw new IllegalStateException("codec refused");
                }));
            // the undo is an exact rewind to where the placement began, counted as one
            assertEquals(new LakeStats(before.used(), before.remaining(), before.capacity(), before.generation() + 1,
                before.marks(), before.sandboxes()), lake.stats());
        }
    }

    @Test
    void epochStackStaysBoundedInSteadyStateLoops()
    {
        try (Lake lake = Lake.of(1 << 16))
        {
            lake.droplet(8);
            final LakeSnapshot snapshot = lake.snapshot();
            for (int i = 0; i < 10_000; i++)
            {
                lake.mark();
                lake.droplet(64).putLong(0, i);
                lake.resetToMark();
                try (Droplet d = lake.droplet(64))
                {
                    d.putLong(0, i);
                }
                final LakeSnapshot s = lake.snapshot();
                lake.droplet(8);
                lake.rewind(s);
                try (Sandbox sandbox = lake.sandbox())
                {
                    lake.droplet(16);
                }
                lake.droplet(8);
                lake.rewind(snapshot);
            }
            assertTrue(lake.epochDepth() <= 3, "epoch depth " + lake.epochDepth());
        }
    }

    /** A hand-written flyweight in the style of an SBE codec: fixed layout, reads and writes in place. */
    static final class OrderFlyweight
    {
        static final int LENGTH = 8 + 8 + 4 + 4 + 8;
        private MutableDirectBuffer buffer;
        private int offset;

        OrderFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
        {
            this.buffer = buffer;
            this.offset = offset;
            return this;
        }

        int offset()
        {
            return offset;
        }

        DirectBuffer buffer()
        {
            return buffer;
        }

        OrderFlyweight orderId(final long value)
        {
            buffer.putLong(offset, value);
            return this;
        }

        long orderId()
        {
            return buffer.getLong(offset);
        }

        OrderFlyweight price(final double value)
        {
            buffer.putDouble(offset + 8, value);
            return this;
        }

        double price()
        {
            return buffer.getDouble(offset + 8);
        }

        OrderFlyweight quantity(final int value)
        {
            buffer.putInt(offset + 16, value);
            return this;
        }

        int quantity()
        {
            return buffer.getInt(offset + 16);
        }

        OrderFlyweight symbol(final String value)
        {
            final byte[] bytes = value.getBytes(StandardCharsets.US_ASCII);
            buffer.putInt(offset + 20, bytes.length);
            buffer.setMemory(offset + 24, 8, (byte)0);
            buffer.putBytes(offset + 24, bytes, 0, Math.min(8, bytes.length));
            return this;
        }

        String symbol()
        {
            final int length = Math.min(8, buffer.getInt(offset + 20));
            return buffer.getStringWithoutLengthAscii(offset + 24, length);
        }
    }

    @Test
    void theUncheckedFastPathRefusesEverythingTheCheckedPathRefuses() throws Exception
    {
        // base alignment 1 asked for: the lake still aligns its base to 8, so 8-aligned offsets are 8-aligned addresses
        try (Lake lake = Lake.builder(256).alignment(1).build())
        {
            lake.allocate(3);
            final int at = lake.allocate(8);
            assertEquals(0, (lake.address() + at) % 8, "default alignment is on the absolute address");
            assertThrows(IllegalArgumentException.class, () -> lake.allocate(0));
            assertThrows(IllegalArgumentException.class, () -> lake.allocate(-8));
            final int used = lake.used();
            assertThrows(LakeOverflowException.class, () -> lake.allocate(Integer.MAX_VALUE));
            assertEquals(LakeAllocator.NO_SPACE, lake.tryAllocate(Integer.MAX_VALUE));
            assertEquals(used, lake.used(), "failed calls changed nothing");
            assertEquals(16, lake.allocate(256 - 16), "the last byte is reachable");
            assertEquals(LakeAllocator.NO_SPACE, lake.tryAllocate(1));

            // confined to another thread: every allocation takes the checked path and is refused
            lake.reset();
            final Thread other = new Thread(() -> { });
            lake.confineTo(other);
            assertThrows(IllegalStateException.class, () -> lake.allocate(8));
            lake.confineTo(null);
            assertEquals(0, lake.used(), "the refused allocation took nothing");
            assertEquals(0, lake.allocate(8), "unconfined again: the fast path is back");

            // zeroing on: what the fast path would hand out dirty is zeroed by the checked path
            lake.buffer().putLong(8, -1L);
            lake.reset();
            lake.setZeroing(true);
            final int z = lake.allocate(16);
            assertEquals(0L, lake.buffer().getLong(z + 8), "reused bytes read zero");
            lake.setZeroing(false);

            lake.close();
            assertThrows(IllegalStateException.class, () -> lake.allocate(8));
            assertThrows(IllegalStateException.class, () -> lake.tryAllocate(8));
            assertThrows(IllegalStateException.class, () -> lake.droplet(8));
        }
    }
}
