package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The seventeenth review of the slice allocator: a model walk over record layouts of every alignment (passes), a
 * failed primitive allocation that leaves its chunk pinned (the leak safety net then never catches a leaked handle in
 * it), and {@code isLive} answering true for a forged reference whose slice runs past the chunk's allocated end.
 */
class SeventeenthReviewSliceTest extends NativeBaselineTest
{
    private static byte pattern(final long id, final int byteIndex)
    {
        return (byte)(id * 31 + byteIndex * 7 + 1);
    }

    /**
     * A model walk over record layouts of every alignment up to the page size: local, shared, primitive and
     * reader-bound slices, throwing initializers, values copied from a buffer; every byte of every live slice is
     * checked, and the stats against the model, after every step.
     */
    @Test
    void aRandomMixOverRecordLayoutsOfEveryAlignmentKeepsBytesStatsAndMemoryExact()
    {
        for (long seed = 1; seed <= 60; seed++)
        {
            walk(seed);
        }
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    private void walk(final long seed)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final int[] aligns = {1, 2, 4, 8, 16, 64, 256, 4096};
        final int alignment = aligns[rnd.nextInt(aligns.length)];
        final int size = 1 + rnd.nextInt(70);
        final ElementLayout layout = ElementLayout.record(size, alignment);
        final int stride = layout.stride();
        final int capacity = 1 + rnd.nextInt(12);
        final SliceAllocator alloc = SliceAllocator.builder(layout).chunkCapacity(capacity).build();
        final List<LiveSlice> live = new ArrayList<>();
        long liveBytes = 0;
        long allocated = 0;
        long nextId = 1;
        final String where = "seed " + seed + " " + layout + " capacity " + capacity;
        for (int step = 0; step < 1_500; step++)
        {
            final int op = rnd.nextInt(10);
            final int length = rnd.nextInt(10) == 0 ? capacity + 1 + rnd.nextInt(3) : 1 + rnd.nextInt(capacity);
            final long id = nextId++;
            final int bytes = length * stride;
            final ElementInit init = (w, offset, i) ->
            {
                for (int b = 0; b < stride; b++)
                {
                    w.putByte(offset + b, pattern(id, offset + b));
                }
            };
            try
            {
                if (op == 0)
                {
                    final LiveSlice l = new LiveSlice(0, id, length);
                    l.reader = alloc.allocateLocal(length, init, new SliceReader());
                    live.add(l);
                    liveBytes += bytes;
                    allocated++;
                }
                else if (op == 1)
                {
                    final LiveSlice l = new LiveSlice(1, id, length);
                    l.handle = alloc.allocate(length, init);
                    live.add(l);
                    liveBytes += bytes;
                    allocated++;
                }
                else if (op == 2)
                {
                    final LiveSlice l = new LiveSlice(2, id, length);
                    l.ref = alloc.allocateRef(length, init);
                    if (rnd.nextBoolean())
                    {
                        l.reader = new SliceReader().adopt(alloc, l.ref);
                        l.ref = 0;
                    }
                    live.add(l);
                    liveBytes += bytes;
                    allocated++;
                }
                else if (op == 3)
                {
                    final int failAt = rnd.nextInt(length);
                    final boolean ref = rnd.nextBoolean();
                    final FallibleInit<Exception> fails = (w, offset, i) ->
                    {
                        init.init(w, offset, i);
                        if (i == failAt)
                        {
                            throw new Exception("refused");
                        }
                    };
                    final SliceStats before = alloc.stats();
                    assertThrows(Exception.class, () ->
                    {
                        if (ref)
                        {
                            alloc.tryAllocateRef(length, fails);
                        }
                        else
                        {
                            alloc.tryAllocate(length, fails);
                        }
                    }, where);
                    final SliceStats after = alloc.stats();
                    assertEquals(before.liveSliceBytes(), after.liveSliceBytes(), where);
                    assertEquals(before.slicesAllocated(), after.slicesAllocated(), where);
                }
                else if (op == 4)
                {
                    final UnsafeBuffer src = new UnsafeBuffer(new byte[stride + 3]);
                    for (int b = 0; b < size; b++)
                    {
                        src.putByte(3 + b, pattern(id, b));
                    }
                    final LiveSlice l = new LiveSlice(1, id, 1);
                    l.handle = rnd.nextBoolean() ? alloc.allocateValue(src, 3).toSlice() :
                        alloc.allocateSingle((w, offset, i) -> w.putBytes(offset, src, 3, size)).toSlice();
                    live.add(l);
                    liveBytes += stride;
                    allocated++;
                }
                else if (!live.isEmpty())
                {
                    final LiveSlice l = live.remove(rnd.nextInt(live.size()));
                    check(alloc, l, stride, size, where + " step " + step);
                    if (op == 5 && l.kind == 1)
                    {
                        final SharedSlice other = l.handle.share();
                        l.handle.release();
                        l.handle = other;
                        live.add(l);
                        continue;
                    }
                    if (op == 6 && l.ref != 0)
                    {
                        alloc.retain(l.ref);
                        alloc.release(l.ref);
                        final SliceReader r = new SliceReader().bind(alloc, l.ref);
                        alloc.release(l.ref);
                        l.ref = 0;
                        l.reader = r;
                        live.add(l);
                        continue;
                    }
                    l.release(alloc);
                    liveBytes -= (long)l.length * stride;
                }
            }
            catch (final StaleHandleException ex)
            {
                fail(where + " step " + step + ": " + ex);
            }
            final SliceStats stats = alloc.stats();
            assertEquals(liveBytes, stats.liveSliceBytes(), where + " step " + step);
            assertEquals(allocated, stats.slicesAllocated(), where + " step " + step);
        }
        for (final LiveSlice l : live)
        {
            check(alloc, l, stride, size, where + " end");
        }
        alloc.close();
        for (final LiveSlice l : live)
        {
            check(alloc, l, stride, size, where + " after close");
            l.release(alloc);
        }
        final SliceStats stats = alloc.stats();
        assertEquals(0, stats.liveSliceBytes(), where);
        assertEquals(0, stats.liveChunks(), where);
        assertEquals(0, stats.reservedBytes(), where);
        assertEquals(0, stats.wastedTailBytes(), where);
    }

