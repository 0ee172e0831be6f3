package dev.lake.pool;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.function.Function;
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

    private static String outcome(final Function<DirectBuffer, Object> op, final DirectBuffer buffer)
    {
        try
        {
            return String.valueOf(op.apply(buffer));
        }
        catch (final RuntimeException ex)
        {
            return ex instanceof IndexOutOfBoundsException ? "IndexOutOfBoundsException" : ex.getClass().getSimpleName();
        }
    }

    /**
     * Pin: the codec view of a writing buffer and the frozen Bytes behave as Agrona's own buffer of the same size for
     * the value-sized writes and reads a codec calls near the end (ASCII numbers, strings with and without a
     * prefix, UTF-8, fills, copies, parses, prefixed strings whose prefix claims more than was written): the same
     * results, bytes and failures, a refused write changes nothing, the frozen bytes read only what was written, and
     * the neighbouring slots are never touched. With Agrona's checks off (-Dagrona.disable.bounds.checks=true) the
     * comparison with Agrona is skipped (its buffer would write out of bounds) and the rest still holds.
     */
    @Test
    void theCodecViewAndTheFrozenBytesMatchAgronaNearTheirEndAndNeverTouchTheirNeighbours()
    {
        final boolean compare = UnsafeBuffer.SHOULD_BOUNDS_CHECK;
        final Random random = new Random(8);
        try (FixedArena arena = FixedArena.builder(3, 64).initPolicy(InitPolicy.ZERO).build())
        {
            final Buffer left = arena.allocate();
            final Buffer middle = arena.allocate();
            final Buffer right = arena.allocate();
            left.mutableBuffer().setMemory(0, 64, (byte)0x33);
            right.mutableBuffer().setMemory(0, 64, (byte)0x33);
            middle.close();
            for (int round = 0; round < 10_000; round++)
            {
                final Buffer buffer = arena.allocate();
                assertNotSame(left, buffer);
                final MutableDirectBuffer view = buffer.mutableBuffer(); // zeros: the ZERO policy
                final int start = random.nextInt(16);
                buffer.position(start); // the length before the write under test
                final UnsafeBuffer agrona = new UnsafeBuffer(new byte[64]);
                final int index = random.nextInt(10) == 0 ? random.nextInt(80) - 8 : 64 - random.nextInt(24);
                final int intValue = random.nextInt(6) == 0 ? (random.nextBoolean() ? Integer.MIN_VALUE : Integer.MAX_VALUE) :
                    random.nextInt() >> random.nextInt(32);
                final long longValue = random.nextInt(6) == 0 ? (random.nextBoolean() ? Long.MIN_VALUE : Long.MAX_VALUE) :
                    random.nextLong() >> random.nextInt(64);
                final int natural = intValue & Integer.MAX_VALUE;
                final long naturalLong = longValue & Long.MAX_VALUE;
                final int padded = natural >>> random.nextInt(31);
                final int length = random.nextInt(30) - 3;
                final String ascii = "abcdefghijklmnopqrstuvwxyz0123456789".substring(0, random.nextInt(30));
                final String utf8 = ascii.replace('a', '\u00e9').replace('b', '\u4e2d');
                final byte[] source = new byte[Math.max(0, length)];
                random.nextBytes(source);
                final UnsafeBuffer sourceBuffer = new UnsafeBuffer(source);
                final java.util.List<Function<DirectBuffer, Object>> writes = java.util.List.of(
                    b -> ((MutableDirectBuffer)b).putIntAscii(index, intValue),
                    b -> ((MutableDirectBuffer)b).putLongAscii(index, longValue),
                    b -> ((MutableDirectBuffer)b).putNaturalIntAscii(index, natural),
                    b -> ((MutableDirectBuffer)b).putNaturalLongAscii(index, naturalLong),
                    b ->
                    {
                        ((MutableDirectBuffer)b).putNaturalPaddedIntAscii(index, length, padded);
                        return 0;
                    },
                    b -> ((MutableDirectBuffer)b).putNaturalIntAsciiFromEnd(natural, index),
                    b -> ((MutableDirectBuffer)b).putStringAscii(index, ascii),
                    b -> ((MutableDirectBuffer)b).putStringAscii(index, ascii, ByteOrder.BIG_ENDIAN),
                    b -> ((MutableDirectBuffer)b).putStringAscii(index, (CharSequence)new StringBuilder(ascii)),
                    b -> ((MutableDirectBuffer)b).putStringWithoutLengthAscii(index, ascii),
                    b -> ((MutableDirectBuffer)b).putStringWithoutLengthAscii(index, ascii, Math.max(0, length), 5),
                    b -> ((MutableDirectBuffer)b).putStringWithoutLengthAscii(index, new StringBuilder(ascii), 1,
                        Math.max(0, length)),
                    b -> ((MutableDirectBuffer)b).putStringUtf8(index, utf8),
                    b -> ((MutableDirectBuffer)b).putStringUtf8(index, utf8, ByteOrder.BIG_ENDIAN, Math.max(0, length)),
                    b -> ((MutableDirectBuffer)b).putStringWithoutLengthUtf8(index, utf8),
                    b ->
                    {
                        ((MutableDirectBuffer)b).setMemory(index, length, (byte)7);
                        return 0;
                    },
                    b ->
                    {
                        ((MutableDirectBuffer)b).putBytes(index, source);
                        return 0;
                    },
                    b ->
                    {
                        ((MutableDirectBuffer)b).putBytes(index, sourceBuffer, 0, source.length);
                        return 0;
                    },
                    b ->
                    {
                        ((MutableDirectBuffer)b).putLong(index, longValue, ByteOrder.BIG_ENDIAN);
                        return 0;
                    });
                final int which = random.nextInt(writes.size());
                final String lake = outcome(writes.get(which), view);
                final boolean failed = buffer.length() == start;
                if (compare)
                {
                    agrona.setMemory(0, start, (byte)0);
                    final String expected = outcome(writes.get(which), agrona);
                    final String what = "write " + which + " index " + index + " length " + length + " int " + intValue +
                        " long " + longValue + " string '" + ascii + "'";
                    final boolean refused = lake.endsWith("Exception");
                    if (expected.endsWith("Exception"))
                    {
                        assertTrue(refused, what + ": Agrona refuses it, the view wrote " + lake); // the kind may differ
                    }
                    else
                    {
                        assertEquals(expected, lake, what);
                    }
                    for (int i = 0; i < 64; i++)
                    {
                        // Agrona may write part of a refused value (a padded number too wide); the view writes none
                        assertEquals(refused ? 0 : agrona.getByte(i), view.getByte(i), what + ": byte " + i);
                    }
                    if (refused)
                    {
                        assertEquals(start, buffer.length(), what + ": a refused write counts nothing");
                        agrona.setMemory(0, 64, (byte)0);
                    }
                }
                else
                {
                    assertTrue(!lake.endsWith("Exception") || failed, "a refused write counts nothing");
                }
                final int read = index < 0 || index > 64 ? random.nextInt(64) : index;
                final java.util.List<Function<DirectBuffer, Object>> reads = java.util.List.of(
                    b -> b.getStringAscii(read),
                    b -> b.getStringAscii(read, ByteOrder.BIG_ENDIAN),
                    b -> b.getStringUtf8(read),
                    b -> b.getStringAscii(read, length),
                    b -> b.getStringUtf8(read, length),
                    b -> b.getStringWithoutLengthAscii(read, length),
                    b -> b.getStringWithoutLengthUtf8(read, length),
                    b -> b.parseIntAscii(read, length),
                    b -> b.parseLongAscii(read, length),
                    b -> b.parseNaturalIntAscii(read, length),
                    b -> b.getLong(read, ByteOrder.BIG_ENDIAN),
                    b ->
                    {
                        final StringBuilder out = new StringBuilder();
                        b.getStringAscii(read, out);
                        return out;
                    });
                final int r = random.nextInt(reads.size());
                final int written = buffer.length();
                final String what = "read " + r + " at " + read + " length " + length + " of " + written + " bytes";
                final String fromView = outcome(reads.get(r), view);
                if (compare)
                {
                    assertEquals(outcome(reads.get(r), agrona), fromView, what);
                }
                final Bytes bytes = buffer.freeze();
                final String fromBytes = outcome(reads.get(r), bytes);
                if (compare)
                {
                    assertEquals(outcome(reads.get(r), new UnsafeBuffer(agrona, 0, written)), fromBytes, what + " (frozen)");
                }
                bytes.release();
                for (int i = 0; i < 64; i++)
                {
                    assertEquals(0x33, left.mutableBuffer().getByte(i), "left neighbour byte " + i);
                    assertEquals(0x33, right.mutableBuffer().getByte(i), "right neighbour byte " + i);
                }
            }
            left.close();
            right.close();
        }
    }

    /**
     * Pin: a thread interrupted before it asks keeps its flag and gets what is free (no wait, so no
     * InterruptedException); on a full arena it gets InterruptedException at once (the JDK's rule: the flag is then
     * cleared), holds nothing, leaves no request counted and loses no later release; zero and negative timeouts time
     * out at once; every outcome is counted once.
     */
    @Test
    void interruptsAndExtremeTimeoutsLoseNothingAndCountEachOutcomeOnce() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            Thread.currentThread().interrupt();
            final Buffer free = arena.allocate(Duration.ofSeconds(30));
            assertTrue(Thread.interrupted(), "the flag is kept when nothing waited");
            Thread.currentThread().interrupt();
            assertThrows(InterruptedException.class, () -> arena.allocate(Duration.ofSeconds(30)));
            assertFalse(Thread.currentThread().isInterrupted());
            assertEquals(0, arena.waiters());
            assertThrows(AllocationTimeoutException.class, () -> arena.allocate(Duration.ZERO));
            assertThrows(AllocationTimeoutException.class, () -> arena.allocate(Duration.ofNanos(-1)));
            assertThrows(AllocationTimeoutException.class, () -> arena.allocate(Duration.ofSeconds(Long.MIN_VALUE)));
            assertEquals(0, arena.waiters());
            free.close();
            final Buffer again = arena.allocate(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999));
            assertNotNull(again, "the slot came back to the arena, not to a request that gave up");
            again.close();
            final FixedArenaMetrics metrics = arena.metrics();
            assertEquals(2, metrics.allocations());
            assertEquals(0, metrics.liveSlots());
            assertEquals(new WaitMetrics(0, 0, 3, 1, 0, 0), metrics.waits());
        }
    }

    /**
     * A null string is written as Agrona's own buffers write it (and as a lake region's buffer, an
     * {@code UnsafeBuffer}, does): the UTF-8 writes put the text "null", the ASCII writes an empty string.
     * The view wrote an empty string for a null UTF-8 value, so a codec moved from an {@code UnsafeBuffer} to a
     * slot read back "" where it had read "null".
     */
    @Test
    void aNullStringIsWrittenAsAgronaWritesIt()
    {
        final UnsafeBuffer agrona = new UnsafeBuffer(new byte[64]);
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer buffer = arena.allocate();
            final MutableDirectBuffer view = buffer.mutableBuffer();
            assertEquals(agrona.putStringUtf8(0, null), view.putStringUtf8(0, null));
            assertEquals(agrona.putStringUtf8(8, null, ByteOrder.BIG_ENDIAN), view.putStringUtf8(8, null, ByteOrder.BIG_ENDIAN));
            assertEquals(agrona.putStringWithoutLengthUtf8(16, null), view.putStringWithoutLengthUtf8(16, null));
            assertEquals(agrona.putStringAscii(20, (String)null), view.putStringAscii(20, (String)null));
            assertEquals(agrona.getStringUtf8(0), view.getStringUtf8(0));
            assertEquals("null", view.getStringUtf8(0));
            assertEquals("null", view.getStringWithoutLengthUtf8(16, 4));
            assertEquals(24, buffer.length());
            try (Bytes bytes = buffer.freeze())
            {
                final byte[] expected = new byte[24];
                final byte[] actual = new byte[24];
                agrona.getBytes(0, expected);
                bytes.getBytes(0, actual);
                assertArrayEquals(expected, actual);
            }
        }
    }

    /**
     * A metrics snapshot taken while another thread allocates and frees never shows an impossible live count:
     * negative, or more blocks than the arena has. liveBlocks was the allocations read first minus the frees read
     * after, so frees done in between made it negative (-2 and -128 seen with at most one block ever live).
     */
    @Test
    void buddyLiveBlocksReadDuringAllocationAndFreeAreNeverImpossible() throws Exception
    {
        try (BuddyArena arena = BuddyArena.builder(64 * 1024, 64).build())
        {
            final java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            final java.util.concurrent.atomic.AtomicLong impossible = new java.util.concurrent.atomic.AtomicLong(Long.MIN_VALUE);
            final java.util.concurrent.atomic.AtomicLong snapshots = new java.util.concurrent.atomic.AtomicLong();
            final Thread[] observers = new Thread[3];
            for (int t = 0; t < observers.length; t++)
            {
                observers[t] = new Thread(() ->
                {
                    while (!done.get())
                    {
                        final long live = arena.metrics().liveBlocks();
                        snapshots.incrementAndGet();
                        if (live < 0 || live > 1024)
                        {
                            impossible.set(live);
                        }
                    }
                });
                observers[t].start();
            }
            try
            {
                for (int i = 0; i < 2_000_000 || snapshots.get() < 1_000; i++)
                {
                    arena.release(arena.allocateHandle(64));
                }
            }
            finally
            {
                done.set(true);
                for (final Thread observer : observers)
                {
                    observer.join();
                }
            }
            assertEquals(Long.MIN_VALUE, impossible.get(), "a snapshot showed liveBlocks = " + impossible.get());
            assertEquals(0, arena.metrics().liveBlocks());
        }
    }
}
