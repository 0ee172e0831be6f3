package dev.lake.pool;

import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * Where the nanoseconds of a {@link FixedArena} handle-tier round trip go, one layer at a time, single-threaded
 * (docs/pool.md, "Single-threaded against a JCTools queue pool"). It lives in {@code dev.lake.pool} to reach the
 * slot table directly; compare with {@code FixedArenaBench.handleWrite8} and {@code JctoolsPoolBench.write8} run
 * in the same invocation.
 * <ul>
 *   <li>{@link #tableOccupyRelease()}: the slot table alone on one fixed slot: occupy, then the releasing CAS.</li>
 *   <li>{@link #stashOccupyRelease()}: the same with the slot popped from and pushed back to a stash, so that each
 *   CAS address depends on a load after the previous CAS, as in any pool.</li>
 *   <li>{@link #checkedPutLong()}, {@link #checkedGetLong()}: one checked accessor on a live handle.</li>
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
    private static final int SLOT = 7;

    private FixedArena arena;
    private SlotTable table;
    private final int[] stash = {SLOT};
    private int stashed = 1;
    private long writing;
    private long frozen;

    /** One arena of 1,024 slots of 4 KiB, as {@code FixedArenaBench}. */
    @Setup
    public void setup()
    {
        arena = FixedArena.builder(1024, 4096).preFault(true).name("bench-cost").build();
        table = arena.table;
        writing = arena.allocateHandle();
        frozen = arena.allocateHandle();
        arena.freezeHandle(frozen, 8);
    }

    /** Gives everything back. */
    @TearDown
    public void tearDown()
    {
        arena.release(writing);
        arena.release(frozen);
        arena.close();
    }

    /** @return the generation (kept alive). */
    @Benchmark
    public long tableOccupyRelease()
    {
        final long generation = table.occupy(SLOT);
        table.release(SLOT, generation);
        return generation;
    }

    /** @return the generation (kept alive). */
    @Benchmark
    public long stashOccupyRelease()
    {
        final int slot = stash[--stashed];
        final long generation = table.occupy(slot);
        if (table.release(slot, generation))
        {
            stash[stashed++] = slot;
        }
        return generation;
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
