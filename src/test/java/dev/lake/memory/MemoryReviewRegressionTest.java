package dev.lake.memory;

import dev.lake.testing.LogHandlers;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaVec;
import dev.lake.linear.ArenaView;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceReader;
import dev.lake.testing.NativeAccounting;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.logging.Handler;
import java.util.logging.Logger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Regression tests from the hostile review of {@code dev.lake.memory} and the copies built on it: each failed
 * before its fix.
 */
class MemoryReviewRegressionTest
{
    // ---------------------------------------------------------------------------------------------------------
    // A DirectBuffer source's own methods ran after the pool checked the destination: Agrona's putBytes checks
    // its own (whole-region) buffer, then asks the source for boundsCheck, byteArray and addressOffset, then
    // copies. A source that released or closed the destination there had the copy land in the slot's next owner.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void bufferPutBytesFromASourceThatClosesTheBufferDoesNotWriteIntoTheSlotsNextOwner()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).name("foreign-source").build())
        {
            final Buffer target = arena.allocate();
            final Bytes[] victim = new Bytes[1];
            final UnsafeBuffer src = source(() ->
            {
                target.close(); // the slot goes back ...
                victim[0] = arena.allocate().putLong(42L).freeze(); // ... and is someone else's now
            });
            final Throwable thrown = catchThrowable(() -> target.putBytes(src, 0, 8));
            assertNotNull(victim[0], "the source was asked for its array");
            assertEquals(42L, victim[0].getLong(0), "the copy wrote into the slot's next owner");
            assertTrue(thrown instanceof StaleHandleException, "expected StaleHandleException, got " + thrown);
            victim[0].release();
        }
    }

    @Test
    void writeViewPutBytesFromASourceThatClosesTheBufferDoesNotWriteIntoTheSlotsNextOwner()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).name("foreign-source-view").build())
        {
            final Buffer target = arena.allocate();
            final Bytes[] victim = new Bytes[1];
            final UnsafeBuffer src = source(() ->
            {
                target.close();
                victim[0] = arena.allocate().putLong(42L).freeze();
            });
            final Throwable thrown = catchThrowable(() -> target.mutableBuffer().putBytes(0, src, 0, 8));
            assertNotNull(victim[0], "the source was asked for its array");
            assertEquals(42L, victim[0].getLong(0), "the copy wrote into the slot's next owner");
            assertTrue(thrown instanceof StaleHandleException, "expected StaleHandleException, got " + thrown);
            victim[0].release();
        }
    }

    @Test
    void handlePutBytesFromASourceThatReleasesTheHandleDoesNotWriteIntoTheSlotsNextOwner()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).name("foreign-source-handle").build())
        {
            final long target = arena.allocateHandle();
            final long[] victim = {FixedArena.NO_HANDLE};
            final UnsafeBuffer src = source(() ->
            {
                arena.release(target);
                victim[0] = arena.allocateHandle();
                arena.putLong(victim[0], 0, 42L);
                arena.freezeHandle(victim[0], 8);
            });
            final Throwable thrown = catchThrowable(() -> arena.putBytes(target, 0, src, 0, 8));
            assertNotEquals(FixedArena.NO_HANDLE, victim[0], "the source was asked for its array");
            assertEquals(42L, arena.getLong(victim[0], 0), "the copy wrote into the slot's next owner");
            assertTrue(thrown instanceof StaleHandleException, "expected StaleHandleException, got " + thrown);
            arena.release(victim[0]);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The same in the linear allocators: Arena.copyOf(DirectBuffer) and ArenaVec's DirectBuffer appends and set
    // claimed their memory, then let Agrona (or Memory.copy) ask the source for its array and address; a source
    // that reset the arena there had the copy land in the allocation that took the memory since.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void arenaCopyOfASourceThatResetsTheArenaDoesNotWriteIntoTheNextAllocation()
    {
        try (Arena arena = new Arena())
        {
            final long[] victim = {Arena.NULL};
            final UnsafeBuffer src = source(() ->
            {
                arena.reset();
                victim[0] = arena.copyOf(new long[]{42L});
            });
            final Throwable thrown = catchThrowable(() -> arena.copyOf(src, 0, 8));
            assertNotEquals(Arena.NULL, victim[0], "the source was asked for its array");
            assertEquals(42L, arena.buffer(victim[0]).getLong(Arena.offset(victim[0])),
                "the copy wrote into the allocation made after the reset (" + thrown + ")");
        }
    }

    @Test
    void vecAddAllFromASourceThatResetsTheArenaDoesNotWriteIntoTheNextAllocation()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 4);
            final long[] victim = {Arena.NULL};
            final UnsafeBuffer src = source(() ->
            {
                arena.reset(); // the vector's storage is gone ...
                victim[0] = arena.copyOf(new long[]{42L, 42L, 42L, 42L}); // ... and is this allocation's now
            });
            final Throwable thrown = catchThrowable(() -> vec.addAll(src, 0, 1));
            assertVictimIntact(arena, victim[0], thrown);
        }
    }

    @Test
    void recordVecPushFromASourceThatResetsTheArenaDoesNotWriteIntoTheNextAllocation()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 8, 4);
            final long[] victim = {Arena.NULL};
            final UnsafeBuffer src = source(() ->
            {
                arena.reset();
                victim[0] = arena.copyOf(new long[]{42L, 42L, 42L, 42L});
            });
            final Throwable thrown = catchThrowable(() -> vec.push(src, 0));
            assertVictimIntact(arena, victim[0], thrown);
        }
    }

    @Test
    void recordVecSetFromASourceThatResetsTheArenaDoesNotWriteIntoTheNextAllocation()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 8, 4);
            vec.pushZeroed();
            final long[] victim = {Arena.NULL};
            final UnsafeBuffer src = source(() ->
            {
                arena.reset();
                victim[0] = arena.copyOf(new long[]{42L, 42L, 42L, 42L});
            });
            final Throwable thrown = catchThrowable(() -> vec.set(0, src, 0));
            assertVictimIntact(arena, victim[0], thrown);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // ArenaVec.OfRecord.get and ArenaView.OfRecord.get (into a MutableDirectBuffer) checked the record, then asked
    // the destination for its capacity (foreign code), then handed it the arena's block buffer at the checked
    // offset: a destination whose capacity() reset the arena read the allocation made since, and one that closed
    // it read the freed block (at address 0 + offset without Agrona's checks).
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void recordVecGetIntoADestinationThatResetsTheArenaDoesNotReadTheNextAllocation()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 8, 4);
            vec.push(new UnsafeBuffer(new byte[8]), 0);
            final UnsafeBuffer dst = destination(() ->
            {
                arena.reset(); // the record is gone ...
                arena.copyOf(new long[]{99L, 99L, 99L, 99L}); // ... and its bytes are this allocation's now
            });
            final Throwable thrown = catchThrowable(() -> vec.get(0, dst, 0));
            assertNotEquals(99L, dst.getLong(0), "get read the allocation made after the reset");
            assertTrue(thrown instanceof StaleHandleException, "expected StaleHandleException, got " + thrown);
        }
    }

    @Test
    void recordViewGetIntoADestinationThatResetsTheArenaDoesNotReadTheNextAllocation()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 8, 4);
            vec.push(new UnsafeBuffer(new byte[8]), 0);
            final ArenaView.OfRecord view = vec.finish();
            final UnsafeBuffer dst = destination(() ->
            {
                arena.reset();
                arena.copyOf(new long[]{99L, 99L, 99L, 99L});
            });
            final Throwable thrown = catchThrowable(() -> view.get(0, dst, 0));
            assertNotEquals(99L, dst.getLong(0), "get read the allocation made after the reset");
            assertTrue(thrown instanceof StaleHandleException, "expected StaleHandleException, got " + thrown);
        }
    }

    /** Eight bytes on the heap, of a type Lake does not know, whose {@code capacity()} runs {@code sideEffect} once. */
    private static UnsafeBuffer destination(final Runnable sideEffect)
    {
        return new UnsafeBuffer(new byte[8])
        {
            private boolean ran;

            @Override
            public int capacity()
            {
                if (!ran)
                {
                    ran = true;
                    sideEffect.run();
                }
                return super.capacity();
            }
        };
    }

    private static void assertVictimIntact(final Arena arena, final long victim, final Throwable thrown)
    {
        assertNotEquals(Arena.NULL, victim, "the source was asked for its array");
        final UnsafeBuffer b = arena.buffer(victim);
        final int at = Arena.offset(victim);
        for (int i = 0; i < 4; i++)
        {
            assertEquals(42L, b.getLong(at + i * 8), "the copy wrote into the allocation made after the reset");
        }
        assertTrue(thrown instanceof StaleHandleException, "expected StaleHandleException, got " + thrown);
    }

    // ---------------------------------------------------------------------------------------------------------
    // The safety net reported a leaked region before freeing it: an Error from the logging backend (an
    // OutOfMemoryError while formatting, the likeliest under memory pressure) left the cleaner's action half done,
    // and the memory was never freed. NativeMemory.recordLeak only ignores RuntimeException and LinkageError.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void aLeakedRegionIsFreedEvenWhenReportingItFailsWithAnError()
    {
        final long baseline = NativeMemory.reservedBytes();
        final long regions = NativeMemory.liveRegions();
        final long reports = NativeAccounting.reportsNaming("Region[12347 B");
        final Handler throwing = throwOnReportOf("Region[12347 B");
        try
        {
            leakRegion(12_347);
            // its own report, recorded before the throwing logger runs (another test's leak would raise leaks())
            await().atMost(Duration.ofSeconds(20)).until(() ->
            {
                System.gc();
                return NativeAccounting.reportsNaming("Region[12347 B") > reports;
            });
            await("the leaked region's memory is freed").atMost(Duration.ofSeconds(10)).until(() ->
                NativeAccounting.reservedBackTo(baseline) && NativeAccounting.regionsBackTo(regions));
        }
        finally
        {
            LAKE_LOGGER.removeHandler(throwing);
        }
    }

    /**
     * The same in the slice allocator's safety net: ChunkMemory reported a leaked chunk before it counted the chunk
     * freed and closed its region. The region's own safety net freed the memory later (a second leak counted for
     * one chunk), but the allocator's stats kept the chunk and its slices live for good.
     */
    @Test
    void aLeakedSliceChunkIsCountedFreedEvenWhenReportingItFailsWithAnError()
    {
        final long baseline = NativeMemory.reservedBytes();
        final Handler throwing = throwOnReportOf("unreleased slice");
        try
        {
            final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(23).build();
            final String size = "[" + alloc.chunkBytes() + " B"; // 23 longs: no other test leaks a chunk this size
            final long reports = NativeAccounting.reportsNaming(size);
            leakSlice(alloc);
            alloc.close();
            await("the chunk is counted freed").atMost(Duration.ofSeconds(20)).until(() ->
            {
                System.gc();
                return alloc.stats().liveChunks() == 0 && NativeAccounting.reservedBackTo(baseline);
            });
            assertEquals(0, alloc.stats().reservedBytes());
            assertEquals(0, alloc.stats().liveSliceBytes());
            assertEquals(reports + 1, NativeAccounting.reportsNaming(size), "one leaked chunk counts one leak");
        }
        finally
        {
            LAKE_LOGGER.removeHandler(throwing);
        }
    }

    private static final Logger LAKE_LOGGER = Logger.getLogger("dev.lake");

    /** A logging backend that fails with an Error on the leak report whose message contains {@code marker}. */
    private static Handler throwOnReportOf(final String marker)
    {
        final Handler throwing = LogHandlers.onMessageContaining(marker, record ->
        {
            throw new OutOfMemoryError("simulated: the logging backend ran out of heap");
        });
        LAKE_LOGGER.addHandler(throwing);
        return throwing;
    }

    private static void leakSlice(final SliceAllocator alloc)
    {
        alloc.allocateLongs(3, i -> i);
    }

    private static void leakRegion(final int size)
    {
        Region.allocate(size).buffer().putByte(0, (byte)1);
    }

    // ---------------------------------------------------------------------------------------------------------
    // SliceReader.getBytes(MutableDirectBuffer) took its chunk, then asked the destination (foreign code) for its
    // capacity, then copied out of that chunk: a destination whose capacity() closes the reader, the slice's last
    // count, freed the chunk first. The copy then read the freed chunk's buffer, re-wrapped at address 0: an
    // IndexOutOfBoundsException with Agrona's checks, a read at address 0 + offset (a JVM crash) without them.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void sliceReaderGetBytesIntoADestinationThatClosesTheReaderIsRefused() throws Exception
    {
        final String out = ClosedReaderProbe.run("reader", true);
        assertTrue(out.startsWith("exit 0") && out.contains("REFUSED dev.lake.memory.StaleHandleException"), out);
    }

    // ---------------------------------------------------------------------------------------------------------
    // SliceView.compareTo (a slice's buffer()) checked its handle, then let Agrona's compareTo ask the other buffer
    // (foreign code) for its capacity, array and address before reading the slice raw: another buffer whose
    // capacity() releases the slice (its last handle) freed the chunk, and the comparison read freed memory, even
    // with Agrona's checks on. A 64 MiB slice has a chunk of its own, which malloc maps and unmaps on its own.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void sliceViewCompareToABufferThatReleasesTheSliceIsRefused() throws Exception
    {
        final String out = ClosedReaderProbe.run("compare", false);
        assertTrue(out.startsWith("exit 0") && out.contains("REFUSED dev.lake.memory.StaleHandleException"), out);
    }

    @Test
    void sliceViewCompareToStillOrdersAsAgronaDoes()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build())
        {
            final long[] values = {1L, -2L, 0x80L};
            final dev.lake.slice.SharedSlice slice = alloc.allocateLongs(3, i -> values[i]);
            final byte[] bytes = new byte[24];
            slice.buffer().getBytes(0, bytes);
            final UnsafeBuffer same = new UnsafeBuffer(bytes.clone());
            for (int at = 0; at < 24; at++)
            {
                for (final byte change : new byte[]{(byte)0x7F, (byte)0x80, 0})
                {
                    final byte[] other = bytes.clone();
                    other[at] = change;
                    final UnsafeBuffer that = new UnsafeBuffer(other);
                    assertEquals(Integer.signum(same.compareTo(that)), Integer.signum(slice.buffer().compareTo(that)));
                }
            }
            final UnsafeBuffer shorter = new UnsafeBuffer(java.util.Arrays.copyOf(bytes, 13));
            assertEquals(Integer.signum(same.compareTo(shorter)), Integer.signum(slice.buffer().compareTo(shorter)));
            slice.release();
        }
    }

    /** The child JVM of the tests above: in process they would crash the test JVM. */
    public static final class ClosedReaderProbe
    {
        private ClosedReaderProbe()
        {
        }

        static String run(final String probe, final boolean boundsChecksOff) throws Exception
        {
            return dev.lake.testing.ChildJvm.run(ClosedReaderProbe.class, !boundsChecksOff, probe);
        }

        public static void main(final String[] args)
        {
            if (args[0].equals("compare"))
            {
                compareWithABufferThatReleasesTheSlice();
                return;
            }
            final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
            final long ref = alloc.allocateLongsRef(2, i -> 7L);
            alloc.close(); // the slice's count is all that holds the chunk now
            final SliceReader reader = new SliceReader().adopt(alloc, ref);
            final UnsafeBuffer dst = new UnsafeBuffer(new byte[16])
            {
                private boolean closed;

                @Override
                public int capacity()
                {
                    if (!closed)
                    {
                        closed = true;
                        reader.close(); // the last count: the chunk is freed
                    }
                    return super.capacity();
                }
            };
            try
            {
                reader.getBytes(0, dst, 0, 16);
                System.out.println("COPIED " + dst.getLong(0));
            }
            catch (final RuntimeException ex)
            {
                System.out.println("REFUSED " + ex.getClass().getName() + ": " + ex.getMessage());
            }
            System.out.println("native bytes " + NativeMemory.reservedBytes());
        }

        private static void compareWithABufferThatReleasesTheSlice()
        {
            final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
            final dev.lake.slice.SharedSlice slice = alloc.allocateLongs(8 << 20, i -> 7L); // 64 MiB, its own chunk
            alloc.close();
            final org.agrona.DirectBuffer view = slice.buffer();
            final UnsafeBuffer other = new UnsafeBuffer(new byte[16])
            {
                private boolean released;

                @Override
                public int capacity()
                {
                    if (!released)
                    {
                        released = true;
                        slice.release(); // the last handle: the chunk is freed (unmapped)
                    }
                    return super.capacity();
                }
            };
            try
            {
                System.out.println("COMPARED " + view.compareTo(other));
            }
            catch (final RuntimeException ex)
            {
                System.out.println("REFUSED " + ex.getClass().getName() + ": " + ex.getMessage());
            }
        }
    }

    /** Eight bytes of -1 on the heap whose {@code byteArray()} runs {@code sideEffect} once. */
    private static UnsafeBuffer source(final Runnable sideEffect)
    {
        final UnsafeBuffer src = new UnsafeBuffer(new byte[8])
        {
            private boolean ran;

            @Override
            public byte[] byteArray()
            {
                if (!ran)
                {
                    ran = true;
                    sideEffect.run();
                }
                return super.byteArray();
            }
        };
        src.putLong(0, -1L);
        return src;
    }

    private static Throwable catchThrowable(final Runnable body)
    {
        try
        {
            body.run();
            return null;
        }
        catch (final Throwable t)
        {
            return t;
        }
    }
}
