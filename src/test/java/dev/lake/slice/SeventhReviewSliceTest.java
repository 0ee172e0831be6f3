package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
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

    /**
     * A slice's header count never wraps: the handle tier's {@code share()}, the primitive tier's {@code retain(ref)}
     * and {@code SliceReader.bind} all refuse a slice that already has {@code Integer.MAX_VALUE} holders with
     * {@code IllegalStateException} (now in their Javadoc), changing nothing; a wrap would let a later release free
     * the chunk under its holders. The count is driven to the limit by writing the header (2^31 real shares would
     * take 64 GiB of handles).
     */
    @Test
    void aSliceAtIntegerMaxValueHoldersRefusesOneMoreInEveryTier()
    {
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        final long ref = alloc.allocateLongsRef(2, i -> 40 + i);
        final SharedSlice handle = alloc.allocateLongs(2, i -> 50 + i);
        final long refCount = alloc.lookup(ref).memory.address + SliceAllocator.dataOf(ref) - Integer.BYTES;
        final long handleCount = handle.chunk.memory.address + handle.offset - Integer.BYTES;
        dev.lake.memory.Memory.putInt(refCount, Integer.MAX_VALUE - 1);
        dev.lake.memory.Memory.putInt(handleCount, Integer.MAX_VALUE);
        final SliceStats before = alloc.stats();

        alloc.retain(ref); // the last one that fits
        assertEquals(Integer.MAX_VALUE, dev.lake.memory.Memory.getInt(refCount));
        assertThrows(IllegalStateException.class, () -> alloc.retain(ref));
        final SliceReader reader = new SliceReader();
        assertThrows(IllegalStateException.class, () -> reader.bind(alloc, ref));
        assertFalse(reader.isBound());
        assertThrows(IllegalStateException.class, handle::share);
        assertEquals(Integer.MAX_VALUE, dev.lake.memory.Memory.getInt(refCount), "never wrapped");
        assertEquals(Integer.MAX_VALUE, dev.lake.memory.Memory.getInt(handleCount), "never wrapped");
        assertEquals(before, alloc.stats());
        assertFalse(handle.isReleased());
        assertEquals(41, alloc.getLong(ref, 1));
        assertEquals(51, handle.getLong(1));

        // back to one holder each, then released as usual: everything comes back
        dev.lake.memory.Memory.putInt(refCount, 1);
        dev.lake.memory.Memory.putInt(handleCount, 1);
        alloc.release(ref);
        handle.release();
        alloc.close();
        assertEquals(new SliceStats(0, 0, 0, 0, 2), alloc.stats());
    }

    /**
     * Sizes at and past the limits are refused with {@code IllegalArgumentException} before anything is allocated:
     * {@code length * stride} overflowing an {@code int} (record layouts), a slice one byte too large for the largest
     * chunk, negative lengths, in every tier (handles, references, local slices into a reader). Nothing changes: the
     * stats, the native memory, the reader (unbound) and the allocator (still usable).
     */
    @Test
    void sizesPastTheLimitsAreRefusedBeforeAnythingIsAllocated()
    {
        final long reserved = NativeMemory.reservedBytes();
        final ElementLayout big = ElementLayout.record(1 << 20, 8);
        final SliceAllocator records = SliceAllocator.builder(big).chunkCapacity(1).build();
        final SliceAllocator bytes = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build();
        final SliceAllocator longs = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        final ElementInit none = (b, o, i) -> fail("never called");
        final SliceStats recordsBefore = records.stats();
        final SliceStats bytesBefore = bytes.stats();
        final SliceStats longsBefore = longs.stats();
        final long afterBuild = NativeMemory.reservedBytes();
        final SliceReader reader = new SliceReader();

        // (1 << 12) records of 1 MiB: 2^32 bytes, 0 as an int
        assertThrows(IllegalArgumentException.class, () -> records.allocate(1 << 12, none));
        assertThrows(IllegalArgumentException.class, () -> records.allocateRef(1 << 12, none));
        assertThrows(IllegalArgumentException.class, () -> records.allocateLocal(1 << 12, none, reader));
        assertThrows(IllegalArgumentException.class, () -> records.tryAllocate(1 << 12, (b, o, i) -> fail("never")));
        assertThrows(IllegalArgumentException.class, () -> records.allocate(2048, none)); // 2^31 bytes
        assertThrows(IllegalArgumentException.class, () -> records.allocate(Integer.MAX_VALUE, none));
        // one byte past the largest chunk (Region.MAX_SIZE with the 8-byte header)
        final int tooLong = Integer.MAX_VALUE - 7 + 1;
        assertThrows(IllegalArgumentException.class, () -> bytes.allocateBytes(tooLong, i -> (byte)1));
        assertThrows(IllegalArgumentException.class, () -> bytes.allocateBytesRef(tooLong, i -> (byte)1));
        assertThrows(IllegalArgumentException.class, () -> bytes.allocateLocalBytes(tooLong, i -> (byte)1, reader));
        assertThrows(IllegalArgumentException.class, () -> longs.allocateLongs(Integer.MAX_VALUE / 8, i -> 1));
        assertThrows(IllegalArgumentException.class, () -> longs.allocateLocalLongs(Integer.MAX_VALUE, i -> 1, reader));
        assertThrows(IllegalArgumentException.class, () -> longs.allocateLocalLongs(Integer.MIN_VALUE, i -> 1, reader));
        assertThrows(IllegalArgumentException.class, () -> longs.allocateLongsRef(-1, i -> 1));
        assertThrows(IllegalArgumentException.class, () -> longs.tryAllocateLongs(-1, i -> 1));
        assertFalse(reader.isBound());
        assertEquals(recordsBefore, records.stats());
        assertEquals(bytesBefore, bytes.stats());
        assertEquals(longsBefore, longs.stats());
        assertEquals(afterBuild, NativeMemory.reservedBytes());

        // still usable
        final SharedSlice r = records.allocate(1, (b, o, i) -> b.putLong(o + (1 << 20) - 8, 77));
        assertEquals(77, r.buffer().getLong((1 << 20) - 8));
        r.release();
        try (SliceReader local = longs.allocateLocalLongs(3, i -> i * 2, reader))
        {
            assertEquals(4, local.getLong(2));
        }
        records.close();
        bytes.close();
        longs.close();
        assertEquals(reserved, NativeMemory.reservedBytes());
    }

    /**
     * The primitive tier's table limit: with {@value SliceAllocator#MAX_PINNED_CHUNKS} slots handed out, a reference
     * that needs a new chunk is refused with {@code IllegalStateException} and the chunk started for it is freed:
     * stats and native memory unchanged, references into pinned chunks and the handle tier still work. The table is
     * driven to its limit by setting the slot counter (a million live chunks would not fit a test).
     */
    @Test
    void aFullTableRefusesANewChunkCleanly() throws Exception
    {
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(8).build();
        final long pinned = alloc.allocateLongsRef(2, i -> 5 + i);
        final java.lang.reflect.Field next = SliceAllocator.class.getDeclaredField("nextSlot");
        next.setAccessible(true);
        next.setInt(alloc, SliceAllocator.MAX_PINNED_CHUNKS);
        final SliceStats before = alloc.stats();
        final long reserved = NativeMemory.reservedBytes();

        final IllegalStateException refused =
            assertThrows(IllegalStateException.class, () -> alloc.allocateLongsRef(8, i -> i)); // a fresh chunk
        assertTrue(refused.getMessage().contains("1048576"), refused.getMessage());
        assertTrue(refused.getMessage().contains("retired after 65,535 reuses"), refused.getMessage());
        assertEquals(before, alloc.stats());
        assertEquals(reserved, NativeMemory.reservedBytes());

        final long sameChunk = alloc.allocateLongsRef(2, i -> 9); // the pinned chunk still has room
        assertEquals(9, alloc.getLong(sameChunk, 1));
        final SharedSlice handle = alloc.allocateLongs(8, i -> 3); // a fresh chunk: the handle tier needs no slot
        assertEquals(3, handle.getLong(7));
        handle.release();
        alloc.release(sameChunk);
        alloc.release(pinned);
        alloc.close();
        assertEquals(0, alloc.stats().liveChunks());
        assertEquals(0, alloc.stats().reservedBytes());
    }

    /**
     * A slice's view used as a plain Agrona {@code DirectBuffer} by foreign code after its handle was released and
     * its chunk freed (a 1 MiB dedicated chunk: given back to the operating system, so a read of it crashes): every
     * method of the interface, called with valid arguments, throws ({@code StaleHandleException}, or
     * {@code UnsupportedOperationException} for {@code wrap}) and none reads the freed chunk, with Agrona's bounds
     * checks on and off. Run in a child JVM: a read would crash it.
     */
    @Test
    void everyDirectBufferMethodOfAReleasedViewThrowsAndNeverReads() throws Exception
    {
        for (final boolean checks : new boolean[] {true, false})
        {
            final String out = ChildJvm.run(SeventhSliceViewProbe.class, checks);
            assertTrue(out.startsWith("exit 0"), out);
            assertTrue(out.contains("probe: methods 52 read 0 "), out);
        }
    }

    /** The child JVM of {@link #everyDirectBufferMethodOfAReleasedViewThrowsAndNeverReads()}. */
    public static final class SeventhSliceViewProbe
    {
        private SeventhSliceViewProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build();
            final SharedSlice slice = alloc.allocateBytes(1 << 20, i -> (byte)'7'); // a dedicated chunk
            final org.agrona.DirectBuffer view = slice.buffer();
            final long reserved = NativeMemory.reservedBytes();
            slice.release(); // its last holder: the chunk is freed now
            alloc.close();
            if (NativeMemory.reservedBytes() >= reserved)
            {
                throw new AssertionError("the chunk was not freed");
            }
            int methods = 0;
            int read = 0;
            final StringBuilder outcomes = new StringBuilder();
            for (final java.lang.reflect.Method m : org.agrona.DirectBuffer.class.getMethods())
            {
                if (java.lang.reflect.Modifier.isStatic(m.getModifiers()))
                {
                    continue;
                }
                final Class<?>[] types = m.getParameterTypes();
                final Object[] values = new Object[types.length];
                int ints = 0;
                for (int i = 0; i < types.length; i++)
                {
                    final Class<?> t = types[i];
                    values[i] = t == int.class ? (ints++ == 0 ? 4 : 8) : t == long.class ? 0L :
                        t == byte[].class ? new byte[16] : t == java.nio.ByteBuffer.class ? java.nio.ByteBuffer.allocate(16) :
                        t == org.agrona.MutableDirectBuffer.class ? new org.agrona.concurrent.UnsafeBuffer(new byte[16]) :
                        t == org.agrona.DirectBuffer.class ? new org.agrona.concurrent.UnsafeBuffer(new byte[16]) :
                        t == Appendable.class ? new StringBuilder() : t == java.nio.ByteOrder.class ?
                        java.nio.ByteOrder.LITTLE_ENDIAN : t == Object.class ? view : null;
                }
                methods++;
                String outcome;
                try
                {
                    m.invoke(view, values);
                    outcome = m.getName().equals("isExpandable") ? "ok" : "READ";
                }
                catch (final java.lang.reflect.InvocationTargetException ex)
                {
                    outcome = ex.getCause().getClass().getSimpleName();
                }
                if (!outcome.equals("StaleHandleException") && !outcome.equals("ok") &&
                    !(m.getName().equals("wrap") && outcome.equals("UnsupportedOperationException")))
                {
                    read++;
                    outcomes.append(' ').append(m).append('=').append(outcome);
                }
            }
            for (final Runnable r : new Runnable[] {view::hashCode, () -> view.equals(view), () -> view.compareTo(view)})
            {
                methods++;
                try
                {
                    r.run();
                    read++;
                    outcomes.append(" an Object method read");
                }
                catch (final dev.lake.memory.StaleHandleException ex)
                {
                    // refused
                }
            }
            System.out.println("probe: methods " + methods + " read " + read + " " + outcomes);
            System.out.flush();
        }
    }

    /**
     * Releases on threads other than the allocating one count their bytes in a {@code LongAdder}, whose first
     * contended add grows its cells from the heap. On a full heap that {@code OutOfMemoryError} came out of the
     * release after the slice's count was gone: its bytes were never counted released (the stats' live bytes wrong
     * for good), the chunk's reference was never dropped (the chunk held until a GC reported it as a leak), and the
     * caller could not retry (a second release is a double release). An adder that throws as the full heap's does
     * stands in for it here: the release completes and its bytes are counted.
     */
    @Test
    void aReleaseOnAnotherThreadThatTheFullHeapRefusesTheAdderIsStillCounted() throws Exception
    {
        final SliceCounters counters = new SliceCounters(new java.util.concurrent.atomic.LongAdder()
        {
            private static final long serialVersionUID = 1L;

            @Override
            public void add(final long x)
            {
                throw new OutOfMemoryError("the adder's first contended add, on a full heap");
            }
        });
        counters.bindOwner(Thread.currentThread());
        counters.sliceAllocated(64);
        counters.sliceAllocated(32);
        final java.util.concurrent.atomic.AtomicReference<Throwable> thrown =
            new java.util.concurrent.atomic.AtomicReference<>();
        final Thread other = new Thread(() ->
        {
            try
            {
                counters.sliceReleased(64);
            }
            catch (final Throwable t)
            {
                thrown.set(t);
            }
        });
        other.start();
        other.join();
        assertNull(thrown.get(), "the release completes");
        assertEquals(32, counters.snapshot().liveSliceBytes(), "the 64 released bytes are counted");
        counters.sliceReleased(32); // on the allocating thread: its own cell, no adder
        assertEquals(0, counters.snapshot().liveSliceBytes());
    }

    /**
     * A reference forged into a chunk past its last slice named a header in memory no live slice wrote: here a local
     * slice, closed and so given back, left a word shaped like a header (length 1, count 1) behind the chunk's
     * allocated end. isLive answered true, and release took the fake count and then one of the chunk's own
     * references: the live-byte stats went wrong and the chunk could be freed under the live slice (a crash once
     * read). For isLive, the bulk copies and every call that changes a count, a header and its slice must now lie
     * below the chunk's allocated end.
     */
    @Test
    void aReferenceForgedPastTheLastSliceOfItsChunkIsRefused()
    {
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        final long live = alloc.allocateLongsRef(1, i -> 7L);                     // data at byte 8
        final long headerShaped = (1L << 32) | 1;                                 // [length 1][count 1]
        try (SliceReader local = alloc.allocateLocalLongs(4, i -> i == 1 ? headerShaped : -1L, new SliceReader()))
        {
            assertEquals(headerShaped, local.getLong(1));                         // data at 24: element 1 at 32
        }                                                                         // given back: the end is 16 again
        final long forged = live + 4;                                             // data at 40, its "header" at 32
        final SliceStats before = alloc.stats();

        assertFalse(alloc.isLive(forged));
        // (a single-element read may still read the word: the documented limit of forged references; no count)
        assertThrows(StaleHandleException.class, () -> alloc.getLongs(forged, 0, new long[1], 0, 1));
        assertThrows(StaleHandleException.class, () -> alloc.retain(forged));
        assertThrows(StaleHandleException.class, () -> alloc.release(forged));
        assertThrows(StaleHandleException.class, () -> alloc.toHandle(forged));
        final SliceReader reader = new SliceReader();
        assertThrows(StaleHandleException.class, () -> reader.bind(alloc, forged));
        assertThrows(StaleHandleException.class, () -> reader.adopt(alloc, forged));

        assertEquals(before, alloc.stats());
        assertEquals(7L, alloc.getLong(live, 0));
        final long next = alloc.allocateLongsRef(2, i -> 5L);                     // the given-back bytes are reused
        assertEquals(5L, alloc.getLong(next, 1));
        alloc.release(next);
        alloc.release(live);
        alloc.close();
        assertEquals(0, alloc.stats().liveChunks());
        assertEquals(0, alloc.stats().liveSliceBytes());
    }
}
