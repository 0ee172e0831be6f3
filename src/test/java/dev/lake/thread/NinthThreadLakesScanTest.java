package dev.lake.thread;

import dev.lake.testing.CleanerHold;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The dead-owner scan of {@link ThreadLakes#init()} costs O(1) amortized however many threads hold lakes (virtual
 * threads make tens of thousands of leases at once ordinary; a scan of every lease on every init made N threads
 * taking lakes cost O(N^2): 40,000 virtual threads took 34 s). Counted, not timed: the leases the scans looked at.
 */
class NinthThreadLakesScanTest
{
    private static final int HOLDERS = 200;
    private static final int INITS = 1_000;

    @Test
    void initLooksAtAFewLeasesPerCallWhenManyThreadsHoldLakes() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(64).poolBound(0).build())
        {
            final CountDownLatch taken = new CountDownLatch(HOLDERS);
            final CountDownLatch end = new CountDownLatch(1);
            final List<Thread> holders = new ArrayList<>();
            for (int i = 0; i < HOLDERS; i++)
            {
                final Thread t = new Thread(() ->
                {
                    lakes.init();
                    taken.countDown();
                    try
                    {
                        end.await();
                    }
                    catch (final InterruptedException e)
                    {
                        Thread.currentThread().interrupt();
                    }
                    lakes.release();
                });
                t.start();
                holders.add(t);
            }
            taken.await();
            final long before = lakes.leasesScanned();
            for (int i = 0; i < INITS; i++)
            {
                lakes.init();
                lakes.release();
            }
            final long scanned = lakes.leasesScanned() - before;
            end.countDown();
            for (final Thread t : holders)
            {
                t.join();
            }
            // a scan of 200 leases on one init in 50: 4 a call; a scan on every init would be 200 a call
            assertTrue(scanned <= 5L * INITS + 2L * HOLDERS,
                INITS + " inits with " + HOLDERS + " leases held looked at " + scanned + " leases");
            assertTrue(scanned > 0, "the scan still runs above 64 leases");
            assertEquals(0, lakes.stats().leased());
            assertEquals(0, lakes.stats().reclaimed(), "every holder gave its lake back itself");
        }
    }

    @Test
    void withAFewLeasesEveryInitScansThemAll() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(64).poolBound(0).build();
             AutoCloseable cleanerHeld = CleanerHold.hold()) // the scan, not the Cleaner
        {
            final Thread dead = new Thread(lakes::init);
            dead.start();
            dead.join();
            assertEquals(1, lakes.stats().leased(), "ended without release, not yet reclaimed");
            lakes.init(); // at most 64 leases held: this init scans them all and finds the dead owner
            assertEquals(1, lakes.stats().reclaimed());
            assertEquals(1, lakes.leasesScanned());
            lakes.release();
            java.lang.ref.Reference.reachabilityFence(dead); // reclaimed by the scan, not by the thread's Cleaner
        }
    }
}
