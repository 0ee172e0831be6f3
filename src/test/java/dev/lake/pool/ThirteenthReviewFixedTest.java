package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import dev.lake.testing.NativeAccounting;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Thirteenth review of {@link FixedArena}: its handle tier, parking release, waiting and metrics, fuzzed against a
 * model with forged handles of every kind (negative, past the table, another arena's, a wrong generation, the
 * generation a parked slot will have next) mixed in, and hammered from more threads than cores.
 */
class ThirteenthReviewFixedTest
{
    private static final int THREADS = 10;

    /** A handle of the model: its bytes, frozen length (-1 writing) and references held. */
    private static final class Held
    {
        final long handle;
        final long stamp;
        int frozen = -1;
        int refs = 1;

        Held(final long handle, final long stamp)
        {
            this.handle = handle;
            this.stamp = stamp;
        }
    }

    /**
     * Random sequences over both tiers with forged handles: every forged call is refused with
     * {@link StaleHandleException} (or an argument error) and changes nothing; live handles read their own bytes;
     * live slots, allocations and frees stay exact; after close with everything released the region is freed and
     * native memory is back at its baseline.
     */
    @Test
    void aModelFuzzWithForgedHandlesKeepsEverySlotAndCounterExact()
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final FixedArena other = FixedArena.builder(200, 16).leakDetection(false).build();
        final long foreign = other.allocateHandle();
        for (int seed = 0; seed < 40; seed++)
        {
            final Random rnd = new Random(seed);
            final int slots = 1 + rnd.nextInt(140);
            final boolean zero = rnd.nextBoolean();
            final boolean leaks = rnd.nextBoolean();
            final FixedArena arena = FixedArena.builder(slots, 16)
                .initPolicy(zero ? InitPolicy.ZERO : InitPolicy.UNINIT).leakDetection(leaks).build();
            final List<Held> held = new ArrayList<>();
            final List<Bytes> bytes = new ArrayList<>();
            final List<Long> dead = new ArrayList<>();
            final Map<Integer, Long> bySlot = new HashMap<>();
            long allocations = 0;
            long frees = 0;
            for (int step = 0; step < 400; step++)
            {
                final int op = rnd.nextInt(10);
                final int live = held.size() + bytes.size();
                if (op <= 2)
                {
                    final long h = arena.tryAllocateHandle();
                    if (live == slots)
                    {
                        assertEquals(FixedArena.NO_HANDLE, h, "a full arena handed out a slot");
                    }
                    else
                    {
                        assertNotEquals(FixedArena.NO_HANDLE, h, "a free slot was not found, seed " + seed);
                        final int slot = arena.offset(h) / 16;
                        assertNull(bySlot.put(slot, h), "slot handed out twice");
                        if (zero)
                        {
                            assertEquals(0L, arena.getLong(h, 8), "a reused ZERO slot was dirty");
                        }
                        final long stamp = rnd.nextLong();
                        arena.putLong(h, 0, stamp);
                        arena.putLong(h, 8, stamp);
                        held.add(new Held(h, stamp));
                        allocations++;
                    }
                }
                else if (op == 3 && live < slots)
                {
                    final Buffer b = arena.tryAllocate();
                    assertNotNull(b);
                    b.putLong(step);
                    bytes.add(b.freeze());
                    allocations++;
                }
                else if (op == 4 && !bytes.isEmpty())
                {
                    final Bytes b = bytes.remove(rnd.nextInt(bytes.size()));
                    b.release();
                    frees++;
                }
                else if (op == 5 && !held.isEmpty())
                {
                    final Held x = held.get(rnd.nextInt(held.size()));
                    if (x.frozen < 0)
                    {
                        x.frozen = 8 + rnd.nextInt(9);
                        arena.freezeHandle(x.handle, x.frozen);
                        assertThrows(IllegalStateException.class, () -> arena.freezeHandle(x.handle, 8));
                        assertThrows(StaleHandleException.class, () -> arena.putLong(x.handle, 0, 1L));
                    }
                    else
                    {
                        arena.retain(x.handle);
                        x.refs++;
                    }
                }
                else if (op >= 6 && !held.isEmpty())
                {
                    final int i = rnd.nextInt(held.size());
                    final Held x = held.get(i);
                    assertEquals(x.stamp, arena.getLong(x.handle, 0));
                    final int slot = arena.offset(x.handle) / 16;
                    arena.release(x.handle);
                    if (--x.refs == 0)
                    {
                        held.remove(i);
                        bySlot.remove(slot);
                        dead.add(x.handle);
                        frees++;
                    }
                }
                forgeries(arena, rnd, dead, held, foreign, slots);
                for (final Held x : held)
                {
                    assertEquals(x.stamp, arena.getLong(x.handle, 0), "another allocation's bytes");
                    assertEquals(x.frozen, arena.length(x.handle));
                }
                assertEquals(held.size() + bytes.size(), arena.liveSlots(), "seed " + seed + " step " + step);
                if (step % 50 == 0)
                {
                    final FixedArenaMetrics m = arena.metrics();
                    assertEquals(allocations, m.allocations(), "allocations, seed " + seed);
                    assertEquals(frees, m.frees(), "frees, seed " + seed);
                    assertEquals(held.size() + bytes.size(), m.liveSlots());
                }
            }
            if (rnd.nextBoolean())
            {
                arena.close();
                assertThrows(ArenaClosedException.class, arena::tryAllocateHandle);
            }
            for (final Held x : held)
            {
                for (int r = 0; r < x.refs; r++)
                {
                    arena.release(x.handle);
                }
            }
            bytes.forEach(Bytes::release);
            assertEquals(0, arena.liveSlots());
            if (!arena.isClosed())
            {
                final long[] all = new long[slots];
                for (int i = 0; i < slots; i++)
                {
                    all[i] = arena.allocateHandle();
                }
                assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle(), "more slots than the arena has");
                for (final long h : all)
                {
                    arena.release(h);
                }
                arena.close();
            }
            assertTrue(arena.isRegionFreed(), "region kept, seed " + seed);
            assertEquals(0, arena.metrics().liveSlots());
        }
        other.release(foreign);
        other.close();
        baseline.assertBack("native memory");
    }

    private static void forgeries(final FixedArena arena, final Random rnd, final List<Long> dead,
        final List<Held> held, final long foreign, final int slots)
    {
        final List<Long> forged = new ArrayList<>();
        forged.add(-1L);
        forged.add(Long.MIN_VALUE | rnd.nextInt(slots));
        forged.add((long)slots | 5L << SlotTable.REF_BITS);
        forged.add(SlotTable.REF_MASK);
        forged.add(foreign);
        forged.add(rnd.nextLong());
        if (!dead.isEmpty())
        {
            final long d = dead.get(rnd.nextInt(dead.size()));
            forged.add(d);
            forged.add(d + (1L << SlotTable.REF_BITS)); // the generation it parked at: the hint's value
            forged.add(d | Long.MIN_VALUE);
        }
        if (!held.isEmpty())
        {
            final long h = held.get(rnd.nextInt(held.size())).handle;
            forged.add(h + (1L << SlotTable.REF_BITS));
            forged.add(h - (1L << SlotTable.REF_BITS));
            forged.add(h | Long.MIN_VALUE);
        }
        for (final long f : forged)
        {
            if (arena.isLive(f))
            {
                continue; // a dead handle whose slot was taken again at that very generation: it is the owner's
            }
            assertThrows(StaleHandleException.class, () -> arena.getLong(f, 0), () -> Long.toHexString(f));
            assertThrows(StaleHandleException.class, () -> arena.putLong(f, 0, 9L), () -> Long.toHexString(f));
            assertThrows(StaleHandleException.class, () -> arena.freezeHandle(f, 0), () -> Long.toHexString(f));
            assertThrows(StaleHandleException.class, () -> arena.retain(f), () -> Long.toHexString(f));
            assertThrows(StaleHandleException.class, () -> arena.release(f), () -> Long.toHexString(f));
            assertThrows(StaleHandleException.class, () -> arena.length(f), () -> Long.toHexString(f));
            assertThrows(StaleHandleException.class, () -> arena.offset(f), () -> Long.toHexString(f));
        }
    }
    /**
     * Ten threads over 40 slots: handle round trips (some frozen, retained and released by another thread through a
     * queue), object-tier buffers (some waiting up to a second), stale-handle calls, and a thread reading metrics;
     * then, quiet: allocations, frees, frozen and failed allocations equal what the threads counted, nothing live,
     * every slot allocatable, the region freed by close.
     */
    @Test
    void countersStayExactUnderTenThreadsMixingTiersWaitsAndStaleHandles() throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final int slots = 40;
        final FixedArena arena = FixedArena.builder(slots, 32).leakDetection(false).build();
        final java.util.concurrent.ConcurrentLinkedQueue<Long> shared = new java.util.concurrent.ConcurrentLinkedQueue<>();
        final java.util.concurrent.atomic.AtomicLong allocations = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong frozen = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong failed = new java.util.concurrent.atomic.AtomicLong();
        final AtomicReference<Throwable> error = new AtomicReference<>();
        final CountDownLatch start = new CountDownLatch(1);
        final List<Thread> threads = new ArrayList<>();
        final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        for (int t = 0; t < THREADS; t++)
        {
            final int id = t;
            final Thread thread = new Thread(() ->
            {
                try
                {
                    start.await();
                    final Random rnd = new Random(id);
                    long stale = FixedArena.NO_HANDLE;
                    if (id == 0)
                    {
                        while (!stop.get())
                        {
                            final FixedArenaMetrics m = arena.metrics();
                            assertTrue(m.liveSlots() <= slots);
                        }
                        return;
                    }
                    for (int i = 0; i < 20_000; i++)
                    {
                        final int kind = rnd.nextInt(10);
                        if (kind < 6)
                        {
                            final long h = arena.tryAllocateHandle();
                            if (h == FixedArena.NO_HANDLE)
                            {
                                failed.incrementAndGet();
                                final Long other = shared.poll();
                                if (other != null)
                                {
                                    arena.release(other);
                                }
                                continue;
                            }
                            allocations.incrementAndGet();
                            final long tag = ((long)id << 32) | i;
                            arena.putLong(h, 0, tag);
                            arena.putLong(h, 24, ~tag);
                            if (kind < 2)
                            {
                                arena.freezeHandle(h, 32);
                                frozen.incrementAndGet();
                                arena.retain(h);
                                shared.add(h);
                            }
                            assertEquals(tag, arena.getLong(h, 0));
                            assertEquals(~tag, arena.getLong(h, 24));
                            arena.release(h);
                            if (stale != FixedArena.NO_HANDLE && !arena.isLive(stale))
                            {
                                final long s = stale;
                                try
                                {
                                    arena.getLong(s, 0);
                                    fail("a stale handle read");
                                }
                                catch (final StaleHandleException expected)
                                {
                                    // refused
                                }
                                try
                                {
                                    arena.release(s);
                                    // it was taken again at that generation by another thread meanwhile: give it back
                                    fail("a stale handle released another allocation");
                                }
                                catch (final StaleHandleException expected)
                                {
                                    // refused
                                }
                            }
                            stale = h;
                        }
                        else
                        {
                            Buffer b;
                            try
                            {
                                b = kind == 9 ? arena.allocate(Duration.ofMillis(50)) : arena.tryAllocate();
                            }
                            catch (final AllocationTimeoutException timedOut)
                            {
                                // every slot may sit in the shared queue while every worker waits: not a failure
                                final Long other = shared.poll();
                                if (other != null)
                                {
                                    arena.release(other);
                                }
                                continue;
                            }
                            if (b == null)
                            {
                                failed.incrementAndGet();
                                final Long other = shared.poll();
                                if (other != null)
                                {
                                    arena.release(other);
                                }
                                continue;
                            }
                            allocations.incrementAndGet();
                            b.putLong(i);
                            if (kind == 8)
                            {
                                b.close();
                            }
                            else
                            {
                                frozen.incrementAndGet();
                                b.freeze().release();
                            }
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    error.compareAndSet(null, new AssertionError("live " + arena.liveSlots() + " shared " +
                        shared.size() + " waiters " + arena.waiters() + " " + arena.metrics(), ex));
                }
            });
            threads.add(thread);
            thread.start();
        }
        start.countDown();
        for (int t = 1; t < THREADS; t++)
        {
            threads.get(t).join();
        }
        stop.set(true);
        threads.get(0).join();
        assertNull(error.get(), () -> "worker failed: " + error.get());
        Long rest;
        while ((rest = shared.poll()) != null)
        {
            arena.release(rest);
        }
        final FixedArenaMetrics m = arena.metrics();
        assertEquals(0, m.liveSlots());
        assertEquals(allocations.get(), m.allocations());
        assertEquals(allocations.get(), m.frees());
        assertEquals(frozen.get(), m.frozen());
        assertEquals(failed.get(), m.failedAllocations());
        assertEquals(0, arena.waiters());
        final long[] all = new long[slots];
        for (int i = 0; i < slots; i++)
        {
            all[i] = arena.allocateHandle();
        }
        assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
        for (final long h : all)
        {
            arena.release(h);
        }
        arena.close();
        assertTrue(arena.isRegionFreed());
        baseline.assertBack("native memory");
    }
    /**
     * close() while threads make parking round trips on the handle tier (each thread's own hinted slot, the one-CAS
     * release) and others wait for slots with {@code allocate(Duration)}: every waiter ends at once (a slot, or
     * {@link ArenaClosedException}), nobody is stranded, nothing stays live, and the region is freed exactly when
     * the last slot comes back.
     */
    @Test
    void closeRacingParkingRoundTripsAndWaitersStrandsNobodyAndFreesTheRegion() throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        for (int round = 0; round < 30; round++)
        {
            final FixedArena arena = FixedArena.builder(3 + round % 5, 16).leakDetection(round % 2 == 0).build();
            final AtomicReference<Throwable> error = new AtomicReference<>();
            final CountDownLatch start = new CountDownLatch(1);
            final CountDownLatch running = new CountDownLatch(THREADS);
            final List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++)
            {
                final int id = t;
                final Thread thread = new Thread(() ->
                {
                    try
                    {
                        start.await();
                        for (int i = 0; ; i++)
                        {
                            if (i == 200)
                            {
                                running.countDown();
                            }
                            if (id % 3 == 0)
                            {
                                final Buffer b = arena.allocate(Duration.ofSeconds(20));
                                b.putLong(i);
                                b.freeze().release();
                            }
                            else
                            {
                                final long h = arena.tryAllocateHandle();
                                if (h != FixedArena.NO_HANDLE)
                                {
                                    arena.putLong(h, 8, i);
                                    assertEquals(i, arena.getLong(h, 8));
                                    arena.release(h);
                                }
                            }
                        }
                    }
                    catch (final ArenaClosedException expected)
                    {
                        running.countDown();
                    }
                    catch (final Throwable ex)
                    {
                        error.compareAndSet(null, ex);
                        running.countDown();
                    }
                });
                threads.add(thread);
                thread.start();
            }
            start.countDown();
            running.await();
            arena.close();
            for (final Thread thread : threads)
            {
                thread.join(10_000);
                assertFalse(thread.isAlive(), "a thread stranded after close, round " + round);
            }
            assertNull(error.get(), () -> "worker failed: " + error.get());
            assertEquals(0, arena.liveSlots());
            assertEquals(0, arena.waiters());
            assertTrue(arena.isRegionFreed(), "region kept after close, round " + round);
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(m.allocations(), m.frees());
        }
        baseline.assertBack("native memory");
    }
}
