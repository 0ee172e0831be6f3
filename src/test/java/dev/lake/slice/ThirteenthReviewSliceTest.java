package dev.lake.slice;

import dev.lake.testing.ChildJvm;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Thirteenth review of the slice allocator: each test failed on the code before its fix.
 */
class ThirteenthReviewSliceTest extends NativeBaselineTest
{
    /**
     * {@code isClosed()} read a plain field: a monitor thread polling it while the allocating thread shuts down (the
     * sibling of the ninth round's {@code SharedHandle.isReleased()} and of the pool's {@code isClosed()}, which is
     * volatile) had the read hoisted out of its loop by the JIT and never saw the close. A child JVM polls while its
     * main thread closes.
     */
    @Test
    void aThreadPollingIsClosedSeesTheOwnersClose() throws Exception
    {
        final String output = ChildJvm.run(ClosePollingProbe.class, true);
        assertTrue(output.contains("isClosed until closed: saw it"), output);
    }

    /** Polls {@code isClosed()} on a thread of its own until it changes; prints whether it saw the change. */
    static final class ClosePollingProbe
    {
        public static void main(final String[] args) throws Exception
        {
            final SliceAllocator allocator = SliceAllocator.builder(ElementLayout.LONG).build();
            allocator.allocateLongs(4, i -> i).release(); // binds the allocator to this (the main) thread
            final long bound = 4_000_000_000L; // so that a poller that cannot see the change ends by itself
            final CountDownLatch started = new CountDownLatch(1);
            final String[] outcome = new String[1];
            final Thread poller = new Thread(() ->
            {
                started.countDown();
                long spins = 0;
                while (!allocator.isClosed() && spins < bound)
                {
                    spins++;
                }
                outcome[0] = spins < bound ? "saw it" : "never saw it";
            });
            poller.setDaemon(true);
            poller.start();
            started.await();
            final long warm = System.nanoTime() + 500_000_000L; // the poller's loop gets compiled meanwhile
            while (System.nanoTime() < warm)
            {
                Thread.onSpinWait();
            }
            allocator.close();
            poller.join(10_000);
            System.out.println("isClosed until closed: " + outcome[0]);
        }
    }
}
