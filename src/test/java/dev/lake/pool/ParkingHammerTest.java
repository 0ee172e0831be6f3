package dev.lake.pool;

import dev.lake.testing.NativeAccounting;
import org.jctools.queues.MpmcArrayQueue;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Review of the fixed arena's parking release: more threads than cores mix the handle tier and the leak-free object
 * tier (both park), share slots across threads, wait for capacity, and check afterwards that no slot was owned
 * twice, none was lost, the counters are exact and close frees the region.
 */
class ParkingHammerTest
{
    private static final int THREADS = 8;
    private static final int LONGS = 4;

    private static long word(final long tag, final int k)
    {
        return tag * 31 + k;
    }

    /** One shared allocation in flight between threads: either a handle or a Bytes. */
    private static final class Item
    {
        final long handle;
        final Bytes bytes;
        final int slot;
        final long tag;

        Item(final long handle, final Bytes bytes, final int slot, final long tag)
        {
            this.handle = handle;
            this.bytes = bytes;
            this.slot = slot;
            this.tag = tag;
        }
    }

    /** Per-slot ownership record kept by the test: which allocation owns the slot and how many holders are left. */
    private static final class Owners
    {
        final AtomicLongArray owner;
        final AtomicIntegerArray holders;

        Owners(final int slots)
        {
            owner = new AtomicLongArray(slots);
            holders = new AtomicIntegerArray(slots);
        }

        void acquire(final int slot, final long tag, final int holderCount)
        {
            final long before = owner.getAndSet(slot, tag);
            if (before != 0)
            {
                throw new AssertionError("slot " + slot + " handed to " + tag + " while still owned by " + before);
            }
            holders.set(slot, holderCount);
        }

        /** Before a holder's release: the last holder clears the owner, strictly before the slot can be freed. */
        void drop(final int slot, final long tag)
        {
            if (owner.get(slot) != tag)
            {
                throw new AssertionError("slot " + slot + " owned by " + owner.get(slot) + ", not " + tag);
            }
            if (holders.decrementAndGet(slot) == 0)
            {
                owner.set(slot, 0);
            }
        }
    }

    private static void verify(final FixedArena arena, final Item item)
    {
        for (int k = 0; k < LONGS; k++)
        {
            final long v = item.bytes != null ? item.bytes.getLong(k * 8) : arena.getLong(item.handle, k * 8);
            if (v != word(item.tag, k))
            {
                throw new AssertionError("slot " + item.slot + " of " + item.tag + " overwritten at long " + k);
            }
        }
    }

    private static void releaseItem(final FixedArena arena, final Owners owners, final Item item)
    {
        verify(arena, item);
        owners.drop(item.slot, item.tag);
        if (item.bytes != null)
        {
            item.bytes.release();
        }
        else
        {
            arena.release(item.handle);
        }
    }

    /**
     * Handle tier and leak-free object tier in one small arena (two words, the last partial), slots shared between
     * threads, immediate and blocking allocations: no double owner, nothing lost, exact counters.
     */
    @Test
    void mixedTiersSharingAndWaitersNeverLoseOrDoubleHandASlot() throws Exception
    {
        hammer(false);
    }

    /** The same with leak detection on: tracked buffers never park, handles park, and they share hints. */
    @Test
    void mixedTiersWithLeakDetectionNeverLoseOrDoubleHandASlot() throws Exception
    {
        hammer(true);
    }

