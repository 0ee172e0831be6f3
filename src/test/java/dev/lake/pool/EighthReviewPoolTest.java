package dev.lake.pool;

import org.agrona.MutableDirectBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The eighth hostile review of the pool: the ZERO init policy on every path that makes capacity allocatable again,
 * Buffer and Bytes as the Agrona buffers foreign codec code uses, and waiting for capacity at its extremes. Each test
 * fails on the code before its fix unless it says it pins a contract the code already kept.
 */
class EighthReviewPoolTest
{
    private static final long SECRET = 0x5A5A5A5A5A5A5A5AL;

    /** A fixed arena of one slot whose previous owner wrote {@link #SECRET} over the whole slot. */
    private static FixedArena arenaWithSecrets(final int capacity)
    {
        final FixedArena arena = FixedArena.builder(1, capacity).build();
        final long h = arena.allocateHandle();
        for (int i = 0; i < capacity; i += 8)
        {
            arena.putLong(h, i, SECRET);
        }
        arena.release(h);
        return arena;
    }

    /** A CharSequence of {@code length} 'A's whose charAt throws from index {@code failAt} on. */
    private static CharSequence throwingFrom(final int length, final int failAt)
    {
        return new CharSequence()
        {
            @Override
            public int length()
            {
                return length;
            }

            @Override
            public char charAt(final int index)
            {
                if (index >= failAt)
                {
                    throw new IllegalStateException("charAt " + index);
                }
                return 'A';
            }

            @Override
            public CharSequence subSequence(final int start, final int end)
            {
                throw new UnsupportedOperationException();
            }

            @Override
            public String toString()
            {
                return "throwing";
            }
        };
    }

    /**
     * A CharSequence whose charAt throws part way: the buffer's length covers what was written (the prefix and the
     * chars before the throw), not the whole string, so a freeze does not share bytes nobody wrote (here, under
     * UNINIT, the previous owner's). The whole range was counted as written before the first charAt.
     */
    @Test
    void aCharSequenceThatThrowsMidWriteCountsOnlyWhatWasWritten()
    {
        try (FixedArena arena = arenaWithSecrets(64))
        {
            final Buffer buffer = arena.allocate();
            final MutableDirectBuffer view = buffer.mutableBuffer();
            assertThrows(IllegalStateException.class, () -> view.putStringAscii(8, throwingFrom(20, 2)));
            assertEquals(8 + 4 + 2, buffer.length(), "the prefix and two chars were written, no more");
            assertThrows(IllegalStateException.class, () -> view.putStringWithoutLengthAscii(40, throwingFrom(10, 0)));
            assertEquals(14, buffer.length(), "nothing written, nothing counted");
            assertThrows(IllegalStateException.class,
                () -> view.putStringWithoutLengthAscii(20, throwingFrom(10, 3), 0, 10));
            assertEquals(23, buffer.length());
            final Bytes bytes = buffer.freeze();
            assertEquals(23, bytes.length());
            for (int i = 14; i < 20; i++)
            {
                assertEquals(0x5A, bytes.getByte(i), "untouched bytes below the furthest write stay as they were");
            }
            assertEquals("AAA", bytes.getStringWithoutLengthAscii(20, 3));
            bytes.release();
        }
        // under ZERO what was written before the throw still counts: it is zeroed when the slot goes back
        try (FixedArena arena = FixedArena.builder(1, 64).initPolicy(InitPolicy.ZERO).build())
        {
            final Buffer buffer = arena.allocate();
            assertThrows(IllegalStateException.class, () -> buffer.mutableBuffer().putStringAscii(8, throwingFrom(20, 5)));
            buffer.close();
            final Buffer next = arena.allocate();
            for (int i = 0; i < 64; i++)
            {
                assertEquals(0, next.mutableBuffer().getByte(i), "byte " + i);
            }
            next.close();
        }
    }
}
