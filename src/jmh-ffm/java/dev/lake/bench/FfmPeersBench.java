package dev.lake.bench;

import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

/**
 * The JDK's own off-heap allocation (java.lang.foreign, final since JDK 22) as peers of Lake's workloads. This
 * class lives in {@code src/jmh-ffm/java}, compiled only on JDK 22+ ({@code -Pbench,ffm} builds
 * {@code target/benchmarks-ffm.jar}, which lists these beside every Lake benchmark), so these rows appear only
 * in the JDK 25 tables.
 * <ul>
 *   <li>{@code slicing*}: {@link SegmentAllocator#slicingAllocator(MemorySegment)} over one segment allocated
 *   once (the JDK's bump allocator). It cannot rewind or reset, so its "reset" is a new slicing allocator over
 *   the same segment: once per scope for the scoped workloads, and when it is about to run out for the
 *   continuous one (counted here, so the hot path never throws).</li>
 *   <li>{@code confined*} and {@code shared*}: {@link Arena#ofConfined()} / {@link Arena#ofShared()} opened,
 *   allocated from, and closed per operation (the JDK's scoped allocation: every {@code allocate} is a zeroed
 *   native allocation, every {@code close} frees them all).</li>
 * </ul>
 * Each writes one long per allocation, as the Lake benchmark it mirrors, through
 * {@link MemorySegment#set(ValueLayout.OfLong, long, long)} with the aligned {@link ValueLayout#JAVA_LONG}
 * (every allocation here is 8-byte aligned). Results are returned as the slice's address, the equivalent of
 * Lake's offset, so the JIT may scalar-replace the slice object as it would in user code that consumes the
 * memory and not the segment. B/op is whatever the JDK allocates on the heap per operation.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
@State(Scope.Thread)
public class FfmPeersBench
{
    /** The same 1 MiB as RawBumpBench's region and LakeBench's lake. */
    private static final long CAPACITY = 1 << 20;

    private Arena owner;
    private MemorySegment segment;
    private SegmentAllocator slicing;
    private long used;

    @Setup
    public void setup()
    {
        owner = Arena.ofConfined();
        // Arena.allocate zeroes the memory, so every page is touched here, as the Lake region is pre-touched.
        segment = owner.allocate(CAPACITY, 4096);
        slicing = SegmentAllocator.slicingAllocator(segment);
        used = 0;
    }

    @TearDown
    public void tearDown()
    {
        owner.close();
    }

    /**
     * Slicing allocator: allocate 64 B (aligned 8) and write one long; a new slicing allocator over the same
     * segment when the next slice would not fit. Peer of LakeBench.allocate64AndWrite.
     */
    @Benchmark
    public long slicing64AndWrite()
    {
        if (used + 64 > CAPACITY)
        {
            slicing = SegmentAllocator.slicingAllocator(segment);
            used = 0;
        }
        final MemorySegment slice = slicing.allocate(64, 8);
        used += 64;
        slice.set(ValueLayout.JAVA_LONG, 0, used);
        return slice.address();
    }

    /**
     * A scope of 8 x (64 B + write): a new slicing allocator over the segment per scope, the only way to rewind
     * one. Peer of LakeBench.mark8x64AndResetToMark, snapshot8x64AndRewind, sandbox8x64AndCommit.
     */
    @Benchmark
    public long slicingScope8x64()
    {
        final SegmentAllocator scope = SegmentAllocator.slicingAllocator(segment);
        long last = 0;
        for (int i = 0; i < 8; i++)
        {
            final MemorySegment slice = scope.allocate(64, 8);
            slice.set(ValueLayout.JAVA_LONG, 0, i);
            last = slice.address();
        }
        return last;
    }

    /** The same scope with 16 x (64 B + write). Peer of ArenaBench.transaction16x64AndCommit. */
    @Benchmark
    public long slicingScope16x64()
    {
        final SegmentAllocator scope = SegmentAllocator.slicingAllocator(segment);
        long last = 0;
        for (int i = 0; i < 16; i++)
        {
            final MemorySegment slice = scope.allocate(64, 8);
            slice.set(ValueLayout.JAVA_LONG, 0, i);
            last = slice.address();
        }
        return last;
    }

    /**
     * 1,000 x (8 B + write), then reset (a new slicing allocator next time). Peer of
     * ArenaBench.alloc1000x8AndReset.
     */
    @Benchmark
    public void slicing1000x8AndReset(final Blackhole bh)
    {
        final SegmentAllocator scope = SegmentAllocator.slicingAllocator(segment);
        long last = 0;
        for (int i = 0; i < 1000; i++)
        {
            final MemorySegment slice = scope.allocate(8, 8);
            slice.set(ValueLayout.JAVA_LONG, 0, i);
            last = slice.address();
        }
        bh.consume(last);
    }

    /**
     * Arena.ofConfined(), allocate 64 B (aligned 8), write one long, close. Peer of
     * LakeBench.dropletAllocateWriteClose.
     */
    @Benchmark
    public long confinedArena64WriteAndClose()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment slice = arena.allocate(64, 8);
            slice.set(ValueLayout.JAVA_LONG, 0, 42L);
            return slice.address();
        }
    }

    /**
     * Arena.ofConfined(), 8 x (allocate 64 B + write), close. Peer of LakeBench.mark8x64AndResetToMark,
     * snapshot8x64AndRewind, sandbox8x64AndCommit.
     */
    @Benchmark
    public long confinedArena8x64AndClose()
    {
        long last = 0;
        try (Arena arena = Arena.ofConfined())
        {
            for (int i = 0; i < 8; i++)
            {
                final MemorySegment slice = arena.allocate(64, 8);
                slice.set(ValueLayout.JAVA_LONG, 0, i);
                last = slice.address();
            }
        }
        return last;
    }

    /** Arena.ofConfined(), 16 x (allocate 64 B + write), close. Peer of ArenaBench.transaction16x64AndCommit. */
    @Benchmark
    public long confinedArena16x64AndClose()
    {
        long last = 0;
        try (Arena arena = Arena.ofConfined())
        {
            for (int i = 0; i < 16; i++)
            {
                final MemorySegment slice = arena.allocate(64, 8);
                slice.set(ValueLayout.JAVA_LONG, 0, i);
                last = slice.address();
            }
        }
        return last;
    }

    /**
     * Arena.ofConfined(), allocate 4 KiB, write 8 B, read them back, close: a single-thread 4 KiB buffer round
     * trip. Peer of FixedArenaBench.handleWrite8.
     */
    @Benchmark
    public long confinedArena4096Write8AndClose()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment slice = arena.allocate(4096, 8);
            slice.set(ValueLayout.JAVA_LONG, 0, 42L);
            return slice.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /**
     * The same with Arena.ofShared(), the JDK's arena any thread may use and close (a closing handshake with
     * every thread). Peer of FixedArenaBench.handleWrite8, a pool any thread may release to.
     */
    @Benchmark
    public long sharedArena4096Write8AndClose()
    {
        try (Arena arena = Arena.ofShared())
        {
            final MemorySegment slice = arena.allocate(4096, 8);
            slice.set(ValueLayout.JAVA_LONG, 0, 42L);
            return slice.get(ValueLayout.JAVA_LONG, 0);
        }
    }
}
