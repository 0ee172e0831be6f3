package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/** Every misuse of FixedArena, Buffer and Bytes: one test each, and the arena's state unchanged afterwards. */
class MisuseTest
{
    private FixedArena arena;

    @BeforeEach
    void open()
    {
        arena = FixedArena.builder(2, 16).build();
    }

    @AfterEach
    void close()
    {
        arena.close();
        // Some misuse tests drop live buffers on purpose: await their reclaim here, so that no later test sees
        // this region freed (and its native bytes change) while it checks exact counts.
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10)).until(() ->
        {
            if (!arena.isRegionFreed())
            {
                System.gc();
                arena.metrics();
            }
            return arena.isRegionFreed();
        });
    }

    @Test
    void writingPastCapacityThrowsNamingRemainingAndRequestedAndWritesNothing()
    {
        final Buffer b = arena.allocate();
        b.putLong(1).putInt(2);
        final IndexOutOfBoundsException ex = assertThrows(IndexOutOfBoundsException.class, () -> b.putLong(3));
        assertTrue(ex.getMessage().contains("remaining 4 bytes, requested 8"), ex.getMessage());
        assertEquals(12, b.position());
        assertEquals(12, b.length());
        assertThrows(IndexOutOfBoundsException.class, () -> b.putBytes(new byte[5]));
        b.putInt(4);
        assertEquals(0, b.remaining());
        assertFalse(b.isSpilled());
        b.close();
    }

    @Test
    void viewWritePastCapacityThrows()
    {
        final Buffer b = arena.allocate();
        final MutableDirectBuffer view = b.mutableBuffer();
        assertThrows(IndexOutOfBoundsException.class, () -> view.putLong(9, 1L));
        assertThrows(IndexOutOfBoundsException.class, () -> view.putLong(-1, 1L));
        assertThrows(IndexOutOfBoundsException.class, () -> view.putStringAscii(0, "0123456789abcdef"));
        assertThrows(IndexOutOfBoundsException.class, () -> view.putLongAscii(0, Long.MIN_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> view.putStringUtf8(8, "\u00e9\u00e9\u00e9"));
        assertThrows(IndexOutOfBoundsException.class, () -> view.setMemory(10, 7, (byte)1));
        assertThrows(IllegalArgumentException.class, () -> view.putNaturalIntAscii(0, -1));
        assertEquals(0, b.length(), "nothing was written");
        b.close();
    }

    @Test
    void negativeLengthIsRejected()
    {
        final Buffer b = arena.allocate();
        assertThrows(IndexOutOfBoundsException.class, () -> b.putBytes(new byte[4], 0, -1));
        assertThrows(IndexOutOfBoundsException.class, () -> b.putBytes(new byte[4], 2, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> b.position(-1));
        assertThrows(IndexOutOfBoundsException.class, () -> b.position(17));
        b.close();
    }

    @Test
    void writingAfterFreezeThrowsStale()
    {
        final Buffer b = arena.allocate();
        final Bytes bytes = b.putInt(1).freeze();
        assertThrows(StaleHandleException.class, () -> b.putInt(2));
        assertThrows(StaleHandleException.class, () -> b.position(0));
        assertThrows(StaleHandleException.class, b::mutableBuffer);
        assertEquals(1, bytes.getInt(0));
        bytes.release();
    }

    @Test
    void aViewThatLeakedOutOfAFrozenBufferCannotWriteOrRead()
    {
        final Buffer b = arena.allocate();
        final MutableDirectBuffer view = b.mutableBuffer();
        view.putInt(0, 5);
        final Bytes bytes = b.freeze();
        assertThrows(StaleHandleException.class, () -> view.putInt(0, 6));
        assertThrows(StaleHandleException.class, () -> view.getInt(0));
        assertThrows(StaleHandleException.class, view::addressOffset);
        assertEquals(5, bytes.getInt(0));
        bytes.release();
    }

    @Test
    void writingAfterCloseThrowsStale()
    {
        final Buffer b = arena.allocate();
        final MutableDirectBuffer view = b.mutableBuffer();
        b.close();
        assertThrows(StaleHandleException.class, () -> b.putLong(1));
        assertThrows(StaleHandleException.class, () -> view.putLong(0, 1));
        assertThrows(StaleHandleException.class, b::freeze);
    }

    @Test
    void freezingTwiceThrowsStale()
    {
        final Buffer b = arena.allocate();
        final Bytes bytes = b.freeze();
        assertThrows(StaleHandleException.class, b::freeze);
        assertEquals(1, arena.liveSlots());
        bytes.release();
        assertEquals(0, arena.liveSlots());
    }

    @Test
    void readingReleasedBytesThrowsStaleEvenWhileOtherReferencesLive()
    {
        final Bytes bytes = arena.allocate().putLong(1).freeze();
        final Bytes other = bytes.retain();
        bytes.release();
        assertThrows(StaleHandleException.class, () -> bytes.getLong(0));
        assertThrows(StaleHandleException.class, () -> bytes.getBytes(0, new byte[8]));
        assertThrows(StaleHandleException.class, bytes::toByteArray);
        assertThrows(StaleHandleException.class, bytes::addressOffset);
        assertThrows(StaleHandleException.class, () -> bytes.boundsCheck(0, 1));
        assertThrows(StaleHandleException.class, () -> new UnsafeBuffer(new byte[8]).putBytes(0, bytes, 0, 8));
        assertEquals(1L, other.getLong(0));
        other.release();
    }

    @Test
    void releasingTwiceThrowsStaleAndDoesNotStealAnotherReference()
    {
        final Bytes bytes = arena.allocate().freeze();
        final Bytes other = bytes.retain();
        bytes.release();
        assertThrows(StaleHandleException.class, bytes::release);
        assertThrows(StaleHandleException.class, bytes::close);
        assertEquals(1, arena.liveSlots(), "the other reference still holds the slot");
        other.release();
        assertEquals(0, arena.liveSlots());
    }

    @Test
    void retainingOrSlicingReleasedBytesThrowsStale()
    {
        final Bytes bytes = arena.allocate().freeze();
        bytes.release();
        assertThrows(StaleHandleException.class, bytes::retain);
        assertThrows(StaleHandleException.class, () -> bytes.slice(0, 0));
        assertEquals(0, arena.liveSlots());
    }

    @Test
    void sliceOutOfBoundsThrows()
    {
        final Bytes bytes = arena.allocate().putLong(1).freeze();
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.slice(-1, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.slice(4, 5));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.slice(0, -1));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.slice(Integer.MAX_VALUE, 2));
        bytes.release();
        assertEquals(0, arena.liveSlots(), "failed slices took no reference");
    }

    @Test
    void readingBytesOutOfBoundsThrowsWhateverAgronaChecks()
    {
        final Bytes bytes = arena.allocate().putLong(1).freeze();
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getLong(1));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getByte(8));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getByte(-1));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getInt(Integer.MAX_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getBytes(0, new byte[4], 0, 5));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getBytes(0, new byte[20], 0, 9));
        final Bytes minusOne = arena.allocate().putLong(-1L).freeze();
        assertThrows(IndexOutOfBoundsException.class, () -> minusOne.getStringAscii(0));
        assertThrows(IndexOutOfBoundsException.class, () -> minusOne.getStringUtf8(0));
        minusOne.release();
        final Bytes huge = arena.allocate().putInt(5).putInt(0).freeze();
        assertThrows(IndexOutOfBoundsException.class, () -> huge.getStringAscii(0));
        huge.release();
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getStringWithoutLengthAscii(0, -1));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getBytes(0, new UnsafeBuffer(new byte[4]), 0, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.checkLimit(9));
        assertThrows(java.nio.ReadOnlyBufferException.class,
            () -> bytes.getBytes(0, ByteBuffer.allocate(8).asReadOnlyBuffer(), 0, 8));
        bytes.release();
    }

    @Test
    void aStaleBytesNeverSeesTheNextAllocationOfItsSlot()
    {
        try (FixedArena single = FixedArena.builder(1, 16).build())
        {
            final Bytes old = single.allocate().putLong(1).freeze();
            old.release();
            final Bytes next = single.allocate().putLong(2).freeze();
            assertThrows(StaleHandleException.class, () -> old.getLong(0));
            assertEquals(2L, next.getLong(0));
            assertThrows(StaleHandleException.class, old::release);
            assertEquals(1, single.liveSlots());
            next.release();
        }
    }

    @Test
    void allocatingFromAClosedArenaThrows()
    {
        arena.close();
        assertThrows(IllegalStateException.class, arena::allocate);
        assertThrows(IllegalStateException.class, arena::tryAllocate);
        assertThrows(IllegalStateException.class, arena::tryAllocateHandle);
        assertEquals(0, arena.metrics().failedAllocations());
    }

    @Test
    void staleHandleIsDetectedAfterReleaseAndAfterReuse()
    {
        final long h = arena.allocateHandle();
        arena.putLong(h, 0, 1);
        arena.freezeHandle(h, 8);
        arena.release(h);
        assertFalse(arena.isLive(h));
        assertThrows(StaleHandleException.class, () -> arena.getLong(h, 0));
        assertThrows(StaleHandleException.class, () -> arena.release(h));
        assertThrows(StaleHandleException.class, () -> arena.retain(h));
        assertThrows(StaleHandleException.class, () -> arena.offset(h));
        final long again = arena.allocateHandle();
        final long other = arena.allocateHandle();
        assertTrue((again & 0xFFFFFFF) == (h & 0xFFFFFFF) || (other & 0xFFFFFFF) == (h & 0xFFFFFFF),
            "the slot was reused");
        assertThrows(StaleHandleException.class, () -> arena.getLong(h, 0));
        assertThrows(StaleHandleException.class, () -> arena.putLong(h, 0, 9));
        arena.release(again);
        arena.release(other);
    }

    @Test
    void garbageHandlesAreRejected()
    {
        assertThrows(StaleHandleException.class, () -> arena.getLong(FixedArena.NO_HANDLE, 0));
        assertThrows(StaleHandleException.class, () -> arena.release(-1L));
        assertThrows(StaleHandleException.class, () -> arena.release(5L)); // slot 5 of a 2-slot arena
        assertFalse(arena.isLive(0));
        assertEquals(0, arena.liveSlots());
    }

    @Test
    void handleWritesAfterFreezeAndOutOfBoundsThrow()
    {
        final long h = arena.allocateHandle();
        assertThrows(IndexOutOfBoundsException.class, () -> arena.putLong(h, 9, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> arena.putBytes(h, 0, new byte[17], 0, 17));
        arena.putLong(h, 0, 1);
        arena.freezeHandle(h, 8);
        assertThrows(StaleHandleException.class, () -> arena.putLong(h, 0, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> arena.getLong(h, 1));
        assertThrows(IllegalStateException.class, () -> arena.freezeHandle(h, 8));
        assertEquals(1L, arena.getLong(h, 0));
        arena.release(h);
    }

    @Test
    void handleFreezeWithBadLengthAndRetainBeforeFreezeAreRejected()
    {
        final long h = arena.allocateHandle();
        assertThrows(IllegalArgumentException.class, () -> arena.freezeHandle(h, 17));
        assertThrows(IllegalArgumentException.class, () -> arena.freezeHandle(h, -1));
        assertThrows(IllegalStateException.class, () -> arena.retain(h));
        assertEquals(-1, arena.length(h));
        arena.release(h);
        assertEquals(0, arena.liveSlots());
    }
}
