package dev.lake.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * Netty's {@link PooledByteBufAllocator}, the pooled off-heap allocator a Java user would pick instead of an
 * arena: 1,000 direct buffers of 8 B, a long written in each, then all released (the peer of
 * ArenaBench.alloc1000x8AndReset). Tuned: the benchmark thread is a Netty {@code FastThreadLocalThread}
 * ({@link NettyThreadExecutor}), thread caches for every thread and leak detection off. Defaults: Netty as
 * shipped on a plain JMH thread (no thread cache for non-Netty threads in 4.1, sampled leak detection).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@State(Scope.Thread)
public class NettyPooledBench
{
    private static final int COUNT = 1000;

    private final ByteBuf[] held = new ByteBuf[COUNT];
    private PooledByteBufAllocator allocator;

    @Setup
    public void setup()
    {
        allocator = PooledByteBufAllocator.DEFAULT;
    }

    private long allocateWriteRelease()
    {
        final ByteBuf[] held = this.held;
        final PooledByteBufAllocator allocator = this.allocator;
        for (int i = 0; i < COUNT; i++)
        {
            final ByteBuf buf = allocator.directBuffer(8);
            buf.writeLong(i);
            held[i] = buf;
        }
        long sum = 0;
        for (int i = 0; i < COUNT; i++)
        {
            sum += held[i].getLong(0);
            held[i].release();
            held[i] = null;
        }
        return sum;
    }

    /** Tuned: run on Netty's own threads (FastThreadLocalThread), thread cache for all threads, leak detection off. */
    @Benchmark
    @Fork(value = 1,
        jvmArgsPrepend = {"-Djmh.executor=CUSTOM", "-Djmh.executor.class=dev.lake.bench.NettyThreadExecutor"},
        jvmArgsAppend = {
        "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
        "-Dio.netty.allocator.useCacheForAllThreads=true",
        "-Dio.netty.leakDetection.level=disabled"})
    public long directBuffer1000x8AndRelease()
    {
        return allocateWriteRelease();
    }

    /** Netty defaults. */
    @Benchmark
    @Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
    public long directBuffer1000x8AndReleaseDefaults()
    {
        return allocateWriteRelease();
    }
}
