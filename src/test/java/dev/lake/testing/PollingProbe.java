package dev.lake.testing;

import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;

/**
 * The body of a child-JVM probe for a status query another thread polls in a loop ({@code isClosed()},
 * {@code isReleased()}...): a plain read of the state is loop-invariant, so the JIT may hoist it out of the poller's
 * loop and the poller never sees the change. Run in a child JVM of its own ({@link ChildJvm}), so that the poller's
 * call site sees one query only and the JIT compiles it into the loop as it would a caller's.
 */
public final class PollingProbe
{
    private PollingProbe()
    {
    }

    /**
     * Starts a thread that spins while {@code unchanged} holds, lets its loop get compiled (half a second), runs
     * {@code change} on the calling thread and waits up to 10 s for the poller.
     *
     * @param unchanged the query, true until the change is seen.
     * @param change    what changes the state.
     * @return {@code "saw it"}, or {@code "never saw it"} when the poller spun four billion times without seeing it.
     * @throws InterruptedException if interrupted while waiting.
     */
    public static String pollWhile(final BooleanSupplier unchanged, final Runnable change) throws InterruptedException
    {
        final long bound = 4_000_000_000L; // so that a poller that cannot see the change ends by itself
        final CountDownLatch started = new CountDownLatch(1);
        final String[] outcome = new String[1];
        final Thread poller = new Thread(() ->
        {
            started.countDown();
            long spins = 0;
            while (unchanged.getAsBoolean() && spins < bound)
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
        change.run();
        poller.join(10_000);
        return outcome[0];
    }
}
