package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.jctools.queues.MpmcArrayQueue;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/** {@link SlotCache}: one thread's parked slots in front of a fixed arena's handle tier. */
class SlotCacheTest
{
    @Test
    void aReleasedSlotIsParkedAndHandedBackWithANewGeneration()
    {
        try (FixedArena arena = FixedArena.builder(4, 64).build(); SlotCache cache = arena.slotCache(2))
        {
            final long first = cache.allocateHandle();
            arena.putLong(first, 0, 7L);
            arena.freezeHandle(first, 8);
            final int offset = arena.offset(first);
            cache.release(first);
            assertEquals(1, cache.cached());
            assertEquals(0, arena.liveSlots(), "a parked slot is not live");
            assertEquals(1, arena.cachedSlots());
            assertFalse(arena.isLive(first));

            final long second = cache.allocateHandle();
            assertEquals(0, cache.cached());
            assertEquals(offset, arena.offset(second), "the parked slot came back");
            assertNotEquals(first, second, "with a new generation");
            assertThrows(StaleHandleException.class, () -> arena.getLong(first, 0));
            arena.putLong(second, 0, 9L);
            assertEquals(9L, arena.getLong(second, 0));
            cache.release(second);

            final FixedArenaMetrics m = arena.metrics();
            assertEquals(2, m.allocations());
            assertEquals(2, m.frees());
            assertEquals(0, m.liveSlots());
            assertEquals(1, m.cachedSlots());
            assertEquals(0, m.bytesLive());
        }
    }

    @Test
    void aFullCacheReturnsSlotsToTheArena()
    {
        try (FixedArena arena = FixedArena.builder(4, 64).build(); SlotCache cache = arena.slotCache(1))
        {
            final long a = cache.allocateHandle();
            final long b = cache.allocateHandle();
            cache.release(a);
            cache.release(b);
            assertEquals(1, cache.cached());
            assertEquals(1, arena.cachedSlots());
            assertEquals(0, arena.liveSlots());
            // three slots are claimable by anyone: the fourth is parked
            final List<Long> others = new ArrayList<>();
            long h;
            while ((h = arena.tryAllocateHandle()) != FixedArena.NO_HANDLE)
            {
                others.add(h);
            }
            assertEquals(3, others.size());
            assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            assertNotEquals(FixedArena.NO_HANDLE, cache.tryAllocateHandle(), "the owner still has its parked slot");
            assertEquals(FixedArena.NO_HANDLE, cache.tryAllocateHandle(), "then the arena is full for it too");
            final ArenaFullException full = assertThrows(ArenaFullException.class, arena::allocateHandle);
            assertTrue(full.getMessage().contains("4 of 4 slots"), full.getMessage());
            cache.release(others.remove(0));
            cache.release(others.remove(0)); // the cache is full: this one goes back to the bitmap
            assertNotEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            final ArenaFullException parked = assertThrows(ArenaFullException.class, arena::allocateHandle);
            assertTrue(parked.getMessage().contains("1 more parked in slot caches"), parked.getMessage());
            assertEquals(3, parked.live());
        }
    }

    @Test
    void closeGivesEveryParkedSlotBackAndIsIdempotent()
    {
        try (FixedArena arena = FixedArena.builder(4, 64).build())
        {
            final SlotCache cache = arena.slotCache(4);
            final long[] handles = new long[4];
            for (int i = 0; i < 4; i++)
            {
                handles[i] = cache.allocateHandle();
            }
            for (final long h : handles)
            {
                cache.release(h);
            }
            assertEquals(4, arena.cachedSlots());
            assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            cache.close();
            cache.close();
            assertEquals(0, arena.cachedSlots());
            for (int i = 0; i < 4; i++)
            {
                assertNotEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            }
            assertThrows(IllegalStateException.class, cache::allocateHandle);
            assertThrows(IllegalStateException.class, () -> cache.release(handles[0]));
        }
    }

