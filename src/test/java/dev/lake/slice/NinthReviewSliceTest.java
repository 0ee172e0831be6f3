package dev.lake.slice;

import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The ninth hostile review of the slice allocator: a contract audit of the handle tier, the reader, the primitive
 * tier and the {@code buffer()} view, each documented promise checked by a test that fails if it breaks. The class
 * runs with and without Agrona's bounds checks ({@code -Dagrona.disable.bounds.checks=true}): nothing here relies
 * on them.
 */
class NinthReviewSliceTest
{
    /**
     * {@link SliceAllocator#EMPTY_REF} is the reference of every empty slice ("length 0, owns no chunk"):
     * {@code length(EMPTY_REF)} is 0 and the bulk {@code getLongs(EMPTY_REF, ...)} refuses one element with
     * {@link IndexOutOfBoundsException}, like the empty handle and a reader bound to it. The single-element reads
     * said {@link StaleHandleException} ("stale: its chunk was freed or reused, or it is not from this allocator")
     * for the same index of the same slice, which was none of those; the Javadoc promises
     * {@link IndexOutOfBoundsException} for an index out of the slice.
     */
    @Test
    void anElementOfTheEmptyReferenceIsOutOfBoundsNotStale()
    {
        try (SliceAllocator longs = SliceAllocator.builder(ElementLayout.LONG).build();
            SliceAllocator ints = SliceAllocator.builder(ElementLayout.INT).build();
            SliceAllocator doubles = SliceAllocator.builder(ElementLayout.DOUBLE).build();
            SliceAllocator bytes = SliceAllocator.builder(ElementLayout.BYTE).build())
        {
            final long empty = longs.allocateLongsRef(0, i -> i);
            assertEquals(SliceAllocator.EMPTY_REF, empty);
            assertEquals(0, longs.length(empty));
            assertThrows(IndexOutOfBoundsException.class, () -> longs.getLongs(empty, 0, new long[1], 0, 1));
            for (final int index : new int[] {-1, 0, 1})
            {
                assertThrows(IndexOutOfBoundsException.class, () -> longs.getLong(empty, index), "getLong " + index);
                assertThrows(IndexOutOfBoundsException.class, () -> ints.getInt(empty, index), "getInt " + index);
                assertThrows(IndexOutOfBoundsException.class, () -> doubles.getDouble(empty, index), "getDouble");
                assertThrows(IndexOutOfBoundsException.class, () -> bytes.getByte(empty, index), "getByte " + index);
            }
            // the layout is still checked: an empty LONG slice read as ints is the wrong accessor or out of bounds,
            // never stale
            final Throwable wrong = assertThrows(RuntimeException.class, () -> longs.getInt(empty, 0));
            assertFalse(wrong instanceof StaleHandleException, wrong.toString());
            // the other tiers agree for the same empty slice
            final SharedSlice handle = longs.toHandle(empty);
            assertThrows(IndexOutOfBoundsException.class, () -> handle.getLong(0));
            try (SliceReader reader = new SliceReader().adopt(longs, empty))
            {
                assertThrows(IndexOutOfBoundsException.class, () -> reader.getLong(0));
            }
            handle.release();
            // a made-up reference stays stale
            assertThrows(StaleHandleException.class, () -> longs.getLong(0x0001_0000_0000_0001L, 0));
        }
    }

