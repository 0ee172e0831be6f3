package dev.lake.bench;

import org.lwjgl.system.MemoryStack;
import org.lwjgl.system.MemoryUtil;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * LWJGL's {@link MemoryStack}, the off-heap stack allocator a Java user would pick instead of a lake: the peer
 * of {@code LakeBench.allocate64AndWrite}/{@code dropletAllocateWriteClose} (push, 64 B, write, pop) and of
 * {@code LakeBench.mark8x64AndResetToMark} (push, 8 x 64 B with a write each, pop).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
    "-XX:+IgnoreUnrecognizedVMOptions"})
@State(Scope.Thread)
public class MemoryStackBench
{
    private static final int CAPACITY = 1 << 20;

    private MemoryStack stack;

    @Setup
    public void setup()
    {
        stack = MemoryStack.create(CAPACITY);
    }

    /** push, allocate 64 B aligned to 8, write one long, pop. */
    @Benchmark
    public long pushMalloc64WriteAndPop()
    {
        stack.push();
        final long address = stack.nmalloc(8, 64);
        MemoryUtil.memPutLong(address, address);
        stack.pop();
        return address;
    }

    /** push, 8 x (allocate 64 B + write), pop. */
    @Benchmark
    public long push8x64WriteAndPop()
    {
        stack.push();
        long last = 0;
        for (int i = 0; i < 8; i++)
        {
            last = stack.nmalloc(8, 64);
            MemoryUtil.memPutLong(last, i);
        }
        stack.pop();
        return last;
    }
}
