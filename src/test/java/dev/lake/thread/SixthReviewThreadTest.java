package dev.lake.thread;

import dev.lake.linear.Lake;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bugs a sixth review of the thread lakes found, each test failing on the code before its fix.
 */
class SixthReviewThreadTest
{
    /**
     * init() undoes a non-strict former owner's misuse of a pooled lake after release() (marks, sandboxes, zeroing),
     * but not a close: the next thread's init() polled the closed lake and threw IllegalStateException ("is
     * closed") from its reset, so 'init() to make sure I have a lake' failed for a thread that did nothing wrong.
     * init() now skips a closed pooled lake (counted in stats().closed()) and takes or builds another.
     */
    @Test
    void initSkipsAPooledLakeItsFormerOwnerClosedAfterRelease()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(2).build())
        {
            final Lake first = lakes.init();
            lakes.release();
            first.close(); // misuse after release (non-strict lets it through)
            assertEquals(1, lakes.stats().pooled());

            final Lake next = lakes.init();
            assertTrue(next.isOpen());
            assertNotSame(first, next);
            next.allocate(64);
            assertEquals(1, lakes.stats().closed(), "the closed lake is counted");
            assertEquals(0, lakes.stats().pooled());
            lakes.release();
            assertSame(next, lakes.init(), "a clean lake is still pooled and reused");
            lakes.release();
        }
    }

    /**
     * The same for a confinement: a non-strict former owner that confined the pooled lake to a thread after release()
     * made the next owner's init() throw the confinement's IllegalStateException from its reset, and the lake it had
     * polled was lost (neither leased nor pooled; only the GC safety net freed it, counted as a leak). init() now
     * lifts any confinement in non-strict mode (and confines to the caller in strict mode, as before).
     */
    @Test
    void initLiftsAConfinementAFormerOwnerSetAfterRelease()
    {
        final Thread elsewhere = new Thread(() -> { }, "elsewhere");
        try (ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(2).build())
        {
            final Lake first = lakes.init();
            lakes.release();
            first.confineTo(elsewhere); // misuse after release

            final Lake next = lakes.init();
            assertSame(first, next);
            assertNull(next.confinedTo(), "handed out confined to no thread, as built");
            next.allocate(64);
            lakes.release();
            assertEquals(1, lakes.stats().pooled());
            assertEquals(0, lakes.stats().leased());
        }
    }

    /**
     * Coverage (no bug found): close() racing with many threads (more than cores) that init, use and release their
     * lakes, in strict and non-strict mode. Once quiet, no lake is leased or pooled and every lake built was closed
     * exactly once (created == closed); no thread saw another's bytes; init() after close() throws.
     */
    @Test
    void closeRacingWithInitAndReleaseLeavesExactCounts() throws Exception
    {
        for (final boolean strict : new boolean[] {false, true})
        {
            final ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(3).strict(strict).build();
            final int threads = 24;
            final CountDownLatch warm = new CountDownLatch(threads);
            final AtomicInteger refused = new AtomicInteger();
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final List<Thread> all = new ArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                final long mine = t;
                final Thread thread = new Thread(() ->
                {
                    try
                    {
                        for (int i = 0; ; i++)
                        {
                            if (i == 20)
                            {
                                warm.countDown();
                            }
                            final Lake lake;
                            try
                            {
                                lake = lakes.init();
                            }
                            catch (final IllegalStateException closed)
                            {
                                refused.incrementAndGet();
                                return;
                            }
                            final int at = lake.allocate(64);
                            lake.buffer().putLong(at, mine);
                            Thread.yield();
                            if (lake.buffer().getLong(at) != mine)
                            {
                                throw new AssertionError("another thread wrote into this thread's lake");
                            }
                            lakes.release();
                        }
                    }
                    catch (final Throwable ex)
                    {
                        failure.compareAndSet(null, ex);
                        warm.countDown();
                    }
                });
                all.add(thread);
                thread.start();
            }
            warm.await();
            lakes.close();
            for (final Thread thread : all)
            {
                thread.join();
            }
            assertNull(failure.get(), () -> "strict " + strict + ": " + failure.get());
            assertEquals(threads, refused.get());
            final ThreadLakes.Stats stats = lakes.stats();
            assertEquals(0, stats.leased(), "strict " + strict + ": " + stats);
            assertEquals(0, stats.pooled(), "strict " + strict + ": " + stats);
            assertEquals(stats.created(), stats.closed(), "strict " + strict + ": " + stats);
            assertThrows(IllegalStateException.class, lakes::init);
        }
    }
}
