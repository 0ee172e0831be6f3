package dev.lake.bench;

import dev.lake.pool.Buffer;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.Bytes;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * {@link BuddyArena}: one unit of work is allocate + write the requested bytes + freeze + release, with the request
 * size cycling 192 B, 256 B, 1 KiB, 4 KiB, 16 KiB, 512 B, 2 KiB, 8 KiB (each thread its own cursor).
 * <ul>
 *   <li>{@code objectCycle*}: the checked object tier ({@code Buffer} -> {@code Bytes}), leak detection on.</li>
 *   <li>{@code handleCycle*}: the zero-garbage tier ({@code long} handles): 0 B/op.</li>
 *   <li>{@code *NoCache}: the free-block cache off: every operation takes the lock and splits or coalesces.</li>
 *   <li>{@code handleSized}: one fixed size (256 B, 1 KiB, 4 KiB), beside arena-alligator's published buddy round
 *   trips.</li>
 * </ul>
 * Peer doing the same units of work: {@link NettySlotBench#cycle}, {@link NettySlotBench#cycleX2t}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
public class BuddyArenaBench
{
    /** The size cycle, 192 B .. 16 KiB, shared with the Netty peer. */
    static final int[] CYCLE = {192, 256, 1024, 4096, 16384, 512, 2048, 8192};

    /** One shared 64 MiB arena of 64 B minimum blocks (cache on), and one with the cache off. */
    @State(Scope.Benchmark)
    public static class Arenas
    {
        BuddyArena arena;
        BuddyArena noCache;
        final byte[] payload = new byte[16384];

        @Setup
        public void setup()
        {
            arena = BuddyArena.builder(64 << 20, 64).preFault(true).name("bench-buddy").build();
            noCache = BuddyArena.builder(64 << 20, 64).preFault(true).freeBlockCache(false).name("bench-buddy-nc")
                .build();
        }

        @TearDown
        public void tearDown()
        {
            arena.close();
            noCache.close();
        }
    }

    /** Each thread's position in the size cycle. */
    @State(Scope.Thread)
    public static class Cursor
    {
        int next;

        int size()
        {
            final int size = CYCLE[next];
            next = (next + 1) & (CYCLE.length - 1);
            return size;
        }
    }

    /** A single request size, for the published per-size figures. */
    @State(Scope.Benchmark)
    public static class Sized
    {
        @Param({"256", "1024", "4096"})
        int size;
        BuddyArena arena;
        byte[] payload;

        @Setup
        public void setup()
        {
            arena = BuddyArena.builder(64 << 20, 64).preFault(true).name("bench-buddy-sized").build();
            payload = new byte[size];
        }

        @TearDown
        public void tearDown()
        {
            arena.close();
        }
    }

    private static int objectRoundTrip(final BuddyArena arena, final byte[] payload, final int size)
    {
        final Buffer buffer = arena.allocate(size);
        buffer.putBytes(payload, 0, size);
        final Bytes bytes = buffer.freeze();
        final int length = bytes.length();
        bytes.release();
        return length;
    }

    private static int handleRoundTrip(final BuddyArena arena, final byte[] payload, final int size)
    {
        final long handle = arena.allocateHandle(size);
        arena.putBytes(handle, 0, payload, 0, size);
        arena.freezeHandle(handle, size);
        final int length = arena.length(handle);
        arena.release(handle);
        return length;
    }

    /** Object tier, size cycle, 1 thread. */
    @Benchmark
    @Threads(1)
    public int objectCycle(final Arenas a, final Cursor c)
    {
        return objectRoundTrip(a.arena, a.payload, c.size());
    }

    /** Object tier, size cycle, 2 threads on one arena. */
    @Benchmark
    @Threads(2)
    public int objectCycleX2t(final Arenas a, final Cursor c)
    {
        return objectRoundTrip(a.arena, a.payload, c.size());
    }

    /** Handle tier, size cycle, 1 thread (0 B/op). */
    @Benchmark
    @Threads(1)
    public int handleCycle(final Arenas a, final Cursor c)
    {
        return handleRoundTrip(a.arena, a.payload, c.size());
    }

    /** Handle tier, size cycle, 2 threads on one arena (0 B/op). */
    @Benchmark
    @Threads(2)
    public int handleCycleX2t(final Arenas a, final Cursor c)
    {
        return handleRoundTrip(a.arena, a.payload, c.size());
    }

    /** Handle tier, size cycle, 1 thread, cache off: lock + split + coalesce every time. */
    @Benchmark
    @Threads(1)
    public int handleCycleNoCache(final Arenas a, final Cursor c)
    {
        return handleRoundTrip(a.noCache, a.payload, c.size());
    }

    /** Handle tier, size cycle, 2 threads, cache off. */
    @Benchmark
    @Threads(2)
    public int handleCycleNoCacheX2t(final Arenas a, final Cursor c)
    {
        return handleRoundTrip(a.noCache, a.payload, c.size());
    }

    /** Handle tier, one size, 1 thread. */
    @Benchmark
    @Threads(1)
    public int handleSized(final Sized s)
    {
        return handleRoundTrip(s.arena, s.payload, s.size);
    }

    /** Object tier, one size, 1 thread. */
    @Benchmark
    @Threads(1)
    public int objectSized(final Sized s)
    {
        return objectRoundTrip(s.arena, s.payload, s.size);
    }
}
