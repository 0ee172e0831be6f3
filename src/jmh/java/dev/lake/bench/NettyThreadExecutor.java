package dev.lake.bench;

import io.netty.util.concurrent.DefaultThreadFactory;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A JMH executor whose worker threads are Netty's own {@code FastThreadLocalThread}s, for the tuned Netty pooled
 * peers: Netty allocates on its event-loop threads, where the allocator's thread cache and its recycler are an
 * indexed {@code FastThreadLocal} read instead of a {@link ThreadLocal} lookup, and Netty's own microbenchmarks run
 * JMH this way for that reason. On a plain JMH thread the same round trip costs about a third more. Selected per
 * benchmark with {@code -Djmh.executor=CUSTOM -Djmh.executor.class=dev.lake.bench.NettyThreadExecutor}, as
 * {@link LakeThreadExecutor} is for Lake's thread lakes.
 */
public final class NettyThreadExecutor extends ThreadPoolExecutor
{
    /**
     * @param maxThreads JMH's worker count.
     * @param prefix     JMH's thread name prefix.
     */
    public NettyThreadExecutor(final int maxThreads, final String prefix)
    {
        super(maxThreads, maxThreads, 1, TimeUnit.DAYS, new LinkedBlockingQueue<>(),
            new DefaultThreadFactory(prefix, true));
    }
}