    /** Every typed accessor of every tier refuses index -1 and index {@code length} with the documented exception. */
    @Test
    void everyTypedAccessorRefusesMinusOneAndLengthInEveryTier()
    {
        final int n = 5;
        try (SliceAllocator longs = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
            SliceAllocator ints = SliceAllocator.builder(ElementLayout.INT).chunkCapacity(64).build();
            SliceAllocator doubles = SliceAllocator.builder(ElementLayout.DOUBLE).chunkCapacity(64).build();
            SliceAllocator bytes = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build())
        {
            final SharedSlice l = longs.allocateLongs(n, i -> i + 1);
            final SharedSlice in = ints.allocateInts(n, i -> i + 1);
            final SharedSlice d = doubles.allocateDoubles(n, i -> i + 1);
            final SharedSlice b = bytes.allocateBytes(n, i -> (byte)(i + 1));
            final long lr = longs.allocateLongsRef(n, i -> i + 1);
            final long ir = ints.allocateIntsRef(n, i -> i + 1);
            final long dr = doubles.allocateDoublesRef(n, i -> i + 1);
            final long br = bytes.allocateBytesRef(n, i -> (byte)(i + 1));
            final SliceReader lReader = new SliceReader().bind(longs, lr);
            final SliceReader iReader = new SliceReader().bind(ints, ir);
            final SliceReader dReader = new SliceReader().bind(doubles, dr);
            final SliceReader bReader = new SliceReader().bind(bytes, br);
            for (final int bad : new int[] {-1, n, Integer.MIN_VALUE, Integer.MAX_VALUE})
            {
                outOfBounds(() -> l.getLong(bad), () -> in.getInt(bad), () -> d.getDouble(bad), () -> b.getByte(bad),
                    () -> l.elementOffset(bad), () -> longs.getLong(lr, bad), () -> ints.getInt(ir, bad),
                    () -> doubles.getDouble(dr, bad), () -> bytes.getByte(br, bad), () -> lReader.getLong(bad),
                    () -> iReader.getInt(bad), () -> dReader.getDouble(bad), () -> bReader.getByte(bad));
            }
            // the last element and the first read right in every tier
            assertEquals(n, l.getLong(n - 1) + in.getInt(0) - 1);
            assertEquals(n, longs.getLong(lr, n - 1) + ints.getInt(ir, 0) - 1);
            assertEquals(n, lReader.getLong(n - 1) + iReader.getInt(0) - 1);
            assertEquals((double)n, dReader.getDouble(n - 1) + d.getDouble(0) - 1 + doubles.getDouble(dr, 0) - 1);
            assertEquals(n, bReader.getByte(n - 1) + b.getByte(0) - 1 + bytes.getByte(br, 0) - 1);
            for (final SliceReader r : new SliceReader[] {lReader, iReader, dReader, bReader})
            {
                r.close();
            }
            longs.release(lr);
            ints.release(ir);
            doubles.release(dr);
            bytes.release(br);
            for (final SharedSlice s : new SharedSlice[] {l, in, d, b})
            {
                s.release();
            }
            for (final SliceAllocator a : new SliceAllocator[] {longs, ints, doubles, bytes})
            {
                assertEquals(0, a.stats().liveSliceBytes());
            }
        }
    }

    /**
     * A record slice is read through its view: fields past the record's size but inside the slice read the next
     * record (the view is the slice's bytes, as documented), and any read that reaches past the slice's last byte is
     * refused, by the view's own check (with Agrona's checks off too).
     */
    @Test
    void recordFieldsAreBoundedByTheSliceNotByAgrona()
    {
        final ElementLayout layout = ElementLayout.record(12, 4);
        assertEquals(12, layout.stride());
        try (SliceAllocator records = SliceAllocator.builder(layout).chunkCapacity(16).build())
        {
            final SharedSlice slice = records.allocate(3, (buffer, offset, index) ->
            {
                buffer.putInt(offset, index);
                buffer.putLong(offset + 4, 100L + index);
            });
            final DirectBuffer view = slice.buffer();
            assertEquals(36, view.capacity());
            final int last = slice.elementOffset(2);
            assertEquals(24, last);
            assertEquals(102L, view.getLong(last + 4));
            assertEquals(101L, view.getLong(slice.elementOffset(1) + 4));
            assertEquals(2, view.getInt(slice.elementOffset(1) + 12), "past record 1 lies record 2");
            outOfBounds(() -> view.getInt(last + 12), () -> view.getLong(last + 8), () -> view.getLong(last + 5),
                () -> view.getShort(last + 11), () -> view.getByte(last + 12), () -> view.getInt(-1),
                () -> view.getByte(-1), () -> view.getDouble(last + 5), () -> view.getFloat(last + 9),
                () -> view.getChar(last + 11), () -> view.getBytes(last + 1, new byte[12]),
                () -> view.getStringWithoutLengthAscii(last, 13), () -> view.boundsCheck(last, 13),
                () -> view.checkLimit(37));
            view.boundsCheck(last, 12);
            view.checkLimit(36);

            final SharedSingle single = records.allocateSingle((buffer, offset, index) -> buffer.putInt(offset, 7));
            final DirectBuffer one = single.buffer();
            assertEquals(12, one.capacity());
            assertEquals(7, one.getInt(0));
            outOfBounds(() -> one.getLong(8), () -> one.getInt(12), () -> one.getInt(9), () -> one.getLong(-8));
            assertThrows(IllegalStateException.class, single::getLong, "a record is read through its view");
            single.release();
            slice.release();
            assertEquals(0, records.stats().liveSliceBytes());
        }
    }

