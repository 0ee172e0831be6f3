package dev.lake.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.agrona.BufferUtil;
import org.agrona.UnsafeApi;
import org.openjdk.jmh.annotations.*;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * What a Java user writes without an allocator, for 64 bytes and one long: a direct {@link ByteBuffer}, a raw
 * {@code Unsafe.allocateMemory}/{@code freeMemory} pair (through Agrona's {@link UnsafeApi}, the same
 * {@code os::malloc} as {@code sun.misc.Unsafe}, without its JDK 24+ warning), Netty's unpooled direct buffer,
 * and a {@code byte[]}. The three off-heap ones free their memory within the operation.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED", "-Dio.netty.leakDetection.level=disabled"})
@State(Scope.Thread)
public class DirectPeersBench
{
    private final UnpooledByteBufAllocator unpooled = new UnpooledByteBufAllocator(true);

    /**
     * {@code ByteBuffer.allocateDirect(64)} + write + free through its cleaner ({@code Unsafe.invokeCleaner}, via
     * Agrona's {@link BufferUtil#free(ByteBuffer)}), as the other off-heap rows free theirs and as Netty and
     * Agrona free a direct buffer. Left to the GC's cleaner, the row charged the collector's processing of every
     * dead buffer's cleaner to the allocation (+-50% between iterations) and ran several times slower than Netty's
     * unpooled buffer, which is this same allocation with a wrapper and an explicit free.
     */
    @Benchmark
    public long allocateDirect64AndWrite()
    {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(64);
        buffer.putLong(0, 42L);
        final long value = buffer.getLong(0);
        BufferUtil.free(buffer);
        return value;
    }

    /** {@code allocateMemory(64)} + write + {@code freeMemory}. */
    @Benchmark
    public long unsafeAllocateFree64AndWrite()
    {
        final long address = UnsafeApi.allocateMemory(64);
        UnsafeApi.putLong(address, 42L);
        final long value = UnsafeApi.getLong(address);
        UnsafeApi.freeMemory(address);
        return value;
    }

    /** Netty {@code UnpooledByteBufAllocator.directBuffer(64)} + write + release. */
    @Benchmark
    public long nettyUnpooledDirect64AndWrite()
    {
        final ByteBuf buffer = unpooled.directBuffer(64);
        buffer.writeLong(42L);
        final long value = buffer.getLong(0);
        buffer.release();
        return value;
    }

    /** {@code new byte[64]} + write. */
    @Benchmark
    public byte[] heapByteArray64AndWrite()
    {
        final byte[] bytes = new byte[64];
        bytes[0] = 42;
        return bytes;
    }
}
