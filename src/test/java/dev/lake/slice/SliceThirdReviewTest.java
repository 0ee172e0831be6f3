package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Findings of the third hostile review of the slice allocator and its handles, each test failing on the code
 * before its fix.
 */
class SliceThirdReviewTest extends NativeBaselineTest
{
    /**
     * {@code allocateValue(DirectBuffer, int)} checked the allocator, then asked the source for its capacity, then
     * placed the value. A source whose {@code capacity()} closes the allocator (code Lake does not know) had the
     * placement read the cleared current chunk: a {@link NullPointerException} instead of the documented
     * {@link IllegalStateException} for a closed allocator.
     */
    @Test
    void allocateValueFromASourceWhoseCapacityClosesTheAllocatorIsRefusedAsClosed()
    {
        final long regions = NativeMemory.liveRegions();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(8).build();
        final UnsafeBuffer source = new UnsafeBuffer(new byte[8])
        {
            @Override
            public int capacity()
            {
                alloc.close();
                return super.capacity();
            }
        };
        final IllegalStateException refused = assertThrows(IllegalStateException.class, () -> alloc.allocateValue(source, 0));
        assertTrue(refused.getMessage().contains("closed"), refused.getMessage());
        assertTrue(alloc.isClosed());
        assertEquals(new SliceStats(0, 0, 0, 0, 0), alloc.stats());
        assertEquals(regions, NativeMemory.liveRegions());
    }

    /** A source whose {@code capacity()} allocates from the same allocator: both values are placed and read back. */
    @Test
    void allocateValueFromASourceWhoseCapacityAllocatesStillWorks()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(2).build())
        {
            final SharedSingle[] inner = new SharedSingle[1];
            final UnsafeBuffer source = new UnsafeBuffer(new byte[8])
            {
                @Override
                public int capacity()
                {
                    if (inner[0] == null)
                    {
                        inner[0] = alloc.allocateValue(7L); // fills the chunk: the outer value goes elsewhere
                        alloc.allocateLongs(1, i -> 8).release();
                    }
                    return super.capacity();
                }
            };
            source.putLong(0, 42L);
            final SharedSingle outer = alloc.allocateValue(source, 0);
            assertEquals(42L, outer.getLong());
            assertEquals(7L, inner[0].getLong());
            assertEquals(16, alloc.stats().liveSliceBytes());
            outer.release();
            inner[0].release();
        }
    }

    /**
     * {@code ElementLayout.record(size, alignment)} accepted any size up to {@code Region.MAX_SIZE - alignment}, but
     * a chunk must hold one element and its slice header: for the largest sizes {@code SliceAllocator.builder(layout)}
     * then threw an {@link IllegalArgumentException} about a "chunk of 1 elements" that its Javadoc does not list, for
     * a layout nothing could ever use. The layout is now refused where it is made, naming the size, and the largest
     * size it accepts builds.
     */
    @Test
    void aRecordLayoutTooLargeForAnyChunkIsRefusedWhereItIsMade()
    {
        for (final int alignment : new int[] {1, 8, 64, 4096})
        {
            final long room = Integer.MAX_VALUE - Math.max(8, alignment);
            final int largest = (int)(room - room % alignment);
            final IllegalArgumentException refused =
                assertThrows(IllegalArgumentException.class, () -> ElementLayout.record(largest + 1, alignment));
            assertTrue(refused.getMessage().contains("record size"), refused.getMessage());
            final ElementLayout fits = ElementLayout.record(largest, alignment);
            final SliceAllocator.Builder builder = SliceAllocator.builder(fits); // no chunk is allocated until build()
            assertNotNull(builder);
        }
        assertThrows(IllegalArgumentException.class, () -> ElementLayout.record(Integer.MAX_VALUE - 8, 8));
        assertThrows(IllegalArgumentException.class, () -> ElementLayout.record(8, 3));
        assertThrows(IllegalArgumentException.class, () -> ElementLayout.record(8, Integer.MIN_VALUE));
        assertThrows(IllegalArgumentException.class, () -> ElementLayout.record(0, 8));
    }

    /**
     * A reader closed after a local slice keeps referring to that slice's allocator (so that the next local slice
     * stores no reference), and the docs promise that an allocator dropped without {@code close()} "is then caught
     * when the reader goes or is rebound". Rebinding it with {@code bind} or {@code adopt} replaced the chunk but kept
     * the old allocator: the dropped allocator, its current chunk and every chunk pinned in its table stayed reachable
     * for as long as the reader lived, and the leak safety net never freed them.
     */
    @Test
    void aReaderReboundToAnotherAllocatorNoLongerHoldsTheDroppedOne()
    {
        for (final boolean adopt : new boolean[] {true, false})
        {
            final SliceReader reader = new SliceReader();
            final WeakReference<SliceAllocator> dropped = dropAfterALocalSlice(reader);
            try (SliceAllocator other = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(8).build())
            {
                final long ref = other.allocateLongsRef(2, i -> 5 + i);
                if (adopt)
                {
                    reader.adopt(other, ref);
                }
                else
                {
                    reader.bind(other, ref);
                    other.release(ref);
                }
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() ->
                {
                    System.gc();
                    return dropped.get() == null;
                });
                assertEquals(6, reader.getLong(1));
                reader.close();
            }
            awaitBaseline(); // the dropped allocator's chunk was freed
            assertNotNull(reader); // reachable to the end
        }
    }

    private static WeakReference<SliceAllocator> dropAfterALocalSlice(final SliceReader reader)
    {
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(8).build();
        alloc.allocateLocalLongs(2, i -> i, reader).close();
        return new WeakReference<>(alloc); // dropped without close()
    }
}
