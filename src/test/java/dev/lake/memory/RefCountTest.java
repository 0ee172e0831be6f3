package dev.lake.memory;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

class RefCountTest
{
    @Test
    void lastReleaseIsReportedOnceAndDoubleReleaseThrows()
    {
        final RefCount count = new RefCount();
        count.retain();
        assertEquals(2, count.refCount());
        assertFalse(count.release());
        assertTrue(count.release());
        assertEquals(0, count.refCount());
        assertThrows(StaleHandleException.class, count::release);
        assertThrows(StaleHandleException.class, count::retain);
        assertEquals(0, count.refCount());
    }

    @Test
    void concurrentRetainAndReleaseReachZeroExactlyOnce() throws Exception
    {
        final int threads = 8;
        final int perThread = 100_000;
        for (int round = 0; round < 20; round++)
        {
            final RefCount count = new RefCount();
            final AtomicInteger lastReleases = new AtomicInteger();
            final CountDownLatch start = new CountDownLatch(1);
            final Thread[] workers = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                workers[t] = new Thread(() ->
                {
                    try
                    {
                        start.await();
                    }
                    catch (final InterruptedException ex)
                    {
                        return;
                    }
                    for (int i = 0; i < perThread; i++)
                    {
                        count.retain();
                        if (count.release())
                        {
                            lastReleases.incrementAndGet();
                        }
                    }
                });
                workers[t].start();
            }
            start.countDown();
            for (final Thread worker : workers)
            {
                worker.join();
            }
            assertEquals(0, lastReleases.get(), "the owner's reference was never dropped");
            assertEquals(1, count.refCount());
            assertTrue(count.release());
        }
    }
}
