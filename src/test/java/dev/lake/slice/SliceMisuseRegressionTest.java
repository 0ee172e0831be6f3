package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.testing.NativeAccounting;
import org.agrona.DirectBuffer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Misuse a review of the slice allocator found unguarded, each test failing on the code before its fix: a
 * failed allocation into a chunk reset in place, a source that refuses the copy, references given to the wrong
 * allocator, view copies with Agrona's checks off, into read-only buffers or into a pool buffer that spills
 * mid-copy, an Appendable that releases the slice mid-read, a kept initializer window, leaks in pinned chunks.
 */
class SliceMisuseRegressionTest extends NativeBaselineTest
{
    /**
     * A failed allocation that reset the current chunk in place has already written its elements over the old
     * slices' headers, but abort() leaves the chunk's offset at its old end. The safety net's walk over a leaked
     * chunk then reads user data as slice headers: here a "live slice" of 8,000,000 bytes that never existed,
     * so liveBytes goes negative and the leak report names the phantom. (With an element whose low int is -1
     * the walk loops forever on Lake's one shared cleaner thread; with other values it reads past the chunk.)
     */
    @Test
    void aFailedAllocationIntoAResetChunkCorruptsTheLeakWalk()
    {
        try (SliceAllocator alloc = longs(8)) // chunk of 72 B
        {
            alloc.allocateLongs(1, i -> 1).release(); // data 8, header at 0
            alloc.allocateLongs(1, i -> 2).release(); // data 24, header at 16
            alloc.allocateLongs(1, i -> 3).release(); // data 40, header at 32; offset 48
            final long phantomHeader = (1L << 32) | 1_000_000L; // [length 1,000,000][references 1], little endian
            assertThrows(IOException.class, () -> alloc.tryAllocateLongs(5, i ->
            {
                if (i == 2)
                {
                    throw new IOException("bad feed"); // the chunk was reset in place: elements 0 and 1 written
                }
                return i == 1 ? phantomHeader : 0L; // element 1 lies where the second slice's header was
            }));
            leakOneSliceInTheCurrentChunk(alloc);
            final long leaksBefore = NativeMemory.leaks();
            alloc.close(); // the leaked handle is now the chunk's only holder
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() ->
            {
                System.gc();
                return NativeMemory.leaks() > leaksBefore && alloc.stats().liveChunks() == 0;
            });
            assertEquals(0, alloc.stats().liveSliceBytes(), "live bytes after the safety net freed the only live slice: " +
                NativeMemory.leakReports().get(NativeMemory.leakReports().size() - 1).what());
        }
    }

    /**
     * The same reset-abort with an element whose low int is -1 (a common sentinel) makes the walk step back onto
     * the same phantom header for ever: Lake's one shared cleaner thread spins in ChunkMemory.run and no leak of
     * any Lake allocator is freed again in this JVM. Run in a child JVM, which exits after 10 s either way.
     */
    @Test
    void aFailedAllocationIntoAResetChunkCanHangTheSharedCleaner() throws Exception
    {
        final String out = runProbe(LeakWalkProbe.class, false);
        assertTrue(out.contains("leak freed"), out);
    }

    private static void leakOneSliceInTheCurrentChunk(final SliceAllocator alloc)
    {
        alloc.allocateLongs(1, i -> 7); // IN_CURRENT at data 56, never released
    }

    /**
     * allocateValue(DirectBuffer, int) checks the source against capacity(), then begins the allocation and
     * copies with no try/abort. A source whose read fails after capacity() answered (a released pool Bytes
     * reports its length but refuses reads) leaves the allocator "allocating" for ever: every later allocation
     * and close() throw "from inside an initializer", and the current chunk is never given back.
     */
    @Test
    void allocateValueFromASourceThatRefusesTheCopyLeavesTheAllocatorStuck()
    {
        final FixedArena arena = FixedArena.builder(1, 64).build();
        final SliceAllocator alloc = longs(8);
        try
        {
            final Buffer buffer = arena.allocate();
            buffer.putLong(42L);
            final Bytes bytes = buffer.freeze();
            bytes.release();
            assertEquals(8, bytes.capacity()); // a released Bytes still answers capacity()
            assertThrows(RuntimeException.class, () -> alloc.allocateValue(bytes, 0));
            // the failed call must leave the allocator usable
            final SharedSlice s = assertDoesNotThrow(() -> alloc.allocateLongs(1, i -> 5L));
            s.release();
        }
        finally
        {
            assertDoesNotThrow(alloc::close, "close() after a failed allocateValue");
            arena.close();
        }
    }

    /**
     * A primitive reference carries no allocator identity, and every allocator's table starts at slot 0,
     * generation 1: a reference handed to the wrong allocator (two allocators of one layout, a very easy slip)
     * passes every check and reads, retains or releases another allocator's slice. The issue asks for "never a
     * read of someone else's memory" on misuse; checkHeader's own message claims "(or it is not from this
     * allocator)".
     */
    @Test
    void aReferenceFromAnotherAllocatorIsRefused()
    {
        try (SliceAllocator prices = longs(16); SliceAllocator quantities = longs(16))
        {
            final long priceRef = prices.allocateLongsRef(2, i -> 100 + i);
            final long quantityRef = quantities.allocateLongsRef(2, i -> 7);
            try
            {
                assertThrows(dev.lake.memory.StaleHandleException.class, () -> prices.getLong(quantityRef, 0),
                    "a reference of another allocator must be refused");
                assertThrows(dev.lake.memory.StaleHandleException.class, () -> quantities.getLong(priceRef, 0));
                assertEquals(100, prices.getLong(priceRef, 0));
            }
            finally
            {
                prices.release(priceRef);
                quantities.release(quantityRef);
            }
        }
    }

    /**
     * SliceView bounds-checks the slice side of a copy but leaves the destination array / ByteBuffer to Agrona,
     * which does not check it under -Dagrona.disable.bounds.checks=true (a mode the suite must pass): a
     * handle-tier read then writes past the end of a heap array (heap corruption) or of a direct buffer.
     * Run in a child JVM with that flag, so the overrun cannot hurt this JVM.
     */
    @Test
    void viewCopiesCheckTheirDestinationEvenWithAgronaBoundsChecksOff() throws Exception
    {
        final String out = runProbeWithAgronaBoundsChecksOff();
        assertTrue(out.contains("byte[]: refused") && out.contains("ByteBuffer: refused"), out);
    }

    /**
     * ElementInit's Javadoc calls keeping the window a bug, but misuse must not corrupt silently: after
     * allocate() the window wrapped a 0-byte heap array, so a kept SBE encoder writing through it with Agrona's
     * checks off scribbled on the Java heap. It now wraps address 0 with capacity 0, as a closed Region does: a
     * refused write with the checks on, a fail-stop fault without them (not exercised here: this suite also
     * runs with the checks off).
     */
    @Test
    void aKeptInitializerWindowPointsAtNothingOnceTheAllocationEnds()
    {
        final org.agrona.MutableDirectBuffer[] kept = new org.agrona.MutableDirectBuffer[1];
        try (SliceAllocator records = SliceAllocator.builder(ElementLayout.record(8, 8)).build())
        {
            records.allocate(1, (b, offset, i) ->
            {
                kept[0] = b;
                b.putLong(offset, 1L);
            }).release();
            assertNull(kept[0].byteArray(), "no heap array behind the kept window");
            assertEquals(0L, kept[0].addressOffset());
            assertEquals(0, kept[0].capacity());
            assertThrows(RuntimeException.class, () -> records.tryAllocate(1, (b, offset, i) ->
            {
                kept[0] = b;
                throw new IllegalStateException("init failed");
            }));
            assertEquals(0L, kept[0].addressOffset(), "also after a failed initializer");
        }
    }

    private static String runProbeWithAgronaBoundsChecksOff() throws Exception
    {
        return runProbe(ViewCopyProbe.class, true);
    }

    private static String runProbe(final Class<?> probe, final boolean boundsChecksOff) throws Exception
    {
        return dev.lake.testing.ChildJvm.run(probe, !boundsChecksOff);
    }

    /**
     * SharedHandle's Javadoc: a leaked handle in a chunk that a primitive reference once used stays in the
     * allocator's reference table (the table must find chunks for references still out), so the safety net
     * reclaims it, and counts the leak, once the allocator itself is unreachable.
     */
    @Test
    void aLeakedHandleInAChunkOncePinnedIsReclaimedWithItsAllocator()
    {
        final SliceAllocator[] holder = {longs(8)};
        pinLeakAndClose(holder[0]);
        final long leaksBefore = NativeMemory.leaks();
        holder[0] = null;
        Awaitility.await("the leaked chunk freed and counted once its allocator is gone").atMost(Duration.ofSeconds(20))
            .until(() ->
            {
                System.gc();
                return NativeMemory.leaks() > leaksBefore && NativeAccounting.reservedBackTo(baseline);
            });
    }

    private static void pinLeakAndClose(final SliceAllocator alloc)
    {
        alloc.release(alloc.allocateLongsRef(1, i -> 1)); // pins the current chunk; released at once
        leakOneSliceInTheCurrentChunk(alloc);
        alloc.close(); // the allocator has moved on for good; the leaked handle is the chunk's only holder
    }

    /** Child-JVM probe for {@link #aFailedAllocationIntoAResetChunkCanHangTheSharedCleaner()}. */
    public static final class LeakWalkProbe
    {
        private LeakWalkProbe()
        {
        }

        /**
         * @param args ignored.
         * @throws Exception never.
         */
        public static void main(final String[] args) throws Exception
        {
            final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(8).build();
            alloc.allocateLongs(1, i -> 1).release();
            alloc.allocateLongs(1, i -> 2).release();
            alloc.allocateLongs(1, i -> 3).release();
            try
            {
                alloc.tryAllocateLongs(5, i ->
                {
                    if (i == 2)
                    {
                        throw new IOException("bad feed");
                    }
                    return i == 1 ? -1L : 0L;
                });
            }
            catch (final IOException expected)
            {
                // the chunk was reset in place and elements 0 and 1 written
            }
            leakOneSliceInTheCurrentChunk(alloc);
            alloc.allocateLongs(2, i -> i).release();
            alloc.close();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (NativeMemory.leaks() == 0 && System.nanoTime() < deadline)
            {
                System.gc();
                Thread.onSpinWait();
            }
            System.out.println(NativeMemory.leaks() == 0 ? "leak NOT freed: the cleaner is stuck" : "leak freed");
            System.out.flush();
            System.exit(0);
        }
    }

    /** Child-JVM probe for {@link #viewCopiesCheckTheirDestinationEvenWithAgronaBoundsChecksOff()}. */
    public static final class ViewCopyProbe
    {
        private ViewCopyProbe()
        {
        }

        /**
         * @param args ignored.
         */
        public static void main(final String[] args)
        {
            try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build())
            {
                final SharedSlice slice = alloc.allocateLongs(8, i -> -1L);
                final DirectBuffer view = slice.buffer();
                final byte[] dst = new byte[8];
                try
                {
                    view.getBytes(0, dst, 8, 8); // slice range fine, destination range [8, 16) of an 8-byte array
                    System.out.println("byte[]: NOT refused: wrote 8 bytes past a heap array");
                }
                catch (final IndexOutOfBoundsException ex)
                {
                    System.out.println("byte[]: refused");
                }
                final java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(8);
                try
                {
                    view.getBytes(0, direct, 8, 8);
                    System.out.println("ByteBuffer: NOT refused: wrote 8 bytes past a direct buffer");
                }
                catch (final IndexOutOfBoundsException ex)
                {
                    System.out.println("ByteBuffer: refused");
                }
                slice.release();
            }
            System.out.flush();
        }
    }
    /**
     * A slice view copied into a pool buffer's view (auto-spill) longer than the slot: the destination spills in the
     * middle of the call, the spill serves a waiting request on this thread, and its callback releases the slice
     * (its last handle: the chunk is freed, and a new chunk of the same size likely takes its memory). The copy then
     * read the freed chunk through the view's raw delegate: another allocation's bytes (with a 64 MiB chunk,
     * unmapped memory and a JVM crash). The copy now goes through the view, which checks the handle after the
     * destination made room.
     */
    @Test
    void aSliceViewCopyIntoASpillingPoolBufferNeverReadsAFreedChunk()
    {
        final int n = 4096;
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build();
        final SharedSlice slice = alloc.allocateBytes(n, i -> (byte)(i * 7 + 1)); // a dedicated chunk
        final List<SharedSlice> keep = new ArrayList<>();
        try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
        {
            final Buffer b = arena.allocate();
            arena.allocateAsync().thenAccept(got ->
            {
                slice.release();                                   // last handle: the chunk is freed now
                keep.add(alloc.allocateBytes(n, i -> (byte)0x55)); // same size, likely the same memory
                got.close();
            });
            final DirectBuffer view = slice.buffer();
            assertThrows(dev.lake.memory.StaleHandleException.class, () -> view.getBytes(0, b.mutableBuffer(), 0, n),
                "the slice was released (its chunk freed) during the call: the copy must not read it");
            b.close();
        }
        finally
        {
            keep.forEach(SharedSlice::release);
            alloc.close();
        }
    }

    /**
     * The pool's checked views refuse a read-only NIO destination with ReadOnlyBufferException; a slice's view wrote
     * through the read-only buffer's backing array (or address: a read-only mapped file crashed the JVM).
     */
    @Test
    void aSliceViewNeverWritesIntoAReadOnlyByteBuffer()
    {
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build();
        final SharedSlice slice = alloc.allocateBytes(16, i -> (byte)(i + 1));
        try
        {
            final DirectBuffer view = slice.buffer();
            final byte[] backing = new byte[16];
            final java.nio.ByteBuffer readOnly = java.nio.ByteBuffer.wrap(backing).asReadOnlyBuffer();
            assertThrows(java.nio.ReadOnlyBufferException.class, () -> view.getBytes(0, readOnly, 0, 16));
            assertThrows(java.nio.ReadOnlyBufferException.class, () -> view.getBytes(0, readOnly, 16));
            assertArrayEquals(new byte[16], backing, "a read-only buffer's contents were overwritten");
            final java.nio.ByteBuffer writable = java.nio.ByteBuffer.allocateDirect(16);
            view.getBytes(0, writable, 0, 16);
            assertEquals(16, writable.get(15), "a writable destination still gets the bytes");
        }
        finally
        {
            slice.release();
            alloc.close();
        }
    }
    /**
     * A slice view's Appendable string reads went through Agrona's loop, which takes the address once: an appendable
     * that released the handle (its last: the chunk may be freed) had the rest read from memory no longer the
     * slice's. Every byte is now checked first; the chars are Agrona's (a byte above 127 as '?').
     */
    @Test
    void anAppendableThatReleasesTheSliceStopsTheRead()
    {
        final byte[] text = {4, 0, 0, 0, 'a', (byte)0xE9, 'c', 'd'}; // little-endian length 4, then the chars
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build();
        try
        {
            final SharedSlice slice = alloc.allocateBytes(8, i -> text[i]);
            final StringBuilder mine = new StringBuilder();
            final StringBuilder theirs = new StringBuilder();
            assertEquals(4, slice.buffer().getStringWithoutLengthAscii(4, 4, mine));
            new org.agrona.concurrent.UnsafeBuffer(text).getStringWithoutLengthAscii(4, 4, theirs);
            assertEquals(theirs.toString(), mine.toString(), "Agrona's chars");
            assertEquals("a?cd", mine.toString());

            final StringBuilder out = new StringBuilder();
            final Appendable releasing = new Appendable()
            {
                @Override
                public Appendable append(final char c)
                {
                    out.append(c);
                    if (!slice.isReleased())
                    {
                        slice.release();
                    }
                    return this;
                }

                @Override
                public Appendable append(final CharSequence csq)
                {
                    throw new UnsupportedOperationException();
                }

                @Override
                public Appendable append(final CharSequence csq, final int start, final int end)
                {
                    throw new UnsupportedOperationException();
                }
            };
            final DirectBuffer view = slice.buffer();
            assertThrows(dev.lake.memory.StaleHandleException.class, () -> view.getStringWithoutLengthAscii(4, 4, releasing));
            assertEquals("a", out.toString(), "nothing read after the release");
        }
        finally
        {
            alloc.close();
        }
    }
    /** A destination of a type Lake does not know, that records the source its putBytes is handed. */
    private static final class Spy extends org.agrona.ExpandableArrayBuffer
    {
        DirectBuffer seen;

        Spy()
        {
            super(64);
        }

        @Override
        public void putBytes(final int index, final DirectBuffer src, final int srcIndex, final int length)
        {
            seen = src;
            super.putBytes(index, src, srcIndex, length);
        }
    }

    /**
     * SliceReader.getBytes and SliceAllocator.getBytes(ref, ..) handed a foreign destination the chunk's whole
     * writable buffer as the source: it could read every other slice of the chunk, headers included, and rewrite
     * them (a count changed that way frees the chunk early). A destination of an unknown type now gets a heap copy;
     * Agrona's and Lake's own buffers still copy straight from the chunk.
     */
    @Test
    void aForeignDestinationNeverHoldsTheChunk()
    {
        try (SliceAllocator alloc = longs(64))
        {
            final long mine = alloc.allocateLongsRef(1, i -> 0x1111_1111_1111_1111L);
            final SharedSlice other = alloc.allocateLongs(1, i -> 0x5EC2E7L); // someone else's slice
            try
            {
                final Spy viaReader = new Spy();
                alloc.retain(mine); // the reader adopts this count and drops it on close
                try (SliceReader r = new SliceReader().adopt(alloc, mine))
                {
                    r.getBytes(0, viaReader, 0, 8);
                }
                final Spy viaRef = new Spy();
                alloc.getBytes(mine, 0, viaRef, 0, 8);
                for (final Spy spy : new Spy[] {viaReader, viaRef})
                {
                    assertEquals(0x1111_1111_1111_1111L, spy.getLong(0));
                    assertNull(spy.seen, "foreign code was handed a buffer over the chunk: " + spy.seen);
                }
                final org.agrona.concurrent.UnsafeBuffer agronas = new org.agrona.concurrent.UnsafeBuffer(new byte[8]);
                alloc.getBytes(mine, 0, agronas, 0, 8);
                assertEquals(0x1111_1111_1111_1111L, agronas.getLong(0), "Agrona's own buffer: the direct copy");
                assertEquals(0x5EC2E7L, other.getLong(0));
            }
            finally
            {
                alloc.release(mine);
                other.release();
            }
        }
    }
}
