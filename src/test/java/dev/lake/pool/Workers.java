package dev.lake.pool;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The hammer tests' harness: the same body on several threads released together, so that they overlap as much as
 * the machine allows, all joined before the test checks its invariants.
 */
final class Workers
{
    /** One worker's body; {@code id} runs from 0 to the thread count - 1. */
    interface Body
    {
        void run(int id) throws Exception;
    }

    private Workers()
    {
    }

    /**
     * Runs {@code body} on {@code threads} threads and waits for all of them.
     *
     * @throws AssertionError carrying the first failure of any worker, after every worker ended.
     */
    static void run(final int threads, final Body body) throws InterruptedException
    {
        final AtomicReference<Throwable> error = new AtomicReference<>();
        final CountDownLatch start = new CountDownLatch(1);
        final List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++)
        {
            final int id = t;
            final Thread thread = new Thread(() ->
            {
                try
                {
                    start.await();
                    body.run(id);
                }
                catch (final Throwable ex)
                {
                    error.compareAndSet(null, ex);
                }
            }, "hammer-" + id);
            started.add(thread);
            thread.start();
        }
        start.countDown();
        for (final Thread thread : started)
        {
            thread.join();
        }
        if (error.get() != null)
        {
            throw new AssertionError("worker failed: " + error.get(), error.get());
        }
    }

    /** One step of a {@link #race}: a writer's whole cycle (claim, publish, give back) or one reader's poll. */
    interface Step
    {
        void run() throws Exception;
    }

    /**
     * The stale-handle race: worker 0 repeats {@code writerCycle} (typically claim a handle, publish it, release it)
     * until {@code seconds} pass or {@code stop} is set, then sets {@code stop}; the other {@code threads - 1} repeat
     * {@code readerStep} (act on the handle published last) until {@code stop}. A reader that sees a wrong answer
     * records it and sets {@code stop}.
     */
    static void race(final int threads, final int seconds, final AtomicBoolean stop, final Step writerCycle,
        final Step readerStep) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        run(threads, id ->
        {
            if (id == 0)
            {
                try
                {
                    while (!stop.get() && System.nanoTime() < deadline)
                    {
                        writerCycle.run();
                    }
                }
                finally
                {
                    stop.set(true);
                }
                return;
            }
            while (!stop.get())
            {
                readerStep.run();
            }
        });
    }
}
