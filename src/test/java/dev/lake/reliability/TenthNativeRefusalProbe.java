package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaVec;
import dev.lake.linear.Lake;
import dev.lake.linear.Transaction;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.FixedArena;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceReader;
import dev.lake.thread.ThreadLakes;
import org.agrona.UnsafeApi;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The child JVM of {@link TenthNativeRefusalTest}: started under {@code ulimit -v}, it fills the process's address space
 * with raw {@code malloc}s (not Lake's, so Lake's accounting sees none of them) until the operating system refuses,
 * gives back {@link #HEADROOM_STEPS} of them, and then asks Lake for {@link #BIG} bytes, more than is left, in the middle
 * of each allocator's operations. Each scenario prints {@code PASS name} or {@code FAIL name: why}; the probe prints
 * {@code DONE} at the end.
 */
public final class TenthNativeRefusalProbe
{
    /** One filler allocation: 16 MiB of address space, never touched beyond malloc's header. */
    private static final long STEP = 16L << 20;
    /** The filler's last allocations, once {@link #STEP}s are refused: 1 MiB. */
    private static final long FINE_STEP = 1L << 20;
    /** Filler allocations given back after the fill, so the JVM keeps room for its own needs: 48 MiB. */
    private static final int HEADROOM_STEPS = 3;
    /** A request larger than the headroom: refused while squeezed, granted once the filler is gone. */
    static final int BIG = 64 << 20;

    private static final long[] FILLER = new long[4096];
    private static int filled;

    private TenthNativeRefusalProbe()
    {
    }

    /**
     * Runs every scenario, or those named.
     *
     * @param args scenario names; none runs all.
     */
    public static void main(final String[] args)
    {
        final List<String> only = List.of(args);
        // first: it must meet DirectViews before anything else made a ByteBuffer view in this JVM
        run(only, "firstByteBufferViewRefused", TenthNativeRefusalProbe::firstByteBufferViewRefused);
        run(only, "arenaBlockRefusedInsideSavepoint", TenthNativeRefusalProbe::arenaBlockRefusedInsideSavepoint);
        run(only, "arenaVecGrowthRefused", TenthNativeRefusalProbe::arenaVecGrowthRefused);
        run(only, "sliceFreshChunkRefused", TenthNativeRefusalProbe::sliceFreshChunkRefused);
        run(only, "sliceDedicatedChunkRefused", TenthNativeRefusalProbe::sliceDedicatedChunkRefused);
        run(only, "sliceFirstCallsDedicatedChunkRefused", TenthNativeRefusalProbe::sliceFirstCallsDedicatedChunkRefused);
        run(only, "poolArenaBuildRefused", TenthNativeRefusalProbe::poolArenaBuildRefused);
        run(only, "lakeAndThreadLakeRefused", TenthNativeRefusalProbe::lakeAndThreadLakeRefused);
        run(only, "firstBlocksAndChunksRefused", TenthNativeRefusalProbe::firstBlocksAndChunksRefused);
        if (only.contains("firstRegionWithoutRoomForAThread"))
        {
            // only alone, in a JVM of its own: it must be the first region of the JVM
            run(only, "firstRegionWithoutRoomForAThread", TenthNativeRefusalProbe::firstRegionWithoutRoomForAThread);
        }
        System.out.println("DONE");
    }

    private static void run(final List<String> only, final String name, final Runnable scenario)
    {
        if (!only.isEmpty() && !only.contains(name))
        {
            return;
        }
        try
        {
            scenario.run();
            System.out.println("PASS " + name);
        }
        catch (final Throwable ex)
        {
            relax();
            System.out.println("FAIL " + name + ": " + ex);
            ex.printStackTrace(System.out);
        }
    }

    // -------------------------------------------------------------------------------------------------------------
    // Scenarios
    // -------------------------------------------------------------------------------------------------------------

    /**
     * The first {@code Region.byteBuffer()} in a JVM, while the JDK refuses direct memory (its limit reached): the
     * call may fail, but a retry once memory is back must work.
     */
    private static void firstByteBufferViewRefused()
    {
        final Native before = Native.now();
        try (Region region = Region.allocate(4096))
        {
            final List<ByteBuffer> direct = new ArrayList<>();
            try
            {
                while (true)
                {
                    direct.add(ByteBuffer.allocateDirect(1 << 20)); // up to -XX:MaxDirectMemorySize
                }
            }
            catch (final OutOfMemoryError full)
            {
                // the JDK's direct memory is spent, and the list keeps it spent
            }
            Throwable refused = null;
            try
            {
                region.byteBuffer();
            }
            catch (final OutOfMemoryError ex)
            {
                refused = ex;
            }
            // the template has capacity 0 now, which the JDK's direct-memory limit does not count: the first view is
            // made at once (with capacity 1 the JDK collected and slept about half a second, then refused)
            check(refused == null, "the first view was refused with the JDK's direct memory spent: " + refused);
            direct.clear(); // the next direct allocation's own GC gives it back
            final ByteBuffer view = region.byteBuffer();
            check(view.capacity() == 4096, "view capacity " + view.capacity());
            view.putLong(0, 42L);
            check(region.buffer().getLong(0, java.nio.ByteOrder.BIG_ENDIAN) == 42L, "the view is not over the region");
        }
        before.checkSame("after close");
    }

    /**
     * A new block refused while a transaction with a budget and a savepoint inside it are open: the call throws
     * {@link OutOfMemoryError} (the try form returns {@link Arena#NULL}), and the arena, both transactions and the
     * accounting are as before; once memory is back the same request succeeds.
     */
    private static void arenaBlockRefusedInsideSavepoint()
    {
        final Native before = Native.now();
        try (Arena arena = Arena.builder().initialBlockSize(64 * 1024).build())
        {
            arena.allocate(100);
            final Transaction tx = arena.transaction();
            tx.setLimit(1L << 30);
            tx.allocate(1000);
            final Transaction sp = tx.savepoint();
            sp.allocate(2000);
            final String state = arenaState(arena, tx, sp);
            final Native held = Native.now();

            squeeze();
            expectRefused(() -> sp.allocate(BIG), "a savepoint's allocation of a new block");
            expectRefused(() -> arena.allocate(BIG - 4096, 64), "the arena's allocation of a new block"); // not the same size
            check(sp.tryAllocate(BIG, 8) == Arena.NULL, "tryAllocate was not NULL");
            check(arena.tryAllocate(BIG, 8) == Arena.NULL, "arena tryAllocate was not NULL");
            expectRefused(() -> sp.allocateZeroed(BIG, 8), "allocateZeroed");
            relax();
            checkEqual(state, arenaState(arena, tx, sp), "arena state after refusals");
            held.checkSame("after the refusals");

            final long ref = sp.allocate(BIG);
            arena.buffer(ref).putLong(Arena.offset(ref) + BIG - 8, 7L);
            check(arena.blockCount() == 2, "block count " + arena.blockCount());
            check(sp.bytesUsed() >= 2000 + BIG, "savepoint bytes used " + sp.bytesUsed());
            sp.rollback();
            tx.commit();
            check(arena.transactionDepth() == 0, "depth " + arena.transactionDepth());
        }
        before.checkSame("after close");
    }

    private static String arenaState(final Arena arena, final Transaction tx, final Transaction sp)
    {
        return "stats=" + arena.stats() + " depth=" + arena.transactionDepth() + " txUsed=" + tx.bytesUsed() +
            " txRemaining=" + tx.budgetRemaining() + " spUsed=" + sp.bytesUsed() + " spDiff=" + sp.diff() +
            " txDiff=" + tx.diff() + " open=" + tx.isOpen() + sp.isOpen();
    }

    /**
     * A vector whose growth needs a new block the OS refuses: it throws, {@code tryReserve} says false, and the vector
     * keeps its size, capacity and elements, as does the arena; once memory is back it grows and keeps them.
     */
    private static void arenaVecGrowthRefused()
    {
        final Native before = Native.now();
        try (Arena arena = Arena.builder().initialBlockSize(64 * 1024).build())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 16);
            for (int i = 0; i < 16; i++)
            {
                vec.push(i * 3L);
            }
            arena.allocate(64); // above the vector: growth cannot stay in place
            final String state = arena.stats() + " size=" + vec.size() + " capacity=" + vec.capacity();
            final Native held = Native.now();
            squeeze();
            expectRefused(() -> vec.reserve(BIG / 8), "reserve");
            expectRefused(() -> vec.reserveExact(BIG / 8), "reserveExact");
            final boolean granted = vec.tryReserve(BIG / 8);
            relax();
            check(!granted, "tryReserve granted a refused block");
            checkEqual(state, arena.stats() + " size=" + vec.size() + " capacity=" + vec.capacity(), "vector state");
            held.checkSame("after the refusals");
            for (int i = 0; i < 16; i++)
            {
                checkEqual(i * 3L, vec.get(i), "element " + i);
            }
            vec.reserve(BIG / 8);
            check(vec.capacity() >= 16 + BIG / 8, "capacity after retry " + vec.capacity());
            for (int i = 0; i < 16; i++)
            {
                checkEqual(i * 3L, vec.get(i), "element " + i + " after growth");
            }
        }
        before.checkSame("after close");
    }

    /**
     * The current chunk holds a live slice and has no room: a new chunk is needed and refused. The allocator keeps its
     * current chunk (a small slice still goes there), its stats and the slice; once memory is back the request
     * succeeds.
     */
    private static void sliceFreshChunkRefused()
    {
        final Native before = Native.now();
        final int capacity = BIG / 8;
        try (SliceAllocator slices = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(capacity).build())
        {
            final SharedSlice live = slices.allocateLongs(4, i -> 100 + i);
            final String stats = slices.stats().toString();
            final Native held = Native.now();
            squeeze();
            expectRefused(() -> slices.allocateLongs(capacity, i -> i), "a slice needing a fresh chunk");
            expectRefused(() -> slices.allocateLongsRef(capacity, i -> i), "a reference needing a fresh chunk");
            expectRefused(() -> slices.allocateLocalLongs(capacity, i -> i, new SliceReader()),
                "a local slice needing a fresh chunk");
            relax();
            checkEqual(stats, slices.stats().toString(), "slice stats");
            held.checkSame("after the refusals");
            checkEqual(103L, live.getLong(3), "the live slice");
            try (SharedSlice small = slices.allocateLongs(2, i -> 7))
            {
                checkEqual(1L, slices.stats().liveChunks(), "a small slice went to another chunk: live chunks");
                checkEqual(7L, small.getLong(1), "small slice");
            }
            try (SharedSlice big = slices.allocateLongs(capacity, i -> i))
            {
                checkEqual((long)capacity - 1, big.getLong(capacity - 1), "big slice");
            }
            live.close();
        }
        before.checkSame("after close");
    }

    /**
     * A slice larger than a chunk needs a dedicated chunk of its own, refused: shared, local and reference forms throw
     * and change nothing; the current chunk stays in use.
     */
    private static void sliceDedicatedChunkRefused()
    {
        final Native before = Native.now();
        try (SliceAllocator slices = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(1024).build())
        {
            final SharedSlice live = slices.allocateLongs(4, i -> 100 + i);
            final String stats = slices.stats().toString();
            final Native held = Native.now();
            squeeze();
            expectRefused(() -> slices.allocateLongs(BIG / 8, i -> i), "a dedicated chunk");
            expectRefused(() -> slices.allocateLongsRef(BIG / 8, i -> i), "a dedicated chunk for a reference");
            expectRefused(() -> slices.allocateLocalLongs(BIG / 8, i -> i, new SliceReader()),
                "a dedicated chunk for a local slice");
            relax();
            checkEqual(stats, slices.stats().toString(), "slice stats");
            held.checkSame("after the refusals");
            checkEqual(103L, live.getLong(3), "the live slice");
            final long ref = slices.allocateLongsRef(8, i -> i * 2);
            checkEqual(14L, slices.getLong(ref, 7), "a reference after the refusals");
            checkEqual(1L, slices.stats().liveChunks(), "a small slice went to another chunk: live chunks");
            slices.release(ref);
            final long big = slices.allocateLongsRef(BIG / 8, i -> 1);
            checkEqual(1L, slices.getLong(big, BIG / 8 - 1), "dedicated slice after retry");
            slices.release(big);
            live.close();
        }
        before.checkSame("after close");
    }

    /**
     * A strict allocator's first call, refused its dedicated chunk: it binds nothing (NineteenthReviewSliceTest's
     * rule), so another thread can make the first allocation afterwards; the allocator's stats are as before.
     */
    private static void sliceFirstCallsDedicatedChunkRefused()
    {
        final Native before = Native.now();
        try (SliceAllocator slices = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(1024).build())
        {
            final String stats = slices.stats().toString();
            squeeze();
            expectRefused(() -> slices.allocateLongs(BIG / 8, i -> i), "a first call's dedicated chunk");
            relax();
            checkEqual(stats, slices.stats().toString(), "slice stats");
            final Throwable[] other = new Throwable[1];
            final Thread second = new Thread(() ->
            {
                try
                {
                    slices.allocateLongs(4, i -> i).release();
                    slices.close(); // the owner's to close
                }
                catch (final Throwable ex)
                {
                    other[0] = ex;
                }
            }, "second-caller");
            second.start();
            try
            {
                second.join();
            }
            catch (final InterruptedException ex)
            {
                throw new AssertionError(ex);
            }
            check(other[0] == null, "another thread's first allocation after the refusal: " + other[0]);
        }
        before.checkSame("after close");
    }

    /** Pool arenas whose region is refused at build: nothing held, a retry works. */
    private static void poolArenaBuildRefused()
    {
        final Native before = Native.now();
        squeeze();
        expectRefused(() -> FixedArena.builder(16, BIG / 16).build(), "FixedArena build");
        expectRefused(() -> BuddyArena.builder(BIG, 4096).build(), "BuddyArena build");
        relax();
        before.checkSame("after the refusals");
        try (FixedArena fixed = FixedArena.builder(16, BIG / 16).build();
             BuddyArena buddy = BuddyArena.builder(BIG, 4096).build())
        {
            check(fixed.slotCount() == 16 && buddy.totalBytes() == BIG, "arenas built");
        }
        before.checkSame("after close");
    }

    /** A lake and a thread lake refused: nothing held or counted, a retry works. */
    private static void lakeAndThreadLakeRefused()
    {
        final Native before = Native.now();
        try (ThreadLakes lakes = ThreadLakes.builder(BIG).build())
        {
            final String stats = lakes.stats().toString();
            squeeze();
            expectRefused(() -> Lake.builder(BIG).build(), "Lake build");
            expectRefused(lakes::init, "ThreadLakes.init");
            relax();
            checkEqual(stats, lakes.stats().toString(), "thread lakes stats");
            before.checkSame("after the refusals");
            final Lake lake = lakes.init();
            lake.allocate(BIG - 64);
            lakes.release();
        }
        before.checkSame("after close");
    }

    /**
     * An arena's first block, a slice allocator's first chunk and a vector's first storage (the factory with a
     * capacity) refused: nothing held, the arena under the vector unchanged, and each works once memory is back.
     */
    private static void firstBlocksAndChunksRefused()
    {
        final Native before = Native.now();
        try (Arena arena = Arena.builder().initialBlockSize(64 * 1024).build())
        {
            arena.allocate(10);
            final String stats = arena.stats().toString();
            final Native held = Native.now();
            squeeze();
            expectRefused(() -> Arena.builder().initialBlockSize(BIG).build(), "an arena's first block");
            expectRefused(() -> SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(BIG / 8).build(),
                "a slice allocator's first chunk");
            expectRefused(() -> ArenaVec.ofLongs(arena, BIG / 8), "a vector's first storage");
            relax();
            checkEqual(stats, arena.stats().toString(), "arena stats under the refused vector");
            held.checkSame("after the refusals");
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, BIG / 8);
            vec.push(5L);
            checkEqual(5L, vec.get(0), "vector after retry");
            try (Arena big = Arena.builder().initialBlockSize(BIG).build();
                 SliceAllocator slices = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(BIG / 8).build())
            {
                check(big.stats().bytesReserved() == BIG && slices.chunkCapacity() == BIG / 8, "built after retry");
            }
        }
        before.checkSame("after close");
    }

    /**
     * The first region of a JVM, made while the address space has room for the region but not for a thread's stack:
     * the call may fail, but then it must hold nothing, and a retry once memory is back must work and count exactly.
     */
    private static void firstRegionWithoutRoomForAThread()
    {
        // Outside the squeeze, whatever the first region loads and links from the JDK and Lake (the cleaner's thread
        // machinery, string concatenation, the region's classes but not NativeMemory's initializer): inside it the JVM
        // itself has little room for class loading, and a JVM that cannot malloc there aborts instead of throwing.
        java.lang.ref.Cleaner.create();
        System.out.println("warm-up " + "Region[" + BIG + " B, align " + filled + "]" + Region.emptyBuffer().capacity() +
            Region.builder(1).alignment(64).zeroed(false).preTouch(false));
        try
        {
            Class.forName("dev.lake.memory.NativeMemory", false, Region.class.getClassLoader());
            Class.forName("dev.lake.memory.Region$Deallocator", false, Region.class.getClassLoader());
        }
        catch (final ClassNotFoundException ex)
        {
            throw new AssertionError(ex);
        }
        squeeze();
        squeezeFurther(512L << 10); // now under one thread stack (-Xss512k)
        Throwable refused = null;
        try
        {
            Region.allocate(4096).close();
        }
        catch (final Throwable ex)
        {
            refused = ex;
        }
        relax();
        System.out.println("first region while squeezed: " + (refused == null ? "made" : refused.toString()));
        try (Region region = Region.allocate(4096))
        {
            checkEqual(1L, NativeMemory.liveRegions(), "live regions");
            check(NativeMemory.reservedBytes() >= 4096 && NativeMemory.reservedBytes() < 4096 + 64,
                "reserved bytes " + NativeMemory.reservedBytes());
            region.buffer().putLong(0, 1L);
        }
        checkEqual(0L, NativeMemory.liveRegions(), "live regions after close");
        checkEqual(0L, NativeMemory.reservedBytes(), "reserved bytes after close");
    }

    /** Takes what is left of the address space in steps of {@code step} bytes, until refused. */
    private static void squeezeFurther(final long step)
    {
        try
        {
            while (filled < FILLER.length)
            {
                FILLER[filled] = UnsafeApi.allocateMemory(step);
                filled++;
            }
        }
        catch (final OutOfMemoryError refused)
        {
            // full at this step size
        }
    }

    // -------------------------------------------------------------------------------------------------------------
    // Address space
    // -------------------------------------------------------------------------------------------------------------

    /**
     * Takes the process's address space in raw mallocs until refused, first in {@link #STEP}s, then in
     * {@link #FINE_STEP}s (so what is left is under one fine step, not anything up to a whole step: a residue near
     * {@code STEP} plus the headroom would grant {@link #BIG}), then gives {@link #HEADROOM_STEPS} of the big steps back.
     */
    static void squeeze()
    {
        if (filled > 0)
        {
            throw new IllegalStateException("already squeezed");
        }
        try
        {
            while (filled < FILLER.length)
            {
                FILLER[filled] = UnsafeApi.allocateMemory(STEP);
                filled++;
            }
            throw new IllegalStateException("the address space is not limited: run under ulimit -v");
        }
        catch (final OutOfMemoryError refused)
        {
            if (filled <= HEADROOM_STEPS)
            {
                relax();
                throw new IllegalStateException("ulimit -v left no room to squeeze: " + filled + " steps", refused);
            }
        }
        squeezeFurther(FINE_STEP);
        for (int i = 0; i < HEADROOM_STEPS; i++)
        {
            UnsafeApi.freeMemory(FILLER[i]); // the first steps are big ones
            FILLER[i] = 0;
        }
    }

    /** Gives all of the filler back. */
    static void relax()
    {
        while (filled > 0)
        {
            final long address = FILLER[--filled];
            if (address != 0)
            {
                UnsafeApi.freeMemory(address);
            }
        }
    }

    private static void expectRefused(final Runnable call, final String what)
    {
        try
        {
            call.run();
        }
        catch (final OutOfMemoryError expected)
        {
            // the refusal must be the operating system's, reaching Lake from Unsafe.allocateMemory, not the heap's
            for (final StackTraceElement frame : expected.getStackTrace())
            {
                if (frame.getMethodName().equals("allocateMemory"))
                {
                    return;
                }
            }
            relax();
            throw new AssertionError(what + ": refused, but not by malloc: " + expected, expected);
        }
        catch (final Throwable other)
        {
            relax();
            throw new AssertionError(what + ": expected OutOfMemoryError, got " + other, other);
        }
        relax();
        throw new AssertionError(what + ": granted while squeezed (the squeeze left too much room)");
    }

    private static void check(final boolean condition, final String what)
    {
        if (!condition)
        {
            throw new AssertionError(what);
        }
    }

    private static void checkEqual(final Object expected, final Object actual, final String what)
    {
        if (!Objects.equals(expected, actual))
        {
            throw new AssertionError(what + ": expected <" + expected + "> but was <" + actual + ">");
        }
    }

    /** Lake's native accounting at one moment. */
    private record Native(long reserved, long regions, long leaks)
    {
        static Native now()
        {
            return new Native(NativeMemory.reservedBytes(), NativeMemory.liveRegions(), NativeMemory.leaks());
        }

        void checkSame(final String when)
        {
            checkEqual(this, now(), "native accounting " + when);
        }
    }
}
