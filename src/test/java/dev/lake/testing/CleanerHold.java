package dev.lake.testing;

import dev.lake.memory.NativeMemory;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Holds the shared {@link NativeMemory#cleaner()}'s thread, for tests of what a scan reclaims (a thread lake's
 * dead-owner scan, {@code reap()}): each lease is also watched by a {@code Cleaner} that fires at the first GC after
 * its thread ended, and would otherwise race the scan under test. Keep a hold short: no region's safety net runs
 * while it lasts.
 */
public final class CleanerHold
{
    /** Lets the Cleaner go on when closed; closing it again does nothing. */
    public interface Key extends AutoCloseable
    {
        /** Releases the hold. */
        @Override
        void close();
    }

    private CleanerHold()
    {
    }

    /**
     * Blocks the Cleaner's thread inside a cleaning action of its own (GCs until it runs) and returns the key.
     *
     * @return closing it lets the Cleaner go on (idempotent).
     * @throws InterruptedException if interrupted while waiting for the Cleaner to take the action.
     */
    public static Key hold() throws InterruptedException
    {
        final CountDownLatch holding = new CountDownLatch(1);
        final CountDownLatch held = new CountDownLatch(1);
        NativeMemory.cleaner().register(new Object(), () ->
        {
            holding.countDown();
            try
            {
                held.await();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        });
        do
        {
            System.gc();
        }
        while (!holding.await(10, TimeUnit.MILLISECONDS));
        return held::countDown;
    }
}
