package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

class TwentiethFixReviewPoolTest
{
    @Test
    void aCallbackClosingTheSpillingBufferCountsOneSpillAndOneFree()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
        {
            final Buffer b = arena.allocate();
            final AtomicReference<Throwable> failed = new AtomicReference<>();
            final CompletableFuture<Buffer> f = arena.allocateAsync();
            f.whenComplete((nb, ex) ->
            {
                try
                {
                    b.close();
                    nb.close();
                }
                catch (final Throwable t)
                {
                    failed.set(t);
                }
            });
            for (int i = 0; i < 9; i++)
            {
                try
                {
                    b.putLong(i);
                }
                catch (final RuntimeException closedMidWrite)
                {
                    break;
                }
            }
            assertNull(failed.get());
            assertTrue(f.isDone());
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(1, m.spills(), m.toString());
            assertEquals(0, m.liveSlots(), m.toString());
            assertEquals(m.allocations(), m.frees(), m.toString());
            assertFalse(arena.orphans);
        }
    }

    @Test
    void aCallbackFreezingTheSpillingBufferCountsOnceOnBuddy()
    {
        try (BuddyArena arena = BuddyArena.builder(4096, 1024).autoSpill(true).build())
        {
            final Buffer b = arena.allocate(4096);
            final AtomicReference<Throwable> failed = new AtomicReference<>();
            final AtomicReference<Bytes> frozen = new AtomicReference<>();
            final CompletableFuture<Buffer> f = arena.allocateAsync(4096);
            f.whenComplete((nb, ex) ->
            {
                try
                {
                    frozen.set(b.freeze());
                    nb.close();
                }
                catch (final Throwable t)
                {
                    failed.set(t);
                }
            });
            try
            {
                for (int i = 0; i < 513; i++)
                {
                    b.putLong(i);
                }
            }
            catch (final RuntimeException frozenMidWrite)
            {
                // the callback froze it
            }
            assertNull(failed.get());
            assertNotNull(frozen.get());
            frozen.get().release();
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(1, m.spills(), m.toString());
            assertEquals(0, m.liveBlocks(), m.toString());
            assertEquals(m.allocations(), m.frees(), m.toString());
        }
    }

    @Test
    void hammerSpillsReleasesAndWaitersStayExact() throws Exception
    {
        for (int round = 0; round < 20; round++)
        {
            final FixedArena arena = FixedArena.builder(2, 64).autoSpill(true).build();
            final int threads = 4;
            final CountDownLatch go = new CountDownLatch(1);
            final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
            final List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                final int id = t;
                final Thread th = new Thread(() ->
                {
                    try
                    {
                        go.await();
                        for (int i = 0; i < 2000; i++)
                        {
                            final Buffer b = arena.allocate(Duration5.D);
                            final int n = (i + id) % 3 == 0 ? 9 : 4;
                            for (int k = 0; k < n; k++)
                            {
                                b.putLong(k);
                            }
                            if ((i & 1) == 0)
                            {
                                b.freeze().release();
                            }
                            else
                            {
                                b.close();
                            }
                        }
                    }
                    catch (final Throwable ex)
                    {
                        errors.add(ex);
                    }
                });
                ts.add(th);
                th.start();
            }
            go.countDown();
            for (final Thread th : ts)
            {
                th.join(30_000);
            }
            assertTrue(errors.isEmpty(), () -> errors.peek().toString());
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(0, m.liveSlots(), m.toString());
            assertEquals(m.allocations(), m.frees(), m.toString());
            arena.close();
            arena.close();
            final FixedArenaMetrics after = arena.metrics();
            assertEquals(m.frees(), after.frees(), after.toString());
        }
    }

    @Test
    void aSecondCloseAfterTheRegionIsFreedIsANoOpOnBuddyWithCache()
    {
        final BuddyArena arena = BuddyArena.builder(1 << 16, 64).freeBlockCache(true).build();
        final Buffer a = arena.allocate(64);
        final Buffer b = arena.allocate(128);
        a.close();
        b.close();
        arena.close();
        final BuddyArenaMetrics m = arena.metrics();
        arena.close();
        arena.close();
        final BuddyArenaMetrics m2 = arena.metrics();
        assertEquals(m.frees(), m2.frees());
        assertEquals(0, m2.liveBlocks());
        assertEquals(m2.allocations(), m2.frees(), m2.toString());
    }

    private static void leak(final SlotArena arena, final int n, final boolean buddy)
    {
        for (int i = 0; i < n; i++)
        {
            final Buffer b = buddy ? ((BuddyArena)arena).allocate(64) : ((FixedArena)arena).allocate();
            b.putLong(-1L).putLong(-1L);
        }
    }

    @Test
    void leaksReclaimedCountOnceAndZero() throws Exception
    {
        try (FixedArena fixed = FixedArena.builder(4, 64).initPolicy(InitPolicy.ZERO).leakDetection(true).build();
             BuddyArena buddy = BuddyArena.builder(256, 64).initPolicy(InitPolicy.ZERO).leakDetection(true).build())
        {
            leak(fixed, 4, false);
            leak(buddy, 4, true);
            final long deadline = System.nanoTime() + 20_000_000_000L;
            while ((fixed.metrics().leaks() < 4 || buddy.metrics().leaks() < 4) && System.nanoTime() < deadline)
            {
                System.gc();
                Thread.onSpinWait();
            }
            final FixedArenaMetrics fm = fixed.metrics();
            final BuddyArenaMetrics bm = buddy.metrics();
            assertEquals(4, fm.leaks(), fm.toString());
            assertEquals(4, bm.leaks(), bm.toString());
            assertEquals(0, fm.liveSlots(), fm.toString());
            assertEquals(0, bm.liveBlocks(), bm.toString());
            assertEquals(fm.allocations(), fm.frees(), fm.toString());
            assertEquals(bm.allocations(), bm.frees(), bm.toString());
            for (int i = 0; i < 4; i++)
            {
                final Buffer f = fixed.allocate();
                assertEquals(0L, f.mutableBuffer().getLong(0));
                assertEquals(0L, f.mutableBuffer().getLong(8));
                final Buffer b = buddy.allocate(64);
                assertEquals(0L, b.mutableBuffer().getLong(0));
                assertEquals(0L, b.mutableBuffer().getLong(8));
                f.close();
                b.close();
            }
        }
    }

    /**
     * pool.md: "a second close() racing the first returns at once, possibly before the first has failed every waiter
     * and freed the region ... (the first held up by the buddy lock, say)". The fix makes every later close() run
     * onClose() (the buddy lock and the cache flush) and finishClose() again, so a second close() racing a first one
     * that is held up by the buddy lock is now held up behind that lock too. The lock is held here through reflection
     * to stand for whoever holds it (a claim, a coalescing release, a flush).
     */
    @Test
    void aSecondCloseRacingAFirstHeldUpByTheBuddyLockReturnsAtOnce() throws Exception
    {
        final BuddyArena arena = BuddyArena.builder(1 << 12, 64).build();
        final java.lang.reflect.Field lockField = BuddyArena.class.getDeclaredField("lock");
        lockField.setAccessible(true);
        final java.lang.reflect.Field padField = BuddyArena.class.getDeclaredField("PAD");
        padField.setAccessible(true);
        final int[] lock = (int[])lockField.get(arena);
        final int pad = padField.getInt(null);
        final java.lang.invoke.VarHandle ints = java.lang.invoke.MethodHandles.arrayElementVarHandle(int[].class);
        assertTrue(ints.compareAndSet(lock, pad, 0, 1), "the lock is free");
        final Thread first = new Thread(arena::close, "first-close");
        final Thread second = new Thread(arena::close, "second-close");
        try
        {
            first.start();
            final long deadline = System.nanoTime() + 5_000_000_000L;
            while (!arena.closed && System.nanoTime() < deadline)
            {
                Thread.onSpinWait();
            }
            assertTrue(arena.closed, "the first close() set closed");
            second.start();
            second.join(3_000);
            assertFalse(second.isAlive(), "the second close() racing the first did not return at once: it waits " +
                "behind the buddy lock that holds the first up (pool.md: returns at once)");
        }
        finally
        {
            ints.setVolatile(lock, pad, 0);
            first.join(10_000);
            second.join(10_000);
        }
    }

    static final class Duration5
    {
        static final java.time.Duration D = java.time.Duration.ofSeconds(5);
    }
}
