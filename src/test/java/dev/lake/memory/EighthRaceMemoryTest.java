package dev.lake.memory;

import dev.lake.testing.NativeAccounting;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Eighth review, races of the ground layer: a {@link RefCount} retained by threads that race its last release, and
 * a {@link Region} closed by several threads at once while others ask for its NIO view. More threads than cores.
 */
class EighthRaceMemoryTest
{
    private static final int THREADS = 8;

    /** Runs {@code body(thread index)} on {@link #THREADS} threads released together; fails with the first failure. */
    private static void race(final int rounds, final RoundBody body) throws Exception
    {
        final CyclicBarrier start = new CyclicBarrier(THREADS);
        final CyclicBarrier end = new CyclicBarrier(THREADS + 1);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread[] threads = new Thread[THREADS];
        for (int t = 0; t < THREADS; t++)
        {
            final int index = t;
            threads[t] = new Thread(() ->
            {
                try
                {
                    for (int r = 0; r < rounds; r++)
                    {
                        start.await();
                        try
                        {
                            body.run(r, index);
                        }
                        catch (final Throwable ex)
                        {
                            failure.compareAndSet(null, ex);
                        }
                        end.await();
                    }
                }
                catch (final Exception ex)
                {
                    failure.compareAndSet(null, ex);
                }
            }, "memory-racer-" + t);
            threads[t].start();
        }
        for (int r = 0; r < rounds; r++)
        {
            end.await(); // every thread finished round r
            try
            {
                body.afterRound(r);
            }
            catch (final Throwable ex)
            {
                failure.compareAndSet(null, ex); // the threads still go through every round, so none is left waiting
            }
        }
        for (final Thread thread : threads)
        {
            thread.join();
        }
        if (failure.get() != null)
        {
            fail(failure.get());
        }
    }

    private interface RoundBody
    {
        void run(int round, int thread) throws Exception;

        default void afterRound(final int round)
        {
        }
    }

    /**
     * Half the threads each hold one count and release it; the other half retain (succeeding while a count is left)
     * and release what they retained. Exactly one release of each count reports the last reference, a retain never
     * revives a count from zero (it throws {@link StaleHandleException} instead), and the count ends at zero.
     */
    @Test
    void retainsRacingTheLastReleasesNeverReviveTheCountAndOneReleaseIsLast() throws Exception
    {
        final int rounds = 3_000;
        final AtomicReferenceArray<RefCount> counts = new AtomicReferenceArray<>(rounds);
        final AtomicInteger[] lasts = new AtomicInteger[rounds];
        for (int r = 0; r < rounds; r++)
        {
            final RefCount count = new RefCount();
            for (int h = 1; h < THREADS / 2; h++)
            {
                count.retain(); // one count per holder thread
            }
            counts.set(r, count);
            lasts[r] = new AtomicInteger();
        }
        race(rounds, new RoundBody()
        {
            @Override
            public void run(final int round, final int thread)
            {
                final RefCount count = counts.get(round);
                if (thread < THREADS / 2)
                {
                    if (count.release())
                    {
                        lasts[round].incrementAndGet();
                    }
                    return;
                }
                try
                {
                    count.retain();
                }
                catch (final StaleHandleException gone)
                {
                    assertEquals(0, count.refCount(), "refused while a count was left");
                    return;
                }
                if (count.release())
                {
                    lasts[round].incrementAndGet();
                }
            }

            @Override
            public void afterRound(final int round)
            {
                assertEquals(1, lasts[round].get(), "releases that reported the last reference, round " + round);
                assertEquals(0, counts.get(round).refCount());
                assertThrows(StaleHandleException.class, counts.get(round)::retain);
                assertThrows(StaleHandleException.class, counts.get(round)::release);
            }
        });
    }

    /**
     * Every round, half the threads close one region at once and the other half ask for its NIO view. The memory is
     * freed exactly once (the native bytes and live regions come back to the baseline, no leak is counted), and any
     * view that escaped is empty once the region is closed, whoever came first.
     */
    @Test
    void regionClosedByFourThreadsWhileFourAskForItsViewIsFreedOnceAndLeavesNoLiveView() throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final int rounds = 2_000;
        final AtomicReferenceArray<Region> made = new AtomicReferenceArray<>(rounds);
        final AtomicReferenceArray<ByteBuffer> views = new AtomicReferenceArray<>(rounds * THREADS);
        for (int r = 0; r < rounds; r++)
        {
            made.set(r, Region.allocate(256));
        }
        race(rounds, new RoundBody()
        {
            @Override
            public void run(final int round, final int thread)
            {
                final Region region = made.get(round);
                if (thread % 2 == 0)
                {
                    region.close();
                    return;
                }
                try
                {
                    views.set(round * THREADS + thread, region.byteBuffer());
                }
                catch (final IllegalStateException closed)
                {
                    assertFalse(region.isOpen());
                }
            }

            @Override
            public void afterRound(final int round)
            {
                assertFalse(made.get(round).isOpen());
                assertEquals(0, made.get(round).buffer().capacity());
                for (int t = 0; t < THREADS; t++)
                {
                    final ByteBuffer view = views.get(round * THREADS + t);
                    if (view != null)
                    {
                        assertEquals(0, view.capacity(), "a view of a closed region escaped, round " + round);
                        assertEquals(0, view.limit());
                    }
                }
            }
        });
        baseline.assertBack("each region freed exactly once");
    }
}
