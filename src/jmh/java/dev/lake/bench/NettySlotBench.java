package dev.lake.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * Peer of {@link FixedArenaBench}: Netty's {@link PooledByteBufAllocator} doing the same units of work,
 * {@code directBuffer(size)} + write + {@code release()}. The class-level fork runs the benchmark threads as Netty's
 * own {@code FastThreadLocalThread}s ({@link NettyThreadExecutor}: the thread cache and the recycler are then an
 * indexed read, not a {@code ThreadLocal} lookup), gives every thread a thread cache ({@code useCacheForAllThreads})
 * and turns leak detection off, Netty's fastest setting; the {@code *Defaults} methods fork with Netty's defaults on
 * plain JMH threads (no cache for non-Netty threads, simple leak sampling).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1,
    // Netty's own threads (FastThreadLocalThread), as Netty runs its allocator; prepended, as in
    // ThreadLakeOnLakeThreadBench, so a command-line -jvmArgsAppend cannot drop it
    jvmArgsPrepend = {"-Djmh.executor=CUSTOM", "-Djmh.executor.class=dev.lake.bench.NettyThreadExecutor"},
    jvmArgsAppend = {
        "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
        "-Dio.netty.allocator.useCacheForAllThreads=true",
        "-Dio.netty.leakDetection.level=disabled"})
public class NettySlotBench
{
    /** Writes of 256 B, 1 KiB and 4 KiB into 4 KiB buffers. */
    @State(Scope.Benchmark)
    public static class Sized
    {
        @Param({"256", "1024", "4096"})
        int size;
        byte[] payload;

        @Setup
        public void setup()
        {
            payload = new byte[size];
        }
    }

    /** The auto-spill peer: a 1 KiB buffer written with 2 KiB or 8 KiB grows (Netty reallocates). */
    @State(Scope.Benchmark)
    public static class Spill
    {
        @Param({"2048", "8192"})
        int size;
        byte[] payload;

        @Setup
        public void setup()
        {
            payload = new byte[size];
        }
    }

    private static long roundTrip()
    {
        final ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(4096);
        buf.writeLong(42L);
        final long value = buf.getLong(0);
        buf.release();
        return value;
    }

    /** 4 KiB direct buffer, writeLong, release: 1 Netty thread, thread cache on. */
    @Benchmark
    @Threads(1)
    public long write8()
    {
        return roundTrip();
    }

    /** The same with 2 threads. */
    @Benchmark
    @Threads(2)
    public long write8x2t()
    {
        return roundTrip();
    }

    /** Netty defaults (no thread cache for non-Netty threads, leak sampling on), 1 thread. */
    @Benchmark
    @Threads(1)
    @Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
    public long write8Defaults()
    {
        return roundTrip();
    }

    /** Netty defaults, 2 threads. */
    @Benchmark
    @Threads(2)
    @Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
    public long write8Defaultsx2t()
    {
        return roundTrip();
    }

    /** 4 KiB direct buffer, write {@code size} bytes, release. */
    @Benchmark
    @Threads(1)
    public int writeSized(final Sized s)
    {
        final ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(4096);
        buf.writeBytes(s.payload);
        final int length = buf.readableBytes();
        buf.release();
        return length;
    }

    /** 1 KiB direct buffer that grows to {@code size} bytes, release. */
    @Benchmark
    @Threads(1)
    public int spill(final Spill s)
    {
        final ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(1024);
        buf.writeBytes(s.payload);
        final int length = buf.readableBytes();
        buf.release();
        return length;
    }

    /** Each thread's position in {@link BuddyArenaBench#CYCLE}. */
    @State(Scope.Thread)
    public static class Cursor
    {
        int next;
        final byte[] payload = new byte[16384];

        int size()
        {
            final int size = BuddyArenaBench.CYCLE[next];
            next = (next + 1) & (BuddyArenaBench.CYCLE.length - 1);
            return size;
        }
    }

    private static int cycleRoundTrip(final Cursor c)
    {
        final int size = c.size();
        final ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(size);
        buf.writeBytes(c.payload, 0, size);
        final int length = buf.readableBytes();
        buf.release();
        return length;
    }

    /** Peer of {@link BuddyArenaBench#objectCycle}: sizes cycling 192 B .. 16 KiB, 1 thread, thread cache on. */
    @Benchmark
    @Threads(1)
    public int cycle(final Cursor c)
    {
        return cycleRoundTrip(c);
    }

    /** The same with 2 threads. */
    @Benchmark
    @Threads(2)
    public int cycleX2t(final Cursor c)
    {
        return cycleRoundTrip(c);
    }
}