    private static void hammer(final boolean leakDetection) throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final int slots = 70;
        final int perThread = 40_000;
        final FixedArena arena = FixedArena.builder(slots, 64).leakDetection(leakDetection).build();
        final Owners owners = new Owners(slots);
        final MpmcArrayQueue<Item> queue = new MpmcArrayQueue<>(16);
        final AtomicLong allocations = new AtomicLong();
        final AtomicLong sequence = new AtomicLong();
        Workers.run(THREADS, id ->
        {
            final ThreadLocalRandom random = ThreadLocalRandom.current();
            long allocated = 0;
            for (int i = 0; i < perThread; i++)
            {
                final long tag = sequence.incrementAndGet();
                final int kind = random.nextInt(8);
                final boolean share = random.nextBoolean();
                if (kind < 5)
                {
                    final long h = arena.tryAllocateHandle();
                    if (h == FixedArena.NO_HANDLE)
                    {
                        final Item other = queue.poll();
                        if (other != null)
                        {
                            releaseItem(arena, owners, other);
                        }
                        continue;
                    }
                    allocated++;
                    final int slot = arena.offset(h) / arena.slotCapacity();
                    owners.acquire(slot, tag, share ? 2 : 1);
                    for (int k = 0; k < LONGS; k++)
                    {
                        arena.putLong(h, k * 8, word(tag, k));
                    }
                    final Item item = new Item(h, null, slot, tag);
                    if (share)
                    {
                        arena.freezeHandle(h, LONGS * 8);
                        arena.retain(h);
                        if (!queue.offer(item))
                        {
                            releaseItem(arena, owners, item);
                        }
                    }
                    releaseItem(arena, owners, item);
                }
                else
                {
                    final Buffer buffer = kind == 7 ?
                        arena.allocate(Duration.ofSeconds(30)) : arena.tryAllocate();
                    if (buffer == null)
                    {
                        final Item other = queue.poll();
                        if (other != null)
                        {
                            releaseItem(arena, owners, other);
                        }
                        continue;
                    }
                    allocated++;
                    owners.acquire(buffer.slot, tag, share ? 2 : 1);
                    for (int k = 0; k < LONGS; k++)
                    {
                        buffer.putLong(word(tag, k));
                    }
                    final Bytes bytes = buffer.freeze();
                    if (share)
                    {
                        final Item shared = new Item(0, bytes.retain(), buffer.slot, tag);
                        if (!queue.offer(shared))
                        {
                            releaseItem(arena, owners, shared);
                        }
                    }
                    releaseItem(arena, owners, new Item(0, bytes, buffer.slot, tag));
                }
                final Item other = queue.poll();
                if (other != null)
                {
                    releaseItem(arena, owners, other);
                }
            }
            allocations.addAndGet(allocated);
        });
        Item rest;
        while ((rest = queue.poll()) != null)
        {
            releaseItem(arena, owners, rest);
        }
        final FixedArenaMetrics m = arena.metrics();
        assertEquals(0, arena.liveSlots());
        assertEquals(0, m.liveSlots());
        assertEquals(allocations.get(), m.allocations());
        assertEquals(allocations.get(), m.frees());
        assertEquals(0, arena.waiters());
        assertEquals(0, m.leaks());
        everySlotAllocatableAgain(arena, slots);
        arena.close();
        assertTrue(arena.isRegionFreed());
        baseline.assertBack("native memory");
    }

    /**
     * close() while eight threads allocate and release (parking) handles and leak-free buffers: every claim
     * either fails with ArenaClosedException or gives a slot that is released later; once all is released the
     * region is freed, whatever the interleaving of parks and close's unparking.
     */
    @Test
    void closeRacingParkingReleasesAlwaysFreesTheRegion() throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        for (int round = 0; round < 200; round++)
        {
            final FixedArena arena = FixedArena.builder(130, 64).leakDetection(false).build();
            final AtomicReference<Throwable> error = new AtomicReference<>();
            final CountDownLatch start = new CountDownLatch(1);
            final List<Thread> threads = new ArrayList<>();
            final AtomicLong afterClose = new AtomicLong();
            for (int t = 0; t < THREADS; t++)
            {
                final int id = t;
                final Thread thread = new Thread(() ->
                {
                    try
                    {
                        start.await();
                        for (int i = 0; i < 100_000; i++)
                        {
                            final boolean wasClosed = arena.isClosed();
                            if ((id & 1) == 0)
                            {
                                final long h = arena.tryAllocateHandle();
                                if (h != FixedArena.NO_HANDLE)
                                {
                                    if (wasClosed)
                                    {
                                        afterClose.incrementAndGet();
                                    }
                                    arena.putLong(h, 0, i);
                                    assertEquals(i, arena.getLong(h, 0));
                                    arena.release(h);
                                }
                            }
                            else
                            {
                                final Buffer b = arena.tryAllocate();
                                if (b != null)
                                {
                                    if (wasClosed)
                                    {
                                        afterClose.incrementAndGet();
                                    }
                                    b.putLong(i);
                                    b.freeze().release();
                                }
                            }
                        }
                    }
                    catch (final ArenaClosedException expected)
                    {
                        // done
                    }
                    catch (final Throwable ex)
                    {
                        error.compareAndSet(null, ex);
                    }
                });
                threads.add(thread);
                thread.start();
            }
            start.countDown();
            Thread.yield();
            arena.close();
            for (final Thread thread : threads)
            {
                thread.join();
            }
            assertNull(error.get(), () -> "worker failed: " + error.get());
            assertEquals(0, afterClose.get(), "allocations that began after close() returned");
            assertEquals(0, arena.liveSlots());
            assertTrue(arena.isRegionFreed(), "region leaked after close in round " + round);
        }
        baseline.assertBack("native memory");
    }

    /** Parked slots in several words and a live Bytes at close: the region lives until the Bytes is released. */
    @Test
    void closeWithParkedSlotsAndALiveBytesFreesTheRegionWithTheBytes()
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final FixedArena arena = FixedArena.builder(130, 64).leakDetection(false).build();
        final long[] handles = new long[129];
        for (int i = 0; i < handles.length; i++)
        {
            handles[i] = arena.allocateHandle();
        }
        final Buffer buffer = arena.allocate();
        buffer.putLong(42L);
        final Bytes bytes = buffer.freeze();
        final Bytes slice = bytes.slice(0, 8);
        for (final long h : handles)
        {
            arena.release(h);
        }
        bytes.release();
        assertEquals(1, arena.liveSlots());
        arena.close();
        assertFalse(arena.isRegionFreed());
        assertEquals(42L, slice.getLong(0));
        slice.release();
        assertTrue(arena.isRegionFreed());
        baseline.assertBack("native memory");
    }

    /** A leak-free buffer that spills gives its slot back by parking it: counters and live slots stay exact. */
    @Test
    void aSpillParksItsSlotAndTheCountersStayExact()
    {
        try (FixedArena arena = FixedArena.builder(2, 16).leakDetection(false).autoSpill(true).build())
        {
            final Buffer spilling = arena.allocate();
            spilling.putLong(1L).putLong(2L).putLong(3L);
            assertTrue(spilling.isSpilled());
            assertEquals(0, arena.liveSlots());
            final Buffer a = arena.allocate();
            final Buffer b = arena.allocate();
            assertNull(arena.tryAllocate());
            assertNotEquals(a.slot, b.slot);
            final Bytes heap = spilling.freeze();
            assertEquals(3L, heap.getLong(16));
            heap.release();
            a.close();
            b.close();
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(0, m.liveSlots());
            assertEquals(3, m.allocations());
            assertEquals(3, m.frees());
            assertEquals(1, m.spills());
            assertEquals(1, m.failedAllocations());
        }
    }

    /**
     * A writer that keeps writing through a handle another thread releases must get a StaleHandleException once the
     * slot is reused, not write into the next owner's slot for ever. The check before a write is a plain read; in a
     * hot loop with no other synchronization the JIT may hoist it out of the loop.
     */
    @Test
    void aStaleWriterLoopingOnAHandleStopsOnceTheSlotIsReused() throws Exception
    {
        final FixedArena arena = FixedArena.builder(4, 64).leakDetection(false).build();
        final long h = arena.allocateHandle();
        final AtomicReference<Throwable> outcome = new AtomicReference<>();
        final Thread writer = new Thread(() ->
        {
            try
            {
                writeForever(arena, h);
            }
            catch (final Throwable ex)
            {
                outcome.set(ex);
            }
        });
        writer.setDaemon(true);
        writer.start();
        // let the loop run long enough to be compiled by C2 (OSR after some 10^5 back edges): the value written
        // counts the iterations
        final int at = arena.offset(h) + 8;
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
            .until(() -> arena.uncheckedBuffer().getLongVolatile(at) > 20_000_000L);
        arena.release(h);
        final long next = arena.allocateHandle();
        try
        {
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> outcome.get() != null);
        }
        catch (final org.awaitility.core.ConditionTimeoutException stillWriting)
        {
            // the writer is still writing into the region: never free it under that thread
            fail("stale writer still writes into slot reused by " + Long.toHexString(next) + ": " + stillWriting);
        }
        assertInstanceOf(dev.lake.memory.StaleHandleException.class, outcome.get());
        arena.release(next);
        arena.close();
    }

    private static void writeForever(final FixedArena arena, final long h)
    {
        long v = 0;
        while (true)
        {
            arena.putLong(h, 8, v++);
        }
    }

    private static void everySlotAllocatableAgain(final FixedArena arena, final int slots)
    {
        final long[] handles = new long[slots];
        final Set<Integer> offsets = new HashSet<>();
        for (int i = 0; i < slots; i++)
        {
            handles[i] = arena.tryAllocateHandle();
            assertNotEquals(FixedArena.NO_HANDLE, handles[i], "slot " + i + " of " + slots + " lost");
            offsets.add(arena.offset(handles[i]));
        }
        assertEquals(slots, offsets.size());
        assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
        for (final long h : handles)
        {
            arena.release(h);
        }
        assertEquals(0, arena.liveSlots());
    }
}