    /**
     * The view behaves as an Agrona {@code UnsafeBuffer} over the same bytes for every read that lies inside the
     * slice (both byte orders, signed extremes, strings at the very end), and refuses each one that does not;
     * {@code hashCode} equals Agrona's for the same bytes, {@code compareTo} is 0 both ways, and {@code equals} is
     * by content between views and, as for Agrona's buffers, false across buffer classes.
     */
    @Test
    void theViewReadsExactlyWhatAnUnsafeBufferOverTheSameBytesReads()
    {
        final byte[] bytes = new byte[29];
        for (int i = 0; i < bytes.length; i++)
        {
            bytes[i] = (byte)(i * 37 - 128);
        }
        // an ASCII string of 3 chars ending exactly at the slice's end, prefixed by its length in native order
        final UnsafeBuffer setUp = new UnsafeBuffer(bytes);
        setUp.putStringAscii(bytes.length - 7, "end");
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build())
        {
            final SharedSlice slice = alloc.allocateBytes(bytes.length, i -> bytes[i]);
            final DirectBuffer view = slice.buffer();
            final UnsafeBuffer agrona = new UnsafeBuffer(bytes.clone());
            final int cap = bytes.length;
            for (int i = -1; i <= cap; i++)
            {
                final int at = i;
                same(view, agrona, cap, at, 1, () -> view.getByte(at), () -> agrona.getByte(at));
                same(view, agrona, cap, at, 2, () -> view.getShort(at), () -> agrona.getShort(at));
                same(view, agrona, cap, at, 2, () -> view.getChar(at, ByteOrder.BIG_ENDIAN),
                    () -> agrona.getChar(at, ByteOrder.BIG_ENDIAN));
                same(view, agrona, cap, at, 4, () -> view.getInt(at), () -> agrona.getInt(at));
                same(view, agrona, cap, at, 4, () -> view.getInt(at, ByteOrder.BIG_ENDIAN),
                    () -> agrona.getInt(at, ByteOrder.BIG_ENDIAN));
                same(view, agrona, cap, at, 4, () -> Float.floatToRawIntBits(view.getFloat(at)),
                    () -> Float.floatToRawIntBits(agrona.getFloat(at)));
                same(view, agrona, cap, at, 8, () -> view.getLong(at), () -> agrona.getLong(at));
                same(view, agrona, cap, at, 8, () -> view.getLong(at, ByteOrder.BIG_ENDIAN),
                    () -> agrona.getLong(at, ByteOrder.BIG_ENDIAN));
                same(view, agrona, cap, at, 8, () -> Double.doubleToRawLongBits(view.getDouble(at)),
                    () -> Double.doubleToRawLongBits(agrona.getDouble(at)));
            }
            assertEquals("end", view.getStringAscii(cap - 7));
            assertEquals("end", view.getStringAscii(cap - 7, 3));
            assertEquals("end", view.getStringUtf8(cap - 7));
            final StringBuilder appended = new StringBuilder();
            assertEquals(3, view.getStringAscii(cap - 7, appended));
            assertEquals("end", appended.toString());
            assertEquals("nd", view.getStringWithoutLengthAscii(cap - 2, 2));
            outOfBounds(() -> view.getStringAscii(cap - 6), () -> view.getStringAscii(cap - 7, 4),
                () -> view.getStringAscii(cap - 3), () -> view.getStringUtf8(cap - 7, 4),
                () -> view.getStringAscii(cap - 7, new StringBuilder(), ByteOrder.BIG_ENDIAN),
                () -> view.getStringWithoutLengthAscii(cap - 2, 3),
                () -> view.getStringWithoutLengthUtf8(cap - 2, 3));

            final byte[] copy = new byte[cap];
            view.getBytes(0, copy);
            assertArrayEquals(bytes, copy);
            assertEquals(agrona.hashCode(), view.hashCode(), "hashCode is Agrona's for the same bytes");
            assertEquals(0, view.compareTo(agrona));
            assertEquals(0, agrona.compareTo(view));
            assertFalse(view.equals(agrona), "equality across buffer classes is false, as Agrona's");
            assertFalse(agrona.equals(view));
            final SharedSlice same = alloc.allocateBytes(cap, i -> bytes[i]);
            assertEquals(view, same.buffer());
            assertEquals(view.hashCode(), same.buffer().hashCode());
            final SharedSlice shorter = alloc.allocateBytes(cap - 1, i -> bytes[i]);
            assertNotEquals(view, shorter.buffer());
            assertTrue(view.compareTo(shorter.buffer()) > 0);

            // copies out through Agrona land where the view says, and nothing is written past a refused range
            final ExpandableArrayBuffer grow = new ExpandableArrayBuffer(4);
            view.getBytes(0, grow, 3, cap);
            assertEquals(agrona.getLong(5), grow.getLong(8));
            final UnsafeBuffer small = new UnsafeBuffer(new byte[8]);
            outOfBounds(() -> view.getBytes(0, small, 1, 8), () -> view.getBytes(cap - 1, small, 0, 2),
                () -> view.getBytes(0, ByteBuffer.allocate(4), 1, 4), () -> view.getBytes(0, new byte[4], 1, 4));
            assertEquals(0L, small.getLong(0));

            for (final SharedSlice s : new SharedSlice[] {slice, same, shorter})
            {
                s.release();
            }
        }
    }

    /** Every {@code wrap} of the view is refused and changes nothing: the view keeps showing its slice. */
    @Test
    void theViewRefusesEveryWrapAndKeepsShowingItsSlice()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(16).build())
        {
            final SharedSlice slice = alloc.allocateLongs(2, i -> 40L + i);
            final DirectBuffer view = slice.buffer();
            final UnsafeBuffer other = new UnsafeBuffer(new byte[64]);
            final Executable[] wraps = {
                () -> view.wrap(new byte[4]), () -> view.wrap(new byte[4], 0, 4), () -> view.wrap(ByteBuffer.allocate(4)),
                () -> view.wrap(ByteBuffer.allocateDirect(4), 0, 4), () -> view.wrap(other), () -> view.wrap(other, 0, 8),
                () -> view.wrap(other.addressOffset(), 8)};
            for (final Executable wrap : wraps)
            {
                assertThrows(UnsupportedOperationException.class, wrap);
                assertEquals(16, view.capacity());
                assertEquals(41L, view.getLong(8));
            }
            assertSame(view, slice.buffer(), "one view per handle");
            assertFalse(view instanceof org.agrona.MutableDirectBuffer);
            slice.release();
        }
    }

    /**
     * Conversions move the handle's count: the converted handle (and its view) is released, the slice's other
     * handles are untouched, the stats do not move, and the chunk goes with the last holder. A released handle
     * refuses to convert; a slice of another length refuses and stays live.
     */
    @Test
    void conversionsMoveOneCountAndLeaveSharedHandlesAndTheStatsAlone()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(4).build())
        {
            final SharedSlice first = alloc.allocateLongs(1, i -> 77L);
            final SharedSlice other = first.share();
            final DirectBuffer firstView = first.buffer();
            final SliceStats before = alloc.stats();

            final SharedSingle single = first.toSingle();
            assertTrue(first.isReleased());
            assertThrows(StaleHandleException.class, () -> firstView.getLong(0), "the converted handle's view");
            assertThrows(StaleHandleException.class, first::toSingle);
            assertThrows(StaleHandleException.class, first::release, "its count moved: nothing left to release");
            assertEquals(77L, single.getLong());
            assertEquals(77L, single.buffer().getLong(0));
            assertNotSame(firstView, single.buffer());

            final SharedSlice back = single.toSlice();
            assertThrows(StaleHandleException.class, single::toSlice);
            assertThrows(StaleHandleException.class, single::getLong);
            final SharedSingle again = back.toSingle();
            final SharedSingle third = again.share();
            assertEquals(before, alloc.stats(), "conversions and shares count nothing");

            again.release();
            other.release();
            final SharedSlice last = third.toSlice();
            assertEquals(77L, last.getLong(0), "the last holder still reads after a conversion");
            assertEquals(8, alloc.stats().liveSliceBytes());
            last.release();
            assertEquals(0, alloc.stats().liveSliceBytes());

            final SharedSlice two = alloc.allocateLongs(2, i -> i);
            final SharedSlice twoShared = two.share();
            assertThrows(IllegalArgumentException.class, two::toSingle);
            assertFalse(two.isReleased());
            two.release();
            assertThrows(IllegalArgumentException.class, twoShared::toSingle);
            twoShared.release();
            assertThrows(StaleHandleException.class, twoShared::toSingle, "released first, then the length");

            final SharedSlice empty = alloc.allocateLongs(0, i -> i);
            assertThrows(IllegalArgumentException.class, empty::toSingle);
            empty.release();
        }
    }

    /**
     * Sizes whose byte count overflows an {@code int} ({@code length * stride} of 2^31 and 2^32) are refused naming
     * the length, in every tier, with nothing allocated or counted; the builder refuses a chunk that would.
     */
    @Test
    void slicesWhoseByteCountOverflowsAnIntAreRefusedWithNothingAllocated()
    {
        final ElementLayout big = ElementLayout.record(1 << 20, 8);
        try (SliceAllocator alloc = SliceAllocator.builder(big).chunkCapacity(1).build())
        {
            final SliceStats before = alloc.stats();
            final ElementInit init = (buffer, offset, index) -> fail("must not be called");
            for (final int length : new int[] {2048, 4096, 1 << 21, Integer.MAX_VALUE})
            {
                final String name = String.valueOf(length);
                assertTrue(assertThrows(IllegalArgumentException.class, () -> alloc.allocate(length, init))
                    .getMessage().contains(name));
                assertThrows(IllegalArgumentException.class, () -> alloc.allocateRef(length, init));
                assertThrows(IllegalArgumentException.class, () -> alloc.tryAllocate(length, init::init));
                assertThrows(IllegalArgumentException.class, () -> alloc.allocateLocal(length, init, new SliceReader()));
            }
            assertEquals(before, alloc.stats());
            final SharedSlice ok = alloc.allocate(3, (buffer, offset, index) -> buffer.putInt(offset, index));
            assertEquals(3 << 20, ok.byteLength());
            assertEquals(2 << 20, ok.elementOffset(2));
            assertEquals(2, ok.buffer().getInt(ok.elementOffset(2)));
            ok.release();
        }
        assertThrows(IllegalArgumentException.class,
            () -> SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(Integer.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> SliceAllocator.builder(big).chunkCapacity(2048));
        assertThrows(IllegalArgumentException.class, () -> SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(0));
    }

    /**
     * {@code ElementLayout}: the primitive constants equal only themselves (a record of the same size is not
     * {@code LONG}: the typed accessors compare by identity), records are equal by size and alignment with equal
     * hash codes, and bad sizes or alignments are refused naming the value.
     */
    @Test
    void layoutsAreEqualByValueOnlyAmongRecords()
    {
        assertNotEquals(ElementLayout.LONG, ElementLayout.record(8, 8));
        assertNotEquals(ElementLayout.record(8, 8), ElementLayout.LONG);
        assertNotEquals(ElementLayout.LONG, ElementLayout.DOUBLE);
        assertEquals(ElementLayout.record(6, 2), ElementLayout.record(6, 2));
        assertEquals(ElementLayout.record(6, 2).hashCode(), ElementLayout.record(6, 2).hashCode());
        assertNotEquals(ElementLayout.record(6, 2), ElementLayout.record(6, 4));
        assertEquals(8, ElementLayout.record(6, 4).stride());
        assertFalse(ElementLayout.INT.isRecord());
        assertTrue(ElementLayout.record(4, 4).isRecord());
        for (final int[] bad : new int[][] {{0, 1}, {-1, 1}, {4, 3}, {4, 0}, {4, -8}, {4, 1 << 30}, {Integer.MAX_VALUE, 1}})
        {
            final IllegalArgumentException refused =
                assertThrows(IllegalArgumentException.class, () -> ElementLayout.record(bad[0], bad[1]));
            assertTrue(refused.getMessage().contains(String.valueOf(bad[0])) ||
                refused.getMessage().contains(String.valueOf(bad[1])), refused.getMessage());
        }
        try (SliceAllocator records = SliceAllocator.builder(ElementLayout.record(8, 8)).chunkCapacity(2).build())
        {
            assertThrows(IllegalStateException.class, () -> records.allocateLongs(1, i -> i),
                "a record of 8 bytes is not a LONG layout");
            assertThrows(IllegalStateException.class, () -> records.allocateValue(1L));
        }
    }

    /**
     * {@code buffer()}: "Created on first call, then the same instance", and a handle may be read from any thread.
     * Two threads asking a fresh handle for its view at once each made one (a plain check-then-set), so they got
     * two different views of one handle. Several threads (more than cores) race the first call on many handles.
     */
    @Test
    void everyThreadGetsTheSameViewOfAHandleEvenOnItsFirstCall() throws Exception
    {
        final int threads = 4;
        final int handles = 100_000;
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(1024).build())
        {
            int different = 0;
            for (int round = 0; round < 5 && different == 0; round++)
            {
                final SharedSlice[] slices = new SharedSlice[handles];
                for (int i = 0; i < handles; i++)
                {
                    slices[i] = alloc.allocateLongs(1, k -> 5L);
                }
                final DirectBuffer[][] seen = new DirectBuffer[threads][];
                final java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads);
                final Thread[] workers = new Thread[threads];
                for (int t = 0; t < threads; t++)
                {
                    final int me = t;
                    workers[t] = new Thread(() ->
                    {
                        final DirectBuffer[] mine = new DirectBuffer[handles];
                        try
                        {
                            start.await();
                        }
                        catch (final Exception ex)
                        {
                            return;
                        }
                        // all walk the handles in the same order from the same moment: their first calls overlap
                        for (int i = 0; i < handles; i++)
                        {
                            mine[i] = slices[i].buffer();
                        }
                        seen[me] = mine;
                    });
                    workers[t].start();
                }
                for (final Thread worker : workers)
                {
                    worker.join(30_000);
                    assertFalse(worker.isAlive());
                }
                for (int i = 0; i < handles; i++)
                {
                    final DirectBuffer now = slices[i].buffer();
                    for (int t = 0; t < threads; t++)
                    {
                        if (seen[t][i] != now)
                        {
                            different++;
                            break;
                        }
                    }
                    slices[i].release();
                }
            }
            assertEquals(0, different, "handles whose first callers got different views");
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    /**
     * A conversion racing a release of the same handle object, on more threads than cores: exactly one of the two
     * wins (the handle's count moves or is released once, never both, never neither), the slice's other handle is
     * untouched, and every chunk is freed once the winners let go.
     */
    @Test
    void aConversionRacingAReleaseOfTheSameHandleMovesOrReleasesItsCountExactlyOnce() throws Exception
    {
        final int pairs = 4;
        final int rounds = 2_000;
        final long baseline = dev.lake.memory.NativeMemory.reservedBytes();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).strict(false).build();
        final SharedSlice[][] contested = new SharedSlice[pairs][rounds];
        final SharedSlice[][] kept = new SharedSlice[pairs][rounds];
        for (int p = 0; p < pairs; p++)
        {
            for (int r = 0; r < rounds; r++)
            {
                contested[p][r] = alloc.allocateLongs(1, k -> 9L);
                kept[p][r] = contested[p][r].share();
            }
        }
        final java.util.concurrent.atomic.AtomicInteger converted = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicInteger released = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicInteger wrong = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.ConcurrentLinkedQueue<SharedSingle> singles =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
        final java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2 * pairs);
        final Thread[] workers = new Thread[2 * pairs];
        for (int w = 0; w < workers.length; w++)
        {
            final int p = w / 2;
            final boolean converter = w % 2 == 0;
            workers[w] = new Thread(() ->
            {
                try
                {
                    start.await();
                }
                catch (final Exception ex)
                {
                    wrong.incrementAndGet();
                    return;
                }
                for (int r = 0; r < rounds; r++)
                {
                    try
                    {
                        if (converter)
                        {
                            final SharedSingle single = contested[p][r].toSingle();
                            converted.incrementAndGet();
                            if (single.getLong() != 9L)
                            {
                                wrong.incrementAndGet();
                            }
                            singles.add(single);
                        }
                        else
                        {
                            contested[p][r].release();
                            released.incrementAndGet();
                        }
                    }
                    catch (final StaleHandleException lost)
                    {
                        // the other thread won this handle
                    }
                    catch (final RuntimeException ex)
                    {
                        wrong.incrementAndGet();
                    }
                }
            });
            workers[w].start();
        }
        for (final Thread worker : workers)
        {
            worker.join(30_000);
            assertFalse(worker.isAlive());
        }
        assertEquals(0, wrong.get());
        assertEquals(pairs * rounds, converted.get() + released.get(), "each handle won exactly once");
        assertEquals(converted.get(), singles.size());
        for (int p = 0; p < pairs; p++)
        {
            for (int r = 0; r < rounds; r++)
            {
                assertTrue(contested[p][r].isReleased());
                assertEquals(9L, kept[p][r].getLong(0));
                kept[p][r].release();
            }
        }
        assertEquals(8L * converted.get(), alloc.stats().liveSliceBytes());
        singles.forEach(SharedSingle::release);
        alloc.close();
        assertEquals(0, alloc.stats().liveSliceBytes());
        assertEquals(0, alloc.stats().liveChunks());
        assertEquals(baseline, dev.lake.memory.NativeMemory.reservedBytes());
    }

    /**
     * {@code allocateValue(DirectBuffer, offset)}: what the source throws propagates and nothing is allocated (a
     * released view of another slice, a foreign source whose address is refused); an offset outside the source is
     * {@link IndexOutOfBoundsException}, also for a source shorter than one record; the allocator stays usable.
     */
    @Test
    void allocateValueFromASourceThatRefusesAllocatesNothing()
    {
        final ElementLayout layout = ElementLayout.record(6, 2);
        try (SliceAllocator records = SliceAllocator.builder(layout).chunkCapacity(8).build())
        {
            final SharedSlice from = records.allocate(2, (buffer, offset, index) -> buffer.putShort(offset, (short)index));
            final DirectBuffer released = from.buffer();
            from.release();
            final SliceStats before = records.stats();
            assertThrows(StaleHandleException.class, () -> records.allocateValue(released, 0));
            final UnsafeBuffer refusing = new UnsafeBuffer(new byte[16])
            {
                @Override
                public long addressOffset()
                {
                    throw new IllegalStateException("simulated: the source refuses");
                }
            };
            assertThrows(IllegalStateException.class, () -> records.allocateValue(refusing, 0));
            final UnsafeBuffer tiny = new UnsafeBuffer(new byte[5]);
            outOfBounds(() -> records.allocateValue(tiny, 0), () -> records.allocateValue(new UnsafeBuffer(new byte[16]), 11),
                () -> records.allocateValue(new UnsafeBuffer(new byte[16]), -1));
            assertEquals(before, records.stats(), "nothing allocated");
            final UnsafeBuffer source = new UnsafeBuffer(new byte[16]);
            source.putShort(10, (short)-3);
            final SharedSingle value = records.allocateValue(source, 10);
            assertEquals(-3, value.buffer().getShort(0));
            value.release();
        }
    }

    /**
     * The view handed to Agrona's own utilities (a data input, an input stream, an ASCII sequence view, a hex dump,
     * a buffer wrapped over it): they read exactly the slice, stop at its end, and fail once the handle is released.
     */
    @Test
    void agronasUtilitiesReadTheViewToItsEndAndNoFurther() throws Exception
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build())
        {
            final byte[] text = "0123456789ab".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            final SharedSlice slice = alloc.allocateBytes(text.length, i -> text[i]);
            final DirectBuffer view = slice.buffer();

            final org.agrona.io.DirectBufferDataInput in = new org.agrona.io.DirectBufferDataInput(view);
            in.skipBytes(5);
            assertEquals(new UnsafeBuffer(text).getInt(5, ByteOrder.BIG_ENDIAN), in.readInt());
            assertThrows(java.io.EOFException.class, in::readLong, "3 bytes left");
            assertEquals('9', in.readByte());

            final org.agrona.io.DirectBufferInputStream stream = new org.agrona.io.DirectBufferInputStream(view);
            final byte[] all = stream.readAllBytes();
            assertArrayEquals(text, all);
            assertEquals(-1, stream.read());

            final org.agrona.AsciiSequenceView ascii = new org.agrona.AsciiSequenceView(view, 10, 2);
            assertEquals("ab", ascii.toString());
            final org.agrona.AsciiSequenceView past = new org.agrona.AsciiSequenceView(view, 11, 2);
            assertThrows(IndexOutOfBoundsException.class, () -> past.charAt(1));

            assertTrue(org.agrona.PrintBufferUtil.prettyHexDump(view).contains("0123456789ab"));
            final UnsafeBuffer over = new UnsafeBuffer(view);
            assertEquals(text.length, over.capacity());
            assertEquals(0, over.compareTo(new UnsafeBuffer(text)));

            slice.release();
            final org.agrona.io.DirectBufferInputStream late = new org.agrona.io.DirectBufferInputStream();
            assertThrows(StaleHandleException.class, () -> late.wrap(view));
            assertThrows(StaleHandleException.class, ascii::toString);
            assertThrows(StaleHandleException.class, () -> in.readByte());
        }
    }

    // ------------------------------------------------------------------------------------------------- helpers

    private static void outOfBounds(final Executable... calls)
    {
        for (int i = 0; i < calls.length; i++)
        {
            assertThrows(IndexOutOfBoundsException.class, calls[i], "call " + i);
        }
    }

    /** Both reads agree inside {@code [0, cap)} and the view refuses the read outside it. */
    private static void same(
        final DirectBuffer view, final UnsafeBuffer agrona, final int cap, final int index, final int size,
        final java.util.function.LongSupplier mine, final java.util.function.LongSupplier theirs)
    {
        if (index >= 0 && index + size <= cap)
        {
            assertEquals(theirs.getAsLong(), mine.getAsLong(), "read of " + size + " B at " + index);
        }
        else
        {
            assertThrows(IndexOutOfBoundsException.class, mine::getAsLong, "read of " + size + " B at " + index);
        }
    }
}
