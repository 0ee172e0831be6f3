package dev.lake.pool;

import org.agrona.MutableDirectBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Findings of the third review of the fixed slot arena, its {@code Buffer}/{@code Bytes} and the handle tier; each
 * test fails on the code before its fix.
 */
class SlotThirdReviewTest
{
    // ---- Finding 1: the relative ByteBuffer copies went past the NIO buffer's limit, then threw ----

    /**
     * {@code view.putBytes(index, src, length)} (the relative form: from {@code src.position()}) copied {@code length}
     * bytes even when fewer remained before {@code src}'s limit: the bytes past the limit landed in the buffer and
     * counted toward its length, and only then did moving the position fail with an {@code IllegalArgumentException}.
     */
    @Test
    void theViewsRelativeByteBufferCopyRefusesBytesPastTheSourcesLimitAndWritesNothing()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).initPolicy(InitPolicy.ZERO).build())
        {
            final Buffer buffer = arena.allocate();
            final MutableDirectBuffer view = buffer.mutableBuffer();
            final ByteBuffer src = ByteBuffer.allocate(64);
            for (int i = 0; i < 64; i++)
            {
                src.put(i, (byte)(i + 1));
            }
            src.limit(8);
            assertThrows(IndexOutOfBoundsException.class, () -> view.putBytes(0, src, 16));
            assertEquals(0, buffer.length(), "nothing counted as written");
            assertEquals(0, src.position());
            assertEquals(0, view.getByte(8), "nothing copied from past the limit");

            view.putBytes(0, src, 8); // what remains still copies
            assertEquals(8, buffer.length());
            assertEquals(8, src.position());
            assertEquals(8, view.getByte(7));
            buffer.close();
        }
    }

    /**
     * {@code bytes.getBytes(index, dst, length)} wrote {@code length} bytes into {@code dst} past its limit, then threw
     * {@code IllegalArgumentException} moving the position: the caller's bytes beyond the limit were overwritten by a
     * call that failed. The class promises a wrong length throws {@code IndexOutOfBoundsException} instead.
     */
    @Test
    void theRelativeByteBufferReadRefusesBytesPastTheDestinationsLimitAndWritesNothing()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Bytes bytes = arena.allocate().putLong(0x0101010101010101L).putLong(0x0202020202020202L).freeze();
            final ByteBuffer dst = ByteBuffer.allocate(64);
            dst.limit(8);
            assertThrows(IndexOutOfBoundsException.class, () -> bytes.getBytes(0, dst, 16));
            assertEquals(0, dst.position());
            for (int i = 0; i < 64; i++)
            {
                assertEquals(0, dst.array()[i], "byte " + i + " of the destination");
            }
            assertThrows(java.nio.ReadOnlyBufferException.class,
                () -> bytes.getBytes(0, ByteBuffer.allocate(64).asReadOnlyBuffer(), 16));

            bytes.getBytes(0, dst, 8);
            assertEquals(8, dst.position());
            assertEquals(1, dst.array()[7]);
            assertEquals(0, dst.array()[8]);
            bytes.release();
        }
    }

    // ---- Finding 2: the spilling view said it was expandable but checkLimit refused to grow ----

    /**
     * With auto-spill the view reports {@code isExpandable() == true}, and Agrona's contract for an expandable buffer
     * is that {@code checkLimit(limit)} grows it to the limit (as {@code ExpandableArrayBuffer} does): codecs call it
     * before writing a message's variable part. The view threw {@code IndexOutOfBoundsException} instead.
     */
    @Test
    void checkLimitOfASpillingViewSpillsToTheLimitInsteadOfThrowing()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
        {
            final Buffer buffer = arena.allocate();
            buffer.putLong(42);
            final MutableDirectBuffer view = buffer.mutableBuffer();
            assertTrue(view.isExpandable());
            view.checkLimit(64); // inside: nothing happens
            assertFalse(buffer.isSpilled());
            view.checkLimit(100);
            assertTrue(buffer.isSpilled());
            assertTrue(view.capacity() >= 100, "capacity " + view.capacity());
            assertEquals(8, buffer.length(), "growing counts nothing as written");
            assertEquals(42, view.getLong(0));
            view.putLong(92, 7); // up to the limit checked
            assertEquals(100, buffer.length());
            final FixedArenaMetrics metrics = arena.metrics();
            assertEquals(1, metrics.spills());
            assertEquals(0, metrics.liveSlots(), "the slot went back with the spill");
            buffer.close();
        }
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer buffer = arena.allocate();
            final MutableDirectBuffer view = buffer.mutableBuffer();
            assertFalse(view.isExpandable());
            assertThrows(IndexOutOfBoundsException.class, () -> view.checkLimit(65), "no auto-spill: refused");
            assertFalse(buffer.isSpilled());
            buffer.close();
            assertThrows(dev.lake.memory.StaleHandleException.class, () -> view.checkLimit(8));
        }
    }

    // ---- Finding 3: a zero-length write through the view moved the buffer's length ----

    /**
     * A write of no byte through the view ({@code putBytes(40, new byte[0])}, {@code setMemory(i, 0, v)}, the empty
     * string without a length prefix, {@code putNaturalIntAsciiFromEnd(0, end)}, for which Agrona writes no digit)
     * counted {@code [0, index)} as written: {@code length()} jumped to the index and {@code freeze()} handed out bytes
     * nobody wrote, under {@code UNINIT} the previous owner's. Moving the cursor forward still counts, as documented.
     */
    @Test
    void aZeroLengthWriteThroughTheViewDoesNotMoveTheLength()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer previous = arena.allocate();
            for (int i = 0; i < 8; i++)
            {
                previous.putLong(0x5EC2E75EC2E75EC2L); // a previous owner's bytes
            }
            previous.close();

            final Buffer buffer = arena.allocate();
            final MutableDirectBuffer view = buffer.mutableBuffer();
            buffer.putInt(7);
            view.putBytes(40, new byte[0]);
            view.putBytes(48, new byte[8], 3, 0);
            view.setMemory(56, 0, (byte)1);
            view.putStringWithoutLengthAscii(60, "");
            view.putStringWithoutLengthUtf8(62, "");
            assertEquals(64, view.putNaturalIntAsciiFromEnd(0, 64), "Agrona's return value: the end, no digit");
            assertEquals(4, buffer.length(), "no byte was written past the int");
            final Bytes bytes = buffer.freeze();
            assertEquals(4, bytes.capacity(), "the freeze covers only the bytes written");
            bytes.release();

            final Buffer cursor = arena.allocate();
            cursor.position(16);
            assertEquals(16, cursor.length(), "moving the cursor forward counts the bytes skipped");
            cursor.position(8);
            cursor.mutableBuffer().putByte(20, (byte)1);
            assertEquals(21, cursor.length());
            cursor.close();
        }
    }

    // ---- Contract with no test before: the reference count's limit ----

    /**
     * A slot counts at most 2^27 - 1 references; one more {@code retain()} or {@code slice()} must be refused with
     * nothing changed (not wrap into the parked flag and the generation). The count is raised to the limit directly
     * in the slot's meta word: 134 million real {@code Bytes} would not fit a test's heap.
     */
    @Test
    void retainAndSliceAtTheReferenceLimitAreRefusedWithNothingChanged()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Bytes bytes = arena.allocate().putLong(42).freeze();
            final long[] slots = arena.table.slots;
            final long one = slots[0];
            slots[0] = one - 1 + SlotTable.COUNT_MASK - 1; // COUNT_MASK - 1 references
            final Bytes last = bytes.retain(); // the last one a slot can count
            assertEquals(SlotTable.COUNT_MASK, arena.table.references(0));
            final long full = slots[0];
            assertThrows(IllegalStateException.class, bytes::retain);
            assertThrows(IllegalStateException.class, () -> bytes.slice(0, 8));
            assertEquals(full, slots[0], "meta word unchanged");
            assertEquals(42, bytes.getLong(0));
            last.release();
            slots[0] = one; // back to the one real reference
            bytes.release();
            final FixedArenaMetrics metrics = arena.metrics();
            assertEquals(0, metrics.liveSlots());
            assertEquals(1, metrics.frees());
        }
    }
}
