package dev.lake.pool;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;
import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class FixedArenaTest
{
    private static FixedArena arena(final int slots, final int capacity)
    {
        return FixedArena.builder(slots, capacity).build();
    }

    @Test
    void allocateWriteFreezeReadRelease()
    {
        final long baseline = NativeMemory.reservedBytes();
        try (FixedArena arena = arena(4, 64))
        {
            final Buffer buffer = arena.allocate();
            assertEquals(64, buffer.capacity());
            buffer.putLong(42L).putInt(7).putByte((byte)1).putBytes(new byte[] {9, 8, 7});
            assertEquals(16, buffer.position());
            assertEquals(48, buffer.remaining());
            final Bytes bytes = buffer.freeze();
            assertFalse(buffer.isWritable());
            assertEquals(16, bytes.length());
            assertEquals(16, bytes.capacity());
            assertEquals(42L, bytes.getLong(0));
            assertEquals(7, bytes.getInt(8));
            assertEquals(1, bytes.getByte(12));
            assertEquals(7, bytes.getByte(15));
            assertEquals(1, arena.liveSlots());
            bytes.release();
            assertEquals(0, arena.liveSlots());
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(1, m.allocations());
            assertEquals(1, m.frees());
            assertEquals(1, m.frozen());
            assertEquals(0, m.liveSlots());
            assertEquals(256, m.bytesReserved());
        }
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    @Test
    void putsFromEveryKindOfSourceAndByteOrders()
    {
        try (FixedArena arena = arena(2, 128))
        {
            final Buffer b = arena.allocate();
            b.putShort((short)0x0102, ByteOrder.BIG_ENDIAN)
                .putInt(0x01020304, ByteOrder.BIG_ENDIAN)
                .putLong(5L, ByteOrder.BIG_ENDIAN)
                .putChar('x')
                .putShort((short)3)
                .putFloat(1.5f)
                .putDouble(2.5)
                .putBytes(new UnsafeBuffer(new byte[] {1, 2, 3, 4}), 1, 2)
                .putBytes(ByteBuffer.wrap(new byte[] {5, 6, 7}))
                .putBytes(new byte[] {0, 10, 11, 0}, 1, 2);
            final Bytes bytes = b.freeze();
            assertEquals(0x0102, bytes.getShort(0, ByteOrder.BIG_ENDIAN));
            assertEquals(0x01020304, bytes.getInt(2, ByteOrder.BIG_ENDIAN));
            assertEquals(5L, bytes.getLong(6, ByteOrder.BIG_ENDIAN));
            assertEquals('x', bytes.getChar(14));
            assertEquals(3, bytes.getShort(16));
            assertEquals(1.5f, bytes.getFloat(18));
            assertEquals(2.5, bytes.getDouble(22));
            assertArrayEquals(new byte[] {2, 3, 5, 6, 7, 10, 11}, slice(bytes.toByteArray(), 30, 7));
            assertEquals(37, bytes.length());
            bytes.release();
        }
    }

    private static byte[] slice(final byte[] a, final int from, final int length)
    {
        final byte[] out = new byte[length];
        System.arraycopy(a, from, out, 0, length);
        return out;
    }

    @Test
    void mutableViewForCodecsWritesAtAbsoluteIndexesAndCountsTowardLength()
    {
        try (FixedArena arena = arena(1, 64))
        {
            final Buffer b = arena.allocate();
            final MutableDirectBuffer view = b.mutableBuffer();
            assertSame(view, b.mutableBuffer());
            assertEquals(64, view.capacity());
            view.putInt(0, 11);
            view.putStringAscii(4, "hello");
            view.putLongAscii(13, -1234L);
            assertEquals(18, b.length());
            assertEquals(0, b.position());
            assertEquals("hello", view.getStringAscii(4));
            final Bytes bytes = b.freeze();
            assertEquals(18, bytes.length());
            assertEquals(11, bytes.getInt(0));
            assertEquals("hello", bytes.getStringAscii(4));
            assertEquals(-1234L, bytes.parseLongAscii(13, 5));
            bytes.release();
        }
    }

    @Test
    void bytesIsAReadOnlyDirectBufferUsableByAgronaCopies()
    {
        try (FixedArena arena = arena(1, 32))
        {
            final Buffer b = arena.allocate();
            b.putBytes(new byte[] {1, 2, 3, 4, 5});
            final Bytes bytes = b.freeze();
            final DirectBuffer asDirect = bytes;
            final UnsafeBuffer target = new UnsafeBuffer(new byte[8]);
            target.putBytes(1, asDirect, 1, 4);
            assertEquals(2, target.getByte(1));
            assertEquals(5, target.getByte(4));
            final ExpandableArrayBuffer expandable = new ExpandableArrayBuffer(2);
            bytes.getBytes(0, expandable, 0, 5);
            assertEquals(5, expandable.getByte(4));
            final ByteBuffer nio = ByteBuffer.allocate(5);
            bytes.getBytes(0, nio, 5);
            assertEquals(5, nio.position());
            assertNull(bytes.byteBuffer());
            assertEquals(0, bytes.compareTo(new UnsafeBuffer(new byte[] {1, 2, 3, 4, 5})));
            assertTrue(bytes.compareTo(new UnsafeBuffer(new byte[] {1, 2, 4})) < 0);
            bytes.release();
        }
    }

    @Test
    void bytesRefusesEveryWrap()
    {
        try (FixedArena arena = arena(1, 32))
        {
            final Bytes bytes = arena.allocate().putLong(1).freeze();
            assertThrows(UnsupportedOperationException.class, () -> bytes.wrap(new byte[4]));
            assertThrows(UnsupportedOperationException.class, () -> bytes.wrap(0L, 4));
            assertThrows(UnsupportedOperationException.class, () -> bytes.wrap(ByteBuffer.allocate(4)));
            assertThrows(UnsupportedOperationException.class, () -> bytes.wrap(new UnsafeBuffer(new byte[4])));
            assertFalse(MutableDirectBuffer.class.isAssignableFrom(Bytes.class), "Bytes must not be mutable");
            assertEquals(1L, bytes.getLong(0));
            bytes.release();
        }
    }

    @Test
    void retainAndSliceShareTheSlotUntilTheLastRelease()
    {
        try (FixedArena arena = arena(1, 64))
        {
            final Buffer b = arena.allocate();
            for (int i = 0; i < 16; i++)
            {
                b.putByte((byte)i);
            }
            final Bytes bytes = b.freeze();
            final Bytes copy = bytes.retain();
            final Bytes slice = bytes.slice(4, 8);
            final Bytes sliceOfSlice = slice.slice(2, 2);
            assertEquals(8, slice.length());
            assertEquals(4, slice.getByte(0));
            assertEquals(6, sliceOfSlice.getByte(0));
            assertThrows(IndexOutOfBoundsException.class, () -> sliceOfSlice.getByte(2));
            bytes.release();
            assertEquals(1, arena.liveSlots());
            assertEquals(15, copy.getByte(15));
            copy.release();
            slice.release();
            assertEquals(1, arena.liveSlots());
            assertEquals(7, sliceOfSlice.getByte(1));
            sliceOfSlice.close();
            assertEquals(0, arena.liveSlots());
            final Buffer again = arena.tryAllocate();
            assertNotNull(again);
            again.close(); // nothing left live: the region goes with the arena, not later through the safety net
        }
    }

    @Test
    void closingAnUnfrozenBufferReturnsItsSlotAtOnce()
    {
        try (FixedArena arena = arena(1, 64))
        {
            final Buffer b = arena.allocate();
            b.putLong(1);
            assertNull(arena.tryAllocate());
            b.close();
            assertEquals(0, arena.liveSlots());
            b.close(); // idempotent
            final Buffer again = arena.allocate();
            final Bytes frozen = again.freeze();
            again.close(); // no-op after freeze: the bytes own the slot
            assertEquals(1, arena.liveSlots());
            frozen.release();
            assertEquals(0, arena.liveSlots());
        }
    }

    @Test
    void toByteArrayAndHeapCopyLetGoOfArenaMemory()
    {
        try (FixedArena arena = arena(1, 16))
        {
            final Bytes bytes = arena.allocate().putInt(99).freeze();
            final byte[] array = bytes.toByteArray();
            final Bytes heap = bytes.heapCopy();
            bytes.release();
            assertEquals(0, arena.liveSlots());
            assertEquals(4, array.length);
            assertTrue(heap.isHeap());
            assertEquals(99, heap.getInt(0));
            heap.release();
            assertThrows(StaleHandleException.class, () -> heap.getInt(0));
        }
    }

    @Test
    void zeroPolicyZeroesSlotsOnReturnAndUninitDoesNot()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).initPolicy(InitPolicy.ZERO).build())
        {
            final Buffer first = arena.allocate();
            assertEquals(0L, first.mutableBuffer().getLong(56));
            first.putLong(-1L).putLong(-1L).freeze().release();
            final Buffer second = arena.allocate();
            assertEquals(0L, second.mutableBuffer().getLong(0));
            assertEquals(0L, second.mutableBuffer().getLong(8));
            second.mutableBuffer().putLong(40, -1L);
            second.close();
            final long h = arena.allocateHandle();
            assertEquals(0L, arena.getLong(h, 40));
            arena.putLong(h, 0, -1L);
            arena.release(h);
            final Buffer third = arena.allocate();
            assertEquals(0L, third.mutableBuffer().getLong(0));
            third.close();
        }
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            arena.allocate().putLong(-7L).freeze().release();
            final Buffer again = arena.allocate();
            assertEquals(-7L, again.mutableBuffer().getLong(0), "UNINIT keeps old bytes (documented)");
            again.close();
        }
    }

    @Test
    void alignmentRoundsSlotCapacityUpAndAlignsEverySlot()
    {
        try (FixedArena arena = FixedArena.builder(5, 100).alignment(64).preFault(true).build())
        {
            assertEquals(128, arena.slotCapacity());
            final List<Buffer> buffers = new ArrayList<>();
            for (int i = 0; i < 5; i++)
            {
                final Buffer b = arena.allocate();
                assertEquals(0, b.mutableBuffer().addressOffset() & 63);
                buffers.add(b);
            }
            buffers.forEach(Buffer::close);
        }
    }

    @Test
    void builderSizedByTotalCapacity()
    {
        try (FixedArena arena = FixedArena.builderForCapacity(10_000, 1000).alignment(512).build())
        {
            assertEquals(1024, arena.slotCapacity());
            assertEquals(9, arena.slotCount());
        }
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> FixedArena.builderForCapacity(100, 1000).build());
        assertTrue(ex.getMessage().contains("100"), ex.getMessage());
    }

    @Test
    void everySlotIsDistinctAndTheArenaReportsFullWithCapacityAndLiveCount()
    {
        try (FixedArena arena = arena(130, 8))
        {
            final Set<Long> addresses = new HashSet<>();
            final List<Buffer> buffers = new ArrayList<>();
            for (int i = 0; i < 130; i++)
            {
                final Buffer b = arena.allocate();
                assertTrue(addresses.add(b.mutableBuffer().addressOffset()));
                buffers.add(b);
            }
            assertNull(arena.tryAllocate());
            assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            final ArenaFullException ex = assertThrows(ArenaFullException.class, arena::allocate);
            assertEquals(130, ex.capacity());
            assertEquals(130, ex.live());
            assertTrue(ex.getMessage().contains("130 of 130"), ex.getMessage());
            assertThrows(ArenaFullException.class, arena::allocateHandle);
            assertEquals(4, arena.metrics().failedAllocations());
            assertEquals(130, arena.liveSlots());
            buffers.forEach(Buffer::close);
            assertEquals(0, arena.liveSlots());
        }
    }

    @Test
    void requestThatCanNeverFitIsNotTheSameErrorAsFull()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
        {
            final RequestTooLargeException tooLarge =
                assertThrows(RequestTooLargeException.class, () -> arena.allocate(65));
            assertEquals(65, tooLarge.requested());
            assertEquals(64, tooLarge.maximum());
            assertThrows(RequestTooLargeException.class, () -> arena.tryAllocate(65));
            assertThrows(IllegalArgumentException.class, () -> arena.allocate(0));
            final Buffer held = arena.allocate(64);
            assertThrows(ArenaFullException.class, () -> arena.allocate(64));
            assertNull(arena.tryAllocate(1));
            held.close();
            assertEquals(0, arena.liveSlots());
        }
    }

    @Test
    void builderRejectsBadGeometryNamingTheValue()
    {
        assertMessageHas(() -> FixedArena.builder(0, 64), "0");
        assertMessageHas(() -> FixedArena.builder(-5, 64), "-5");
        assertMessageHas(() -> FixedArena.builder(4, 0), "0");
        assertMessageHas(() -> FixedArena.builder(4, 64).alignment(3), "3");
        assertMessageHas(() -> FixedArena.builder(4, 64).alignment(1 << 20), String.valueOf(1 << 20));
        assertMessageHas(() -> FixedArena.builder(1 << 20, 1 << 12).build(), "4294967296");
        assertMessageHas(() -> FixedArena.builderForCapacity(Region.MAX_SIZE + 1, 8), String.valueOf(Region.MAX_SIZE + 1));
        assertThrows(NullPointerException.class, () -> FixedArena.builder(1, 8).initPolicy(null));
    }

    private static void assertMessageHas(final org.junit.jupiter.api.function.Executable call, final String value)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, call);
        assertTrue(ex.getMessage().contains(value), ex.getMessage());
    }

    @Test
    void bytesOutliveArenaCloseAndTheRegionIsFreedWithTheLastRelease()
    {
        final long baseline = NativeMemory.reservedBytes();
        final FixedArena arena = arena(4, 64);
        final Bytes bytes = arena.allocate().putLong(5).freeze();
        final Bytes slice = bytes.slice(0, 4);
        final long handle = arena.allocateHandle();
        arena.putLong(handle, 0, 6);
        arena.close();
        assertTrue(arena.isClosed());
        assertThrows(IllegalStateException.class, arena::allocate);
        assertThrows(IllegalStateException.class, arena::allocateHandle);
        assertFalse(arena.isRegionFreed());
        assertEquals(5L, bytes.getLong(0));
        bytes.release();
        assertEquals(6L, arena.getLong(handle, 0));
        arena.release(handle);
        assertFalse(arena.isRegionFreed());
        assertTrue(NativeMemory.reservedBytes() > baseline);
        slice.release();
        assertTrue(arena.isRegionFreed());
        assertEquals(baseline, NativeMemory.reservedBytes());
        assertEquals(0, arena.metrics().bytesReserved());
        arena.close();
    }

    @Test
    void closingAnEmptyArenaFreesItsRegionAtOnce()
    {
        final long baseline = NativeMemory.reservedBytes();
        final FixedArena arena = arena(8, 64);
        assertTrue(NativeMemory.reservedBytes() > baseline);
        arena.allocate().close();
        arena.close();
        assertTrue(arena.isRegionFreed());
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    @Test
    void namesAppearInMessagesAndMetrics()
    {
        try (FixedArena arena = FixedArena.builder(1, 8).name("orders").build())
        {
            assertEquals("orders", arena.metrics().name());
            final Buffer held = arena.allocate();
            assertTrue(assertThrows(ArenaFullException.class, arena::allocate).getMessage().startsWith("orders"));
            held.close();
        }
    }
}
