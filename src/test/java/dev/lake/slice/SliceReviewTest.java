package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** Findings of the concurrency review of the slice allocator, kept as regression tests. */
class SliceReviewTest
{
    @Test
    void aReleasedRefNeverComesBackAfterItsSlotIsReused65535Times()
    {
        final long regionsBefore = NativeMemory.liveRegions();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(4).build();
        final long s0 = alloc.allocateLongsRef(1, i -> 7);
        final long a = alloc.allocateLongsRef(1, i -> 42);
        alloc.release(s0);
        alloc.release(a);
        assertFalse(alloc.isLive(a));
        for (int k = 0; k < 65_534; k++)
        {
            alloc.release(alloc.allocateLongsRef(4, i -> 0)); // one reset in place each
        }
        final long fakeHeader = (1L << 32) | 0x7fff_ffffL; // what a[header] would read: length 2^31-1, count 1
        final SharedSlice b = alloc.allocateLongs(4, i -> i == 1 ? fakeHeader : 100 + i);

        assertFalse(alloc.isLive(a), "the stale ref stays stale");
        assertThrows(StaleHandleException.class, () -> alloc.getLong(a, 1 << 10));
        assertThrows(StaleHandleException.class, () -> alloc.release(a));
        assertEquals(fakeHeader, b.getLong(1), "the live slice's data is untouched");
        b.release();
        alloc.close();
        assertEquals(regionsBefore, NativeMemory.liveRegions());
    }

    @Test
    void aForgedRefCannotReadOutsideItsChunk()
    {
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(8).build();
        final SharedSlice live = alloc.allocateLongs(2, i -> (1L << 32) | 0x7fff_ffffL); // data that looks like a header
        final long real = alloc.allocateLongsRef(1, i -> 1);
        final long forged = real - 2; // 16 bytes earlier: inside the live slice's data
        assertThrows(StaleHandleException.class, () -> alloc.getLong(forged, 1000));
        alloc.release(real);
        live.release();
        alloc.close();
    }

    @Test
    void twoRacingReleasesOfOneRefNeverBothSucceed() throws Exception
    {
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(1 << 12).strict(false).build();
        final long keep = alloc.allocateLongsRef(1, i -> 1);
        final AtomicInteger doubleSuccesses = new AtomicInteger();
        final long[] ref = new long[1];
        final AtomicInteger succeeded = new AtomicInteger();
        final CyclicBarrier start = new CyclicBarrier(3);
        final CyclicBarrier end = new CyclicBarrier(3);
        final int rounds = 3_000;
        final Runnable releaser = () ->
        {
            try
            {
                for (int r = 0; r < rounds; r++)
                {
                    start.await();
                    try
                    {
                        alloc.release(ref[0]);
                        succeeded.incrementAndGet();
                    }
                    catch (final StaleHandleException expected)
                    {
                        // the loser of the race
                    }
                    end.await();
                }
            }
            catch (final Exception ex)
            {
                throw new IllegalStateException(ex);
            }
        };
        final Thread t1 = new Thread(releaser);
        final Thread t2 = new Thread(releaser);
        t1.start();
        t2.start();
        for (int r = 0; r < rounds; r++)
        {
            succeeded.set(0);
            ref[0] = alloc.allocateLongsRef(1, i -> 2);
            start.await();
            end.await();
            if (succeeded.get() != 1)
            {
                doubleSuccesses.incrementAndGet();
            }
        }
        t1.join();
        t2.join();
        assertEquals(0, doubleSuccesses.get(), "exactly one release of a ref may succeed");
        assertEquals(1, alloc.getLong(keep, 0));
        alloc.release(keep);
        alloc.close();
    }
}
