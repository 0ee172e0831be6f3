package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Local slices ({@link SliceAllocator#allocateLocalLongs} and siblings): allocated straight into a
 * {@link SliceReader}, released by closing it on the allocating thread without an atomic instruction, their bytes
 * reused when they were the last allocated. Every rule of the shared tiers still holds around them.
 */
class SliceLocalTest extends NativeBaselineTest
{
    private static final long OFFSET_MASK = (1L << 28) - 1;

    @Test
    void localSliceIsFilledReadAndReleasedByClosingItsReader()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final SliceReader reader = new SliceReader();
            try (SliceReader r = alloc.allocateLocalLongs(10, i -> i * 7L, reader))
            {
                assertSame(reader, r);
                assertTrue(r.isBound());
                assertEquals(10, r.length());
                assertEquals(ElementLayout.LONG, r.layout());
                for (int i = 0; i < 10; i++)
                {
                    assertEquals(i * 7L, r.getLong(i));
                }
                assertEquals(80, alloc.stats().liveSliceBytes());
                assertEquals(1, alloc.stats().slicesAllocated());
                assertTrue(r.toString().contains("local"), r.toString());
            }
            assertFalse(reader.isBound());
            assertEquals(0, alloc.stats().liveSliceBytes());
            assertEquals(1, alloc.stats().slicesAllocated());
            assertEquals(1, alloc.stats().liveChunks());
        }
    }

    @Test
    void theLastLocalSliceGivesItsBytesBackAndOthersLeaveAReleasedHeader()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final long first = alloc.allocateLongsRef(2, i -> i);
            final int afterFirst = SliceAllocator.dataOf(first) + 2 * Long.BYTES;
            final SliceReader a = new SliceReader();
            final SliceReader b = new SliceReader();

            // Last allocated, closed first: its bytes go straight to the next slice.
            alloc.allocateLocalLongs(3, i -> 100 + i, a).close();
            final long reuse = alloc.allocateLongsRef(1, i -> 9);
            assertEquals(afterFirst + SliceAllocator.HEADER, SliceAllocator.dataOf(reuse), "stack order: same bytes");

            // Not the last one: released in place, the next allocation goes after the newer slice.
            alloc.allocateLocalLongs(3, i -> 200 + i, a);
            alloc.allocateLocalLongs(2, i -> 300 + i, b);
            a.close();
            final long after = alloc.allocateLongsRef(1, i -> 7);
            b.close();
            final long next = alloc.allocateLongsRef(1, i -> 8);
            assertTrue(SliceAllocator.dataOf(next) > SliceAllocator.dataOf(after), "nothing below a live slice moves");
            assertEquals(9, alloc.getLong(reuse, 0));
            assertEquals(7, alloc.getLong(after, 0));
            assertEquals(16 + 8 + 8 + 8, alloc.stats().liveSliceBytes(), "only the references are live");
            alloc.release(first);
            alloc.release(reuse);
            alloc.release(after);
            alloc.release(next);
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void aSteadyLocalLoopStaysInOneChunkAndAllocatesNothing()
    {
        try (SliceAllocator alloc = longs(256))
        {
            final SliceReader reader = new SliceReader();
            final long reserved = alloc.stats().reservedBytes();
            long sum = 0;
            for (int round = 0; round < 100_000; round++)
            {
                final int n = 1 + round % 200;
                try (SliceReader r = alloc.allocateLocalLongs(n, i -> i, reader))
                {
                    sum += r.getLong(n - 1);
                }
            }
            assertTrue(sum > 0);
            final SliceStats stats = alloc.stats();
            assertEquals(1, stats.liveChunks());
            assertEquals(reserved, stats.reservedBytes());
            assertEquals(0, stats.liveSliceBytes());
            assertEquals(100_000, stats.slicesAllocated());
        }
    }

    @Test
    void localSlicesMixWithSharedOnesAndTheChunkIsResetOnceAllAreGone()
    {
        try (SliceAllocator alloc = longs(32))
        {
            final SliceReader l1 = new SliceReader();
            final SliceReader l2 = new SliceReader();
            final SharedSlice h = alloc.allocateLongs(8, i -> i);
            alloc.allocateLocalLongs(8, i -> i, l1);
            final long ref = alloc.allocateLongsRef(8, i -> i);
            alloc.allocateLocalLongs(4, i -> i, l2);
            assertEquals(28 * 8, alloc.stats().liveSliceBytes());
            l1.close();
            h.release();
            alloc.release(ref);
            l2.close();
            assertEquals(0, alloc.stats().liveSliceBytes());
            // The chunk is full of dead slices: the next large slice resets it in place instead of starting one.
            final long reserved = alloc.stats().reservedBytes();
            final SharedSlice big = alloc.allocateLongs(30, i -> -i);
            assertEquals(reserved, alloc.stats().reservedBytes(), "reset in place, no new chunk");
            assertEquals(1, alloc.stats().liveChunks());
            assertEquals(-29, big.getLong(29));
            big.release();
        }
    }

    @Test
    void everyLayoutHasALocalVariant()
    {
        final SliceReader r = new SliceReader();
        try (SliceAllocator ints = SliceAllocator.builder(ElementLayout.INT).chunkCapacity(64).build())
        {
            ints.allocateLocalInts(5, i -> i * 3, r);
            assertEquals(12, r.getInt(4));
            assertThrows(IllegalStateException.class, () -> r.getLong(0));
            r.close();
        }
        try (SliceAllocator doubles = SliceAllocator.builder(ElementLayout.DOUBLE).chunkCapacity(64).build())
        {
            doubles.allocateLocalDoubles(5, i -> i / 2.0, r);
            assertEquals(2.0, r.getDouble(4));
            r.close();
        }
        try (SliceAllocator bytes = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build())
        {
            bytes.allocateLocalBytes(7, i -> (byte)(i + 1), r);
            assertEquals(7, r.getByte(6));
            r.close();
            bytes.allocateLocalBytes(3, i -> (byte)i, r); // odd lengths keep the next header aligned
            bytes.allocateLocalBytes(0, i -> (byte)i, new SliceReader()).close();
            r.close();
            assertEquals(0, bytes.stats().liveSliceBytes());
        }
        try (SliceAllocator records = SliceAllocator.builder(ElementLayout.record(12, 4)).chunkCapacity(64).build())
        {
            records.allocateLocal(3, (buffer, offset, index) ->
            {
                buffer.putInt(offset, index);
                buffer.putLong(offset + 4, index * 10L);
            }, r);
            final org.agrona.concurrent.UnsafeBuffer copy = new org.agrona.concurrent.UnsafeBuffer(new byte[36]);
            r.getBytes(0, copy, 0, 36);
            assertEquals(2, copy.getInt(24));
            assertEquals(20L, copy.getLong(28));
            r.close();
            assertEquals(0, records.stats().liveSliceBytes());
        }
        try (SliceAllocator longs = longs(64))
        {
            longs.allocateLocal(2, (buffer, offset, index) -> buffer.putLong(offset, 5L + index), r);
            assertEquals(6, r.getLong(1));
            r.close();
        }
    }

    @Test
    void lengthZeroBindsAnEmptySliceThatOwnsNothing()
    {
        try (SliceAllocator alloc = longs(16))
        {
            final SliceReader r = alloc.allocateLocalLongs(0, i -> i, new SliceReader());
            assertTrue(r.isBound());
            assertEquals(0, r.length());
            assertThrows(IndexOutOfBoundsException.class, () -> r.getLong(0));
            r.close();
            assertEquals(0, alloc.stats().slicesAllocated());
            assertThrows(StaleHandleException.class, r::close);
        }
    }

    @Test
    void misuseFailsClearlyAndAllocatesNothing()
    {
        try (SliceAllocator alloc = longs(16))
        {
            final SliceReader r = new SliceReader();
            final long slices = alloc.stats().slicesAllocated();
            alloc.allocateLocalLongs(2, i -> i, r);
            assertThrows(IllegalStateException.class, () -> alloc.allocateLocalLongs(2, i -> i, r), "bound reader");
            assertEquals(slices + 1, alloc.stats().slicesAllocated(), "nothing allocated for the bound reader");
            assertEquals(1, r.getLong(1), "and the reader still holds its own slice");
            assertThrows(IndexOutOfBoundsException.class, () -> r.getLong(2));
            assertThrows(IndexOutOfBoundsException.class, () -> r.getLong(-1));
            assertThrows(IllegalStateException.class, () -> r.getInt(0));
            r.close();
            assertThrows(StaleHandleException.class, () -> r.getLong(0), "read after close");
            assertThrows(StaleHandleException.class, r::length);
            assertThrows(StaleHandleException.class, r::close, "double close");
            assertThrows(IllegalArgumentException.class, () -> alloc.allocateLocalLongs(-1, i -> i, r));
            assertThrows(IllegalArgumentException.class, () -> alloc.allocateLocalLongs(Integer.MAX_VALUE, i -> i, r));
            assertThrows(IllegalStateException.class, () -> alloc.allocateLocalInts(1, i -> i, r), "layout");
            assertThrows(NullPointerException.class, () -> alloc.allocateLocalLongs(1, i -> i, null));
            assertFalse(r.isBound());
            assertEquals(slices + 1, alloc.stats().slicesAllocated());
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
        final SliceAllocator closed = longs(16);
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.allocateLocalLongs(1, i -> i, new SliceReader()));
    }

    @Test
    void aThrowingInitializerChangesNothing()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final long before = alloc.allocateLongsRef(1, i -> 1);
            final SliceStats stats = alloc.stats();
            final SliceReader r = new SliceReader();
            final IllegalArgumentException boom = assertThrows(IllegalArgumentException.class, () ->
                alloc.allocateLocalLongs(8, i ->
                {
                    if (i == 5)
                    {
                        throw new IllegalArgumentException("boom");
                    }
                    return i;
                }, r));
            assertEquals("boom", boom.getMessage());
            assertFalse(r.isBound());
            assertEquals(stats, alloc.stats());
            final long next = alloc.allocateLongsRef(1, i -> 2);
            assertEquals(SliceAllocator.dataOf(before) + 16, SliceAllocator.dataOf(next), "the offset did not move");
            // and through the general path (a fresh chunk for the request): the chunk started for it is freed
            final long reserved = alloc.stats().reservedBytes();
            assertThrows(IllegalArgumentException.class, () ->
                alloc.allocateLocalLongs(200, i ->
                {
                    throw new IllegalArgumentException("late");
                }, r));
            assertEquals(reserved, alloc.stats().reservedBytes());
            assertFalse(r.isBound());
            alloc.release(before);
            alloc.release(next);
        }
    }

    @Test
    void anInitializerCannotReenterTheAllocatorOrReleaseALocalSlice()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final SliceReader other = alloc.allocateLocalLongs(2, i -> i, new SliceReader());
            final SliceReader r = new SliceReader();
            final IllegalStateException nested = assertThrows(IllegalStateException.class, () ->
                alloc.allocateLocalLongs(2, i -> alloc.allocateLongsRef(1, j -> j), r));
            assertTrue(nested.getMessage().contains("initializer"), nested.getMessage());
            final IllegalStateException release = assertThrows(IllegalStateException.class, () ->
                alloc.allocateLocalLongs(2, i ->
                {
                    other.close();
                    return i;
                }, r));
            assertTrue(release.getMessage().contains("initializer"), release.getMessage());
            assertTrue(other.isBound(), "the refused close changed nothing");
            assertFalse(r.isBound());
            assertEquals(1, other.getLong(1));
            other.close();
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void anInitializerThatBindsTheReaderItselfIsRefusedAndNothingIsLost()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final long ref = alloc.allocateLongsRef(2, i -> 60 + i);
            final SliceReader r = new SliceReader();
            // fast path (room in the current chunk)
            assertThrows(IllegalStateException.class, () -> alloc.allocateLocalLongs(4, i ->
            {
                if (i == 0)
                {
                    r.bind(alloc, ref);
                }
                return i;
            }, r));
            assertTrue(r.isBound());
            assertEquals(61, r.getLong(1), "still the binding the initializer made");
            r.close();
            // general path (a dedicated chunk): the slice was placed, so it is given back at once
            final long reserved = alloc.stats().reservedBytes();
            assertThrows(IllegalStateException.class, () -> alloc.allocateLocalLongs(100, i ->
            {
                if (i == 0)
                {
                    r.bind(alloc, ref);
                }
                return i;
            }, r));
            assertEquals(reserved, alloc.stats().reservedBytes(), "the dedicated chunk is gone again");
            assertEquals(61, r.getLong(1));
            r.close();
            alloc.release(ref);
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void closingOnAnotherThreadIsRefusedAndTheReaderStaysBound() throws Exception
    {
        try (SliceAllocator alloc = longs(64))
        {
            final SliceReader r = alloc.allocateLocalLongs(4, i -> i + 40, new SliceReader());
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final AtomicReference<Long> readThere = new AtomicReference<>();
            final Thread other = new Thread(() ->
            {
                readThere.set(r.getLong(3)); // reading on another thread is fine once handed over
                try
                {
                    r.close();
                }
                catch (final Throwable ex)
                {
                    failure.set(ex);
                }
            });
            other.start();
            other.join();
            assertEquals(43L, readThere.get());
            assertInstanceOf(IllegalStateException.class, failure.get());
            assertTrue(failure.get().getMessage().contains("allocator's thread"), failure.get().getMessage());
            assertTrue(r.isBound());
            assertEquals(32, alloc.stats().liveSliceBytes());
            r.close();
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void racingClosesOfOneReaderReleaseItOnce() throws Exception
    {
        try (SliceAllocator alloc = longs(64))
        {
            for (int round = 0; round < 200; round++)
            {
                final SliceReader r = alloc.allocateLocalLongs(4, i -> i, new SliceReader());
                final CountDownLatch go = new CountDownLatch(1);
                final AtomicReference<Throwable> there = new AtomicReference<>();
                final Thread other = new Thread(() ->
                {
                    try
                    {
                        go.await();
                        r.close();
                    }
                    catch (final Throwable ex)
                    {
                        there.set(ex);
                    }
                });
                other.start();
                go.countDown();
                r.close();
                other.join();
                assertNotNull(there.get(), "the other thread's close never wins");
                assertTrue(there.get() instanceof IllegalStateException || there.get() instanceof StaleHandleException,
                    String.valueOf(there.get()));
                assertEquals(0, alloc.stats().liveSliceBytes());
            }
            assertEquals(1, alloc.stats().liveChunks());
        }
    }

    @Test
    void aForgedReferenceToALocalSliceIsRefusedWithoutTouchingIt()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final long neighbour = alloc.allocateLongsRef(2, i -> i);
            final SliceReader r = alloc.allocateLocalLongs(4, i -> 50 + i, new SliceReader());
            final int localData = SliceAllocator.dataOf(neighbour) + 2 * Long.BYTES + SliceAllocator.HEADER;
            final long forged = (neighbour & ~OFFSET_MASK) | (localData >>> 3);
            assertFalse(alloc.isLive(forged));
            assertThrows(StaleHandleException.class, () -> alloc.getLong(forged, 0));
            assertThrows(StaleHandleException.class, () -> alloc.length(forged));
            assertThrows(StaleHandleException.class, () -> alloc.retain(forged));
            assertThrows(StaleHandleException.class, () -> alloc.release(forged));
            assertThrows(StaleHandleException.class, () -> alloc.toHandle(forged));
            assertThrows(StaleHandleException.class, () -> new SliceReader().adopt(alloc, forged));
            assertThrows(StaleHandleException.class, () -> new SliceReader().bind(alloc, forged));
            assertEquals(53, r.getLong(3), "untouched");
            assertEquals(48, alloc.stats().liveSliceBytes());
            r.close();
            alloc.release(neighbour);
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void aLocalSliceLeftBehindByTheAllocatorIsReleasedIntoItsChunk()
    {
        final long regions = NativeMemory.liveRegions();
        try (SliceAllocator alloc = longs(16))
        {
            final SliceReader r = alloc.allocateLocalLongs(14, i -> i, new SliceReader());
            final SharedSlice next = alloc.allocateLongs(12, i -> i); // no room: a fresh chunk with more room
            assertEquals(2, alloc.stats().liveChunks());
            assertEquals(16, alloc.stats().wastedTailBytes(), "the first chunk was left behind");
            assertEquals(13, r.getLong(13));
            r.close(); // the first chunk's last reference: freed now, with one CAS
            assertEquals(1, alloc.stats().liveChunks());
            assertEquals(0, alloc.stats().wastedTailBytes());
            next.release();
            // a local slice larger than a chunk gets a dedicated chunk, freed when it is closed
            alloc.allocateLocalLongs(40, i -> i, r);
            assertEquals(2, alloc.stats().liveChunks());
            assertEquals(39, r.getLong(39));
            r.close();
            assertEquals(1, alloc.stats().liveChunks());
        }
        assertEquals(regions, NativeMemory.liveRegions());
    }

    @Test
    void closingTheAllocatorLeavesLocalSlicesReadableUntilTheirReadersClose()
    {
        final SliceAllocator alloc = longs(16);
        final SliceReader r = alloc.allocateLocalLongs(3, i -> 70 + i, new SliceReader());
        alloc.close();
        assertEquals(1, alloc.stats().liveChunks());
        assertEquals(72, r.getLong(2));
        r.close();
        assertEquals(new SliceStats(0, 0, 0, 0, 1), alloc.stats());
    }

    @Test
    void handOverWaitsUntilTheLiveOwnerClosedItsLocalSlices() throws Exception
    {
        try (SliceAllocator alloc = longs(64))
        {
            final SliceReader r = alloc.allocateLocalLongs(2, i -> i, new SliceReader());
            final AtomicReference<Throwable> refused = new AtomicReference<>();
            final Thread taker = new Thread(() ->
            {
                try
                {
                    alloc.bindToCurrentThread();
                }
                catch (final Throwable ex)
                {
                    refused.set(ex);
                }
            });
            taker.start();
            taker.join();
            assertInstanceOf(IllegalStateException.class, refused.get());
            assertTrue(refused.get().getMessage().contains("local slice"), refused.get().getMessage());
            alloc.allocateLongs(1, i -> i).release(); // still this thread's

            r.close();
            final AtomicReference<SharedSlice> made = new AtomicReference<>();
            final Thread second = new Thread(() ->
            {
                alloc.bindToCurrentThread();
                made.set(alloc.allocateLongs(1, i -> 11));
                alloc.allocateLocalLongs(1, i -> 12, new SliceReader()).close();
            });
            second.start();
            second.join();
            assertEquals(11, made.get().getLong(0));
            made.get().release();
            alloc.bindToCurrentThread(); // the second owner terminated: taking it back is always allowed
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void aTerminatedOwnersLocalSlicesAreClosedByTheNextOwner() throws Exception
    {
        try (SliceAllocator alloc = longs(64))
        {
            final AtomicReference<SliceReader> left = new AtomicReference<>();
            final Thread owner = new Thread(() ->
            {
                alloc.bindToCurrentThread();
                left.set(alloc.allocateLocalLongs(3, i -> 30 + i, new SliceReader()));
            });
            owner.start();
            owner.join();
            alloc.bindToCurrentThread(); // the owner is gone, so nothing can race
            final SliceReader r = left.get();
            assertEquals(32, r.getLong(2));
            r.close();
            assertEquals(0, alloc.stats().liveSliceBytes());
            assertEquals(1, alloc.stats().slicesAllocated());
        }
    }

    @Test
    void aLocalSliceNeverClosedIsCaughtByTheSafetyNet()
    {
        final long leaksBefore = NativeMemory.leaks();
        try (SliceAllocator alloc = longs(16))
        {
            leakLocal(alloc);
        }
        awaitBaseline();
        assertTrue(NativeMemory.leaks() > leaksBefore);
        assertTrue(NativeMemory.leakReports().stream().anyMatch(r -> r.what().contains("1 unreleased slice")),
            NativeMemory.leakReports().toString());
    }

    @Test
    void releasesOnEveryThreadKeepTheStatsExact() throws Exception
    {
        try (SliceAllocator alloc = longs(128))
        {
            final List<SharedSlice> handles = new ArrayList<>();
            final List<Long> refs = new ArrayList<>();
            for (int i = 0; i < 40; i++)
            {
                handles.add(alloc.allocateLongs(1 + i % 5, j -> j));
                refs.add(alloc.allocateLongsRef(1 + i % 3, j -> j));
            }
            final long live = alloc.stats().liveSliceBytes();
            assertTrue(live > 0);
            // half released here (the allocating thread's own counter), half on others (the shared one)
            for (int i = 0; i < 20; i++)
            {
                handles.get(i).release();
                alloc.release(refs.get(i));
            }
            final Thread[] others = new Thread[4];
            for (int t = 0; t < others.length; t++)
            {
                final int from = 20 + t * 5;
                others[t] = new Thread(() ->
                {
                    for (int i = from; i < from + 5; i++)
                    {
                        handles.get(i).release();
                        alloc.release(refs.get(i));
                    }
                });
                others[t].start();
            }
            for (final Thread t : others)
            {
                t.join();
            }
            assertEquals(0, alloc.stats().liveSliceBytes());

            // handed over to a thread that terminates, and back: the counts of both threads survive
            final AtomicReference<SharedSlice> kept = new AtomicReference<>();
            final Thread second = new Thread(() ->
            {
                alloc.bindToCurrentThread();
                alloc.allocateLongs(4, j -> j).release();
                alloc.allocateLocalLongs(4, j -> j, new SliceReader()).close();
                kept.set(alloc.allocateLongs(3, j -> j));
            });
            second.start();
            second.join();
            alloc.bindToCurrentThread(); // drops the terminated thread's counter, keeping what it counted
            assertEquals(24, alloc.stats().liveSliceBytes(), "the 3-long slice the second owner kept");
            assertEquals(83, alloc.stats().slicesAllocated());
            kept.get().release();
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void moreOpenLocalSlicesThanOneBatchOfSpareReferences()
    {
        try (SliceAllocator alloc = longs(8192))
        {
            final int count = 2_500; // more than the 1,024 spare references taken at a time
            final SliceReader[] readers = new SliceReader[count];
            for (int i = 0; i < count; i++)
            {
                final int id = i;
                readers[i] = alloc.allocateLocalLongs(1, j -> id, new SliceReader());
            }
            assertEquals(count * 8L, alloc.stats().liveSliceBytes());
            assertEquals(1, alloc.stats().liveChunks());
            for (int i = 0; i < count; i += 2)
            {
                assertEquals(i, readers[i].getLong(0));
                readers[i].close(); // released in place
            }
            for (int i = count - 1; i > 0; i -= 2)
            {
                assertEquals(i, readers[i].getLong(0));
                readers[i].close(); // the top ones roll back
            }
            assertEquals(0, alloc.stats().liveSliceBytes());
            final long reserved = alloc.stats().reservedBytes();
            alloc.allocateLongs(8192, j -> j).release(); // the whole chunk again: reset in place
            assertEquals(reserved, alloc.stats().reservedBytes());
        }
    }

    private static void leakLocal(final SliceAllocator alloc)
    {
        alloc.allocateLocalLongs(3, i -> i, new SliceReader());
    }
}
