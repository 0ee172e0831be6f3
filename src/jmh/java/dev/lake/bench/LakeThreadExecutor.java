package dev.lake.bench;

import dev.lake.thread.LakeThread;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A JMH executor whose worker threads are {@link LakeThread}s, for benchmarks that measure the thread-lake fast
 * path as an application running on such threads sees it. Selected per benchmark with
 * {@code -Djmh.executor=CUSTOM -Djmh.executor.class=dev.lake.bench.LakeThreadExecutor} (JMH calls this
 * constructor), as Netty's microbenchmarks do for {@code FastThreadLocalThread}.
 */
public final class LakeThreadExecutor extends ThreadPoolExecutor
{
    /**
     * @param maxThreads JMH's worker count.
     * @param prefix     JMH's thread name prefix.
     */
    public LakeThreadExecutor(final int maxThreads, final String prefix)
    {
        super(maxThreads, maxThreads, 1, TimeUnit.DAYS, new LinkedBlockingQueue<>(), LakeThread.factory(prefix, true));
    }
}
