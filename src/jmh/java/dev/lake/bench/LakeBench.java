package dev.lake.bench;

import dev.lake.linear.Droplet;
import dev.lake.linear.Lake;
import dev.lake.linear.LakeSnapshot;
import dev.lake.linear.LakeView;
import dev.lake.linear.Sandbox;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * Lake's hot paths, each measured beside its peer in {@link RawBumpBench} (run both in one JMH invocation:
 * {@code java -jar target/benchmarks.jar 'LakeBench|RawBumpBench|MemoryStackBench' -prof gc}):
 * <ul>
 *   <li>{@link #allocate64AndWrite()} vs {@code RawBumpBench.bump64AndWrite}: target within 1.2x, 0 B/op;</li>
 *   <li>{@link #dropletAllocateWriteClose()} vs {@code RawBumpBench.bump64AndWrite}: within 2.5x, 0 B/op;</li>
 *   <li>{@link #mark8x64AndResetToMark()}, {@link #snapshot8x64AndRewind()},
 *   {@link #sandbox8x64AndCommit()}, {@link #sandbox8x64AndRollback()} vs {@code RawBumpBench.bump8x64AndRewind}:
 *   within 1.5x, 0 B/op. A committed sandbox keeps its allocations, so that row walks through the lake writing
 *   fresh cache lines where the rewinding peer rewrites the same 512 B: {@code RawBumpBench.bump8x64AndKeep}, the
 *   same allocations kept, is its peer for the same memory traffic, shown beside;</li>
 *   <li>{@link #viewAllocate64AndWrite()}: the primitive tier inside a view, same peer as the first.</li>
 * </ul>
 * LWJGL's {@code MemoryStack}, the other peer a Java user would pick, is in {@link MemoryStackBench}.
 *
 * <p>The 0 B/op of the droplet, snapshot and sandbox rows holds because the JIT removes the {@code Droplet},
 * {@code LakeSnapshot} and {@code Sandbox} objects here (escape analysis): code that stores one in a field, or passes
 * it to a method that is not inlined, pays one small object per operation. The primitive tier (offsets, marks,
 * {@code beginSandbox()} tokens) allocates nothing whatever the JIT does.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
@State(Scope.Thread)
public class LakeBench
{
    private static final int CAPACITY = 1 << 20;

    private Lake lake;
    private LakeView view;
    private UnsafeBuffer buffer;

    @Setup
    public void setup()
    {
        lake = Lake.builder(2 * CAPACITY).preTouch(true).build();
        view = lake.split(CAPACITY);
        buffer = lake.buffer();
    }

    @TearDown
    public void tearDown()
    {
        lake.close();
    }

    /** Primitive tier: allocate 64 B and write one long; reset when full, as the raw bump wraps. */
    @Benchmark
    public int allocate64AndWrite()
    {
        int at = lake.tryAllocate(64);
        if (at < 0)
        {
            lake.reset();
            view = lake.split(CAPACITY);
            at = lake.allocate(64);
        }
        buffer.putLong(at, at);
        return at;
    }

    /** Primitive tier inside a view. */
    @Benchmark
    public int viewAllocate64AndWrite()
    {
        int at = view.tryAllocate(64);
        if (at < 0)
        {
            view.reset();
            at = view.allocate(64);
        }
        buffer.putLong(at, at);
        return at;
    }

    /** Handle tier: a checked droplet, one checked write, close (auto-rewind, since it is the last). */
    @Benchmark
    public long dropletAllocateWriteClose()
    {
        final Droplet droplet = lake.droplet(64);
        droplet.putLong(0, 42L);
        final int at = droplet.offset();
        droplet.close();
        return at;
    }

    /** mark, 8 x (allocate 64 B + write), resetToMark. */
    @Benchmark
    public int mark8x64AndResetToMark()
    {
        lake.mark();
        int last = 0;
        for (int i = 0; i < 8; i++)
        {
            last = lake.allocate(64);
            buffer.putLong(last, i);
        }
        lake.resetToMark();
        return last;
    }

    /** snapshot, 8 x (allocate 64 B + write), rewind to the snapshot. */
    @Benchmark
    public int snapshot8x64AndRewind()
    {
        final LakeSnapshot snapshot = lake.snapshot();
        int last = 0;
        for (int i = 0; i < 8; i++)
        {
            last = lake.allocate(64);
            buffer.putLong(last, i);
        }
        lake.rewind(snapshot);
        return last;
    }

    /** sandbox open, 8 x (allocate 64 B + write), commit (the lake is reset when nearly full). */
    @Benchmark
    public int sandbox8x64AndCommit()
    {
        if (lake.remaining() < 1024)
        {
            lake.reset();
            view = lake.split(CAPACITY);
        }
        int last = 0;
        try (Sandbox sandbox = lake.sandbox())
        {
            for (int i = 0; i < 8; i++)
            {
                last = lake.allocate(64);
                buffer.putLong(last, i);
            }
            sandbox.commit();
        }
        return last;
    }

    /** sandbox open, 8 x (allocate 64 B + write), close without commit (rollback). */
    @Benchmark
    public int sandbox8x64AndRollback()
    {
        int last = 0;
        try (Sandbox sandbox = lake.sandbox())
        {
            for (int i = 0; i < 8; i++)
            {
                last = lake.allocate(64);
                buffer.putLong(last, i);
            }
        }
        return last;
    }
}
