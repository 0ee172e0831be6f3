package dev.lake.bench;

import org.agrona.concurrent.UnsafeBuffer;
import org.jctools.queues.MpmcArrayQueue;
import org.openjdk.jmh.annotations.*;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * Peer of {@link FixedArenaBench}: the slot pool a Java user would write with JCTools, a
 * {@link MpmcArrayQueue} of preallocated 4 KiB slot views over one direct region; one unit of work is
 * poll + write + offer. It has no generation check, no freeze and no sharing: a pure speed reference.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
public class JctoolsPoolBench
{
    private static final int SLOTS = 1024;

    /** The pool of 1,024 slots of {@code slotSize} bytes. */
    @State(Scope.Benchmark)
    public static class Pool
    {
        MpmcArrayQueue<UnsafeBuffer> queue;

        @Setup
        public void setup()
        {
            queue = filled(4096);
        }
    }

    /** Writes of 256 B, 1 KiB and 4 KiB into 4 KiB slots. */
    @State(Scope.Benchmark)
    public static class Sized
    {
        @Param({"256", "1024", "4096"})
        int size;
        byte[] payload;
        MpmcArrayQueue<UnsafeBuffer> queue;

        @Setup
        public void setup()
        {
            payload = new byte[size];
            queue = filled(4096);
        }
    }

    /** Spill peer: 1 KiB slots; a write that does not fit copies to a heap array and gives the slot back. */
    @State(Scope.Benchmark)
    public static class Spill
    {
        @Param({"2048", "8192"})
        int size;
        byte[] payload;
        MpmcArrayQueue<UnsafeBuffer> queue;

        @Setup
        public void setup()
        {
            payload = new byte[size];
            queue = filled(1024);
        }
    }

    static MpmcArrayQueue<UnsafeBuffer> filled(final int slotSize)
    {
        final ByteBuffer region = ByteBuffer.allocateDirect(SLOTS * slotSize);
        final MpmcArrayQueue<UnsafeBuffer> queue = new MpmcArrayQueue<>(SLOTS);
        for (int i = 0; i < SLOTS; i++)
        {
            final UnsafeBuffer slot = new UnsafeBuffer(region, i * slotSize, slotSize);
            slot.setMemory(0, slotSize, (byte)0);
            queue.offer(slot);
        }
        return queue;
    }

    private static long roundTrip(final MpmcArrayQueue<UnsafeBuffer> queue)
    {
        final UnsafeBuffer slot = queue.poll();
        slot.putLong(0, 42L);
        final long value = slot.getLong(0);
        queue.offer(slot);
        return value;
    }

    /** poll + writeLong + offer, 1 thread. */
    @Benchmark
    @Threads(1)
    public long write8(final Pool p)
    {
        return roundTrip(p.queue);
    }

    /** The same with 2 threads on one pool. */
    @Benchmark
    @Threads(2)
    public long write8x2t(final Pool p)
    {
        return roundTrip(p.queue);
    }

    /** poll + write {@code size} bytes + offer. */
    @Benchmark
    @Threads(1)
    public int writeSized(final Sized s)
    {
        final UnsafeBuffer slot = s.queue.poll();
        slot.putBytes(0, s.payload);
        s.queue.offer(slot);
        return s.size;
    }

    /** poll a 1 KiB slot, fill it, copy what it holds plus the rest to a heap array, offer the slot back. */
    @Benchmark
    @Threads(1)
    public int spill(final Spill s)
    {
        final UnsafeBuffer slot = s.queue.poll();
        final int capacity = slot.capacity();
        slot.putBytes(0, s.payload, 0, capacity);
        final byte[] heap = new byte[Math.max(2 * capacity, s.size)];
        slot.getBytes(0, heap, 0, capacity);
        s.queue.offer(slot);
        final UnsafeBuffer grown = new UnsafeBuffer(heap);
        grown.putBytes(capacity, s.payload, capacity, s.size - capacity);
        return grown.capacity();
    }
}