    /**
     * The leak safety net catches a leaked handle once the allocator has moved on from its chunk (slices.md: "A leaked
     * handle in the current chunk is caught once the allocator moves on or closes"), unless the primitive tier pinned the
     * chunk. A primitive allocation whose initializer throws allocates nothing ("if it throws, nothing is allocated";
     * FallibleInit: "leaves the allocator as it was"), yet it has pinned the current chunk before the initializer ran,
     * and the pin stays: the chunk is held by the allocator's table from then on, and the leaked handle in it is never
     * caught while the allocator lives. The control run (the same steps without the failed call) is caught.
     */
    @Test
    void aFailedPrimitiveAllocationLeavesItsChunkPinnedSoALeakedHandleThereIsNeverCaught()
    {
        assertTrue(leakCaughtAfterMovingOn(false), "control: the safety net did not catch the leaked handle");
        assertTrue(leakCaughtAfterMovingOn(true), "after allocateLongsRef threw in its initializer (nothing allocated), " +
            "the chunk stayed pinned in the allocator's table: the leaked handle in it was never caught");
    }

    private boolean leakCaughtAfterMovingOn(final boolean failedRefFirst)
    {
        SliceAllocator alloc = longs(16); // 136 B chunks
        final long leaksBefore = NativeMemory.leaks();
        try
        {
            leakOneHandle(alloc, failedRefFirst);
            final long deadline = System.nanoTime() + 5_000_000_000L;
            while (System.nanoTime() < deadline)
            {
                System.gc();
                if (NativeMemory.leaks() > leaksBefore)
                {
                    return true;
                }
                Thread.onSpinWait();
            }
            return false;
        }
        finally
        {
            alloc.close();
            alloc = null;
            awaitBaseline(); // the table goes with the allocator: its pinned chunk is reclaimed then
        }
    }

