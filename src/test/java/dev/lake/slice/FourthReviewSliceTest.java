package dev.lake.slice;

import org.agrona.DirectBuffer;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Findings of the fourth hostile review (siblings of the third round's fixes) in the slice view, each test failing
 * on the code before its fix.
 */
class FourthReviewSliceTest extends NativeBaselineTest
{
    /**
     * The relative {@code getBytes(index, ByteBuffer, length)} checked the destination against its capacity, not its
     * limit (the third round fixed this for the pool's views only): a length longer than what remained before the
     * limit wrote the bytes past the limit, over the caller's bytes, and only then failed with an
     * {@link IllegalArgumentException} from {@code position()}, a failed call that changed the destination.
     */
    @Test
    void theRelativeByteBufferReadRefusesBytesPastTheDestinationsLimitAndWritesNothing()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build())
        {
            final SharedSlice slice = alloc.allocateBytes(16, i -> (byte)(i + 1));
            final DirectBuffer view = slice.buffer();
            for (final ByteBuffer dst : new ByteBuffer[] {ByteBuffer.allocate(16), ByteBuffer.allocateDirect(16)})
            {
                final ByteBuffer all = dst.duplicate(); // reads past the limit set below
                for (int i = 0; i < 16; i++)
                {
                    all.put(i, (byte)-1);
                }
                dst.position(2).limit(6); // 4 bytes remain before the limit
                assertThrows(IndexOutOfBoundsException.class, () -> view.getBytes(0, dst, 8));
                assertEquals(2, dst.position());
                for (int i = 0; i < 16; i++)
                {
                    assertEquals((byte)-1, all.get(i), "byte " + i + " of the destination was written");
                }
                view.getBytes(0, dst, 4); // what fits still works
                assertEquals(6, dst.position());
                assertEquals(1, all.get(2));
                assertEquals(4, all.get(5));
                assertEquals((byte)-1, all.get(6));
            }
            slice.release();
        }
    }

    /**
     * The string reads with an explicit or stored length accepted a negative length of -1 to -4: the view's range
     * check covered {@code 4 + length} bytes (0 to 3), which passed, and Agrona then failed to make a
     * {@code byte[length]} ({@link NegativeArraySizeException}), where the pool's view and Agrona's contract say
     * {@link IndexOutOfBoundsException}; the {@code Appendable} overloads returned the negative length as if read.
     */
    @Test
    void stringReadsWithANegativeLengthAreRefusedAsOutOfBounds()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build())
        {
            final SharedSlice slice = alloc.allocateBytes(16, i -> (byte)(i < 4 ? 0xFF : 'a'));
            final DirectBuffer view = slice.buffer();
            assertEquals(-1, view.getInt(0)); // a stored length of -1
            final StringBuilder out = new StringBuilder();
            assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(0));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(0, java.nio.ByteOrder.nativeOrder()));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getStringUtf8(0));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getStringUtf8(0, java.nio.ByteOrder.nativeOrder()));
            assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(0, out));
            assertThrows(IndexOutOfBoundsException.class,
                () -> view.getStringAscii(0, out, java.nio.ByteOrder.nativeOrder()));
            for (int length = -4; length < 0; length++)
            {
                final int l = length;
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(4, l));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringUtf8(4, l));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(4, l, out));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringWithoutLengthAscii(4, l));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringWithoutLengthAscii(4, l, out));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringWithoutLengthUtf8(4, l));
            }
            assertEquals("", out.toString());
            assertEquals("aaaa", view.getStringWithoutLengthAscii(4, 4));
            slice.release();
        }
    }

    /**
     * A new chunk's region (native memory, counted) was built first, then its description, allocation site,
     * {@code ChunkMemory} and {@code Chunk} with its cleaner registration came from the heap: an
     * {@code OutOfMemoryError} there (a full heap) left the region to its own safety net (freed only at a later GC,
     * reported as a leak the caller never made) and, once the chunk was counted, the allocator's live chunks and
     * reserved bytes raised for good. Likewise the handle object, made after the slice was placed and counted: an
     * {@code OutOfMemoryError} there left a live slice nobody could release (the chunk held, then a leak report).
     * The third round fixed this class in {@code Region}'s constructor only. A child JVM
     * with a small, nearly full heap allocates dedicated chunks until the heap refuses them at every step.
     */
    @Test
    void aChunkWhoseConstructionRunsOutOfHeapHoldsAndCountsNothing() throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.runOnSmallHeap(ChunkHeapExhaustionProbe.class);
        assertTrue(out.contains("probe: chunks 0 reserved 0 native 0 leaks 0 after"), out);
        assertFalse(out.contains(" after 0 refusals"), out); // the heap did refuse some chunks
    }

    /** The child JVM of {@link #aChunkWhoseConstructionRunsOutOfHeapHoldsAndCountsNothing()}. */
    public static final class ChunkHeapExhaustionProbe
    {
        private ChunkHeapExhaustionProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            final ByteInit init = i -> (byte)i;
            final long reserved = dev.lake.memory.NativeMemory.reservedBytes();
            final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).chunkCapacity(64).build();
            alloc.allocateBytes(4096, init).release(); // links the paths before the heap is full
            final long leaks = dev.lake.memory.NativeMemory.leaks();
            final long baseChunks = alloc.stats().liveChunks();
            final long baseBytes = alloc.stats().reservedBytes();
            int count = 0;
            int refused = 0;
            // full, then freed a filler at a time, so each step of a chunk's making meets the error
            final dev.lake.testing.HeapFiller fillers = dev.lake.testing.HeapFiller.fill(1 << 21);
            final int n = fillers.count();
            while (count < 4 && refused < 4000 && fillers.freeOne())
            {
                try
                {
                    alloc.allocateBytes(4096, init).release(); // a dedicated chunk each time
                    count++;
                }
                catch (final OutOfMemoryError ex)
                {
                    refused++;
                }
            }
            fillers.freeAll();
            try
            {
                // give the safety net's cleaner time to free (and count) any region left to it: a leak then shows
                // in the counts printed below, which the test reads
                await().during(Duration.ofMillis(400)).atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                    .until(() ->
                    {
                        System.gc();
                        return dev.lake.memory.NativeMemory.leaks() == leaks;
                    });
            }
            catch (final ConditionTimeoutException leaked)
            {
                // a leak was counted: reported below
            }
            final long chunks = alloc.stats().liveChunks() - baseChunks;
            final long bytes = alloc.stats().reservedBytes() - baseBytes;
            alloc.close();
            System.out.println("probe: chunks " + chunks + " reserved " + bytes + " native " +
                (dev.lake.memory.NativeMemory.reservedBytes() - reserved) + " leaks " +
                (dev.lake.memory.NativeMemory.leaks() - leaks) + " after " + refused + " refusals and " + count +
                " chunks (" + n + " fillers)");
            System.out.flush();
        }
    }
}
