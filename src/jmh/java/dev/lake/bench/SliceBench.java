package dev.lake.bench;

import dev.lake.memory.Memory;
import dev.lake.memory.Region;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.LongInit;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceReader;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * The slice allocator (issue 7) next to the heap baseline a Java user would write: allocate {@code n} longs with
 * an index initializer, read them all, release; and share + release of one handle. The primitive tier is the
 * zero-garbage path; the handle tier allocates one handle object per slice unless escape analysis removes it.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
@State(Scope.Thread)
public class SliceBench
{
    private static final LongInit INDEX = i -> i;

    @Param({"32", "256", "1024", "4096"})
    public int n;

    private SliceAllocator alloc;
    private SharedSlice shared;
    private long sharedRef;
    private final SliceReader reader = new SliceReader();
    private long[] scratch;
    private Region floor;
    private final LongAdder released = new LongAdder();
    private final AtomicInteger chunkCount = new AtomicInteger(1);
    private final AtomicReference<Object> handleState = new AtomicReference<>(this);

    @Setup
    public void setup()
    {
        alloc = SliceAllocator.builder(ElementLayout.LONG).build();
        shared = alloc.allocateLongs(8, INDEX);
        sharedRef = alloc.allocateLongsRef(8, INDEX);
        scratch = new long[n];
        floor = Region.allocate((long)n * Long.BYTES);
    }

    @TearDown
    public void tearDown()
    {
        shared.release();
        alloc.release(sharedRef);
        alloc.close();
        floor.close();
    }

    /** Handle tier: allocate n longs (value = index), read all through the handle, release. */
    @Benchmark
    public long handleAllocateReadRelease()
    {
        final SharedSlice slice = alloc.allocateLongs(n, INDEX);
        long sum = 0;
        for (int i = 0, length = slice.length(); i < length; i++)
        {
            sum += slice.getLong(i);
        }
        slice.release();
        return sum;
    }

    /** Primitive tier: the same through a long reference; the zero-garbage path. */
    @Benchmark
    public long refAllocateReadRelease()
    {
        final SliceAllocator a = alloc;
        final long ref = a.allocateLongsRef(n, INDEX);
        long sum = 0;
        for (int i = 0, length = a.length(ref); i < length; i++)
        {
            sum += a.getLong(ref, i);
        }
        a.release(ref);
        return sum;
    }

    /**
     * Zero-garbage fast path: the primitive tier's reference handed to a reusable {@link SliceReader} (validated
     * once, no CAS), read with one compare per element, closed (the release).
     */
    @Benchmark
    public long readerAllocateReadRelease()
    {
        final SliceAllocator a = alloc;
        try (SliceReader r = reader.adopt(a, a.allocateLongsRef(n, INDEX)))
        {
            return sum(r);
        }
    }

    /**
     * As {@link #readerAllocateReadRelease()}, but the reader shares the reference (bind: one more CAS) and the
     * reference is released after it.
     */
    @Benchmark
    public long readerBindAllocateReadRelease()
    {
        final SliceAllocator a = alloc;
        final long ref = a.allocateLongsRef(n, INDEX);
        final long sum;
        try (SliceReader r = reader.bind(a, ref))
        {
            sum = sum(r);
        }
        a.release(ref);
        return sum;
    }

    /**
     * The zero-garbage path without any atomic instruction: a local slice, allocated straight into the reusable
     * reader, read, and released by closing the reader on the allocating thread (the bytes go back to the chunk).
     */
    @Benchmark
    public long localAllocateReadRelease()
    {
        try (SliceReader r = alloc.allocateLocalLongs(n, INDEX, reader))
        {
            return sum(r);
        }
    }

    private static long sum(final SliceReader r)
    {
        long sum = 0;
        for (int i = 0, length = r.length(); i < length; i++)
        {
            sum += r.getLong(i);
        }
        return sum;
    }

    /** Primitive tier with the bulk accessor: one validation, the n longs copied into a reused long[], then summed. */
    @Benchmark
    public long refAllocateCopyRelease()
    {
        final SliceAllocator a = alloc;
        final long ref = a.allocateLongsRef(n, INDEX);
        final long[] dst = scratch;
        a.getLongs(ref, 0, dst, 0, n);
        a.release(ref);
        long sum = 0;
        for (int i = 0; i < dst.length; i++)
        {
            sum += dst[i];
        }
        return sum;
    }

    /** Peer: the heap baseline, {@code new long[n]} filled by the same initializer and read. */
    @Benchmark
    public long heapArrayAllocateRead()
    {
        final long[] array = new long[n];
        for (int i = 0; i < array.length; i++)
        {
            array[i] = INDEX.value(i);
        }
        long sum = 0;
        for (int i = 0; i < array.length; i++)
        {
            sum += array[i];
        }
        return sum;
    }

    /**
     * The floor under every path above: the same n longs written by the same initializer at one fixed off-heap
     * address and read back, with no allocator, no check and no release. Whatever a path costs beyond this is its
     * bookkeeping (the heap array's is a TLAB bump and the zeroing of its n longs).
     */
    @Benchmark
    public long floorFillRead()
    {
        final long base = floor.address();
        final int length = n;
        for (int i = 0; i < length; i++)
        {
            Memory.putLong(base + ((long)i << 3), INDEX.value(i));
        }
        long sum = 0;
        for (int i = 0; i < length; i++)
        {
            sum += Memory.getLong(base + ((long)i << 3));
        }
        return sum;
    }

    /**
     * {@link #floorFillRead()} plus the three atomic instructions that a shared slice's last release pays on another
     * thread (the slice's header count, the released-bytes adder, the chunk's count), on an uncontended header word
     * and two uncontended counters: what the atomics alone cost on this machine.
     */
    @Benchmark
    public long floorFillReadThreeAtomics()
    {
        final long sum = floorFillRead();
        final long header = floor.address();
        Memory.compareAndSetInt(header, 0, 0);
        released.add(1);
        final int count = chunkCount.get();
        chunkCount.weakCompareAndSetVolatile(count, count);
        return sum;
    }

    /**
     * The three atomic instructions that {@link #handleShareRelease()} cannot do without, and nothing else: the
     * slice's count up (share), the handle's own state (release: a double release racing on two threads must
     * fail for one of them), the slice's count down (release). Each on an uncontended word, no object: the floor
     * of share + release on this machine.
     */
    @Benchmark
    public boolean floorShareReleaseAtomics()
    {
        final long header = floor.address();
        final int count = Memory.getIntVolatile(header);
        Memory.compareAndSetInt(header, count, count + 1);
        final boolean released = handleState.compareAndSet(this, this);
        Memory.compareAndSetInt(header, count + 1, count);
        return released;
    }

    /** share() + release() of a handle (independent of n). */
    @Benchmark
    public boolean handleShareRelease()
    {
        final SharedSlice copy = shared.share();
        copy.release();
        return copy.isReleased();
    }

    /** retain + release of a primitive reference (independent of n). */
    @Benchmark
    public long refRetainRelease()
    {
        final long ref = sharedRef;
        alloc.retain(ref);
        alloc.release(ref);
        return ref;
    }
}
