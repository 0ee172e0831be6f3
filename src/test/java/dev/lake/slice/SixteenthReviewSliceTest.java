package dev.lake.slice;

import dev.lake.testing.ChildJvm;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sixteenth review of the slice allocator: the bulk byte copies into a destination type Lake does not know.
 */
class SixteenthReviewSliceTest
{
    /**
     * {@code SliceReader.getBytes} and {@code SliceAllocator.getBytes(ref, ..)} into a {@code MutableDirectBuffer} of a
     * type Lake does not know copy through a heap array ({@code Memory.copyOut}), allocated after the chunk's buffer
     * was taken: an allocation is a point where the collector may run, and in compiled code neither the reader nor
     * the allocator was used again there. A reader never closed, or an allocator dropped with a reference still
     * read (leaks, which the safety net exists for), was then found unreachable and its chunk freed under the copy:
     * with Agrona's bounds checks an {@code IndexOutOfBoundsException} out of a bound reader, without them a read of
     * freed memory (the JVM died with SIGSEGV). Both now end with a reachability fence. A child JVM on a small heap
     * copies a 12 MiB slice through a foreign buffer, so that each copy's heap array makes the collector run.
     */
    @Test
    void aBulkCopyIntoAForeignBufferKeepsTheChunkOfALeakedReaderOrAllocatorUntilItIsDone() throws Exception
    {
        final String out = ChildJvm.runOnSmallHeap(ForeignCopyProbe.class);
        assertTrue(out.matches("(?s).*probe: reader failed 0 wrong 0 rounds [1-9].*"), out);
        assertTrue(out.matches("(?s).*probe: ref failed 0 wrong 0 rounds [1-9].*"), out);
    }

    /**
     * An initializer's window and a slice's view are over the slice alone. Since a region's buffer offers the region's
     * NIO view to Agrona's wrap (so that a caller's own buffer keeps the region), a window or view wrapped over the
     * chunk's buffer would have handed out, through {@code byteBuffer()}, a writable view over the whole chunk: other
     * slices' bytes and headers, outliving the window. Both are made at the raw address and offer none.
     */
    @Test
    void anInitializersWindowAndASlicesViewOfferNoViewOfTheWholeChunk()
    {
        try (SliceAllocator allocator = SliceAllocator.builder(ElementLayout.record(16, 8)).build())
        {
            final SharedSlice first = allocator.allocate(2, (w, offset, i) -> w.putLong(offset, 1L));
            final ByteBuffer[] seen = {ByteBuffer.allocate(1)};
            try (SharedSlice second = allocator.allocate(2, (w, offset, i) ->
            {
                seen[0] = w.byteBuffer();
                w.putLong(offset, 2L);
            }))
            {
                assertNull(seen[0], "the initializer's window offered a view beyond its slice");
                assertNull(second.buffer().byteBuffer());
                assertEquals(1L, first.buffer().getLong(0));
                assertEquals(2L, second.buffer().getLong(16));
            }
            first.release();
        }
    }

    /** The child JVM of the first test: prints one {@code probe: <tier> failed F wrong W rounds R} line per tier. */
    public static final class ForeignCopyProbe
    {
        private static final int LONGS = (12 << 20) / 8;
        private static final long FILL = 0x4141414141414141L;

        private ForeignCopyProbe()
        {
        }

        /** Not a type {@code Memory.copyOut} knows: it gets the bytes through a heap copy. */
        static final class ForeignBuffer extends UnsafeBuffer
        {
            ForeignBuffer(final ByteBuffer direct)
            {
                super(direct);
            }
        }

        /** The copy, with the reader reachable from nowhere else once taken out of the box. */
        static void copyThroughTheOnlyReader(final AtomicReference<SliceReader> box, final ForeignBuffer dst,
            final int bytes)
        {
            box.getAndSet(null).getBytes(0, dst, 0, bytes);
        }

        /** The copy, with the allocator reachable from nowhere else once taken out of the box. */
        static void copyThroughTheOnlyAllocator(final AtomicReference<SliceAllocator> box, final long ref,
            final ForeignBuffer dst, final int bytes)
        {
            box.getAndSet(null).getBytes(ref, 0, dst, 0, bytes);
        }

        public static void main(final String[] args)
        {
            final ForeignBuffer dst = new ForeignBuffer(ByteBuffer.allocateDirect(LONGS * 8));
            final AtomicReference<SliceReader> readers = new AtomicReference<>();
            final AtomicReference<SliceAllocator> allocators = new AtomicReference<>();
            try (SliceAllocator small = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build())
            {
                for (int k = 0; k < 40_000; k++) // compiled, as a hot read is
                {
                    final SliceReader r = new SliceReader();
                    readers.set(small.allocateLocalLongs(16, x -> FILL, r));
                    copyThroughTheOnlyReader(readers, dst, 128);
                    r.close();
                    final long ref = small.allocateLongsRef(16, x -> FILL);
                    allocators.set(small);
                    copyThroughTheOnlyAllocator(allocators, ref, dst, 128);
                    small.release(ref);
                }
            }
            probe("reader", dst, () ->
            {
                // a local slice read through a reader that is never closed, its allocator dropped: the reader is
                // all that holds the chunk
                final SliceAllocator allocator =
                    SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(LONGS).build();
                readers.set(allocator.allocateLocalLongs(LONGS, x -> FILL, new SliceReader()));
                copyThroughTheOnlyReader(readers, dst, LONGS * 8);
            });
            probe("ref", dst, () ->
            {
                // a reference never released, its allocator dropped after this one read through it
                final SliceAllocator allocator =
                    SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(LONGS).build();
                final long ref = allocator.allocateLongsRef(LONGS, x -> FILL);
                allocators.set(allocator);
                copyThroughTheOnlyAllocator(allocators, ref, dst, LONGS * 8);
            });
        }

        /** Runs {@code round} for 6 s (before the fix each tier failed within 400 rounds, about 4 s) or to a failure. */
        private static void probe(final String tier, final ForeignBuffer dst, final Runnable round)
        {
            int failed = 0;
            int wrong = 0;
            int rounds = 0;
            String first = "";
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(6);
            while (System.nanoTime() < deadline && failed + wrong == 0)
            {
                dst.setMemory(0, LONGS * 8, (byte)0);
                try
                {
                    round.run();
                    for (int i = 0; i < LONGS * 8; i += 4093)
                    {
                        if (dst.getByte(i) != 0x41)
                        {
                            wrong++;
                            break;
                        }
                    }
                }
                catch (final RuntimeException ex)
                {
                    failed++;
                    first = " first " + ex;
                }
                rounds++;
            }
            System.out.println("probe: " + tier + " failed " + failed + " wrong " + wrong + " rounds " + rounds + first);
        }
    }
}
