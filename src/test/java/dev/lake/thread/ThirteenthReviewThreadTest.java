package dev.lake.thread;

import dev.lake.linear.Lake;
import dev.lake.memory.NativeMemory;
import dev.lake.testing.CleanerHold;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Thirteenth review round of {@code dev.lake.thread}: each test failed on the code before its fix.
 */
class ThirteenthReviewThreadTest
{
    /**
     * A strict lake is confined to its thread, and the lake held that {@code Thread} strongly (its owner field), so
     * the lease set kept the thread reachable and the {@code Cleaner} watching it never ran: a thread that died
     * without {@code release()} kept its lake (native memory, and its {@code Thread} object) until some other thread
     * happened to call {@code init()} or {@code reap()}. The non-strict lake came back by the GC alone.
     */
    @Test
    void aStrictLakeOfADeadThreadComesBackWithNoFurtherInit() throws InterruptedException
    {
        for (final boolean strict : new boolean[]{false, true})
        {
            try (ThreadLakes lakes = ThreadLakes.builder(4096).strict(strict).poolBound(4).build())
            {
                leaseOnAThreadThatEnds(lakes);
                assertEquals(1, lakes.stats().leased());
                // no init() and no reap() from here on: only the GC and the Cleaner may bring the lake back
                await("strict " + strict).atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(() ->
                {
                    System.gc();
                    return lakes.stats().leased() == 0;
                });
                final ThreadLakes.Stats stats = lakes.stats();
                assertEquals(1, stats.reclaimed(), stats.toString());
                assertEquals(1, stats.pooled(), stats.toString());
            }
        }
    }

