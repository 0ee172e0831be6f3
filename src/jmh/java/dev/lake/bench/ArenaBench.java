package dev.lake.bench;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaVec;
import dev.lake.linear.ArenaView;
import dev.lake.linear.Checkpoint;
import dev.lake.linear.Transaction;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.TimeUnit;

/**
 * The growable {@link Arena}'s hot paths. Peers: {@link RawBumpBench} (a raw pointer bump over one region:
 * {@code bump1000x8AndReset}, {@code bump16x64AndRewind}), {@link NettyPooledBench} (Netty's pooled allocator)
 * and, here, {@link #longArrayFill4096()} for {@link ArenaVec}. Every benchmark writes what it allocates, as
 * the peers do. Run with {@code -prof gc}: all of them should show ~0 B/op.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
@State(Scope.Thread)
public class ArenaBench
{
    private static final int VEC_LENGTH = 4096;

    private Arena arena;
    private long[] preallocated;
    private long[] source;

    @Setup
    public void setup()
    {
        arena = Arena.builder().initialBlockSize(1 << 20).preTouch(true).build();
        preallocated = new long[VEC_LENGTH];
        source = new long[VEC_LENGTH];
        for (int i = 0; i < VEC_LENGTH; i++)
        {
            source[i] = i;
        }
    }

    @TearDown
    public void tearDown()
    {
        arena.close();
    }

    /** 1,000 allocations of 8 B, a long written in each, then reset. Peer: RawBumpBench.bump1000x8AndReset. */
    @Benchmark
    public void alloc1000x8AndReset(final Blackhole bh)
    {
        final Arena arena = this.arena;
        for (int i = 0; i < 1000; i++)
        {
            final long ref = arena.allocate(8, 8);
            arena.buffer(ref).putLong(Arena.offset(ref), i);
        }
        bh.consume(arena.bytesAllocated());
        arena.reset();
    }

    /** checkpoint() then rewind() with nothing in between: the bare cost of the pair. */
    @Benchmark
    public void checkpointAndRewind()
    {
        final Arena arena = this.arena;
        arena.rewind(arena.checkpoint());
    }

    /** checkpoint(), one 64 B allocation with a write, rewind(): a rewind that discards (pushes a cut). */
    @Benchmark
    public long checkpointAlloc64AndRewind()
    {
        final Arena arena = this.arena;
        final Checkpoint cp = arena.checkpoint();
        final long ref = arena.allocate(64, 8);
        arena.buffer(ref).putLong(Arena.offset(ref), ref);
        arena.rewind(cp);
        return ref;
    }

    /**
     * A transaction with 16 allocations of 64 B (a write in each) and commit, then a reset so the arena does
     * not grow. Peer: RawBumpBench.bump16x64AndRewind.
     */
    @Benchmark
    public long transaction16x64AndCommit()
    {
        final Arena arena = this.arena;
        long last = 0;
        try (Transaction tx = arena.transaction())
        {
            for (int i = 0; i < 16; i++)
            {
                last = tx.allocate(64, 8);
                arena.buffer(last).putLong(Arena.offset(last), i);
            }
            tx.commit();
        }
        arena.reset();
        return last;
    }

    /** The same 16 x 64 B, closed without commit: rolled back. Peer: RawBumpBench.bump16x64AndRewind. */
    @Benchmark
    public long transaction16x64AndRollback()
    {
        final Arena arena = this.arena;
        long last = 0;
        try (Transaction tx = arena.transaction())
        {
            for (int i = 0; i < 16; i++)
            {
                last = tx.allocate(64, 8);
                arena.buffer(last).putLong(Arena.offset(last), i);
            }
        }
        return last;
    }

    /** An ArenaVec of 4,096 longs pushed one by one from empty (growing in place), finished, then reset. */
    @Benchmark
    public long arenaVec4096Longs()
    {
        final Arena arena = this.arena;
        final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
        for (int i = 0; i < VEC_LENGTH; i++)
        {
            vec.push(i);
        }
        final ArenaView.OfLong view = vec.finish();
        final long last = view.get(VEC_LENGTH - 1);
        arena.reset();
        return last;
    }

    /** The same with the capacity reserved up front. */
    @Benchmark
    public long arenaVec4096LongsPresized()
    {
        final Arena arena = this.arena;
        final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, VEC_LENGTH);
        for (int i = 0; i < VEC_LENGTH; i++)
        {
            vec.push(i);
        }
        final ArenaView.OfLong view = vec.finish();
        final long last = view.get(VEC_LENGTH - 1);
        arena.reset();
        return last;
    }

    /**
     * The bulk path, a separate row: an ArenaVec of 4,096 longs extended from a long[] in one call (one
     * reservation, then one bulk copy), finished, then reset. Not the "built" row, which pushes.
     */
    @Benchmark
    public long arenaVec4096LongsAddAll()
    {
        final Arena arena = this.arena;
        final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
        vec.addAll(source);
        final ArenaView.OfLong view = vec.finish();
        final long last = view.get(VEC_LENGTH - 1);
        arena.reset();
        return last;
    }

    /**
     * An ArenaVec of 4,096 longs built from an index generator in one call ({@code addAll(count, generator)}: one
     * reservation, then one raw store per value, as {@code Arrays.setAll} fills an array), finished, then reset.
     * The same values as {@link #arenaVec4096Longs()} and {@link #longArrayFill4096()}.
     */
    @Benchmark
    public long arenaVec4096LongsGenerated()
    {
        final Arena arena = this.arena;
        final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
        vec.addAll(VEC_LENGTH, i -> i);
        final ArenaView.OfLong view = vec.finish();
        final long last = view.get(VEC_LENGTH - 1);
        arena.reset();
        return last;
    }

    /** Peer of the ArenaVec benchmarks: filling a preallocated long[4096]. */
    @Benchmark
    public long longArrayFill4096()
    {
        final long[] array = preallocated;
        for (int i = 0; i < VEC_LENGTH; i++)
        {
            array[i] = i;
        }
        return array[VEC_LENGTH - 1];
    }
}
