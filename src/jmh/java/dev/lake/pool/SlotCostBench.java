package dev.lake.pool;

import org.agrona.concurrent.UnsafeBuffer;
import org.jctools.queues.MpmcArrayQueue;
import org.openjdk.jmh.annotations.*;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * Where the nanoseconds of a {@link FixedArena} handle-tier round trip go, one layer at a time, single-threaded
 * (docs/pool.md, "Single-threaded against a JCTools queue pool"). It lives in {@code dev.lake.pool} to reach the
 * slot table directly; compare with {@code FixedArenaBench.handleWrite8} and {@code JctoolsPoolBench.write8} run
 * in the same invocation.
 * <ul>
 *   <li>{@link #casPair()}: the slot table alone on one slot: the claim CAS that takes the parked slot and the
 *   release CAS that parks it again (what {@code allocateHandle} and {@code release} cost at the least).</li>
 *   <li>{@link #jctoolsPollOffer()}: the peer's floor, the same two CASes: {@code MpmcArrayQueue.poll} and
 *   {@code offer}, nothing written.</li>
 *   <li>{@link #allocateRelease()}, {@link #allocatePutRelease()}, {@link #allocatePutFreezeRelease()}: the public
 *   round trip built up one call at a time ({@code handleWrite8} adds the {@code getLong}).</li>
 *   <li>{@link #checkedPutLong()}, {@link #checkedGetLong()}: one checked accessor on a live handle, alone.</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
@State(Scope.Thread)
public class SlotCostBench
{
    private FixedArena arena;
    private FixedArena pairArena;
    private long[] slots;
    private long parked;
    private long writing;
    private long frozen;
    private MpmcArrayQueue<UnsafeBuffer> queue;

    /** Arenas of 1,024 slots of 4 KiB, as {@code FixedArenaBench}; a JCTools pool as {@code JctoolsPoolBench}. */
    @Setup
    public void setup()
    {
        arena = FixedArena.builder(1024, 4096).preFault(true).name("bench-cost").build();
        writing = arena.allocateHandle();
        frozen = arena.allocateHandle();
        arena.freezeHandle(frozen, 8);
        arena.release(arena.allocateHandle()); // the round trips start from a parked slot
        pairArena = FixedArena.builder(1024, 4096).name("bench-cas-pair").build();
        slots = pairArena.slots;
        final long first = pairArena.allocateHandle();
        pairArena.release(first); // parked: its next handle is the next generation of the same slot
        parked = (first & ~SlotTable.REF_MASK) + (1L << SlotTable.REF_BITS) | (first & SlotTable.REF_MASK);
        final ByteBuffer region = ByteBuffer.allocateDirect(1024 * 4096);
        queue = new MpmcArrayQueue<>(1024);
        for (int i = 0; i < 1024; i++)
        {
            queue.offer(new UnsafeBuffer(region, i * 4096, 4096));
        }
    }

    /** Gives everything back. */
    @TearDown
    public void tearDown()
    {
        arena.release(writing);
        arena.release(frozen);
        arena.close();
        pairArena.close();
    }

    /** @return the handle taken (kept alive). */
    @Benchmark
    public long casPair()
    {
        final long handle = parked;
        final int slot = (int)(handle & SlotTable.REF_MASK);
        final int at = slot << SlotTable.SHIFT;
        final long next = (handle & ~SlotTable.REF_MASK) + (1L << SlotTable.REF_BITS);
        if (!SlotTable.takeParked(slots, at, handle) || !SlotTable.parkSole(slots, at, handle, next))
        {
            throw new IllegalStateException("the slot was not parked");
        }
        parked = next | slot;
        return handle;
    }

    /** @return the slot view polled (kept alive). */
    @Benchmark
    public Object jctoolsPollOffer()
    {
        final UnsafeBuffer slot = queue.poll();
        queue.offer(slot);
        return slot;
    }

    /** @return the handle (kept alive). */
    @Benchmark
    public long allocateRelease()
    {
        final long handle = arena.allocateHandle();
        arena.release(handle);
        return handle;
    }

    /** @return the handle (kept alive). */
    @Benchmark
    public long allocatePutRelease()
    {
        final long handle = arena.allocateHandle();
        arena.putLong(handle, 0, 42L);
        arena.release(handle);
        return handle;
    }

    /** @return the handle (kept alive). */
    @Benchmark
    public long allocatePutFreezeRelease()
    {
        final long handle = arena.allocateHandle();
        arena.putLong(handle, 0, 42L);
        arena.freezeHandle(handle, 8);
        arena.release(handle);
        return handle;
    }

    /** One checked write into a writing handle. */
    @Benchmark
    public void checkedPutLong()
    {
        arena.putLong(writing, 0, 42L);
    }

    /** @return one checked read of a frozen handle (validated again after the read). */
    @Benchmark
    public long checkedGetLong()
    {
        return arena.getLong(frozen, 0);
    }
}