    @Test
    void handlesMixFreelyBetweenCacheAndArena() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(2, 64).build(); SlotCache cache = arena.slotCache(2))
        {
            final long fromCache = cache.allocateHandle();
            arena.freezeHandle(fromCache, 0);
            arena.retain(fromCache);
            CompletableFuture.runAsync(() -> arena.release(fromCache)).get(10, TimeUnit.SECONDS);
            cache.release(fromCache); // the last reference: parked
            assertEquals(1, cache.cached());

            final long fromArena = arena.allocateHandle();
            cache.release(fromArena); // an arena handle parks too
            assertEquals(2, cache.cached());
            assertEquals(0, arena.liveSlots());

            final long again = cache.allocateHandle();
            CompletableFuture.runAsync(() -> arena.release(again)).get(10, TimeUnit.SECONDS);
            assertEquals(1, cache.cached(), "released elsewhere: back to the bitmap, not to this cache");
            assertEquals(0, arena.liveSlots());
            assertEquals(1, arena.cachedSlots());
        }
    }

    @Test
    void doubleAndStaleReleasesThroughTheCacheThrowAndChangeNothing()
    {
        try (FixedArena arena = FixedArena.builder(2, 64).build(); SlotCache cache = arena.slotCache(2))
        {
            final long h = cache.allocateHandle();
            cache.release(h);
            assertThrows(StaleHandleException.class, () -> cache.release(h));
            assertThrows(StaleHandleException.class, () -> arena.release(h));
            assertEquals(1, cache.cached());
            final long reused = cache.allocateHandle();
            assertThrows(StaleHandleException.class, () -> cache.release(h), "a stale handle of a reused slot");
            assertTrue(arena.isLive(reused));
            assertThrows(StaleHandleException.class, () -> cache.release(0L));
            assertThrows(StaleHandleException.class, () -> cache.release(-5L));
            cache.release(reused);
            assertEquals(1, cache.cached());
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(m.allocations(), m.frees());
        }
    }

    @Test
    void onlyTheOwnerMayUseIt() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(2, 64).build(); SlotCache cache = arena.slotCache(2))
        {
            final long h = cache.allocateHandle();
            final AtomicReference<Throwable> allocate = new AtomicReference<>();
            final AtomicReference<Throwable> release = new AtomicReference<>();
            final AtomicReference<Throwable> close = new AtomicReference<>();
            final Thread other = new Thread(() ->
            {
                allocate.set(catching(cache::allocateHandle));
                release.set(catching(() -> cache.release(h)));
                close.set(catching(cache::close));
            });
            other.start();
            other.join();
            assertInstanceOf(IllegalStateException.class, allocate.get());
            assertTrue(allocate.get().getMessage().contains("belongs to thread"), allocate.get().getMessage());
            assertInstanceOf(IllegalStateException.class, release.get());
            assertInstanceOf(IllegalStateException.class, close.get());
            assertTrue(arena.isLive(h), "the refused release changed nothing");
            cache.release(h);
        }
    }

    @Test
    void capacityOutOfRangeOrAClosedArenaIsRefused()
    {
        try (FixedArena arena = FixedArena.builder(4, 64).build())
        {
            assertThrows(IllegalArgumentException.class, () -> arena.slotCache(0));
            assertThrows(IllegalArgumentException.class, () -> arena.slotCache(-1));
            final IllegalArgumentException tooBig = assertThrows(IllegalArgumentException.class,
                () -> arena.slotCache(5));
            assertTrue(tooBig.getMessage().contains("5"), tooBig.getMessage());
            arena.close();
            assertThrows(ArenaClosedException.class, () -> arena.slotCache(1));
        }
    }

    @Test
    void zeroPolicyZeroesASlotBeforeItIsParked()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).initPolicy(InitPolicy.ZERO).build();
            SlotCache cache = arena.slotCache(1))
        {
            final long h = cache.allocateHandle();
            arena.putLong(h, 0, -1L);
            arena.putLong(h, 56, -1L);
            cache.release(h);
            final long again = cache.allocateHandle();
            assertEquals(0L, arena.getLong(again, 0));
            assertEquals(0L, arena.getLong(again, 56));
            cache.release(again);
        }
    }

    @Test
    void aWaiterGetsTheSlotsInsteadOfTheCache() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(2, 64).build(); SlotCache cache = arena.slotCache(2))
        {
            final long a = cache.allocateHandle();
            final long b = cache.allocateHandle();
            final CompletableFuture<Buffer> waiter = arena.allocateAsync();
            assertFalse(waiter.isDone());
            cache.release(a); // nobody parks while a request waits: the slot goes to the waiter
            final Buffer served = waiter.get(10, TimeUnit.SECONDS);
            assertEquals(0, cache.cached());
            cache.release(b);
            assertEquals(1, cache.cached(), "nobody waits any more: parked");
            final CompletableFuture<Buffer> second = arena.allocateAsync();
            assertFalse(second.isDone(), "the only free slot is parked");
            // the owner's next call sees the waiter and gives its parked slot back instead of using it
            assertEquals(FixedArena.NO_HANDLE, cache.tryAllocateHandle());
            assertEquals(0, cache.cached());
            second.get(10, TimeUnit.SECONDS).close();
            served.close();
            assertEquals(0, arena.liveSlots());
        }
    }

    @Test
    void aClosedArenaFreesItsRegionOnceTheCacheGivesItsSlotsBack()
    {
        final FixedArena arena = FixedArena.builder(4, 4096).build();
        final SlotCache cache = arena.slotCache(4);
        final long kept = cache.allocateHandle();
        cache.release(cache.allocateHandle());
        arena.close();
        assertFalse(arena.isRegionFreed(), "a handle is live and a slot is parked");
        assertThrows(ArenaClosedException.class, cache::allocateHandle, "its next call gives the slot back");
        assertEquals(0, cache.cached());
        cache.release(kept); // the arena is closed: not parked
        assertEquals(0, cache.cached());
        assertTrue(arena.isRegionFreed());
        cache.close();
    }

    @Test
    void aClosedCacheOnAClosedArenaLetsTheRegionGo()
    {
        final FixedArena arena = FixedArena.builder(4, 4096).build();
        final SlotCache cache = arena.slotCache(4);
        cache.release(cache.allocateHandle());
        arena.close();
        assertFalse(arena.isRegionFreed());
        cache.close();
        assertTrue(arena.isRegionFreed());
    }

    @Test
    void aCacheDroppedWithoutCloseGivesItsSlotsBackWhenCollected()
    {
        try (FixedArena arena = FixedArena.builder(2, 64).build())
        {
            parkBothSlotsInALostCache(arena);
            await().atMost(Duration.ofSeconds(20)).until(() ->
            {
                System.gc();
                return arena.cachedSlots() == 0;
            });
            assertNotEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            assertNotEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            assertEquals(0, arena.metrics().leaks(), "parked slots are free memory, not leaks");
        }
    }

    private static void parkBothSlotsInALostCache(final FixedArena arena)
    {
        final SlotCache lost = arena.slotCache(2);
        final long a = lost.allocateHandle();
        final long b = lost.allocateHandle();
        lost.release(a);
        lost.release(b);
        assertEquals(2, arena.cachedSlots());
    }

    /**
     * 8 threads, each with its own cache over a small arena, allocate, stamp, freeze and pass handles through a
     * queue to whichever thread polls them, which checks the stamp and releases through its own cache (or the
     * arena). Nothing may be claimed twice (stamps intact), nothing lost (every slot claimable at the end), and
     * the counters must equal what the threads did.
     */
    @Test
    void hammerWithACachePerThreadAndHandlesCrossingThreads() throws Exception
    {
        final int threads = 8;
        final int slots = 64;
        final int rounds = 100_000;
        try (FixedArena arena = FixedArena.builder(slots, 64).build())
        {
            final MpmcArrayQueue<Long> queue = new MpmcArrayQueue<>(1024);
            final AtomicLong allocated = new AtomicLong();
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final CountDownLatch start = new CountDownLatch(1);
            final List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                final int id = t;
                final Thread worker = new Thread(() ->
                {
                    try (SlotCache cache = arena.slotCache(4))
                    {
                        start.await();
                        long stamp = (long)id << 40;
                        for (int i = 0; i < rounds && failure.get() == null; i++)
                        {
                            final long h = cache.tryAllocateHandle();
                            if (h != FixedArena.NO_HANDLE)
                            {
                                allocated.incrementAndGet();
                                stamp++;
                                arena.putLong(h, 0, stamp);
                                arena.putLong(h, 8, ~stamp);
                                arena.freezeHandle(h, 16);
                                if (!queue.offer(h))
                                {
                                    check(arena, h);
                                    cache.release(h);
                                }
                            }
                            final Long polled = queue.poll();
                            if (polled != null)
                            {
                                check(arena, polled);
                                if ((i & 1) == 0)
                                {
                                    cache.release(polled);
                                }
                                else
                                {
                                    arena.release(polled);
                                }
                            }
                        }
                    }
                    catch (final Throwable ex)
                    {
                        failure.compareAndSet(null, ex);
                    }
                });
                workers.add(worker);
                worker.start();
            }
            start.countDown();
            for (final Thread worker : workers)
            {
                worker.join();
            }
            assertNull(failure.get(), () -> "worker failed: " + failure.get());
            Long left;
            while ((left = queue.poll()) != null)
            {
                check(arena, left);
                arena.release(left);
            }
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(allocated.get(), m.allocations(), "every allocation counted once");
            assertEquals(m.allocations(), m.frees());
            assertEquals(0, m.liveSlots());
            assertEquals(0, m.cachedSlots(), "every cache closed");
            final Set<Integer> offsets = new HashSet<>();
            for (int i = 0; i < slots; i++)
            {
                offsets.add(arena.offset(arena.allocateHandle()));
            }
            assertEquals(slots, offsets.size(), "every slot claimable again, once");
            assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
        }
    }

    private static void check(final FixedArena arena, final long h)
    {
        final long stamp = arena.getLong(h, 0);
        if (arena.getLong(h, 8) != ~stamp)
        {
            throw new AssertionError("slot claimed twice: stamp " + stamp + " torn");
        }
    }

    private static Throwable catching(final Runnable action)
    {
        try
        {
            action.run();
            return null;
        }
        catch (final Throwable ex)
        {
            return ex;
        }
    }

    private static Throwable catching(final java.util.function.LongSupplier action)
    {
        return catching(() -> { action.getAsLong(); });
    }
}
