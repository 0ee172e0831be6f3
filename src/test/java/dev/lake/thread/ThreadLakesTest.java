package dev.lake.thread;

import dev.lake.linear.Lake;
import dev.lake.memory.NativeMemory;
import dev.lake.testing.CleanerHold;
import dev.lake.testing.NativeAccounting;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

class ThreadLakesTest
{
    private static final int CAPACITY = 64 * 1024;

    @Test
    void eachThreadGetsItsOwnLakeAndCurrentIsStable() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).build())
        {
            final Lake mine = lakes.init();
            assertSame(mine, lakes.current());
            assertSame(mine, lakes.init(), "init on a thread that has a lake returns it");
            final AtomicReference<Lake> theirs = new AtomicReference<>();
            final Thread other = new Thread(() ->
            {
                theirs.set(lakes.init());
                lakes.release();
            });
            other.start();
            other.join();
            assertNotNull(theirs.get());
            assertNotSame(mine, theirs.get());
            assertEquals(CAPACITY, mine.capacity());
            lakes.release();
        }
    }

    @Test
    void currentBeforeInitIsAClearErrorUnlessAutoInit()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).build())
        {
            final IllegalStateException ex = assertThrows(IllegalStateException.class, lakes::current);
            assertTrue(ex.getMessage().contains("init()"), ex.getMessage());
            assertEquals(0, lakes.stats().created());
        }
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).autoInit(true).build())
        {
            final Lake lake = lakes.current();
            assertTrue(lake.isOpen());
            assertEquals(1, lakes.stats().created());
            lakes.release();
        }
    }

    @Test
    void withRestoresThePositionOnReturnAndOnThrowAndNests()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).autoInit(true).build())
        {
            final Lake lake = lakes.current();
            lake.allocate(16);
            final int before = lake.used();
            final int inner = lakes.with(outer ->
            {
                outer.allocate(100);
                final int mid = outer.used();
                lakes.with(l -> l.allocate(200));
                assertEquals(mid, outer.used(), "inner with restored to its own start");
                return mid;
            });
            assertTrue(inner > before);
            assertEquals(before, lake.used());
            assertEquals(0, lake.markDepth());

            assertThrows(ArithmeticException.class, () -> lakes.with(l ->
            {
                l.allocate(64);
                l.mark();
                return 1 / (l.used() - l.used());
            }));
            assertEquals(before, lake.used(), "a throwing body is rewound too, its own marks dropped");
            assertEquals(0, lake.markDepth());

            final int kept = lakes.withKept(l -> l.allocate(32));
            assertTrue(lake.used() > before, "withKept keeps the allocation at " + kept);
            lakes.release();
        }
    }

    @Test
    void releasedLakesAreResetPooledAndReused() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(1).build())
        {
            final Lake first = lakes.init();
            first.allocate(1000);
            first.mark();
            lakes.release();
            assertEquals(1, lakes.stats().pooled());
            assertThrows(IllegalStateException.class, lakes::current);

            final AtomicReference<Lake> second = new AtomicReference<>();
            final AtomicInteger usedOnTake = new AtomicInteger(-1);
            final Thread other = new Thread(() ->
            {
                final Lake lake = lakes.init();
                second.set(lake);
                usedOnTake.set(lake.used() + lake.markDepth());
                lakes.release();
            });
            other.start();
            other.join();
            assertSame(first, second.get(), "the pooled lake is handed to the next thread");
            assertEquals(0, usedOnTake.get(), "and it arrives reset, with no marks");
            assertEquals(1, lakes.stats().created());
        }
    }

    @Test
    void thePoolIsBoundedAndSurplusLakesAreFreed() throws Exception
    {
        final long baseline = NativeMemory.reservedBytes();
        final int bound = 2;
        final int threads = 5;
        final ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(bound).build();
        final CountDownLatch allHold = new CountDownLatch(threads);
        final CountDownLatch go = new CountDownLatch(1);
        final List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++)
        {
            final Thread t = new Thread(() ->
            {
                lakes.init().allocate(128);
                allHold.countDown();
                try
                {
                    go.await();
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
                lakes.release();
            });
            workers.add(t);
            t.start();
        }
        allHold.await();
        assertEquals(threads, lakes.stats().leased());
        go.countDown();
        for (final Thread t : workers)
        {
            t.join();
        }
        final ThreadLakes.Stats stats = lakes.stats();
        assertEquals(0, stats.leased());
        assertEquals(bound, stats.pooled());
        assertEquals(threads - bound, stats.closed());
        final long held = NativeMemory.reservedBytes() - baseline;
        assertTrue(held >= (long)bound * CAPACITY && held < (long)bound * (CAPACITY + 64),
            "only the pooled lakes hold native memory: " + held);
        lakes.close();
        assertEquals(baseline, NativeMemory.reservedBytes());
        assertThrows(IllegalStateException.class, lakes::init);
    }

    @Test
    void tenThousandShortLivedThreadsLeaveOnlyThePoolBehind() throws Exception
    {
        final long baseline = NativeMemory.reservedBytes();
        final int bound = 4;
        final ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(bound).autoInit(true).build();
        final AtomicLong checksum = new AtomicLong();
        final int total = 10_000;
        final int concurrent = 8;
        for (int started = 0; started < total; started += concurrent)
        {
            final Thread[] batch = new Thread[concurrent];
            for (int i = 0; i < concurrent; i++)
            {
                final long value = started + i;
                batch[i] = new Thread(() ->
                {
                    final Lake lake = lakes.current();
                    final int at = lake.allocate(8);
                    lake.buffer().putLong(at, value);
                    checksum.addAndGet(lake.buffer().getLong(at));
                    // no release(): the thread just ends
                });
                batch[i].start();
            }
            for (final Thread t : batch)
            {
                t.join();
            }
        }
        assertEquals((long)total * (total - 1) / 2, checksum.get());
        await().atMost(Duration.ofSeconds(60)).until(() ->
        {
            System.gc();
            lakes.reap();
            final ThreadLakes.Stats stats = lakes.stats();
            // as many lakes as ever ran at once were built (often fewer than the batch): all pooled, up to the bound
            // and every give-back counted: a reclaim by another thread pools the lake before it counts it
            return stats.leased() == 0 && stats.pooled() == Math.min(bound, stats.created()) &&
                stats.reclaimed() == total;
        });
        final ThreadLakes.Stats stats = lakes.stats();
        assertEquals(stats.created(), stats.closed() + stats.pooled(), "every lake is pooled or freed");
        assertEquals(total, stats.reclaimed(), "every dead thread's lake came back");
        assertTrue(stats.created() < total, "lakes were reused: " + stats.created());
        final long perLake = 4096 + 63; // a lake's region: capacity plus alignment padding at most
        assertTrue(NativeMemory.reservedBytes() - baseline <= bound * perLake,
            "native bytes held: " + (NativeMemory.reservedBytes() - baseline));
        lakes.close();
        assertTrue(NativeAccounting.reservedBackTo(baseline),
            "native bytes left: " + (NativeMemory.reservedBytes() - baseline));
    }

    @Test
    void theAffinityHintIsAppliedOnTheTakingThreadBeforeTheLakeIsBuilt() throws Exception
    {
        final AtomicReference<Thread> appliedOn = new AtomicReference<>();
        final AtomicLong createdBeforeHint = new AtomicLong(-1);
        final ThreadLakes[] holder = new ThreadLakes[1];
        holder[0] = ThreadLakes.builder(CAPACITY).affinity(() ->
        {
            appliedOn.set(Thread.currentThread());
            createdBeforeHint.set(holder[0].stats().created());
            return true;
        }).build();
        try (ThreadLakes lakes = holder[0])
        {
            final Thread t = new Thread(() ->
            {
                lakes.init();
                lakes.release();
            }, "taker");
            t.start();
            t.join();
            assertSame(t, appliedOn.get());
            assertEquals(0, createdBeforeHint.get(), "the hint runs before the lake is built and touched");
            assertEquals(1, lakes.stats().created());
        }
    }

    @Test
    void aHintThatCannotBeHonouredIsIgnored()
    {
        final AffinityHint impossible = AffinityHint.cpu(100_000);
        assertFalse(impossible.applyToCurrentThread());
        assertFalse(impossible.applyToCurrentThread(), "still no error the second time");
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).affinity(impossible).build())
        {
            assertTrue(lakes.init().isOpen());
            lakes.release();
        }
        assertThrows(IllegalArgumentException.class, () -> AffinityHint.cpu(-1));
        assertThrows(IllegalArgumentException.class, () -> AffinityHint.anyOf(new java.util.BitSet(), "empty"));
    }

    @Test
    void openHftPinsTheThreadWhenOnTheClassPath() throws Exception
    {
        final AtomicReference<Boolean> honoured = new AtomicReference<>();
        final Thread t = new Thread(() -> honoured.set(AffinityHint.cpu(0).applyToCurrentThread()));
        t.start();
        t.join();
        assertEquals(Boolean.TRUE, honoured.get(), "OpenHFT affinity is on the test class path and CPU 0 exists");
    }

    @Test
    void badConfigurationIsRejected()
    {
        assertThrows(IllegalArgumentException.class, () -> ThreadLakes.builder(0));
        assertThrows(IllegalArgumentException.class, () -> ThreadLakes.builder(-5));
        assertThrows(IllegalArgumentException.class, () -> ThreadLakes.builder(64).poolBound(-1));
        assertThrows(NullPointerException.class, () -> ThreadLakes.builder(64).affinity(null));
    }

    @Test
    void theProcessWideDefaultAutoInitialises()
    {
        final Lake lake = ThreadLakes.defaults().current();
        assertSame(lake, ThreadLakes.defaults().current());
        assertEquals(ThreadLakes.DEFAULT_CAPACITY, lake.capacity());
        ThreadLakes.defaults().release();
    }

    @Test
    void strictModeConfinesEachLakeToItsThread() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).strict(true).poolBound(1).build())
        {
            final Lake mine = lakes.init();
            assertSame(Thread.currentThread(), mine.confinedTo());
            final int at = mine.allocate(16);
            final dev.lake.linear.Droplet droplet = mine.droplet(8);
            final dev.lake.linear.LakeView view = mine.split(256);
            final int usedBefore = mine.used();
            final AtomicReference<Throwable> fromOther = new AtomicReference<>();
            final AtomicReference<Throwable> dropletFromOther = new AtomicReference<>();
            final AtomicReference<Throwable> viewFromOther = new AtomicReference<>();
            final Thread intruder = new Thread(() ->
            {
                fromOther.set(catching(() -> mine.allocate(8)));
                dropletFromOther.set(catching(() -> droplet.putLong(0, 1L)));
                viewFromOther.set(catching(() -> view.allocate(8)));
            }, "intruder");
            intruder.start();
            intruder.join();
            for (final Throwable t : new Throwable[]{fromOther.get(), dropletFromOther.get(), viewFromOther.get()})
            {
                assertTrue(t instanceof IllegalStateException, String.valueOf(t));
                assertTrue(t.getMessage().contains("intruder") && t.getMessage().contains(Thread.currentThread().getName()),
                    t.getMessage());
            }
            assertEquals(usedBefore, mine.used(), "the refused calls changed nothing");
            assertTrue(mine.allocate(8) > at, "the owner still uses its lake");
            droplet.putLong(0, 5L);
            lakes.release();

            final AtomicReference<Thread> confinedTo = new AtomicReference<>();
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final Thread next = new Thread(() ->
            {
                final Lake reused = lakes.init();
                confinedTo.set(reused.confinedTo());
                failure.set(catching(() -> reused.allocate(64)));
                lakes.release();
            }, "next-owner");
            next.start();
            next.join();
            assertSame(next, confinedTo.get(), "the pooled lake is confined to its next thread");
            assertNull(failure.get());
        }
    }

    private static Throwable catching(final Runnable action)
    {
        try
        {
            action.run();
            return null;
        }
        catch (final Throwable t)
        {
            return t;
        }
    }

    @Test
    void withNeverTouchesALakeThatWorkReleasedToAnotherThread() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(1).build())
        {
            final Lake lake = lakes.init();
            final AtomicInteger marksOfTheNextOwner = new AtomicInteger(-1);
            lakes.with(l ->
            {
                lakes.release(); // gives the lake back to the pool in the middle of with()
                final Thread next = new Thread(() ->
                {
                    final Lake taken = lakes.init();
                    taken.allocate(64);
                    taken.mark();
                    marksOfTheNextOwner.set(taken.markDepth());
                });
                next.start();
                try
                {
                    next.join();
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
                return null;
            });
            assertEquals(1, marksOfTheNextOwner.get());
            assertEquals(1, lake.markDepth(), "with() left the next owner's mark alone");
            assertEquals(64, lake.used(), "and its allocation");
            lakes.reap(); // or the Cleaner did, at a GC since the next owner ended
            assertEquals(1, lakes.stats().reclaimed(), "the next owner ended without release: its lake came back");
        }
    }

    /** Runs {@code body} on a fresh LakeThread and rethrows what it threw. */
    private static LakeThread runOnLakeThread(final ThrowingRunnable body) throws Exception
    {
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final LakeThread thread = (LakeThread)LakeThread.factory("lake-test", true).newThread(() ->
        {
            try
            {
                body.run();
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        });
        thread.start();
        thread.join();
        if (failure.get() instanceof Error)
        {
            throw (Error)failure.get();
        }
        if (failure.get() != null)
        {
            throw new AssertionError(failure.get());
        }
        return thread;
    }

    private interface ThrowingRunnable
    {
        void run() throws Exception;
    }

    @Test
    void aLakeThreadCarriesItsLakeInItsSlotUntilRelease() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).build())
        {
            runOnLakeThread(() ->
            {
                final LakeThread self = (LakeThread)Thread.currentThread();
                assertNull(self.lease);
                assertThrows(IllegalStateException.class, lakes::current, "no lake before init");
                final Lake lake = lakes.init();
                assertNotNull(self.lease, "init took the fast slot");
                assertSame(lake, lakes.current());
                assertSame(lake, lakes.init());
                assertEquals(0, (int)lakes.with(l ->
                {
                    assertSame(lake, l);
                    l.allocate(128);
                    return 0;
                }));
                assertEquals(0, lake.used(), "with() restored the position through the fast path");
                lakes.release();
                assertNull(self.lease, "release cleared the slot");
                assertThrows(IllegalStateException.class, lakes::current, "no lake after release");
                final Lake again = lakes.init();
                assertSame(lake, again, "the pooled lake came back");
                assertSame(again, lakes.current());
                lakes.release();
            });
            assertEquals(0, lakes.stats().leased());
        }
    }

    @Test
    void aSecondThreadLakesOnTheSameLakeThreadUsesTheThreadLocal() throws Exception
    {
        try (ThreadLakes first = ThreadLakes.builder(CAPACITY).build();
             ThreadLakes second = ThreadLakes.builder(CAPACITY).build())
        {
            runOnLakeThread(() ->
            {
                final LakeThread self = (LakeThread)Thread.currentThread();
                final Lake a = first.init();
                final Object slot = self.lease;
                final Lake b = second.init();
                assertSame(slot, self.lease, "the slot stays with the first");
                assertNotSame(a, b);
                assertSame(a, first.current());
                assertSame(b, second.current());
                first.release();
                assertNull(self.lease);
                assertSame(b, second.current(), "the second's lake is untouched by the first's release");
                assertThrows(IllegalStateException.class, first::current);
                second.release();
                assertThrows(IllegalStateException.class, second::current);
            });
        }
    }

    @Test
    void aLakeThreadThatDiesWithoutReleaseGivesItsLakeBackAndItsSlotIsCleared() throws Exception
    {
        final AtomicReference<Lake> used = new AtomicReference<>();
        // the reap, not the Cleaner; and no earlier test's leak freed under the exact count (the hold collects)
        try (AutoCloseable cleanerHeld = CleanerHold.hold())
        {
            final long baseline = NativeMemory.reservedBytes();
            final ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(1).autoInit(true).build();
            final LakeThread dead = runOnLakeThread(() -> used.set(lakes.current()));
            assertNotNull(dead.lease, "the slot was set while it ran");
            assertEquals(1, lakes.reap());
            assertNull(dead.lease, "reclaiming a dead thread's lake clears its slot");
            assertEquals(1, lakes.stats().pooled());
            runOnLakeThread(() ->
            {
                assertSame(used.get(), lakes.current(), "the next LakeThread reuses the pooled lake");
                assertEquals(0, lakes.current().used());
                lakes.release();
            });
            lakes.close();
            assertEquals(baseline, NativeMemory.reservedBytes());
        }
    }

    @Test
    void lakeThreadFactoryNamesThreadsAndSetsDaemon()
    {
        final Thread a = LakeThread.factory("pool", true).newThread(() -> { });
        final java.util.concurrent.ThreadFactory factory = LakeThread.factory("io", false);
        final Thread b = factory.newThread(() -> { });
        final Thread c = factory.newThread(() -> { });
        assertInstanceOf(LakeThread.class, a);
        assertEquals("pool-1", a.getName());
        assertTrue(a.isDaemon());
        assertEquals("io-1", b.getName());
        assertEquals("io-2", c.getName());
        assertFalse(b.isDaemon());
        assertThrows(NullPointerException.class, () -> LakeThread.factory(null, true));
    }

    @Test
    void strictModeStillConfinesALakeThreadsLake() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).strict(true).build())
        {
            final AtomicReference<Lake> escaped = new AtomicReference<>();
            runOnLakeThread(() ->
            {
                escaped.set(lakes.init());
                escaped.get().allocate(8);
                final AtomicReference<Throwable> fromOther = new AtomicReference<>();
                final Thread other = new Thread(() ->
                {
                    try
                    {
                        escaped.get().allocate(8);
                    }
                    catch (final Throwable t)
                    {
                        fromOther.set(t);
                    }
                });
                other.start();
                other.join();
                assertInstanceOf(IllegalStateException.class, fromOther.get());
                lakes.release();
            });
        }
    }
}
