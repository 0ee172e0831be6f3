package dev.lake.thread;

import dev.lake.linear.Lake;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bugs a third review of the thread lakes found, each test failing on the code before its fix.
 */
class ThreadThirdReviewTest
{
    private static final int CAPACITY = 64 * 1024;

    /**
     * A pooled lake was handed to the next thread with the zeroing switch its former owner left on: the next owner,
     * which never asked for zeroing, had every allocation wipe memory (O(size)) and lost the allocation fast path,
     * depending on which pooled lake it drew. init() now hands out every lake as built (zeroing off), after the
     * reset has wiped what the former owner left.
     */
    @Test
    void aPooledLakeDoesNotCarryItsFormerOwnersZeroingSwitch() throws Exception
    {
        for (final boolean strict : new boolean[] {false, true})
        {
            try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(1).strict(strict).build())
            {
                final AtomicReference<Lake> first = new AtomicReference<>();
                final Thread former = new Thread(() ->
                {
                    final Lake lake = lakes.init();
                    first.set(lake);
                    lake.setZeroing(true); // for its own secrets
                    lake.buffer().putLong(lake.allocate(8), 0x5EC7E7L);
                    lakes.release();
                }, "former-owner");
                former.start();
                former.join();

                final AtomicBoolean same = new AtomicBoolean();
                final AtomicBoolean zeroing = new AtomicBoolean(true);
                final AtomicReference<Long> leftover = new AtomicReference<>();
                final Thread next = new Thread(() ->
                {
                    final Lake lake = lakes.init();
                    same.set(lake == first.get());
                    zeroing.set(lake.isZeroing());
                    leftover.set(lake.buffer().getLong(0));
                    lakes.release();
                }, "next-owner");
                next.start();
                next.join();

                assertTrue(same.get(), "the pooled lake was reused");
                assertFalse(zeroing.get(), "strict " + strict + ": the next owner got its predecessor's zeroing switch");
                assertEquals(0L, leftover.get(), "the former owner's zeroing reset wiped its bytes");
            }
        }
    }

    /**
     * Builder.poolBound accepts any bound that is not negative, and Integer.MAX_VALUE is the natural way to ask for
     * an unbounded pool; but the pool was an ArrayBlockingQueue, which allocates its whole array up front: build()
     * threw OutOfMemoryError ("Requested array size exceeds VM limit"), and a bound of a few million took tens of
     * MiB of heap for a pool that holds a handful of lakes. A large bound now gets a queue that grows as lakes come.
     * In a child JVM with a 64 MiB heap: the error used to end the test run's own JVM.
     */
    @Test
    void aHugePoolBoundBuildsAndPoolsLakes() throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.run(HugePoolBoundProbe.class, true);
        assertTrue(out.contains("probe: pooled " + Integer.MAX_VALUE + ", " + (Integer.MAX_VALUE - 8) + ", " + (1 << 24)),
            out);
    }

    /** The child JVM of {@link #aHugePoolBoundBuildsAndPoolsLakes()}. */
    public static final class HugePoolBoundProbe
    {
        private HugePoolBoundProbe()
        {
        }

        public static void main(final String[] args)
        {
            final StringBuilder pooled = new StringBuilder();
            try
            {
                for (final int bound : new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE - 8, 1 << 24})
                {
                    try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(bound).build())
                    {
                        final Lake lake = lakes.init();
                        lake.allocate(64);
                        lakes.release();
                        final boolean reused = lakes.stats().pooled() == 1 && lakes.init() == lake && lake.used() == 0;
                        lakes.release();
                        if (lakes.poolBound() == bound && reused)
                        {
                            pooled.append(pooled.length() == 0 ? "" : ", ").append(bound);
                        }
                    }
                }
                System.out.println("probe: pooled " + pooled);
            }
            catch (final Throwable t)
            {
                System.out.println("probe: failed after [" + pooled + "]: " + t);
            }
            System.out.flush();
        }
    }

    /**
     * Coverage of the lifecycle contract (no bug found): close() while lakes are leased, by threads that then
     * release, die without release, or race init() against the close. Once quiet, nothing is leased or pooled,
     * every lake built was closed exactly once, each dead owner was reclaimed once, and the native bytes are back.
     */
    @Test
    void closeRacingLeasesReleasesAndThreadDeathLeavesExactCounters() throws Exception
    {
        final long baseline = dev.lake.memory.NativeMemory.reservedBytes();
        final ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(2).build();
        final int threads = 16;
        final java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads + 1);
        final java.util.concurrent.atomic.AtomicInteger died = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.List<Thread> all = new java.util.ArrayList<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int t = 0; t < threads; t++)
        {
            final int id = t;
            final Thread thread = new Thread(() ->
            {
                try
                {
                    start.await();
                    for (int i = 0; i < 200; i++)
                    {
                        final Lake lake;
                        try
                        {
                            lake = lakes.init();
                        }
                        catch (final IllegalStateException closed)
                        {
                            return; // closed: refused, nothing leased
                        }
                        lakes.with(l -> l.allocate(64));
                        if (id % 4 == 0 && i == 100)
                        {
                            died.incrementAndGet();
                            return; // dies holding its lake
                        }
                        assertEquals(0, lake.used());
                        lakes.release();
                    }
                }
                catch (final Throwable e)
                {
                    failure.compareAndSet(null, e);
                }
            }, "lease-" + t);
            all.add(thread);
            thread.start();
        }
        start.await();
        lakes.close();
        for (final Thread thread : all)
        {
            thread.join();
        }
        assertNull(failure.get());
        lakes.reap();
        final ThreadLakes.Stats stats = lakes.stats();
        assertEquals(0, stats.leased(), stats.toString());
        assertEquals(0, stats.pooled(), stats.toString());
        assertEquals(stats.created(), stats.closed(), stats.toString());
        assertEquals(died.get(), stats.reclaimed(), stats.toString());
        assertEquals(baseline, dev.lake.memory.NativeMemory.reservedBytes());
        assertThrows(IllegalStateException.class, lakes::init);
    }

    /**
     * -Dlake.threadLake.capacity=0 (or any value out of range) made the first defaults() throw
     * ExceptionInInitializerError and every later one NoClassDefFoundError for the rest of the process. Each call
     * now throws IllegalStateException naming the property, and a builder still works. In a child JVM, since the
     * property is read once per process.
     */
    @Test
    void anOutOfRangeDefaultCapacityPropertyIsNamedOnEveryCallAndBreaksNothingElse() throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.run(BadDefaultCapacityProbe.class, true);
        assertTrue(out.startsWith("exit 0"), out);
        assertTrue(out.contains("first: IllegalStateException -Dlake.threadLake.capacity=0 is out of range"), out);
        assertTrue(out.contains("second: IllegalStateException -Dlake.threadLake.capacity=0 is out of range"), out);
        assertTrue(out.contains("builder: 64"), out);
    }

    /** Sets the property before ThreadLakes is loaded, then calls defaults() twice and a builder once. */
    public static final class BadDefaultCapacityProbe
    {
        public static void main(final String[] args)
        {
            System.setProperty("lake.threadLake.capacity", "0");
            for (final String call : new String[] {"first", "second"})
            {
                try
                {
                    ThreadLakes.defaults();
                    System.out.println(call + ": no exception");
                }
                catch (final Throwable t)
                {
                    System.out.println(call + ": " + t.getClass().getSimpleName() + " " + t.getMessage());
                }
            }
            try (ThreadLakes lakes = ThreadLakes.builder(64).build())
            {
                System.out.println("builder: " + lakes.init().capacity());
                lakes.release();
            }
            System.out.flush();
        }
    }

    /**
     * A thread that closed its own leased lake kept getting the closed lake from init() until it called release(),
     * so "call init() to make sure I have a lake" handed back a lake whose every use throws. init() now gives that
     * lease back (counted as a closed lake) and leases a working one.
     */
    @Test
    void initReplacesALakeItsThreadClosed()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(256).build())
        {
            final Lake first = lakes.init();
            first.close();
            assertSame(first, lakes.current(), "current() is one read: it still returns the closed lake");
            final Lake second = lakes.init();
            assertNotSame(first, second);
            assertTrue(second.isOpen());
            assertEquals(0, second.allocate(8));
            assertSame(second, lakes.current());
            assertEquals(1, lakes.stats().leased());
            assertEquals(1, lakes.stats().closed());
            lakes.release();
            assertEquals(0, lakes.stats().leased());
            assertEquals(1, lakes.stats().pooled());
        }
    }
}
