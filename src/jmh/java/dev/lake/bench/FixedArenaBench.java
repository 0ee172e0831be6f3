package dev.lake.bench;

import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * {@link FixedArena}: one unit of work is allocate + write + freeze + release.
 * <ul>
 *   <li>{@code object*}: the checked object tier ({@code Buffer} -> {@code Bytes}), leak detection on (the
 *   default) or off.</li>
 *   <li>{@code handle*}: the zero-garbage tier ({@code long} handles), which must show 0 B/op.</li>
 *   <li>{@code *2t}: the same with two threads sharing one arena.</li>
 * </ul>
 * Peers doing the same units of work: {@link NettySlotBench}, {@link JctoolsPoolBench}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
public class FixedArenaBench
{
    /** One shared arena of 4 KiB slots, as the 8-byte round trip asks. */
    @State(Scope.Benchmark)
    public static class Slots4K
    {
        FixedArena arena;
        FixedArena untracked;

        @Setup
        public void setup()
        {
            arena = FixedArena.builder(1024, 4096).preFault(true).name("bench").build();
            untracked = FixedArena.builder(1024, 4096).preFault(true).leakDetection(false).name("bench-untracked")
                .build();
        }

        @TearDown
        public void tearDown()
        {
            arena.close();
            untracked.close();
        }
    }

    /** Writes of 256 B, 1 KiB and 4 KiB into 4 KiB slots. */
    @State(Scope.Benchmark)
    public static class Sized
    {
        @Param({"256", "1024", "4096"})
        int size;
        FixedArena arena;
        byte[] payload;

        @Setup
        public void setup()
        {
            arena = FixedArena.builder(1024, 4096).preFault(true).name("bench-sized").build();
            payload = new byte[size];
        }

        @TearDown
        public void tearDown()
        {
            arena.close();
        }
    }

    /** Auto-spill: 1 KiB slots, writes of 2 KiB and 8 KiB move to the heap. */
    @State(Scope.Benchmark)
    public static class Spill
    {
        @Param({"2048", "8192"})
        int size;
        FixedArena arena;
        byte[] payload;

        @Setup
        public void setup()
        {
            arena = FixedArena.builder(1024, 1024).autoSpill(true).preFault(true).name("bench-spill").build();
            payload = new byte[size];
        }

        @TearDown
        public void tearDown()
        {
            arena.close();
        }
    }

    private static long objectRoundTrip(final FixedArena arena)
    {
        final Buffer buffer = arena.allocate();
        buffer.putLong(42L);
        final Bytes bytes = buffer.freeze();
        final long value = bytes.getLong(0);
        bytes.release();
        return value;
    }

    private static long handleRoundTrip(final FixedArena arena)
    {
        final long handle = arena.allocateHandle();
        arena.putLong(handle, 0, 42L);
        arena.freezeHandle(handle, 8);
        final long value = arena.getLong(handle, 0);
        arena.release(handle);
        return value;
    }

    /** Object tier, 8 B, 1 thread, leak detection on. */
    @Benchmark
    @Threads(1)
    public long objectWrite8(final Slots4K s)
    {
        return objectRoundTrip(s.arena);
    }

    /** Object tier, 8 B, 2 threads on one arena. */
    @Benchmark
    @Threads(2)
    public long objectWrite8x2t(final Slots4K s)
    {
        return objectRoundTrip(s.arena);
    }

    /** Object tier, 8 B, 1 thread, leak detection off. */
    @Benchmark
    @Threads(1)
    public long objectWrite8NoLeakTracking(final Slots4K s)
    {
        return objectRoundTrip(s.untracked);
    }

    /** Zero-garbage handle tier, 8 B, 1 thread. */
    @Benchmark
    @Threads(1)
    public long handleWrite8(final Slots4K s)
    {
        return handleRoundTrip(s.arena);
    }

    /** Zero-garbage handle tier, 8 B, 2 threads on one arena. */
    @Benchmark
    @Threads(2)
    public long handleWrite8x2t(final Slots4K s)
    {
        return handleRoundTrip(s.arena);
    }

    /** Object tier, write {@code size} bytes, 1 thread. */
    @Benchmark
    @Threads(1)
    public int objectWriteSized(final Sized s)
    {
        final Buffer buffer = s.arena.allocate();
        buffer.putBytes(s.payload);
        final Bytes bytes = buffer.freeze();
        final int length = bytes.length();
        bytes.release();
        return length;
    }

    /** Handle tier, write {@code size} bytes, 1 thread. */
    @Benchmark
    @Threads(1)
    public int handleWriteSized(final Sized s)
    {
        final FixedArena arena = s.arena;
        final long handle = arena.allocateHandle();
        arena.putBytes(handle, 0, s.payload, 0, s.size);
        arena.freezeHandle(handle, s.size);
        final int length = arena.length(handle);
        arena.release(handle);
        return length;
    }

    /** Auto-spill: 1 KiB slot, {@code size} bytes written (spills to the heap), freeze, release. */
    @Benchmark
    @Threads(1)
    public int objectSpill(final Spill s)
    {
        final Buffer buffer = s.arena.allocate();
        buffer.putBytes(s.payload);
        final Bytes bytes = buffer.freeze();
        final int length = bytes.length();
        bytes.release();
        return length;
    }
}