    private static void leakOneHandle(final SliceAllocator alloc, final boolean failedRefFirst)
    {
        SharedSlice leaked = alloc.allocateLongs(4, i -> i); // 40 B of the current chunk
        if (failedRefFirst)
        {
            assertThrows(IllegalArgumentException.class, () -> alloc.allocateLongsRef(4, i ->
            {
                throw new IllegalArgumentException("refused");
            }));
            assertEquals(0L, alloc.stats().slicesAllocated() - 1, "nothing was allocated");
        }
        alloc.allocateLongs(11, i -> i).release(); // fills the chunk: 96 B, a zombie now
        alloc.allocateLongs(4, i -> i).release(); // no room, a live slice: a fresh chunk becomes current
        assertEquals(2, alloc.stats().liveChunks());
        leaked = null; // the leak
    }

    /**
     * slices.md: "for {@code isLive}, the bulk copies and every call that changes a count, a header and its slice must also
     * lie below the chunk's allocated end". The seventh round made {@code isLive} check that the <em>header</em> lies
     * below the end; it never reads the length, so a reference forged onto a header-shaped word below the end, whose
     * slice runs past the end, is answered live, while retain, release, bind, adopt, toHandle and the bulk copies all
     * refuse it as "not a slice of its chunk".
     */
    @Test
    void isLiveRefusesAForgedReferenceWhoseSliceRunsPastTheAllocatedEnd()
    {
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        final long live = alloc.allocateLongsRef(1, i -> 7L);                     // data at 8, ends at 16
        final long headerShaped = (1L << 32) | 4;                                 // [length 4][count 1]
        final long carrier = alloc.allocateLongsRef(3, i -> i == 1 ? headerShaped : -1L); // data 24: 24, 32, 40; end 48
        final long forged = live + 4;                                             // data at 40, "header" at 32
        final SliceStats before = alloc.stats();
        try
        {
            assertThrows(StaleHandleException.class, () -> alloc.retain(forged), "the count-changing calls refuse it");
            assertThrows(StaleHandleException.class, () -> alloc.getLongs(forged, 0, new long[1], 0, 1));
            assertThrows(StaleHandleException.class, () -> new SliceReader().bind(alloc, forged));
            assertFalse(alloc.isLive(forged), "isLive answered true for a forged reference whose 4-long slice " +
                "[40, 72) runs past the chunk's allocated end (48)");
        }
        finally
        {
            assertEquals(before, alloc.stats());
            alloc.release(carrier);
            alloc.release(live);
            alloc.close();
        }
    }

    private static void check(final SliceAllocator alloc, final LiveSlice l, final int stride, final int size, final String where)
    {
        final int bytes = l.length * stride;
        final UnsafeBuffer copy = new UnsafeBuffer(new byte[bytes]);
        if (l.reader != null)
        {
            assertEquals(l.length, l.reader.length(), where);
            l.reader.getBytes(0, copy, 0, bytes);
        }
        else if (l.handle != null)
        {
            assertEquals(l.length, l.handle.length(), where);
            final DirectBuffer view = l.handle.buffer();
            assertEquals(bytes, view.capacity(), where);
            view.getBytes(0, copy, 0, bytes);
        }
        else
        {
            assertEquals(l.length, alloc.length(l.ref), where);
            assertTrue(alloc.isLive(l.ref), where);
            alloc.getBytes(l.ref, 0, copy, 0, bytes);
        }
        // a single handle may be a value copied from a buffer: only its record's size is written, not the padding
        final int checked = l.length == 1 && l.kind == 1 ? size : bytes;
        for (int b = 0; b < checked; b++)
        {
            assertEquals(pattern(l.id, b), copy.getByte(b), where + " id " + l.id + " byte " + b + " of " + bytes);
        }
    }
}
