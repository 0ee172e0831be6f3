package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.ChildJvm;
import dev.lake.testing.HeapFiller;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The seventh hostile review of the slice allocator, its handles, references, readers and views: long-run and
 * arithmetic extremes, the Javadoc's {@code @throws} contracts, and the view used as a plain Agrona buffer.
 */
class SeventhReviewSliceTest
{
    /**
     * The first reference into a chunk pins it in the primitive tier's table, and pinning may grow the table (an
     * array copy) and make a slot node: both come from the heap. An {@code OutOfMemoryError} there skipped the
     * clean-up of the allocation in progress (only a {@code RuntimeException} was caught): the allocator stayed
     * "inside an initializer" for good (every later allocation and {@code close()} refused with
     * {@code IllegalStateException}, its chunks held until a GC reported them as leaks), and the slot number was
     * spent without the table growing, so every later pin of a new slot failed with an
     * {@code ArrayIndexOutOfBoundsException}. A child JVM pins 16 chunks (the table's first size), fills its heap
     * and retries a seventeenth reference one freed filler at a time.
     */
    @Test
    void aPinThatRunsOutOfHeapLeavesTheAllocatorUsableAndCountsNothing() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(PinOnFullHeapProbe.class);
        assertTrue(out.contains("probe: stuck 0 broken 0 native 0 chunks 0 live 0 leaks 0"), out);
        assertFalse(out.contains(" refusals 0 "), out); // the heap did refuse some tries
    }

    /** The child JVM of {@link #aPinThatRunsOutOfHeapLeavesTheAllocatorUsableAndCountsNothing()}. */
    public static final class PinOnFullHeapProbe
    {
        private PinOnFullHeapProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            // links the paths (and the initializers' lambdas) before the heap is full
            final LongInit index = k -> k;
            final LongInit seven = k -> 7;
            final LongInit nine = k -> 9;
            final SliceAllocator warm = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(4).build();
            warm.release(warm.allocateLongsRef(4, seven));
            warm.close();
            final long reserved = NativeMemory.reservedBytes();
            final long leaks = NativeMemory.leaks();
            int stuck = 0;
            int broken = 0;
            int refusals = 0;
            int rounds = 0;
            long chunks = 0;
            long live = 0;
            for (int round = 0; round < 12; round++)
            {
                final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(4).build();
                final long[] refs = new long[40];
                final long[] expected = new long[40];
                for (int i = 0; i < 16; i++)
                {
                    refs[i] = alloc.allocateLongsRef(4, index); // one chunk each: slots 0 to 15, the whole table
                }
                int n = 16;
                final HeapFiller fillers = HeapFiller.fill(1 << 21);
                int tries = 0;
                while (tries++ < 5000)
                {
                    try
                    {
                        refs[n] = alloc.allocateLongsRef(4, seven); // slot 16: the table grows
                        expected[n++] = 7;
                        break;
                    }
                    catch (final OutOfMemoryError ex)
                    {
                        refusals++;
                        fillers.freeOne();
                    }
                    catch (final IllegalStateException ex)
                    {
                        stuck++; // "inside an initializer": the failed try never ended
                        break;
                    }
                    catch (final RuntimeException ex)
                    {
                        broken++; // the table lost a slot
                        break;
                    }
                }
                fillers.freeAll();
                try
                {
                    for (int i = 0; i < 8; i++)
                    {
                        refs[n] = alloc.allocateLongsRef(4, nine); // more slots past the growth
                        expected[n++] = 9;
                    }
                }
                catch (final IllegalStateException ex)
                {
                    stuck++;
                }
                catch (final RuntimeException ex)
                {
                    broken++;
                }
                for (int i = 0; i < n; i++)
                {
                    if (alloc.getLong(refs[i], 0) != expected[i])
                    {
                        broken++;
                    }
                    alloc.release(refs[i]);
                }
                try
                {
                    alloc.close();
                }
                catch (final IllegalStateException ex)
                {
                    stuck++;
                }
                final SliceStats stats = alloc.stats();
                chunks += stats.liveChunks();
                live += stats.liveSliceBytes();
                rounds++;
            }
            for (int i = 0; i < 50 && NativeMemory.reservedBytes() != reserved; i++)
            {
                System.gc();
                Thread.sleep(20); // what an allocator left behind goes to the safety net, and counts as a leak
            }
            System.out.println("probe: stuck " + stuck + " broken " + broken + " native " +
                (NativeMemory.reservedBytes() - reserved) + " chunks " + chunks + " live " + live + " leaks " + (NativeMemory.leaks() - leaks) +
                " refusals " + refusals + " rounds " + rounds);
            System.out.flush();
        }
    }

    /**
     * The class and docs/slices.md promise that a table slot serves 65,535 reuses of its chunk before it is retired
     * (its 16-bit generation would otherwise come back to a value that stale references still carry). Each
     * allocator starts its slots' generations at its own seed, up to 32,767, and the slot was retired when its
     * generation reached 65,535: an allocator with a seed of 30,000 retired every slot after 35,535 reuses, spending
     * its table of 2^20 slots (and the primitive tier's whole life: past it every new chunk is refused) up to twice
     * as fast. Now the generation wraps past 65,535 to 1 and the slot is retired when it would come back to its
     * first value: 65,535 generations, each used once, whatever the seed.
     */
    @Test
    void aSlotServes65535GenerationsWhateverTheAllocatorsSeed()
    {
        final LongInit init = i -> i;
        SliceAllocator alloc;
        long ref;
        while (true)
        {
            alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(4).build();
            ref = alloc.allocateLongsRef(4, init);
            if (SliceAllocator.generationOf(ref) > 0x4000)
            {
                break; // a seed of 16K or more
            }
            alloc.release(ref);
            alloc.close();
        }
        final long first = ref;
        final long slot = slotOf(ref);
        int generations = 1;
        while (true)
        {
            alloc.release(ref);
            ref = alloc.allocateLongsRef(4, init); // the chunk is full and empty: reset in place, a new generation
            if (slotOf(ref) != slot)
            {
                break;
            }
            generations++;
            assertTrue(generations <= 65_535, "a slot never serves more generations than 16 bits hold");
            assertNotEquals(SliceAllocator.generationOf(first), SliceAllocator.generationOf(ref));
        }
        assertEquals(65_535, generations, "generations of slot " + slot + " from " +
            SliceAllocator.generationOf(first));
        assertFalse(alloc.isLive(first));
        final SliceAllocator a = alloc;
        assertThrows(dev.lake.memory.StaleHandleException.class, () -> a.getLong(first, 0));
        assertEquals(3, a.getLong(ref, 3));
        a.release(ref);
        a.close();
        assertEquals(0, a.stats().liveChunks());
    }

    private static long slotOf(final long ref)
    {
        return (ref >>> 28) & (SliceAllocator.MAX_PINNED_CHUNKS - 1);
    }
}
