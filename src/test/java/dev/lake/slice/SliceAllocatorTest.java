package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

class SliceAllocatorTest extends NativeBaselineTest
{
    @Test
    void allocatesInitializesAndReadsLongs()
    {
        try (SliceAllocator alloc = longs(1024))
        {
            final SharedSlice slice = alloc.allocateLongs(100, i -> i * 3L);
            assertEquals(100, slice.length());
            assertEquals(800, slice.byteLength());
            assertSame(ElementLayout.LONG, slice.layout());
            for (int i = 0; i < 100; i++)
            {
                assertEquals(i * 3L, slice.getLong(i));
            }
            final SliceStats stats = alloc.stats();
            assertEquals(1, stats.liveChunks());
            assertEquals(alloc.chunkBytes(), stats.reservedBytes());
            assertEquals(800, stats.liveSliceBytes());
            assertEquals(1, stats.slicesAllocated());
            slice.release();
            assertEquals(0, alloc.stats().liveSliceBytes());
            assertTrue(slice.isReleased());
        }
    }

    @Test
    void defaultChunkCapacityIs64KiBOfElements()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.INT).build())
        {
            assertEquals(SliceAllocator.DEFAULT_CHUNK_BYTES / 4, alloc.chunkCapacity());
            assertEquals(SliceAllocator.DEFAULT_CHUNK_BYTES + 8, alloc.chunkBytes());
            final SharedSlice full = alloc.allocateInts(alloc.chunkCapacity(), i -> i);
            assertEquals(1, alloc.stats().liveChunks(), "a slice of N elements fits a fresh chunk alone");
            full.release();
        }
    }

    @Test
    void lengthZeroIsAnEmptySliceOwningNoChunk()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final SliceStats before = alloc.stats();
            final SharedSlice empty = alloc.allocateLongs(0, i -> fail("no element to initialize"));
            assertEquals(0, empty.length());
            assertEquals(before, alloc.stats());
            assertThrows(IndexOutOfBoundsException.class, () -> empty.getLong(0));
            assertEquals(0, empty.buffer().capacity());
            final SharedSlice copy = empty.share();
            copy.release();
            empty.release();
            assertThrows(StaleHandleException.class, empty::release);
            assertEquals(SliceAllocator.EMPTY_REF, alloc.allocateLongsRef(0, i -> 1L));
            assertEquals(0, alloc.length(SliceAllocator.EMPTY_REF));
            assertFalse(alloc.isLive(SliceAllocator.EMPTY_REF));
            alloc.retain(SliceAllocator.EMPTY_REF);
            alloc.release(SliceAllocator.EMPTY_REF);
            assertEquals(0, alloc.toHandle(SliceAllocator.EMPTY_REF).length());
        }
    }

    @Test
    void requestLargerThanChunkGetsDedicatedChunkAndCurrentStaysCurrent()
    {
        try (SliceAllocator alloc = longs(100))
        {
            final SharedSlice small = alloc.allocateLongs(10, i -> i);
            final SharedSlice big = alloc.allocateLongs(500, i -> -i);
            SliceStats stats = alloc.stats();
            assertEquals(2, stats.liveChunks());
            assertEquals(alloc.chunkBytes() + 8 + 500 * 8, stats.reservedBytes(), "dedicated chunk of exactly its size");
            assertEquals(0, stats.wastedTailBytes());
            final SharedSlice next = alloc.allocateLongs(10, i -> i);
            assertEquals(2, alloc.stats().liveChunks(), "the small slice went into the current chunk");
            assertEquals(small.buffer().addressOffset() + 80 + 8, next.buffer().addressOffset());
            big.release();
            stats = alloc.stats();
            assertEquals(1, stats.liveChunks(), "the dedicated chunk is freed with its slice");
            assertEquals(alloc.chunkBytes(), stats.reservedBytes());
            small.release();
            next.release();
        }
    }

    @Test
    void newChunkKeepsOldCurrentWhenOldHasMoreRoom()
    {
        try (SliceAllocator alloc = longs(100))
        {
            final SharedSlice first = alloc.allocateLongs(60, i -> i);
            final SharedSlice second = alloc.allocateLongs(61, i -> i);
            SliceStats stats = alloc.stats();
            assertEquals(2, stats.liveChunks());
            final int newChunkTail = alloc.chunkBytes() - 8 - 61 * 8;
            assertEquals(newChunkTail, stats.wastedTailBytes(), "the new chunk's tail is abandoned");
            final SharedSlice third = alloc.allocateLongs(30, i -> i);
            assertEquals(2, alloc.stats().liveChunks());
            assertEquals(first.buffer().addressOffset() + 480 + 8, third.buffer().addressOffset(),
                "the old chunk stayed current");
            second.release();
            stats = alloc.stats();
            assertEquals(1, stats.liveChunks());
            assertEquals(0, stats.wastedTailBytes(), "waste returns with its chunk");
            first.release();
            third.release();
        }
    }

    @Test
    void newChunkBecomesCurrentWhenItHasMoreRoom()
    {
        try (SliceAllocator alloc = longs(100))
        {
            final SharedSlice first = alloc.allocateLongs(90, i -> i);
            final SharedSlice second = alloc.allocateLongs(20, i -> i);
            SliceStats stats = alloc.stats();
            assertEquals(2, stats.liveChunks());
            assertEquals(alloc.chunkBytes() - 8 - 720, stats.wastedTailBytes(), "the old chunk's tail is abandoned");
            final SharedSlice third = alloc.allocateLongs(5, i -> i);
            assertEquals(second.buffer().addressOffset() + 160 + 8, third.buffer().addressOffset(),
                "the new chunk became current");
            first.release();
            stats = alloc.stats();
            assertEquals(1, stats.liveChunks(), "the abandoned chunk is freed with its last slice");
            assertEquals(0, stats.wastedTailBytes());
            second.release();
            third.release();
        }
    }

    @Test
    void currentChunkWithNoLiveSliceIsReusedInPlace()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final long address = alloc.allocateLongs(1, i -> 7L).buffer().addressOffset();
            for (int round = 0; round < 1_000; round++)
            {
                final SharedSlice slice = alloc.allocateLongs(40, i -> i);
                assertEquals(39, slice.getLong(39));
                slice.release();
            }
            // the first slice is still live (never released) so it pins its chunk; the loop reused another chunk
            assertTrue(alloc.stats().liveChunks() <= 2);
            assertEquals(2 * alloc.chunkBytes(), alloc.stats().reservedBytes());
            assertNotEquals(0, address);
        }
        // the leaked single slice keeps its chunk until it becomes unreachable: free it through the safety net
        awaitBaseline();
    }

    @Test
    void steadyAllocateReleaseLoopNeverAllocatesAChunk()
    {
        try (SliceAllocator alloc = longs(64))
        {
            for (int round = 0; round < 10_000; round++)
            {
                final long ref = alloc.allocateLongsRef(50, i -> i);
                assertEquals(49, alloc.getLong(ref, 49));
                alloc.release(ref);
                alloc.allocateLongs(50, i -> i).release();
            }
            final SliceStats stats = alloc.stats();
            assertEquals(1, stats.liveChunks());
            assertEquals(0, stats.wastedTailBytes());
            assertEquals(20_000, stats.slicesAllocated());
        }
    }

    @Test
    void chunkWithMoreSlicesThanOneCreditBatchIsFreedExactlyWhenItsLastSliceGoes()
    {
        // 2,048 one-long slices fill a chunk of 4,096 longs: the allocator refills its spare references twice.
        final SliceAllocator alloc = longs(4096);
        final long[] refs = new long[2048];
        for (int i = 0; i < refs.length; i++)
        {
            final long value = i;
            refs[i] = alloc.allocateLongsRef(1, x -> value);
        }
        final long next = alloc.allocateLongsRef(1, x -> -1); // the full chunk is left behind, still live
        assertEquals(2, alloc.stats().liveChunks());
        for (int i = refs.length - 1; i > 0; i--)
        {
            alloc.release(refs[i]);
        }
        assertEquals(2, alloc.stats().liveChunks(), "one slice still holds the old chunk");
        assertEquals(0, alloc.getLong(refs[0], 0));
        alloc.release(refs[0]);
        assertEquals(1, alloc.stats().liveChunks(), "freed with its last slice");
        alloc.release(next);
        alloc.close();
        assertEquals(new SliceStats(0, 0, 0, 0, 2049), alloc.stats());
    }

    @Test
    void failedTryAllocateChangesNothingAndPropagates()
    {
        try (SliceAllocator alloc = longs(100))
        {
            final SharedSlice held = alloc.allocateLongs(10, i -> i);
            final SliceStats before = alloc.stats();
            final long reservedBefore = NativeMemory.reservedBytes();
            final AtomicLong triedAt = new AtomicLong();
            final IOException thrown = assertThrows(IOException.class, () -> alloc.tryAllocate(5,
                (buf, off, i) ->
                {
                    triedAt.set(buf.addressOffset() + off);
                    if (i == 3)
                    {
                        throw new IOException("bad element 3");
                    }
                    buf.putLong(off, i);
                }));
            assertEquals("bad element 3", thrown.getMessage());
            assertEquals(before, alloc.stats());
            assertEquals(reservedBefore, NativeMemory.reservedBytes());
            final SharedSlice next = alloc.tryAllocate(5, (buf, off, i) -> buf.putLong(off, i * 2L));
            assertEquals(triedAt.get() - 3 * 8, next.buffer().addressOffset(), "the offset was not advanced");
            assertEquals(8, next.getLong(4));

            // a failure in a chunk started for the request frees that chunk
            assertThrows(IOException.class, () -> alloc.tryAllocateLongs(95, i ->
            {
                if (i == 94)
                {
                    throw new IOException("late failure");
                }
                return i;
            }));
            assertThrows(IOException.class, () -> alloc.tryAllocateLongs(1000, i ->
            {
                throw new IOException("dedicated failure");
            }));
            assertThrows(IllegalStateException.class, () -> alloc.allocateLongsRef(200, i ->
            {
                throw new IllegalStateException("primitive tier failure");
            }));
            assertEquals(1, alloc.stats().liveChunks());
            assertEquals(reservedBefore, NativeMemory.reservedBytes());
            held.release();
            next.release();
        }
    }

    @Test
    void shareHandsOutAnotherHandleToTheSameBytes()
    {
        try (SliceAllocator alloc = longs(100))
        {
            final SharedSlice a = alloc.allocateLongs(8, i -> 100 + i);
            final SharedSlice b = a.share();
            assertNotSame(a, b);
            assertEquals(a.buffer().addressOffset(), b.buffer().addressOffset(), "zero copy");
            a.release();
            assertEquals(64, alloc.stats().liveSliceBytes(), "the slice lives while a handle does");
            assertEquals(107, b.getLong(7));
            final SharedSlice c = b.share();
            b.release();
            assertEquals(100, c.getLong(0));
            c.release();
            assertEquals(0, alloc.stats().liveSliceBytes());
            assertThrows(StaleHandleException.class, a::share);
        }
    }

    @Test
    void everyAccessOnAReleasedHandleThrows()
    {
        try (SliceAllocator alloc = longs(100))
        {
            final SharedSlice slice = alloc.allocateLongs(4, i -> i);
            final DirectBuffer view = slice.buffer();
            slice.release();
            assertThrows(StaleHandleException.class, () -> slice.getLong(0));
            assertThrows(StaleHandleException.class, slice::buffer);
            assertThrows(StaleHandleException.class, () -> slice.elementOffset(0));
            assertThrows(StaleHandleException.class, slice::share);
            assertThrows(StaleHandleException.class, slice::toSingle);
            assertThrows(StaleHandleException.class, () -> view.getLong(0));
            assertThrows(StaleHandleException.class, view::capacity);
            assertThrows(StaleHandleException.class, () -> view.getStringAscii(0));
            assertThrows(StaleHandleException.class, slice::release, "double release");
            assertThrows(StaleHandleException.class, slice::close);
            assertEquals(4, slice.length(), "length stays answerable");
        }
    }

    @Test
    void staleHandleAfterItsMemoryWasReusedNeverReadsTheNewSlice()
    {
        try (SliceAllocator alloc = longs(16))
        {
            final SharedSlice old = alloc.allocateLongs(16, i -> 1L);
            final long oldRef = alloc.allocateLongsRef(0, i -> 0L);
            assertEquals(SliceAllocator.EMPTY_REF, oldRef);
            final long address = old.buffer().addressOffset();
            old.release();
            final SharedSlice fresh = alloc.allocateLongs(16, i -> 2L);
            assertEquals(address, fresh.buffer().addressOffset(), "the chunk was reset and its memory reused");
            assertThrows(StaleHandleException.class, () -> old.getLong(0));
            assertEquals(2L, fresh.getLong(0));
            fresh.release();

            final long ref = alloc.allocateLongsRef(16, i -> 3L);
            alloc.release(ref);
            assertThrows(StaleHandleException.class, () -> alloc.getLong(ref, 0), "released in a live chunk");
            final long reused = alloc.allocateLongsRef(16, i -> 4L);
            assertEquals(ref & 0xFFFF_FFFF_FFFFL, reused & 0xFFFF_FFFF_FFFFL, "same slot and offset");
            assertNotEquals(ref, reused, "new generation");
            assertThrows(StaleHandleException.class, () -> alloc.getLong(ref, 0));
            assertThrows(StaleHandleException.class, () -> alloc.release(ref));
            assertThrows(StaleHandleException.class, () -> alloc.retain(ref));
            assertFalse(alloc.isLive(ref));
            assertEquals(4L, alloc.getLong(reused, 15));
            alloc.release(reused);
        }
    }

    @Test
    void staleReferenceAfterItsChunkWasFreedAndItsSlotReused()
    {
        try (SliceAllocator alloc = longs(16))
        {
            final long dedicated = alloc.allocateLongsRef(100, i -> i);
            assertEquals(2, alloc.stats().liveChunks());
            alloc.release(dedicated);
            assertEquals(1, alloc.stats().liveChunks(), "the dedicated chunk was freed");
            assertThrows(StaleHandleException.class, () -> alloc.getLong(dedicated, 0));
            final long again = alloc.allocateLongsRef(200, i -> -i);
            assertThrows(StaleHandleException.class, () -> alloc.length(dedicated));
            assertEquals(200, alloc.length(again));
            assertEquals(-199, alloc.getLong(again, 199));
            alloc.release(again);
            assertThrows(StaleHandleException.class, () -> alloc.getLong(0x7FFF_0000_0000_0008L, 0), "forged");
        }
    }

    @Test
    void primitiveTierReadsRetainsReleasesAndConverts()
    {
        try (SliceAllocator alloc = longs(100))
        {
            final long ref = alloc.allocateLongsRef(10, i -> i * i);
            assertTrue(alloc.isLive(ref));
            assertEquals(10, alloc.length(ref));
            assertEquals(81, alloc.getLong(ref, 9));
            assertThrows(IndexOutOfBoundsException.class, () -> alloc.getLong(ref, 10));
            assertThrows(IndexOutOfBoundsException.class, () -> alloc.getLong(ref, -1));
            assertThrows(IllegalStateException.class, () -> alloc.getInt(ref, 0));
            alloc.retain(ref);
            alloc.release(ref);
            assertTrue(alloc.isLive(ref));
            assertEquals(80, alloc.stats().liveSliceBytes());
            final SharedSlice handle = alloc.toHandle(ref);
            assertEquals(49, handle.getLong(7));
            handle.release();
            assertFalse(alloc.isLive(ref));
            assertThrows(StaleHandleException.class, () -> alloc.release(ref), "double release");
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    @Test
    void primitiveTierForEveryLayout()
    {
        try (SliceAllocator ints = SliceAllocator.builder(ElementLayout.INT).build();
            SliceAllocator doubles = SliceAllocator.builder(ElementLayout.DOUBLE).build();
            SliceAllocator bytes = SliceAllocator.builder(ElementLayout.BYTE).build();
            SliceAllocator records = SliceAllocator.builder(ElementLayout.record(12, 4)).build())
        {
            final long i = ints.allocateIntsRef(3, x -> x + 10);
            final long d = doubles.allocateDoublesRef(3, x -> x / 2.0);
            final long b = bytes.allocateBytesRef(3, x -> (byte)(x - 1));
            final long r = records.allocateRef(2, (buf, off, x) -> buf.putInt(off + 8, x * 7));
            assertEquals(12, ints.getInt(i, 2));
            assertEquals(1.0, doubles.getDouble(d, 2));
            assertEquals((byte)-1, bytes.getByte(b, 0));
            final SharedSlice rh = records.toHandle(r);
            assertEquals(7, rh.buffer().getInt(12 + 8));
            ints.release(i);
            doubles.release(d);
            bytes.release(b);
            rh.release();
            assertThrows(StaleHandleException.class, () -> records.release(r), "the handle took the reference's count");
        }
    }

    @Test
    void readOnlyViewIsZeroCopyBoundsCheckedAndRejectsWrites()
    {
        try (SliceAllocator alloc = longs(100))
        {
            final SharedSlice slice = alloc.allocateLongs(4, i -> i + 1);
            final DirectBuffer view = slice.buffer();
            assertSame(view, slice.buffer());
            assertFalse(view instanceof MutableDirectBuffer, "no write methods");
            assertThrows(UnsupportedOperationException.class, () -> view.wrap(new byte[8]));
            assertThrows(UnsupportedOperationException.class, () -> view.wrap(0L, 8));
            assertEquals(32, view.capacity());
            assertEquals(4, view.getLong(24));
            assertEquals(4, view.getLong(24, ByteOrder.nativeOrder()));
            assertEquals(1, view.getInt(0));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getLong(25));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getByte(-1));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getBytes(0, new byte[33]));
            assertThrows(IndexOutOfBoundsException.class, () -> view.checkLimit(33));
            final byte[] copy = new byte[8];
            view.getBytes(8, copy);
            assertEquals(2, new UnsafeBuffer(copy).getLong(0));
            final SharedSlice shared = slice.share();
            assertEquals(shared.buffer().addressOffset(), view.addressOffset());
            shared.release();
            slice.release();
        }
    }

    @Test
    void viewStringReadsCheckTheEmbeddedLength()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).build())
        {
            final UnsafeBuffer src = new UnsafeBuffer(new byte[12]);
            src.putStringAscii(0, "hello");
            final SharedSlice ok = alloc.allocateBytes(9, src::getByte);
            assertEquals("hello", ok.buffer().getStringAscii(0));
            final SharedSlice cut = alloc.allocateBytes(8, src::getByte);
            assertThrows(IndexOutOfBoundsException.class, () -> cut.buffer().getStringAscii(0));
            assertThrows(IndexOutOfBoundsException.class, () -> cut.buffer().getStringUtf8(0));
            assertEquals("hel", cut.buffer().getStringWithoutLengthAscii(4, 3));
            ok.release();
            cut.release();
        }
    }

    @Test
    void singlesAndConversionsBothWays()
    {
        try (SliceAllocator alloc = longs(100))
        {
            final SharedSingle value = alloc.allocateValue(42L);
            assertEquals(42L, value.getLong());
            assertEquals(1, value.length());
            final SharedSingle viaInit = alloc.allocateSingle((buf, off, i) -> buf.putLong(off, -5L));
            assertEquals(-5L, viaInit.getLong());
            final SharedSlice asSlice = value.toSlice();
            assertTrue(value.isReleased());
            assertEquals(42L, asSlice.getLong(0));
            final SharedSingle back = asSlice.toSingle();
            assertTrue(asSlice.isReleased());
            final SharedSingle other = back.share();
            back.release();
            assertEquals(42L, other.getLong());
            other.release();
            assertThrows(StaleHandleException.class, value::toSlice);
            assertThrows(StaleHandleException.class, value::getLong);

            final SharedSlice two = alloc.allocateLongs(2, i -> i);
            assertThrows(IllegalArgumentException.class, two::toSingle);
            assertFalse(two.isReleased(), "a refused conversion leaves the handle live");
            two.release();
            viaInit.release();
            assertThrows(IllegalStateException.class, () -> alloc.allocateValue(5), "int value on a LONG allocator");
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
        try (SliceAllocator ints = SliceAllocator.builder(ElementLayout.INT).build();
            SliceAllocator doubles = SliceAllocator.builder(ElementLayout.DOUBLE).build();
            SliceAllocator bytes = SliceAllocator.builder(ElementLayout.BYTE).build();
            SliceAllocator records = SliceAllocator.builder(ElementLayout.record(6, 2)).build())
        {
            final SharedSingle i = ints.allocateValue(7);
            final SharedSingle d = doubles.allocateValue(2.5);
            final SharedSingle b = bytes.allocateValue((byte)9);
            final UnsafeBuffer src = new UnsafeBuffer(new byte[8]);
            src.putShort(2, (short)300);
            src.putInt(4, 77);
            final SharedSingle r = records.allocateValue(src, 2);
            assertEquals(7, i.getInt());
            assertEquals(2.5, d.getDouble());
            assertEquals(9, b.getByte());
            assertEquals(300, r.buffer().getShort(0));
            assertEquals(6, r.buffer().capacity());
            assertThrows(IllegalStateException.class, r::getLong, "records are read through the buffer");
            assertThrows(IllegalStateException.class, i::getLong);
            assertThrows(IndexOutOfBoundsException.class, () -> records.allocateValue(src, 3));
            i.release();
            d.release();
            b.release();
            r.release();
        }
    }

    @Test
    void everyLayoutLaysOutAlignedElements()
    {
        final ElementLayout rec = ElementLayout.record(10, 8);
        assertEquals(16, rec.stride());
        assertTrue(rec.isRecord());
        assertFalse(ElementLayout.LONG.isRecord());
        assertEquals(ElementLayout.record(10, 8), rec);
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.record(24, 64)).chunkCapacity(10).build())
        {
            final SharedSlice a = alloc.allocate(3, (buf, off, i) -> buf.putLong(off, i + 1));
            final SharedSlice b = alloc.allocate(1, (buf, off, i) -> buf.putLong(off + 16, 99));
            assertEquals(64, alloc.layout().stride());
            assertEquals(0, a.buffer().addressOffset() % 64);
            assertEquals(0, b.buffer().addressOffset() % 64);
            assertEquals(128, a.elementOffset(2));
            assertEquals(3, a.buffer().getLong(a.elementOffset(2)));
            assertEquals(99, b.buffer().getLong(16));
            assertThrows(IllegalStateException.class, () -> a.getLong(0));
            a.release();
            b.release();
        }
        try (SliceAllocator ints = SliceAllocator.builder(ElementLayout.INT).build();
            SliceAllocator doubles = SliceAllocator.builder(ElementLayout.DOUBLE).build();
            SliceAllocator bytes = SliceAllocator.builder(ElementLayout.BYTE).build())
        {
            final SharedSlice i = ints.allocateInts(5, x -> -x);
            final SharedSlice d = doubles.allocateDoubles(5, x -> x * 1.5);
            final SharedSlice b = bytes.allocateBytes(5, x -> (byte)(x * 2));
            assertEquals(-4, i.getInt(4));
            assertEquals(6.0, d.getDouble(4));
            assertEquals(8, b.getByte(4));
            assertThrows(IllegalStateException.class, () -> i.getLong(0));
            assertThrows(IllegalStateException.class, () -> d.getInt(0));
            assertThrows(IllegalStateException.class, () -> b.getDouble(0));
            assertThrows(IllegalStateException.class, () -> ints.allocateLongs(1, x -> x));
            assertThrows(IndexOutOfBoundsException.class, () -> i.getInt(5));
            i.release();
            d.release();
            b.release();
        }
    }

    @Test
    void sizesBeyondTheIntLimitsFailClearly()
    {
        final IllegalArgumentException tooLong;
        try (SliceAllocator alloc = longs(16))
        {
            assertThrows(IllegalArgumentException.class, () -> alloc.allocateLongs(-1, i -> i));
            tooLong = assertThrows(IllegalArgumentException.class,
                () -> alloc.allocateLongs(Integer.MAX_VALUE / 8, i -> i));
            assertTrue(tooLong.getMessage().contains(String.valueOf(Integer.MAX_VALUE / 8)), tooLong.getMessage());
            assertEquals(0, alloc.stats().slicesAllocated());
        }
        assertThrows(IllegalArgumentException.class, () -> SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(0));
        final IllegalArgumentException huge = assertThrows(IllegalArgumentException.class,
            () -> SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(Integer.MAX_VALUE / 8));
        assertTrue(huge.getMessage().contains("chunk"), huge.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ElementLayout.record(0, 8));
        assertThrows(IllegalArgumentException.class, () -> ElementLayout.record(8, 3));
        assertThrows(IllegalArgumentException.class, () -> ElementLayout.record(8, 1 << 20));
        assertThrows(NullPointerException.class, () -> SliceAllocator.builder(null));
    }

    @Test
    void strictModeRefusesAllocationFromAnotherThread() throws Exception
    {
        try (SliceAllocator alloc = longs(16))
        {
            alloc.allocateLongs(1, i -> i).release();
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final AtomicReference<SharedSlice> fromOther = new AtomicReference<>();
            final Thread other = new Thread(() ->
            {
                try
                {
                    alloc.allocateLongs(1, i -> i);
                }
                catch (final Throwable ex)
                {
                    failure.set(ex);
                }
            });
            other.start();
            other.join();
            assertInstanceOf(IllegalStateException.class, failure.get());
            assertTrue(failure.get().getMessage().contains("confined"), failure.get().getMessage());
            assertEquals(1, alloc.stats().slicesAllocated());

            final Thread handover = new Thread(() ->
            {
                alloc.bindToCurrentThread();
                fromOther.set(alloc.allocateLongs(2, i -> 5));
            });
            handover.start();
            handover.join();
            assertThrows(IllegalStateException.class, () -> alloc.allocateLongs(1, i -> i));
            assertEquals(5, fromOther.get().getLong(1), "handles are readable from any thread");
            fromOther.get().release();
            alloc.bindToCurrentThread();
        }
    }

    @Test
    void nonStrictModeDoesNotCheckTheThread() throws Exception
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).strict(false).build())
        {
            alloc.allocateLongs(1, i -> i).release();
            final AtomicReference<SharedSlice> made = new AtomicReference<>();
            final Thread other = new Thread(() -> made.set(alloc.allocateLongs(1, i -> 3)));
            other.start();
            other.join();
            assertEquals(3, made.get().getLong(0));
            made.get().release();
        }
    }

    @Test
    void closedAllocatorRefusesAllocationButHandlesLiveOn()
    {
        final SliceAllocator alloc = longs(16);
        final SharedSlice slice = alloc.allocateLongs(4, i -> i + 10);
        final long ref = alloc.allocateLongsRef(4, i -> i + 20);
        alloc.close();
        alloc.close();
        assertTrue(alloc.isClosed());
        assertThrows(IllegalStateException.class, () -> alloc.allocateLongs(1, i -> i));
        assertThrows(IllegalStateException.class, () -> alloc.allocateValue(1L));
        assertEquals(1, alloc.stats().liveChunks(), "the chunk lives while its slices do");
        assertEquals(13, slice.getLong(3));
        assertEquals(23, alloc.getLong(ref, 3));
        slice.release();
        alloc.release(ref);
        assertEquals(0, alloc.stats().liveChunks());
        assertEquals(0, alloc.stats().reservedBytes());
    }

    @Test
    void initializerCannotReenterTheAllocator()
    {
        try (SliceAllocator alloc = longs(16))
        {
            final SliceStats before = alloc.stats();
            final IllegalStateException ex = assertThrows(IllegalStateException.class,
                () -> alloc.allocateLongs(2, i -> alloc.allocateLongs(1, j -> j).getLong(0)));
            assertTrue(ex.getMessage().contains("initializer"), ex.getMessage());
            assertEquals(before, alloc.stats());
            alloc.allocateLongs(2, i -> i).release();
        }
    }

    @Test
    void leakedHandleIsFreedByTheSafetyNetAndCounted()
    {
        final long leaksBefore = NativeMemory.leaks();
        try (SliceAllocator alloc = longs(16))
        {
            leak(alloc);
            assertEquals(1, alloc.stats().liveChunks());
        }
        awaitBaseline();
        assertTrue(NativeMemory.leaks() > leaksBefore);
        assertTrue(NativeMemory.leakReports().stream().anyMatch(r -> r.what().contains("unreleased slice")),
            NativeMemory.leakReports().toString());
    }

    @Test
    void allocatorDroppedWithoutCloseIsFreedByTheSafetyNet()
    {
        final long leaksBefore = NativeMemory.leaks();
        dropAllocator();
        awaitBaseline();
        assertTrue(NativeMemory.leaks() > leaksBefore);
    }

    private static void dropAllocator()
    {
        final SliceAllocator alloc = longs(16);
        alloc.allocateLongs(4, i -> i).release();
        alloc.allocateLongsRef(4, i -> i); // a primitive reference never released: pinned until the allocator goes
    }

    private static void leak(final SliceAllocator alloc)
    {
        alloc.allocateLongs(3, i -> i);
    }
}
