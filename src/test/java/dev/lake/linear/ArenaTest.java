package dev.lake.linear;

import dev.lake.memory.Memory;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

class ArenaTest
{
    @Test
    void defaultArenaHasOneBlockOf64KiB()
    {
        try (Arena arena = new Arena())
        {
            final ArenaStats stats = arena.stats();
            assertEquals(1, stats.blockCount());
            assertEquals(64 * 1024, stats.bytesReserved());
            assertEquals(0, stats.bytesAllocated());
            assertEquals(0.0, stats.utilization());
            assertEquals(64 * 1024, stats.bytesIdle());
        }
    }

    @Test
    void withCapacitySizesTheFirstBlock()
    {
        try (Arena arena = Arena.withCapacity(1 << 20))
        {
            assertEquals(1 << 20, arena.stats().bytesReserved());
            assertEquals(1, arena.blockCount());
        }
    }

    @Test
    void allocatesAlignedNonOverlappingMemory()
    {
        try (Arena arena = Arena.withCapacity(1 << 16))
        {
            final long a = arena.allocate(3, 1);
            final long b = arena.allocate(8, 8);
            final long c = arena.allocate(16, 16);
            final long d = arena.allocate(5);
            assertEquals(0, Arena.offset(a));
            assertEquals(8, Arena.offset(b));
            assertEquals(16, Arena.offset(c));
            assertEquals(32, Arena.offset(d));
            for (final long ref : new long[]{b, c, d})
            {
                assertEquals(0, Arena.block(ref));
            }
            arena.buffer(b).putLong(Arena.offset(b), 42L);
            arena.buffer(c).putLong(Arena.offset(c), 43L);
            assertEquals(42L, arena.buffer(b).getLong(Arena.offset(b)));
            assertEquals(37, arena.bytesAllocated(), "padding counts");
        }
    }

    @Test
    void alignmentIsOfTheAbsoluteAddressUpToThePageSize()
    {
        try (Arena arena = new Arena())
        {
            for (int alignment = 1; alignment <= Memory.pageSize(); alignment <<= 1)
            {
                arena.allocate(1, 1);
                final long ref = arena.allocate(24, alignment);
                final long address = arena.buffer(ref).addressOffset() + Arena.offset(ref);
                assertEquals(0, address & (alignment - 1), "alignment " + alignment);
            }
        }
    }

