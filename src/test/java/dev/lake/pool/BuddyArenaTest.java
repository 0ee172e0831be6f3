package dev.lake.pool;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import jdk.jfr.consumer.RecordingStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

class BuddyArenaTest
{
    @Test
    void allocateWriteFreezeReadRelease()
    {
        final long baseline = NativeMemory.reservedBytes();
        try (BuddyArena arena = BuddyArena.builder(4096, 64).build())
        {
            final Buffer buffer = arena.allocate(100);
            assertEquals(128, buffer.capacity(), "rounded up to a power of two");
            buffer.putLong(42L).putInt(7);
            final Bytes bytes = buffer.freeze();
            assertEquals(12, bytes.length());
            assertEquals(42L, bytes.getLong(0));
            final Bytes slice = bytes.slice(8, 4);
            assertEquals(7, slice.getInt(0));
            bytes.release();
            assertEquals(7, slice.getInt(0), "the slice keeps the block");
            slice.release();
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(1, m.allocations());
            assertEquals(1, m.frees());
            assertEquals(1, m.frozen());
            assertEquals(0, m.liveBlocks());
            assertEquals(4096, m.bytesReserved());
            assertTrue(m.fullyCoalesced());
            assertEquals(m.splits(), m.coalesces());
        }
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    @Test
    void requestsRoundUpToAPowerOfTwoNeverBelowTheMinimumBlock()
    {
        try (BuddyArena arena = BuddyArena.builder(1 << 16, 64).build())
        {
            assertEquals(64, arena.blockSizeFor(1));
            assertEquals(64, arena.blockSizeFor(64));
            assertEquals(128, arena.blockSizeFor(65));
            assertEquals(16384, arena.blockSizeFor(16384));
            assertEquals(1 << 16, arena.blockSizeFor(1 << 16));
            assertEquals(10, arena.maxOrder());
        }
    }

    @Test
    void splitsOnDemandAndCoalescesOnRelease()
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).freeBlockCache(false).build())
        {
            final Buffer small = arena.allocate(64);
            BuddyArenaMetrics m = arena.metrics();
            assertEquals(4, m.splits(), "1024 -> 512 -> 256 -> 128 -> 64");
            assertEquals(512, m.largestFreeBlock());
            assertArrayEquals(new long[] {64, 128, 256, 512, 0}, m.freeBytesPerOrder());
            assertEquals(960, m.freeBytes());
            assertEquals(64, m.bytesLive());
            final Buffer other = arena.allocate(64);
            assertEquals(0, arena.metrics().freeBytesPerOrder()[0], "the buddy was taken: order 0 empty");
            small.close();
            other.close();
            m = arena.metrics();
            assertEquals(4, m.coalesces());
            assertTrue(m.fullyCoalesced());
            assertArrayEquals(new long[] {0, 0, 0, 0, 1024}, m.freeBytesPerOrder());
        }
    }

    @Test
    void blocksAreDisjointAndAlignedToTheirSize()
    {
        try (BuddyArena arena = BuddyArena.builder(1 << 16, 64).build())
        {
            final List<Long> handles = new ArrayList<>();
            final int[] sizes = {64, 128, 64, 1024, 256, 64, 4096, 512};
            for (final int size : sizes)
            {
                handles.add(arena.allocateHandle(size));
            }
            for (int i = 0; i < handles.size(); i++)
            {
                final long h = handles.get(i);
                final int start = arena.offset(h);
                final int size = arena.handleCapacity(h);
                assertEquals(0, start % size, "block aligned to its size");
                assertEquals(0, (arena.uncheckedBuffer().addressOffset() + start) % Math.min(size, 64));
                for (int j = 0; j < i; j++)
                {
                    final long g = handles.get(j);
                    final int s2 = arena.offset(g);
                    assertTrue(start + size <= s2 || s2 + arena.handleCapacity(g) <= start, "blocks overlap");
                }
            }
            handles.forEach(arena::release);
            assertTrue(arena.metrics().fullyCoalesced());
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void randomWorkloadCoalescesBackToOneBlock(final boolean cache)
    {
        final SplittableRandom random = new SplittableRandom(42);
        try (BuddyArena arena = BuddyArena.builder(1 << 16, 32).freeBlockCache(cache).build())
        {
            final List<Bytes> live = new ArrayList<>();
            long allocations = 0;
            long failures = 0;
            for (int i = 0; i < 20_000; i++)
            {
                if (!live.isEmpty() && random.nextInt(3) == 0)
                {
                    final Bytes b = live.remove(random.nextInt(live.size()));
                    assertEquals(b.length(), b.getInt(0));
                    assertEquals(b.length(), b.getInt(b.length() - 4));
                    b.release();
                    continue;
                }
                final int size = 8 + random.nextInt(32 * 64 - 8);
                final Buffer buffer = arena.tryAllocate(size);
                if (buffer == null)
                {
                    failures++;
                    continue;
                }
                allocations++;
                buffer.putInt(size).position(size - 4);
                buffer.putInt(size);
                live.add(buffer.freeze());
            }
            live.forEach(Bytes::release);
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(allocations, m.allocations());
            assertEquals(allocations, m.frees());
            assertEquals(failures, m.failedAllocations());
            assertTrue(m.fullyCoalesced(), "one free block after everything was released");
            assertEquals(1 << 16, m.freeBytes());
            assertEquals(m.splits(), m.coalesces());
        }
    }

    @Test
    void theWholeArenaIsOneBlockAndAGibibyteArenaWorks()
    {
        final long baseline = NativeMemory.reservedBytes();
        try (BuddyArena arena = BuddyArena.builder(BuddyArena.MAX_TOTAL_BYTES, 4096).build())
        {
            assertEquals(1 << 30, arena.totalBytes());
            final Buffer all = arena.allocate(1 << 30);
            assertEquals(1 << 30, all.capacity());
            all.mutableBuffer().putLong((1 << 30) - 8, 77L);
            all.putLong(11L);
            assertNull(arena.tryAllocate(64), "nothing left");
            final Bytes bytes = all.freeze();
            assertEquals(77L, bytes.getLong((1 << 30) - 8));
            bytes.release();
            final Buffer small = arena.allocate(4096);
            assertEquals(4096, small.capacity());
            small.close();
            assertTrue(arena.metrics().fullyCoalesced());
        }
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    @Test
    void tooLargeIsNeverFullAndFullIsItsOwnError()
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).build())
        {
            final RequestTooLargeException tooLarge = assertThrows(RequestTooLargeException.class,
                () -> arena.allocate(1025));
            assertEquals(1024, tooLarge.maximum());
            assertThrows(RequestTooLargeException.class, () -> arena.allocateAsync(2048));
            final Buffer half = arena.allocate(512);
            final Buffer quarter = arena.allocate(256);
            final ArenaFullException full = assertThrows(ArenaFullException.class, () -> arena.allocate(512));
            assertEquals(1024, full.capacity());
            assertEquals(768, full.live());
            assertEquals(0L, arena.tryAllocateHandle(512));
            final Buffer fits = arena.allocate(256);
            half.close();
            quarter.close();
            fits.close();
            assertEquals(2, arena.metrics().failedAllocations());
        }
    }

    @Test
    void handleTierWritesFreezesSharesAndReleases()
    {
        try (BuddyArena arena = BuddyArena.builder(1 << 14, 64).build())
        {
            final long h = arena.allocateHandle(200);
            assertEquals(256, arena.handleCapacity(h));
            arena.putLong(h, 0, 5L);
            arena.putLong(h, 248, 6L);
            assertThrows(IndexOutOfBoundsException.class, () -> arena.putLong(h, 250, 1L));
            arena.freezeHandle(h, 256);
            assertEquals(256, arena.length(h));
            arena.retain(h);
            arena.release(h);
            assertEquals(6L, arena.getLong(h, 248));
            arena.release(h);
            assertFalse(arena.isLive(h));
            assertThrows(StaleHandleException.class, () -> arena.getLong(h, 0));
            final long again = arena.allocateHandle(256);
            assertEquals(arena.offset(again), 0);
            assertThrows(StaleHandleException.class, () -> arena.getLong(h, 0), "a reused block is not the old handle's");
            arena.release(again);
        }
    }

    @Test
    void zeroPolicyHandsOutZeroedBlocksAfterReuseAndCoalescing()
    {
        try (BuddyArena arena = BuddyArena.builder(4096, 64).initPolicy(InitPolicy.ZERO).build())
        {
            final Buffer big = arena.allocate(4096);
            for (int i = 0; i < 4096; i += 8)
            {
                big.putLong(-1L);
            }
            big.close();
            for (int round = 0; round < 3; round++)
            {
                final Buffer part = arena.allocate(1000);
                for (int i = 0; i < part.capacity(); i += 8)
                {
                    assertEquals(0L, part.mutableBuffer().getLong(i));
                }
                part.putLong(-1L);
                part.freeze().release();
            }
        }
    }

    @Test
    void autoSpillMovesToTheHeapAndReturnsTheBlock()
    {
        try (BuddyArena arena = BuddyArena.builder(4096, 64).autoSpill(true).build())
        {
            final Buffer buffer = arena.allocate(64);
            buffer.putBytes(new byte[200]);
            assertTrue(buffer.isSpilled());
            assertTrue(arena.metrics().fullyCoalesced(), "the block went back at the spill");
            final Bytes bytes = buffer.freeze();
            assertTrue(bytes.isHeap());
            assertEquals(200, bytes.length());
            bytes.release();
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(1, m.spills());
            assertEquals(1, m.frees());
        }
    }

    @Test
    void roundUpIsAnExplicitChoice()
    {
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(1000, 64).build());
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(1024, 48).build());
        try (BuddyArena arena = BuddyArena.builder(1000, 48).roundUp(true).build())
        {
            assertEquals(64, arena.minBlock());
            assertEquals(1024, arena.totalBytes());
        }
        try (BuddyArena arena = BuddyArena.builder(10, 3).roundUp(true).build())
        {
            assertEquals(8, arena.minBlock());
            assertEquals(16, arena.totalBytes());
        }
    }

    @Test
    void leakedBuffersAreReclaimedAndCoalesced()
    {
        try (BuddyArena arena = BuddyArena.builder(4096, 64).name("buddy-leaky").build())
        {
            dropBytes(arena);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() ->
            {
                System.gc();
                return arena.metrics().leaks() == 1;
            });
            final BuddyArenaMetrics m = arena.metrics();
            assertTrue(m.fullyCoalesced());
            assertEquals(0, m.liveBlocks());
        }
    }

    private static void dropBytes(final BuddyArena arena)
    {
        arena.allocate(300).putLong(1).freeze(); // never released
    }

    @Test
    void closeWithLiveBytesFreesTheRegionWithTheLastRelease()
    {
        final long baseline = NativeMemory.reservedBytes();
        final BuddyArena arena = BuddyArena.builder(4096, 64).build();
        final Bytes kept = arena.allocate(100).putLong(3).freeze();
        final Buffer parked = arena.allocate(64);
        parked.close(); // parked in the cache, then flushed by close
        arena.close();
        assertThrows(ArenaClosedException.class, () -> arena.allocate(64));
        assertFalse(arena.isRegionFreed());
        assertEquals(3L, kept.getLong(0));
        kept.release();
        assertTrue(arena.isRegionFreed());
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    @Test
    void jfrEventsPublishSplitsAndLargestFreeBlock()
    {
        final AtomicLong largest = new AtomicLong(-1);
        final AtomicLong splits = new AtomicLong(-1);
        final AtomicLong bytesLive = new AtomicLong(-1);
        try (BuddyArena arena = BuddyArena.builder(4096, 64).name("jfr-buddy").jfrEvents(true).build();
            RecordingStream stream = new RecordingStream())
        {
            stream.enable(BuddyArenaMetricsEvent.NAME).withPeriod(Duration.ofMillis(50));
            stream.onEvent(BuddyArenaMetricsEvent.NAME, event ->
            {
                if ("jfr-buddy".equals(event.getString("arena")))
                {
                    largest.set(event.getInt("largestFreeBlock"));
                    splits.set(event.getLong("splits"));
                    bytesLive.set(event.getLong("bytesLive")); // a field shared with the fixed arena's event
                }
            });
            stream.startAsync();
            final Buffer held = arena.allocate(2048);
            await().atMost(Duration.ofSeconds(20)).until(() -> largest.get() == 2048 && splits.get() == 1 &&
                bytesLive.get() == 2048);
            held.close();
        }
    }
}
