package dev.lake.thread;

import dev.lake.linear.Lake;
import dev.lake.testing.CleanerHold;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Misuse and races a review found, each test failing on the code before its fix: a released strict lake is
 * unusable by its former owner while pooled and handed out reset; concurrent reapers count each lake once; an
 * affinity hint that calls back into the thread lakes is refused instead of leasing a lake that is then lost.
 */
class ThreadLakesRegressionTest
{
    private static final int CAPACITY = 64 * 1024;

    /**
     * Strict mode: giveBack() lifts the confinement (confineTo(null)) and pools the lake unconfined. The former
     * owner can keep allocating in it without any error, and the next thread is handed a lake that is not
     * reset: its position is not 0 and the former owner's memory is live inside it.
     */
    @Test
    void strictModeAReleasedLakeIsNotUsableByItsFormerOwnerAndIsHandedOutFresh() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).strict(true).poolBound(1).build())
        {
            final Lake mine = lakes.init();
            lakes.release();

            Throwable stale = null;
            try
            {
                mine.allocate(64); // use after release, on the releasing thread
            }
            catch (final Throwable t)
            {
                stale = t;
            }

            final AtomicInteger usedByNext = new AtomicInteger(-1);
            final AtomicBoolean same = new AtomicBoolean();
            final Thread next = new Thread(() ->
            {
                final Lake taken = lakes.init();
                same.set(taken == mine);
                usedByNext.set(taken.used());
                lakes.release();
            }, "next-owner");
            next.start();
            next.join();

            assertTrue(same.get(), "the pooled lake was reused");
            assertEquals(0, usedByNext.get(), "the next owner got a lake its former owner still allocates in");
            assertTrue(stale instanceof IllegalStateException, "a released strict lake stayed usable: " + stale);
        }
    }

    /**
     * reap() counts every dead lease it sees, even when another reaper (or the Cleaner) already gave it back:
     * Cleanable.clean() is a no-op the second time but count++ runs anyway. Concurrent reaps report more lakes
     * than were reclaimed (stats().reclaimed disagrees with the sum of reap() results).
     */
    @Test
    void concurrentReapsCountEachLakeOnce() throws Exception
    {
        final int dying = 16;
        final int reapers = 8;
        // the shared Cleaner would give a dead thread's lake back at the first GC after it ended (b6a197d) and race
        // the reapers: held, the reapers are the only reclaimers, so what they report must be exactly what was reclaimed
        try (ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(0).build();
             CleanerHold.Key cleanerHeld = CleanerHold.hold())
        {
            for (int round = 0; round < 40; round++)
            {
                final long reclaimedBefore = lakes.stats().reclaimed();
                final CountDownLatch allInit = new CountDownLatch(dying);
                final List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < dying; i++)
                {
                    final Thread t = new Thread(() ->
                    {
                        lakes.init();
                        allInit.countDown();
                        try
                        {
                            allInit.await();
                        }
                        catch (final InterruptedException ex)
                        {
                            Thread.currentThread().interrupt();
                        }
                    });
                    threads.add(t);
                    t.start();
                }
                for (final Thread t : threads)
                {
                    t.join();
                }

                final CyclicBarrier barrier = new CyclicBarrier(reapers);
                final AtomicInteger reported = new AtomicInteger();
                final AtomicReference<Throwable> failure = new AtomicReference<>();
                final List<Thread> reaping = new ArrayList<>();
                for (int i = 0; i < reapers; i++)
                {
                    final Thread r = new Thread(() ->
                    {
                        try
                        {
                            barrier.await();
                            reported.addAndGet(lakes.reap());
                        }
                        catch (final Throwable ex)
                        {
                            failure.set(ex);
                        }
                    });
                    reaping.add(r);
                    r.start();
                }
                for (final Thread r : reaping)
                {
                    r.join();
                }
                assertNull(failure.get());
                final long reclaimed = lakes.stats().reclaimed() - reclaimedBefore;
                assertEquals(dying, reclaimed, "round " + round);
                assertEquals(reclaimed, reported.get(), "round " + round + ": reap() results summed");
                assertEquals(0, lakes.stats().leased());
            }
        }
    }
    /**
     * init() checked whether the thread held a lake, then ran the affinity hint (user code), then leased one: a hint
     * that reached these thread lakes (current() with autoInit) leased a lake through the inner init(), and the outer
     * one leased a second and overwrote the first, lost until the thread died. The hint is now refused.
     */
    @Test
    void anAffinityHintThatUsesTheThreadLakesIsRefusedAndLeasesNothing()
    {
        final ThreadLakes[] holder = new ThreadLakes[1];
        final AffinityHint hint = () ->
        {
            holder[0].current(); // autoInit: would lease a lake for this thread
            return true;
        };
        try (ThreadLakes lakes = ThreadLakes.builder(64 * 1024).autoInit(true).affinity(hint).build())
        {
            holder[0] = lakes;
            final IllegalStateException refused = assertThrows(IllegalStateException.class, lakes::init);
            assertTrue(refused.getMessage().contains("affinity hint"), refused.getMessage());
            assertEquals(0, lakes.stats().leased(), "nothing leased by the refused init");
        }
        final AtomicInteger placed = new AtomicInteger();
        try (ThreadLakes lakes = ThreadLakes.builder(64 * 1024).affinity(() -> placed.incrementAndGet() > 0).build())
        {
            final Lake lake = lakes.init();
            assertSame(lake, lakes.current(), "a hint that leaves the lakes alone still works");
            assertEquals(1, placed.get());
            assertEquals(1, lakes.stats().leased());
            lakes.release();
            assertEquals(0, lakes.stats().leased());
        }
    }
}
