package dev.lake.bench;

import dev.lake.linear.Lake;
import dev.lake.thread.ThreadLakes;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * Thread-local lakes: {@code current()} + 64 B allocation + write + rewind, beside the same on a lake held in
 * a field (the cost of the {@link ThreadLocal} read is the difference).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
@State(Scope.Thread)
public class ThreadLakeBench
{
    private ThreadLakes lakes;
    private Lake local;

    @Setup
    public void setup()
    {
        lakes = ThreadLakes.builder(1 << 20).autoInit(true).build();
        lakes.init();
        local = Lake.builder(1 << 20).preTouch(true).build();
    }

    @TearDown
    public void tearDown()
    {
        lakes.release();
        lakes.close();
        local.close();
    }

    /** The thread's lake through {@code current()}. */
    @Benchmark
    public int threadLakeAllocate64WriteRewind()
    {
        final Lake lake = lakes.current();
        final int at = lake.allocate(64);
        lake.buffer().putLong(at, at);
        lake.reset();
        return at;
    }

    /** The same on a lake held in a field. */
    @Benchmark
    public int localLakeAllocate64WriteRewind()
    {
        final Lake lake = local;
        final int at = lake.allocate(64);
        lake.buffer().putLong(at, at);
        lake.reset();
        return at;
    }
}
