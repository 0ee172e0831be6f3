package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/** Every misuse of a buddy arena and of waiting: a clear exception, and the arena unchanged. */
class BuddyMisuseTest
{
    private static BuddyArena arena()
    {
        return BuddyArena.builder(4096, 64).build();
    }

    private static void assertUntouched(final BuddyArena arena)
    {
        final BuddyArenaMetrics m = arena.metrics();
        assertTrue(m.fullyCoalesced(), "the failed call changed nothing");
        assertEquals(0, m.liveBlocks());
        assertEquals(0, m.waits().waiters());
    }

    @Test
    void nonPositiveSizeNamesTheValue()
    {
        try (BuddyArena arena = arena())
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> arena.allocate(0));
            assertTrue(ex.getMessage().contains(": 0"));
            assertThrows(IllegalArgumentException.class, () -> arena.tryAllocateHandle(-5));
            assertThrows(IllegalArgumentException.class, () -> arena.allocateAsync(-1));
            assertUntouched(arena);
        }
    }

    @Test
    void sizeAboveTheArenaNeverWaits() throws Exception
    {
        try (BuddyArena arena = arena())
        {
            final Buffer all = arena.allocate(4096);
            assertThrows(RequestTooLargeException.class, () -> arena.allocate(4097, Duration.ofMinutes(1)));
            assertThrows(RequestTooLargeException.class, () -> arena.allocateAsync(Integer.MAX_VALUE));
            assertEquals(0, arena.metrics().waits().waiters());
            all.close();
            assertUntouched(arena);
        }
    }

    @Test
    void geometryThatIsNotAPowerOfTwoIsRejectedWithoutRoundUp()
    {
        final IllegalArgumentException total = assertThrows(IllegalArgumentException.class,
            () -> BuddyArena.builder(3000, 64).build());
        assertTrue(total.getMessage().contains("3000"));
        final IllegalArgumentException block = assertThrows(IllegalArgumentException.class,
            () -> BuddyArena.builder(4096, 100).build());
        assertTrue(block.getMessage().contains("100"));
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(4096, 4).build(), "below 8");
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(32, 64).build(), "total < block");
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(0, 64));
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(4096, 0));
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(2L << 30, 4096), "above 1 GiB");
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(3L << 29, 4096).roundUp(true).build(),
            "rounds above 1 GiB");
        final IllegalArgumentException many = assertThrows(IllegalArgumentException.class,
            () -> BuddyArena.builder(1 << 30, 64).build());
        assertTrue(many.getMessage().contains("too many minimum blocks"));
    }

    @Test
    void doubleReleaseOfBytesThrowsAndStealsNothing()
    {
        try (BuddyArena arena = arena())
        {
            final Bytes bytes = arena.allocate(100).putLong(1).freeze();
            final Bytes copy = bytes.retain();
            bytes.release();
            assertThrows(StaleHandleException.class, bytes::release);
            assertEquals(1L, copy.getLong(0), "the other reference still reads");
            copy.release();
            assertUntouched(arena);
        }
    }

    @Test
    void useOfAReleasedHandleThrows()
    {
        try (BuddyArena arena = arena())
        {
            final long h = arena.allocateHandle(100);
            arena.release(h);
            assertThrows(StaleHandleException.class, () -> arena.putLong(h, 0, 1L));
            assertThrows(StaleHandleException.class, () -> arena.getLong(h, 0));
            assertThrows(StaleHandleException.class, () -> arena.release(h));
            assertThrows(StaleHandleException.class, () -> arena.handleCapacity(h));
            assertUntouched(arena);
        }
    }

    @Test
    void aHandleInsideABlockButNotItsStartIsNotAHandle()
    {
        try (BuddyArena arena = arena())
        {
            final long h = arena.allocateHandle(1024);
            final long inside = SlotTable.handle(SlotTable.slotOf(h) + 1, SlotTable.generationOf(h));
            assertThrows(StaleHandleException.class, () -> arena.getLong(inside, 0));
            assertThrows(StaleHandleException.class, () -> arena.getLong(0L, 0));
            assertThrows(StaleHandleException.class, () -> arena.getLong(Long.MAX_VALUE, 0), "out of range");
            arena.release(h);
            assertUntouched(arena);
        }
    }

    @Test
    void writingPastTheBlockThrowsAndWritesNothing()
    {
        try (BuddyArena arena = arena())
        {
            final Buffer buffer = arena.allocate(100);
            assertEquals(128, buffer.capacity());
            assertThrows(IndexOutOfBoundsException.class, () -> buffer.putBytes(new byte[129]));
            assertEquals(0, buffer.position());
            final long h = arena.allocateHandle(64);
            assertThrows(IndexOutOfBoundsException.class, () -> arena.putLong(h, 60, 1L));
            assertThrows(IllegalArgumentException.class, () -> arena.freezeHandle(h, 65));
            buffer.close();
            arena.release(h);
            assertUntouched(arena);
        }
    }

    @Test
    void writingAfterFreezeThrows()
    {
        try (BuddyArena arena = arena())
        {
            final Buffer buffer = arena.allocate(64);
            final Bytes bytes = buffer.freeze();
            assertThrows(StaleHandleException.class, () -> buffer.putLong(1L));
            assertThrows(StaleHandleException.class, buffer::freeze);
            bytes.release();
            assertUntouched(arena);
        }
    }

    @Test
    void everyAllocationOfAClosedArenaThrowsArenaClosed()
    {
        final BuddyArena arena = arena();
        arena.close();
        assertThrows(ArenaClosedException.class, () -> arena.allocate(64));
        assertThrows(ArenaClosedException.class, () -> arena.tryAllocate(64));
        assertThrows(ArenaClosedException.class, () -> arena.allocateHandle(64));
        assertThrows(ArenaClosedException.class, () -> arena.allocateAsync(64));
        assertThrows(ArenaClosedException.class, () -> arena.allocate(64, Duration.ofSeconds(1)));
        assertTrue(arena.isRegionFreed());
    }

    @Test
    void aNullTimeoutIsRefusedBeforeQueueing()
    {
        try (BuddyArena arena = arena())
        {
            assertThrows(NullPointerException.class, () -> arena.allocate(64, null));
            assertUntouched(arena);
        }
    }

    @Test
    void aZeroTimeoutOnAFullArenaTimesOutAtOnce()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer held = arena.allocate();
            assertThrows(AllocationTimeoutException.class, () -> arena.allocate(Duration.ZERO));
            assertThrows(AllocationTimeoutException.class, () -> arena.allocate(Duration.ofSeconds(-1)));
            held.close();
            assertEquals(0, arena.liveSlots());
        }
    }

    @Test
    void completingTheFutureByHandIsHarmless()
    {
        try (BuddyArena arena = arena())
        {
            final Buffer all = arena.allocate(4096);
            final CompletableFuture<Buffer> f = arena.allocateAsync(64);
            f.completeExceptionally(new IllegalStateException("caller gave up"));
            all.close();
            assertUntouched(arena);
            assertEquals(1, arena.metrics().waits().failed());
        }
    }
}
