package dev.lake.bench;

import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * The physical limit for bump allocation, as the peer every linear allocator is measured against: an offset
 * bumped over one preallocated, pre-touched region, with an 8-byte-aligned bump and a long written through an
 * Agrona {@link UnsafeBuffer} (the same write path the Lake allocators use).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
@State(Scope.Thread)
public class RawBumpBench
{
    private static final int CAPACITY = 1 << 20;

    private UnsafeBuffer buffer;
    private int offset;

    @Setup
    public void setup()
    {
        buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(CAPACITY));
        buffer.setMemory(0, CAPACITY, (byte)0);
    }

    private int bump(final int size)
    {
        int at = (offset + 7) & -8;
        if (at + size > CAPACITY)
        {
            at = 0;
        }
        offset = at + size;
        return at;
    }

    /** Allocate 64 B and write one long: the peer of Lake's primitive allocate. */
    @Benchmark
    public int bump64AndWrite()
    {
        final int at = bump(64);
        buffer.putLong(at, at);
        return at;
    }

    /** 8 allocations of 64 B with a write each, then rewind: the peer of mark/snapshot/sandbox + 8 allocations. */
    @Benchmark
    public int bump8x64AndRewind()
    {
        final int start = offset;
        int last = 0;
        for (int i = 0; i < 8; i++)
        {
            last = bump(64);
            buffer.putLong(last, i);
        }
        offset = start;
        return last;
    }

    /**
     * 8 allocations of 64 B with a write each, kept (the offset moves on, wrapping at the end of the region): the
     * peer of a sandbox that commits, whose allocations stay and march through the lake the same way.
     */
    @Benchmark
    public int bump8x64AndKeep()
    {
        int last = 0;
        for (int i = 0; i < 8; i++)
        {
            last = bump(64);
            buffer.putLong(last, i);
        }
        return last;
    }

    /** 16 allocations of 64 B with a write each: the peer of a transaction with 16 allocations. */
    @Benchmark
    public int bump16x64AndRewind()
    {
        final int start = offset;
        int last = 0;
        for (int i = 0; i < 16; i++)
        {
            last = bump(64);
            buffer.putLong(last, i);
        }
        offset = start;
        return last;
    }

    /** 1,000 allocations of 8 B with a write each, then reset: the peer of Arena's 1,000 x 8 B + reset. */
    @Benchmark
    public void bump1000x8AndReset(final Blackhole bh)
    {
        for (int i = 0; i < 1000; i++)
        {
            final int at = bump(8);
            buffer.putLong(at, i);
        }
        bh.consume(offset);
        offset = 0;
    }
}
