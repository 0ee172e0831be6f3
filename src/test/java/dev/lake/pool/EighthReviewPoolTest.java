package dev.lake.pool;

import org.agrona.MutableDirectBuffer;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;

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

    /** Fills a writing buffer's whole capacity with {@link #SECRET} through its view, the cursor left at 0. */
    private static Buffer secrets(final Buffer buffer)
    {
        final MutableDirectBuffer view = buffer.mutableBuffer();
        for (int i = 0; i + 8 <= buffer.capacity(); i += 8)
        {
            view.putLong(i, SECRET);
        }
        return buffer;
    }

    private static void assertZeros(final Buffer buffer, final String path)
    {
        final MutableDirectBuffer view = buffer.mutableBuffer();
        for (int i = 0; i < buffer.capacity(); i++)
        {
            assertEquals(0, view.getByte(i), path + ": byte " + i + " of the next allocation");
        }
        buffer.close();
    }

    private static void assertZeros(final SlotArena arena, final long handle, final int capacity, final String path)
    {
        for (int i = 0; i < capacity; i++)
        {
            assertEquals(0, arena.getByte(handle, i), path + ": byte " + i + " of the next handle");
        }
        arena.release(handle);
    }

    private static WeakReference<Buffer> leakSecrets(final FixedArena arena)
    {
        return new WeakReference<>(secrets(arena.allocate()));
    }

    /**
     * Pin: under ZERO the next allocation reads zeros after secrets left a slot by every path that makes it
     * allocatable again: the last Bytes release (after a retain), a slice's release, close() without freeze, an
     * auto-spill, the handle tier's release, a release on another thread, a hand-off straight to a waiting request
     * (the waiter's buffer is zeroed before it gets it), and the leak net's reclaim.
     */
    @Test
    void everyPathThatGivesASlotBackZeroesItUnderTheZeroPolicy() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).initPolicy(InitPolicy.ZERO).autoSpill(true).build())
        {
            final Bytes frozen = secrets(arena.allocate()).position(64).freeze();
            final Bytes retained = frozen.retain();
            frozen.release();
            retained.release();
            assertZeros(arena.allocate(), "last Bytes release");

            final Bytes whole = secrets(arena.allocate()).position(64).freeze();
            final Bytes slice = whole.slice(8, 8);
            whole.release();
            slice.release();
            assertZeros(arena.allocate(), "slice release");

            secrets(arena.allocate()).close();
            assertZeros(arena.allocate(), "close without freeze");

            final Buffer spilling = secrets(arena.allocate());
            spilling.position(64).putLong(1L);
            assertTrue(spilling.isSpilled());
            assertZeros(arena.allocate(), "auto-spill");
            spilling.close();

            final long h = arena.allocateHandle();
            arena.putLong(h, 56, SECRET);
            arena.freezeHandle(h, 8);
            arena.release(h);
            assertZeros(arena, arena.allocateHandle(), 64, "handle release");

            final Bytes elsewhere = secrets(arena.allocate()).position(64).freeze();
            final Thread other = new Thread(elsewhere::release);
            other.start();
            other.join();
            assertZeros(arena.allocate(), "release on another thread");

            final Bytes held = secrets(arena.allocate()).position(64).freeze();
            final CompletableFuture<Buffer> waiting = arena.allocateAsync();
            assertFalse(waiting.isDone());
            held.release();
            assertZeros(waiting.get(10, TimeUnit.SECONDS), "hand-off to a waiter");

            final WeakReference<Buffer> leaked = leakSecrets(arena);
            await().atMost(Duration.ofSeconds(30)).until(() ->
            {
                System.gc();
                return leaked.get() == null && arena.metrics().leaks() == 1;
            });
            assertZeros(arena.allocate(), "leak reclaim");
        }
    }

    /**
     * Pin: under ZERO a buddy arena's blocks read zeros whatever size they are carved or merged to: small blocks
     * carved from a big one its owner filled, and a big block merged from small ones each filled (one of them only
     * through a handle).
     */
    @Test
    void buddyBlocksReadZerosAfterSplitsAndMergesUnderTheZeroPolicy()
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).initPolicy(InitPolicy.ZERO).build())
        {
            secrets(arena.allocate(1024)).close();
            final Buffer[] small = new Buffer[16];
            for (int i = 0; i < small.length; i++)
            {
                small[i] = arena.allocate(64);
                final MutableDirectBuffer view = small[i].mutableBuffer();
                for (int b = 0; b < 64; b++)
                {
                    assertEquals(0, view.getByte(b), "carved block " + i + " byte " + b);
                }
                secrets(small[i]);
            }
            for (int i = 0; i < small.length; i += 2)
            {
                small[i].close();
            }
            final long h = arena.allocateHandle(64);
            arena.putLong(h, 56, SECRET);
            for (int i = 1; i < small.length; i += 2)
            {
                small[i].close();
            }
            arena.release(h);
            assertZeros(arena.allocate(1024), "merged block");
        }
    }
}
