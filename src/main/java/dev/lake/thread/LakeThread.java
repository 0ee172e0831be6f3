package dev.lake.thread;

import java.util.Objects;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A thread that carries its thread lake in a field, so that {@link ThreadLakes#current()} on it is a type
 * check and a field read instead of a {@link ThreadLocal} lookup (the pattern of Netty's
 * {@code FastThreadLocalThread}). Run latency-critical loops on these threads; any other thread still works,
 * through the {@code ThreadLocal}.
 *
 * <p>The field holds the lease of the first {@link ThreadLakes} that hands this thread a lake (usually the
 * process-wide {@link ThreadLakes#defaults()} or the application's one instance); lakes of further
 * {@code ThreadLakes} on the same thread are found through the {@code ThreadLocal}, as on any thread. The
 * field is written by this thread (on {@code init()} and {@code release()}) and read only by it; once the thread has
 * died, the {@code Cleaner} or a scan that gives its lake back clears it.
 */
public class LakeThread extends Thread
{
    /** The lease of the first ThreadLakes that handed this thread a lake; null when none holds the slot. */
    ThreadLakes.Lease lease;

    /**
     * A thread that runs {@code task}.
     *
     * @param task what the thread runs.
     * @param name the thread's name.
     * @throws NullPointerException if {@code name} is null.
     */
    public LakeThread(final Runnable task, final String name)
    {
        super(task, name);
    }

    /**
     * A factory of {@link LakeThread}s named {@code prefix-1}, {@code prefix-2}, ..., for executors whose
     * threads use thread lakes. Costs one thread per call, nothing more.
     *
     * @param prefix name prefix.
     * @param daemon whether the threads are daemon threads.
     * @return the factory.
     * @throws NullPointerException if {@code prefix} is null.
     */
    public static ThreadFactory factory(final String prefix, final boolean daemon)
    {
        Objects.requireNonNull(prefix, "prefix");
        final AtomicInteger count = new AtomicInteger();
        return task ->
        {
            final LakeThread thread = new LakeThread(task, prefix + '-' + count.incrementAndGet());
            thread.setDaemon(daemon);
            return thread;
        };
    }
}