    @Test
    void cacheAlignedAllocationsStartOnALine()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(1, 1);
            final long ref = arena.allocateCacheAligned(100);
            assertEquals(0, (arena.buffer(ref).addressOffset() + Arena.offset(ref)) % Arena.CACHE_LINE_SIZE);
        }
    }

    @Test
    void zeroedAllocationReadsZero()
    {
        try (Arena arena = Arena.withCapacity(4096))
        {
            final long dirty = arena.allocate(4000, 8);
            arena.buffer(dirty).setMemory(Arena.offset(dirty), 4000, (byte)0x5A);
            arena.reset();
            final long ref = arena.allocateZeroed(4000, 8);
            for (int i = 0; i < 4000; i++)
            {
                assertEquals(0, arena.buffer(ref).getByte(Arena.offset(ref) + i));
            }
            assertNotEquals(Arena.NULL, arena.tryAllocateZeroed(8, 8));
        }
    }

    @Test
    void growsByDoublingAndKeepsBlocksInOrder()
    {
        try (Arena arena = Arena.builder().initialBlockSize(1024).maxBlockSize(4096).build())
        {
            final long[] sizes = new long[8];
            long reserved = 1024;
            for (int i = 0; i < 7; i++)
            {
                final long ref = arena.allocate(1000, 8);
                assertEquals(i, Arena.block(ref), "one 1000 B request per block while blocks are 1-4 KiB");
                arena.allocate(arena.buffer(ref).capacity() - 1000 - Arena.offset(ref) > 0 ?
                    arena.buffer(ref).capacity() - 1000 - Arena.offset(ref) : 1, 1);
                sizes[i] = arena.buffer(ref).capacity();
            }
            assertArrayEquals(new long[]{1024, 2048, 4096, 4096, 4096, 4096, 4096, 0}, sizes, "doubling up to the cap");
            for (int i = 1; i < 8; i++)
            {
                reserved += sizes[i];
            }
            assertEquals(reserved, arena.stats().bytesReserved());
        }
    }

    @Test
    void requestLargerThanABlockGetsABlockOfItsOwn()
    {
        try (Arena arena = Arena.withCapacity(1024))
        {
            arena.allocate(100, 8);
            final long big = arena.allocate(100_000, 8);
            assertEquals(1, Arena.block(big));
            assertEquals(0, Arena.offset(big));
            assertEquals(100_000, arena.buffer(big).capacity(), "exactly its size");
            final long next = arena.allocate(100, 8);
            assertEquals(2, Arena.block(next));
            assertEquals(2048, arena.buffer(next).capacity(), "the own block did not advance the doubling");
            assertEquals(1024 + 100_000 + 2048, arena.stats().bytesReserved());
            assertEquals(100 + 100_000 + 100, arena.bytesAllocated(), "idle tail of block 0 is not allocated");
        }
    }

    @Test
    void aSecondOwnBlockInARowMovesTheDoublingUpToTheRequest()
    {
        try (Arena arena = Arena.withCapacity(1024))
        {
            final long first = arena.allocate(100_000, 8);
            assertEquals(100_000, arena.buffer(first).capacity(), "the first large request: a block of its own");
            final long second = arena.allocate(100_000, 8);
            assertEquals(100_000, arena.buffer(second).capacity(), "the second: a standard block, as large as it");
            final long third = arena.allocate(100, 8);
            assertEquals(200_000, arena.buffer(third).capacity(), "the doubling goes on from there");
        }
    }

    @Test
    void aFirstBlockSmallerThanEveryRequestCostsAFewBlocksNotOnePerAllocation()
    {
        final long baseline = NativeMemory.reservedBytes();
        try (Arena arena = Arena.withCapacity(64))
        {
            for (int i = 0; i < 100_000; i++)
            {
                arena.allocate(256, 8);
            }
            final ArenaStats stats = arena.stats();
            // one own block, then doubling from 256 B: 64 + 256 + 256 + 512 + ... + 16 MiB, 19 blocks (was 100,001)
            assertTrue(stats.blockCount() <= 24, "blocks: " + stats.blockCount());
            assertTrue(stats.bytesReserved() < 2L * 100_000 * 256 + 64 * 1024, "reserved: " + stats.bytesReserved());
            assertEquals(100_000L * 256, arena.bytesAllocated());
        }
        assertEquals(baseline, NativeMemory.reservedBytes(), "every block freed by close");
    }

    @Test
    void aJumpTheReserveLimitRefusesFallsBackToTheRequestsOwnBlock()
    {
        try (Arena arena = Arena.builder().initialBlockSize(1024).maxReservedBytes(1024 + 3000 + 3000 + 100).build())
        {
            arena.allocate(3000, 8);
            // the jump would reserve a block of 4096 (twice the next 2 KiB) and cross the limit; its own block fits
            final long second = arena.tryAllocate(3000, 8);
            assertNotEquals(Arena.NULL, second, "refused: the jump crossed the reserve limit");
            assertEquals(3000, arena.buffer(second).capacity());
            assertEquals(1024 + 3000 + 3000, arena.stats().bytesReserved());
        }
    }

    @Test
    void blocksAreKeptAndReusedAfterResetAndRewind()
    {
        final long baseline = NativeMemory.reservedBytes();
        try (Arena arena = Arena.withCapacity(1024))
        {
            for (int i = 0; i < 20; i++)
            {
                arena.allocate(512, 8);
            }
            final ArenaStats grown = arena.stats();
            final long nativeBytes = NativeMemory.reservedBytes();
            for (int round = 0; round < 5; round++)
            {
                arena.reset();
                assertEquals(0, arena.bytesAllocated());
                for (int i = 0; i < 20; i++)
                {
                    arena.allocate(512, 8);
                }
                assertEquals(grown, arena.stats(), "same blocks, same use");
                assertEquals(nativeBytes, NativeMemory.reservedBytes(), "no new native memory");
            }
        }
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    @Test
    void keptBlockTooSmallForARequestIsSkippedNotLost()
    {
        try (Arena arena = Arena.withCapacity(1024))
        {
            arena.allocate(1000, 8);
            arena.allocate(2000, 8);
            arena.allocate(3000, 8); // blocks: 1024, 2048, 4096
            final int blocks = arena.blockCount();
            assertEquals(3, blocks);
            final Checkpoint start = arena.checkpoint();
            arena.reset();
            arena.allocate(1000, 8);
            final long big = arena.allocate(3000, 8); // fits only the 4 KiB block: it is swapped in next
            assertEquals(1, Arena.block(big));
            assertEquals(4096, arena.buffer(big).capacity());
            assertEquals(blocks, arena.blockCount(), "no new block");
            final long small = arena.allocate(2000, 8);
            assertEquals(2, Arena.block(small));
            assertEquals(2048, arena.buffer(small).capacity(), "the skipped block is still there");
            assertFalse(start.isValid());
        }
    }

    @Test
    void copiesBytesBuffersAndArrays()
    {
        try (Arena arena = new Arena())
        {
            final byte[] bytes = {1, 2, 3, 4, 5};
            final long a = arena.copyOf(bytes);
            final byte[] back = new byte[5];
            arena.buffer(a).getBytes(Arena.offset(a), back);
            assertArrayEquals(bytes, back);

            final long part = arena.copyOf(bytes, 1, 3);
            assertEquals(2, arena.buffer(part).getByte(Arena.offset(part)));
            assertEquals(4, arena.buffer(part).getByte(Arena.offset(part) + 2));

            final UnsafeBuffer src = new UnsafeBuffer(ByteBuffer.allocateDirect(16));
            src.putLong(8, 0x1122334455667788L);
            final long fromBuffer = arena.copyOf(src, 8, 8);
            assertEquals(0x1122334455667788L, arena.buffer(fromBuffer).getLong(Arena.offset(fromBuffer)));

            final long longs = arena.copyOf(new long[]{7, -8, Long.MAX_VALUE});
            assertEquals(0, Arena.offset(longs) % 8);
            assertEquals(-8, arena.buffer(longs).getLong(Arena.offset(longs) + 8));
            assertEquals(Long.MAX_VALUE, arena.buffer(longs).getLong(Arena.offset(longs) + 16));

            final long ints = arena.copyOf(new int[]{1, 2, 3});
            assertEquals(3, arena.buffer(ints).getInt(Arena.offset(ints) + 8));

            final long doubles = arena.copyOf(new double[]{1.5, 2.5});
            assertEquals(2.5, arena.buffer(doubles).getDouble(Arena.offset(doubles) + 8));

            final long array = arena.allocateArray(10, Long.BYTES);
            assertEquals(0, Arena.offset(array) % 8);
            final long before = arena.bytesAllocated();
            final long empty = arena.copyOf(new byte[0]);
            assertEquals(before, arena.bytesAllocated(), "an empty copy allocates nothing");
            assertEquals(arena.checkpoint().offset(), Arena.offset(empty));
            assertEquals(before, arena.bytesAllocated());
            arena.copyOf(new long[0]);
            assertEquals(before, arena.bytesAllocated());
        }
    }

    @Test
    void copiesStringsAsLengthPrefixedUtf8AndAscii()
    {
        try (Arena arena = new Arena())
        {
            final String[] samples = {"", "hello", "h\u00e9llo w\u00f6rld", "\u20ac100", "\uD83D\uDE00 emoji", "bad \uD800 surrogate",
                "tail \uDC00", "end \uD83D"};
            for (final String s : samples)
            {
                final long ref = arena.copyOfUtf8(s);
                final UnsafeBuffer buffer = arena.buffer(ref);
                final byte[] expected = s.getBytes(StandardCharsets.UTF_8);
                assertEquals(expected.length, buffer.getInt(Arena.offset(ref)), s);
                final byte[] actual = new byte[expected.length];
                buffer.getBytes(Arena.offset(ref) + 4, actual);
                assertArrayEquals(expected, actual, s);
                assertEquals(new String(expected, StandardCharsets.UTF_8), buffer.getStringUtf8(Arena.offset(ref)));
            }
            final long ascii = arena.copyOfAscii("plain \u00e9");
            assertEquals("plain ?", arena.buffer(ascii).getStringAscii(Arena.offset(ascii)));
            assertNotEquals(Arena.NULL, arena.tryCopyOfUtf8("x"));
        }
    }

    @Test
    void placesFlyweights()
    {
        try (Arena arena = new Arena())
        {
            final Flyweight fly = new Flyweight();
            assertSame(fly, arena.place(fly, 16, 8, Flyweight::wrap));
            fly.value(99);
            assertEquals(0, fly.offset % 8);
            assertEquals(99, arena.currentBuffer().getLong(fly.offset));
            assertSame(fly, arena.tryPlace(fly, 16, 8, Flyweight::wrap));
        }
    }

    @Test
    void tryFormsReturnTheSentinelWhenTheReserveLimitRefusesAndNothingChanges()
    {
        try (Arena arena = Arena.builder().initialBlockSize(1024).maxReservedBytes(1024 + 2048).build())
        {
            arena.allocate(1000, 8);
            arena.allocate(2000, 8);
            final ArenaStats before = arena.stats();
            final Checkpoint position = arena.checkpoint();
            assertEquals(Arena.NULL, arena.tryAllocate(4000, 8));
            assertEquals(Arena.NULL, arena.tryAllocateZeroed(4000, 8));
            assertEquals(Arena.NULL, arena.tryCopyOf(new byte[4000], 0, 4000));
            assertEquals(Arena.NULL, arena.tryCopyOf(new UnsafeBuffer(new byte[4000]), 0, 4000));
            assertEquals(Arena.NULL, arena.tryCopyOfUtf8("x".repeat(4000)));
            assertNull(arena.tryPlace(new Flyweight(), 4000, 8, Flyweight::wrap));
            assertEquals(before, arena.stats());
            assertEquals(position, arena.checkpoint());
            final OutOfMemoryError error = assertThrows(OutOfMemoryError.class, () -> arena.allocate(4000, 8));
            assertTrue(error.getMessage().contains("reserve limit"), error.getMessage());
            assertEquals(before, arena.stats());
        }
    }

    @Test
    void statsAreExact()
    {
        try (Arena arena = Arena.withCapacity(1024))
        {
            arena.allocate(1, 1);
            arena.allocate(8, 8); // 7 bytes padding
            assertEquals(16, arena.stats().bytesAllocated());
            arena.allocate(1020, 8); // next block
            final ArenaStats stats = arena.stats();
            assertEquals(16 + 1020, stats.bytesAllocated());
            assertEquals(1024 + 2048, stats.bytesReserved());
            assertEquals(2, stats.blockCount());
            assertEquals((double)(16 + 1020) / (1024 + 2048), stats.utilization(), 1e-12);
            assertEquals(1024 + 2048 - 16 - 1020, stats.bytesIdle());
        }
    }

    @Test
    void closeFreesEveryBlockAndEverythingFailsCleanlyAfter()
    {
        final long baseline = NativeMemory.reservedBytes();
        final long regions = NativeMemory.liveRegions();
        final Arena arena = Arena.withCapacity(1024);
        final long ref = arena.allocate(64, 8);
        for (int i = 0; i < 10; i++)
        {
            arena.allocate(1000, 8);
        }
        final UnsafeBuffer held = arena.buffer(ref);
        final Checkpoint checkpoint = arena.checkpoint();
        final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
        vec.push(1);
        final ArenaVec.OfLong finishing = ArenaVec.ofLongs(arena, 4);
        finishing.push(3);
        final ArenaView.OfLong view = finishing.finish();
        final Transaction tx = arena.transaction();
        assertTrue(NativeMemory.reservedBytes() > baseline);

        arena.close();
        arena.close();
        assertEquals(baseline, NativeMemory.reservedBytes(), "native memory back to baseline");
        assertEquals(regions, NativeMemory.liveRegions());
        assertTrue(arena.isClosed());
        assertEquals(new ArenaStats(0, 0, 0), arena.stats());
        assertEquals(0, held.capacity(), "block buffers shrink to nothing");
        if (UnsafeBuffer.SHOULD_BOUNDS_CHECK)
        {
            // A block buffer kept past close is the unchecked tier: only Agrona's own bounds check guards it.
            assertThrows(IndexOutOfBoundsException.class, () -> held.getLong(0));
        }
        assertThrows(StaleHandleException.class, () -> arena.buffer(ref));
        assertThrows(IllegalStateException.class, () -> arena.allocate(8, 8));
        assertThrows(IllegalStateException.class, () -> arena.tryAllocate(8, 8));
        assertThrows(IllegalStateException.class, () -> arena.copyOf(new byte[0]));
        assertThrows(IllegalStateException.class, arena::checkpoint);
        assertThrows(IllegalStateException.class, () -> arena.rewind(checkpoint));
        assertThrows(IllegalStateException.class, arena::reset);
        assertThrows(IllegalStateException.class, arena::transaction);
        assertThrows(IllegalStateException.class, arena::currentBuffer);
        assertThrows(IllegalStateException.class, () -> arena.defer(() -> { }));
        assertThrows(StaleHandleException.class, () -> vec.push(2));
        assertThrows(StaleHandleException.class, () -> view.get(0));
        assertThrows(StaleHandleException.class, () -> tx.allocate(8, 8));
        assertThrows(StaleHandleException.class, tx::commit);
        assertFalse(tx.isOpen());
        assertFalse(checkpoint.isValid());
        tx.close();
    }

    @Test
    void aFullArenaOfUnclosedArenasIsStillAccountedAndFreedOnClose()
    {
        final long baseline = NativeMemory.reservedBytes();
        final Arena[] arenas = new Arena[5];
        for (int i = 0; i < arenas.length; i++)
        {
            arenas[i] = Arena.withCapacity(4096);
            arenas[i].allocate(10_000, 8);
        }
        for (final Arena arena : arenas)
        {
            arena.close();
        }
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    static final class Flyweight
    {
        MutableDirectBuffer buffer;
        int offset;

        void wrap(final MutableDirectBuffer buffer, final int offset)
        {
            this.buffer = buffer;
            this.offset = offset;
        }

        void value(final long value)
        {
            buffer.putLong(offset, value);
        }
    }
}
