package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The primitive tier's zero-garbage read path: {@link SliceReader} and the bulk accessors of {@link SliceAllocator}.
 */
class SliceReaderTest extends NativeBaselineTest
{
    @Test
    void adoptTakesOverTheCountAndCloseReleasesIt()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final SliceReader reader = new SliceReader();
            assertFalse(reader.isBound());
            final long ref = alloc.allocateLongsRef(10, i -> i * 3);
            try (SliceReader r = reader.adopt(alloc, ref))
            {
                assertSame(reader, r);
                assertTrue(r.isBound());
                assertEquals(10, r.length());
                assertEquals(ElementLayout.LONG, r.layout());
                for (int i = 0; i < 10; i++)
                {
                    assertEquals(i * 3L, r.getLong(i));
                }
                assertEquals(80, alloc.stats().liveSliceBytes(), "adopt moved the count, added none");
            }
            assertFalse(reader.isBound());
            assertFalse(alloc.isLive(ref), "closing the reader released the adopted count");
            assertEquals(0, alloc.stats().liveSliceBytes());
            assertThrows(StaleHandleException.class, () -> alloc.release(ref), "the count is gone");
        }
    }

    @Test
    void closeAfterAnotherHolderTookTheCountAndTheChunkWentThrowsAndTouchesNothing()
    {
        final SliceAllocator alloc = longs(64);
        final SliceReader reader = new SliceReader();
        final long ref = alloc.allocateLongsRef(4, i -> i);
        reader.adopt(alloc, ref);
        alloc.close();
        alloc.release(ref); // misuse: the count was handed to the reader; this frees the chunk under it
        final StaleHandleException gone = assertThrows(StaleHandleException.class, reader::close);
        assertTrue(gone.getMessage().contains("freed or reused"), gone.getMessage());
        assertFalse(reader.isBound(), "unbound either way");
        assertThrows(StaleHandleException.class, reader::close, "and a second close is a double close");
    }

    @Test
    void closeAfterTheChunkWasResetInPlaceForAnotherSliceThrowsAndLeavesThatSliceAlone()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final SliceReader reader = new SliceReader();
            final long ref = alloc.allocateLongsRef(4, i -> i);
            reader.adopt(alloc, ref);
            alloc.release(ref); // misuse again: the chunk is now empty and the next allocation resets it in place
            final long stranger = alloc.allocateLongsRef(4, i -> 40 + i);
            assertThrows(StaleHandleException.class, reader::close);
            assertTrue(alloc.isLive(stranger), "the reader did not release the slice now living at its offset");
            assertEquals(43, alloc.getLong(stranger, 3));
            alloc.release(stranger);
        }
    }

    @Test
    void bulkCopiesOfAnEmptySliceCopyNothing()
    {
        try (SliceAllocator alloc = longs(64); SliceReader reader = new SliceReader())
        {
            reader.bind(alloc, SliceAllocator.EMPTY_REF);
            final org.agrona.concurrent.UnsafeBuffer dst = new org.agrona.concurrent.UnsafeBuffer(new byte[8]);
            reader.getBytes(0, dst, 0, 0);
            reader.getLongs(0, new long[1], 0, 0);
            assertThrows(IndexOutOfBoundsException.class, () -> reader.getBytes(0, dst, 0, 1));
            alloc.getBytes(SliceAllocator.EMPTY_REF, 0, dst, 0, 0);
        }
    }

    @Test
    void closingTheAllocatorIsConfinedLikeAllocating() throws Exception
    {
        try (SliceAllocator alloc = longs(64))
        {
            alloc.release(alloc.allocateLongsRef(1, i -> i)); // binds the allocator to this thread
            final java.util.concurrent.atomic.AtomicReference<Throwable> thrown =
                new java.util.concurrent.atomic.AtomicReference<>();
            final Thread other = new Thread(() ->
            {
                try
                {
                    alloc.close();
                }
                catch (final Throwable ex)
                {
                    thrown.set(ex);
                }
            });
            other.start();
            other.join();
            assertInstanceOf(IllegalStateException.class, thrown.get());
            assertTrue(thrown.get().getMessage().contains("confined"), thrown.get().getMessage());
            final long stillWorks = alloc.allocateLongsRef(1, i -> 7);
            assertEquals(7, alloc.getLong(stillWorks, 0), "the refused close changed nothing");
            alloc.release(stillWorks);
        }
    }

    @Test
    void bindAddsACountAndTheCallerKeepsItsOwn()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final SliceReader reader = new SliceReader();
            final long ref = alloc.allocateLongsRef(4, i -> 100 + i);
            reader.bind(alloc, ref);
            alloc.release(ref);
            assertTrue(alloc.isLive(ref), "the reader's count keeps the slice");
            assertEquals(103, reader.getLong(3));
            reader.close();
            assertFalse(alloc.isLive(ref));
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void oneReaderIsReusedForManySlicesWithoutGarbage()
    {
        try (SliceAllocator alloc = longs(128))
        {
            final SliceReader reader = new SliceReader();
            for (int round = 0; round < 1_000; round++)
            {
                final int n = 1 + round % 100;
                final int seed = round;
                long sum = 0;
                try (SliceReader r = reader.adopt(alloc, alloc.allocateLongsRef(n, i -> seed + i)))
                {
                    for (int i = 0; i < r.length(); i++)
                    {
                        sum += r.getLong(i);
                    }
                }
                assertEquals((long)n * seed + (long)n * (n - 1) / 2, sum);
            }
            assertEquals(1, alloc.stats().liveChunks(), "steady loop: the current chunk is reused in place");
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void aBoundReaderKeepsItsChunkAfterEveryoneElseLetGo()
    {
        final SliceAllocator alloc = longs(16);
        final SliceReader reader = new SliceReader();
        final long ref = alloc.allocateLongsRef(16, i -> -i);
        reader.bind(alloc, ref);
        alloc.release(ref);
        for (int i = 0; i < 50; i++)
        {
            alloc.release(alloc.allocateLongsRef(16, x -> 7)); // the allocator moves on, resets and frees chunks
        }
        alloc.close();
        assertEquals(1, alloc.stats().liveChunks(), "the reader's chunk outlives the allocator");
        assertEquals(-15, reader.getLong(15), "still the slice's own bytes");
        reader.close();
        assertEquals(0, alloc.stats().liveChunks());
        assertEquals(0, alloc.stats().reservedBytes());
    }

    @Test
    void everyLayoutHasItsAccessorAndRefusesTheOthers()
    {
        final SliceReader reader = new SliceReader();
        try (SliceAllocator ints = SliceAllocator.builder(ElementLayout.INT).build())
        {
            reader.adopt(ints, ints.allocateIntsRef(3, i -> i - 1));
            assertEquals(1, reader.getInt(2));
            assertThrows(IllegalStateException.class, () -> reader.getLong(0));
            assertThrows(IllegalStateException.class, () -> reader.getLongs(0, new long[1], 0, 1));
            reader.close();
        }
        try (SliceAllocator doubles = SliceAllocator.builder(ElementLayout.DOUBLE).build())
        {
            reader.adopt(doubles, doubles.allocateDoublesRef(3, i -> i / 2.0));
            assertEquals(1.0, reader.getDouble(2));
            assertThrows(IllegalStateException.class, () -> reader.getInt(0));
            reader.close();
        }
        try (SliceAllocator bytes = SliceAllocator.builder(ElementLayout.BYTE).build())
        {
            reader.adopt(bytes, bytes.allocateBytesRef(3, i -> (byte)(i + 'a')));
            assertEquals('c', reader.getByte(2));
            assertThrows(IllegalStateException.class, () -> reader.getDouble(0));
            reader.close();
        }
        try (SliceAllocator records = SliceAllocator.builder(ElementLayout.record(12, 4)).build())
        {
            reader.adopt(records, records.allocateRef(2, (buffer, offset, index) -> buffer.putInt(offset + 8, 40 + index)));
            assertEquals(ElementLayout.record(12, 4), reader.layout());
            assertThrows(IllegalStateException.class, () -> reader.getByte(0));
            final UnsafeBuffer dst = new UnsafeBuffer(new byte[24]);
            reader.getBytes(0, dst, 0, 24);
            assertEquals(40, dst.getInt(8));
            assertEquals(41, dst.getInt(20));
            assertThrows(IndexOutOfBoundsException.class, () -> reader.getBytes(1, dst, 0, 24));
            reader.close();
        }
    }

    @Test
    void misuseFailsClearlyAndChangesNothing()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final SliceReader reader = new SliceReader();
            assertThrows(StaleHandleException.class, () -> reader.getLong(0), "never bound");
            assertThrows(StaleHandleException.class, reader::length);
            assertThrows(StaleHandleException.class, reader::close, "close of an unbound reader");

            final long a = alloc.allocateLongsRef(5, i -> i);
            final long b = alloc.allocateLongsRef(5, i -> i);
            reader.adopt(alloc, a);
            assertThrows(IndexOutOfBoundsException.class, () -> reader.getLong(5));
            assertThrows(IndexOutOfBoundsException.class, () -> reader.getLong(-1));
            assertThrows(IndexOutOfBoundsException.class, () -> reader.getLong(Integer.MIN_VALUE));
            assertThrows(IndexOutOfBoundsException.class, () -> reader.getLongs(3, new long[5], 0, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> reader.getLongs(0, new long[2], 0, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> reader.getLongs(0, new long[5], -1, 1));
            assertThrows(IllegalStateException.class, () -> reader.bind(alloc, b), "double bind");
            assertThrows(IllegalStateException.class, () -> reader.adopt(alloc, b), "double bind");
            assertEquals(4, reader.getLong(4), "still bound to the first slice");
            assertTrue(alloc.isLive(b), "the refused bind took nothing from b");
            reader.close();
            assertThrows(StaleHandleException.class, () -> reader.getLong(0), "use after close");
            assertThrows(StaleHandleException.class, () -> reader.getLongs(0, new long[1], 0, 1), "use after close");
            assertThrows(StaleHandleException.class, () -> reader.getBytes(0, new UnsafeBuffer(new byte[8]), 0, 8));
            assertThrows(StaleHandleException.class, reader::close, "double close");

            assertThrows(StaleHandleException.class, () -> reader.bind(alloc, a), "bind of a released reference");
            assertThrows(StaleHandleException.class, () -> reader.adopt(alloc, a), "adopt of a released reference");
            assertFalse(reader.isBound(), "a refused bind leaves the reader unbound");
            alloc.release(b);
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void bindOfAReferenceWhoseChunkWasFreedAndReusedIsRefused()
    {
        try (SliceAllocator alloc = longs(16))
        {
            final SliceReader reader = new SliceReader();
            final long dedicated = alloc.allocateLongsRef(100, i -> i);
            alloc.release(dedicated); // its chunk is freed
            final long again = alloc.allocateLongsRef(200, i -> -i); // a new chunk, maybe in the same slot
            assertThrows(StaleHandleException.class, () -> reader.bind(alloc, dedicated));
            assertFalse(reader.isBound());
            final long current = alloc.allocateLongsRef(16, i -> i);
            alloc.release(current);
            alloc.release(alloc.allocateLongsRef(16, i -> 9)); // the current chunk is reset: new generation
            assertThrows(StaleHandleException.class, () -> reader.adopt(alloc, current), "stale after reuse");
            assertThrows(StaleHandleException.class, () -> reader.bind(alloc, 0x7FFF_0000_0000_0008L), "forged");
            alloc.release(again);
        }
    }

    @Test
    void emptyReferenceBindsAnEmptySlice()
    {
        try (SliceAllocator alloc = longs(16))
        {
            final SliceReader reader = new SliceReader();
            reader.bind(alloc, alloc.allocateLongsRef(0, i -> i));
            assertEquals(0, reader.length());
            assertThrows(IndexOutOfBoundsException.class, () -> reader.getLong(0));
            reader.getLongs(0, new long[0], 0, 0);
            reader.close();
            reader.adopt(alloc, SliceAllocator.EMPTY_REF).close();
            alloc.getLongs(SliceAllocator.EMPTY_REF, 0, new long[0], 0, 0);
            assertThrows(IndexOutOfBoundsException.class, () -> alloc.getLongs(SliceAllocator.EMPTY_REF, 0, new long[1], 0, 1));
        }
    }

    @Test
    void bulkAccessorsCopyAfterOneValidation()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final long ref = alloc.allocateLongsRef(20, i -> i * 11);
            final long[] dst = new long[25];
            alloc.getLongs(ref, 5, dst, 2, 15);
            assertEquals(0, dst[1]);
            assertEquals(55, dst[2]);
            assertEquals(19 * 11, dst[16]);
            assertEquals(0, dst[17]);
            final UnsafeBuffer bytes = new UnsafeBuffer(new byte[160]);
            alloc.getBytes(ref, 8, bytes, 0, 152);
            assertEquals(11, bytes.getLong(0));
            assertEquals(19 * 11, bytes.getLong(144));
            assertThrows(IndexOutOfBoundsException.class, () -> alloc.getLongs(ref, 6, dst, 0, 15));
            assertThrows(IndexOutOfBoundsException.class, () -> alloc.getLongs(ref, 0, dst, 20, 15));
            assertThrows(IndexOutOfBoundsException.class, () -> alloc.getLongs(ref, 0, dst, 0, -1));
            assertThrows(IndexOutOfBoundsException.class, () -> alloc.getBytes(ref, 0, bytes, 0, 161));
            final SliceReader reader = new SliceReader();
            try (SliceReader r = reader.bind(alloc, ref))
            {
                final long[] all = new long[20];
                r.getLongs(0, all, 0, 20);
                assertEquals(19 * 11, all[19]);
            }
            assertTrue(alloc.isLive(ref), "the bulk copies and the reader gave their counts back");
            assertEquals(160, alloc.stats().liveSliceBytes());
            alloc.release(ref);
            assertThrows(StaleHandleException.class, () -> alloc.getLongs(ref, 0, dst, 0, 1), "after release");
            assertThrows(StaleHandleException.class, () -> alloc.getBytes(ref, 0, bytes, 0, 8), "after release");
        }
        try (SliceAllocator ints = SliceAllocator.builder(ElementLayout.INT).build())
        {
            final long ref = ints.allocateIntsRef(2, i -> i);
            assertThrows(IllegalStateException.class, () -> ints.getLongs(ref, 0, new long[2], 0, 2), "wrong layout");
            ints.release(ref);
        }
    }

    @Test
    void referencesCrossTwelveThreadsThroughReusedReaders() throws Exception
    {
        final long regionsBefore = NativeMemory.liveRegions();
        final int workers = 12;
        final int slices = 10_000;
        final SliceAllocator alloc = longs(512);
        final List<BlockingQueue<long[]>> queues = new ArrayList<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final long[] poison = new long[0];
        final Thread[] threads = new Thread[workers];
        for (int w = 0; w < workers; w++)
        {
            final BlockingQueue<long[]> queue = new LinkedBlockingQueue<>();
            queues.add(queue);
            threads[w] = new Thread(() -> read(alloc, queue, poison, failure), "slice-reader-" + w);
            threads[w].start();
        }
        final ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int id = 0; id < slices && failure.get() == null; id++)
        {
            final int sliceId = id;
            final int length = random.nextInt(20) == 0 ? 600 + random.nextInt(100) : 1 + random.nextInt(200);
            final long ref = alloc.allocateLongsRef(length, i -> sliceId * 1_000_003L + i);
            final int holders = 1 + random.nextInt(4);
            for (int h = 1; h < holders; h++)
            {
                alloc.retain(ref);
            }
            for (int h = 0; h < holders; h++)
            {
                // job: {id, ref, adopt?}: each holder's count goes to one thread
                queues.get(random.nextInt(workers)).put(new long[]{sliceId, ref, random.nextInt(2)});
            }
        }
        for (final BlockingQueue<long[]> queue : queues)
        {
            queue.put(poison);
        }
        for (final Thread thread : threads)
        {
            thread.join();
        }
        if (failure.get() != null)
        {
            fail(failure.get());
        }
        assertEquals(0, alloc.stats().liveSliceBytes());
        assertEquals(1, alloc.stats().liveChunks(), "only the current chunk is left");
        alloc.close();
        assertEquals(0, alloc.stats().reservedBytes());
        assertEquals(regionsBefore, NativeMemory.liveRegions());
    }

    private static void read(final SliceAllocator alloc, final BlockingQueue<long[]> queue, final long[] poison,
        final AtomicReference<Throwable> failure)
    {
        final SliceReader reader = new SliceReader();
        final ThreadLocalRandom random = ThreadLocalRandom.current();
        final List<long[]> held = new ArrayList<>();
        try
        {
            while (true)
            {
                final long[] job = queue.take();
                if (job == poison)
                {
                    break;
                }
                held.add(job);
                while (held.size() > random.nextInt(1, 16))
                {
                    readAndRelease(alloc, reader, held.remove(random.nextInt(held.size())));
                }
            }
            while (!held.isEmpty())
            {
                readAndRelease(alloc, reader, held.remove(held.size() - 1));
            }
        }
        catch (final Throwable ex)
        {
            failure.compareAndSet(null, ex);
        }
    }

    private static void readAndRelease(final SliceAllocator alloc, final SliceReader reader, final long[] job)
    {
        final long id = job[0];
        final long ref = job[1];
        final boolean adopt = job[2] == 1;
        try (SliceReader r = adopt ? reader.adopt(alloc, ref) : reader.bind(alloc, ref))
        {
            if (!adopt)
            {
                alloc.release(ref); // the reader's own count keeps the slice while it reads
            }
            for (int i = 0; i < r.length(); i++)
            {
                assertEquals(id * 1_000_003L + i, r.getLong(i), "contents changed while a count was held");
            }
            final long[] copy = new long[r.length()];
            r.getLongs(0, copy, 0, copy.length);
            assertEquals(id * 1_000_003L + copy.length - 1, copy[copy.length - 1]);
        }
    }
}