    /**
     * The common pool's workers are {@code InnocuousForkJoinWorkerThread}s on recent JDKs (JDK 25 here), which erase
     * their thread locals after every top-level task: the lease's {@code ThreadLocal} entry went with them, the next
     * task's {@code with()} leased another lake, and the erased lease stayed leased (its owner alive, so no scan took
     * it, and its {@code Cleaner} watched the live {@code Thread}) until the worker itself ended. Each task on the
     * common pool cost a lake: {@code ThreadLakes.defaults().with(...)} from a parallel stream grew native memory by
     * 1 MiB a task. On JDK 17 the common pool keeps thread locals (without a security manager) and this passes either
     * way; on JDK 25 it failed. {@code init()} now gives back a lease still recorded for its caller (which holds
     * none), so the next task takes the same lake back, with no GC needed.
     */
    @Test
    void commonPoolTasksDoNotEachKeepALake()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(4096).autoInit(true).poolBound(8).build())
        {
            for (int i = 0; i < 200; i++)
            {
                ForkJoinPool.commonPool().submit(() -> lakes.with(lake -> lake.allocate(8))).join();
            }
            final int workers = ForkJoinPool.getCommonPoolParallelism() + 1;
            final ThreadLakes.Stats stats = lakes.stats();
            assertTrue(stats.leased() <= workers, stats.toString());
            assertTrue(stats.created() <= 2L * workers, "a lake per task: " + stats);
            assertEquals(0, stats.reclaimed(), "no worker died: " + stats);
            // leave nothing leased to the pool's live workers, whose lakes would otherwise be freed at some GC during a
            // later test (which may be counting native memory): each worker gives its lake back (on JDK 17 it still
            // holds it; on JDK 25 its thread locals are erased, and the Cleaner gives it back once a GC has run)
            // (execute and a latch: a join() from this thread may run the task here instead, as the JDK's common pool
            // lets an external joiner take back a task no worker has started)
            await().pollInSameThread().atMost(Duration.ofSeconds(10)).until(() -> // this thread releases its own lake
            {
                final int parallelism = ForkJoinPool.getCommonPoolParallelism();
                final CountDownLatch released = new CountDownLatch(parallelism);
                for (int i = 0; i < parallelism; i++)
                {
                    ForkJoinPool.commonPool().execute(() ->
                    {
                        lakes.release();
                        released.countDown();
                    });
                }
                released.await(1, TimeUnit.SECONDS);
                lakes.release();
                System.gc();
                return lakes.stats().leased() == 0;
            });
        }
    }

    /**
     * Pins the pool's promises under a race no test ran together: twelve strict workers (more than the cores) leasing,
     * writing, checking and releasing, with short-lived threads that die holding a lake, while another thread closes
     * the thread lakes part-way. No lake is ever held by two threads at once (each owner reads back what it wrote),
     * and once every thread is done, every lake built is closed: none lost, none left pooled or leased.
     */
    @Test
    void leasesReleasesDeathsAndACloseRacingLoseNoLake() throws InterruptedException
    {
        final int workers = 12;
        final ThreadLakes lakes = ThreadLakes.builder(4096).strict(true).poolBound(3).build();
        final Set<Lake> seen = ConcurrentHashMap.newKeySet();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicInteger rounds = new AtomicInteger();
        final CountDownLatch halfway = new CountDownLatch(workers * 100);
        final List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < workers; w++)
        {
            final long token = 0x5EED_0000L + w;
            final Thread worker = new Thread(() ->
            {
                try
                {
                    for (int i = 0; i < 2_000; i++)
                    {
                        final Lake lake;
                        try
                        {
                            lake = lakes.init();
                        }
                        catch (final IllegalStateException closed)
                        {
                            return; // closed under us: the expected end
                        }
                        seen.add(lake);
                        final int at = lake.allocate(8);
                        lake.buffer().putLong(at, token + ((long)i << 32));
                        Thread.yield();
                        assertEquals(token + ((long)i << 32), lake.buffer().getLong(at), "another thread wrote here");
                        if (i % 10 == 9)
                        {
                            final Thread dying = new Thread(() -> seen.add(lakes.init())); // dies holding its lake
                            dying.start();
                            dying.join();
                        }
                        lakes.release();
                        rounds.incrementAndGet();
                        halfway.countDown();
                    }
                }
                catch (final Throwable ex)
                {
                    if (!(ex instanceof IllegalStateException) || !ex.getMessage().contains("closed"))
                    {
                        failure.compareAndSet(null, ex);
                    }
                }
            }, "worker-" + w);
            threads.add(worker);
            worker.start();
        }
        final Thread closer = new Thread(() ->
        {
            try
            {
                halfway.await();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
            lakes.close();
        }, "closer");
        closer.start();
        for (final Thread t : threads)
        {
            t.join();
        }
        closer.join();
        assertNull(failure.get(), () -> "a worker failed: " + failure.get());
        assertTrue(rounds.get() >= workers * 100, "rounds: " + rounds.get());
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(() ->
        {
            System.gc();
            lakes.reap();
            return lakes.stats().leased() == 0;
        });
        final ThreadLakes.Stats stats = lakes.stats();
        assertEquals(0, stats.pooled(), stats.toString());
        assertEquals(stats.created(), stats.closed(), stats.toString());
        // an init() that met the close built a lake and closed it before handing it out: not seen, still counted
        assertTrue(seen.size() <= stats.created(), stats.toString());
        for (final Lake lake : seen)
        {
            assertFalse(lake.isOpen(), "a lake left open after close: " + lake);
        }
    }

    /**
     * {@code close()} closes the lakes of threads that already died without {@code release()}, there and then: left to
     * the Cleaner, they were freed at the first GC after their threads ended, at some unrelated moment (a later test
     * counting native memory saw it change under it). The Cleaner is held, so only the close can do it.
     */
    @Test
    void closeClosesTheLakesOfThreadsThatAlreadyDied() throws Exception
    {
        try (CleanerHold.Key cleanerHeld = CleanerHold.hold())
        {
            final long baseline = NativeMemory.reservedBytes(); // after the hold's collections: exact from here
            final ThreadLakes lakes = ThreadLakes.builder(4096).strict(true).build();
            leaseOnAThreadThatEnds(lakes);
            assertEquals(1, lakes.stats().leased());
            lakes.close();
            final ThreadLakes.Stats stats = lakes.stats();
            assertEquals(0, stats.leased(), stats.toString());
            assertEquals(stats.created(), stats.closed(), stats.toString());
            assertEquals(1, stats.reclaimed(), stats.toString());
            assertEquals(baseline, NativeMemory.reservedBytes(), "the dead threads' lakes freed by close()");
        }
    }

    /** Leases a lake on a thread that ends without release; keeps no reference to the thread. */
    private static void leaseOnAThreadThatEnds(final ThreadLakes lakes) throws InterruptedException
    {
        final Thread thread = new Thread(() ->
        {
            final Lake lake = lakes.init();
            lake.buffer().putLong(lake.allocate(8), 42L);
        }, "dies-holding-a-lake");
        thread.start();
        thread.join();
    }
}
