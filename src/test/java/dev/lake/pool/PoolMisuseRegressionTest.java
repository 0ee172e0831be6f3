package dev.lake.pool;

import dev.lake.testing.TestSequence;
import org.agrona.MutableDirectBuffer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Misuse a review found unguarded, each test failing on the code before its fix: copies within a spilling
 * buffer, waiter callbacks during a spill, "forever" timeouts, a huge minimum block rounded up, a refused
 * padded ASCII write, a CharSequence that grows (or closes the buffer) while the codec view writes it, an
 * executor that queues a hand-over and still throws, a callback that allocates when its request is delivered,
 * waiters' callbacks run by a spill that freeze the buffer being written or close the source being copied, an
 * Appendable that releases what a string read reads.
 */
class PoolMisuseRegressionTest
{
    // ---- Finding 1: a self-copy through the codec view that spills reads the slot it just gave back ----

    /**
     * {@code view.getBytes(i, view, j, n)} (a memmove inside one buffer, as codecs do to shift a body) passes
     * the arena's raw memory as the source; the destination's write spills, which returns the slot to the
     * arena (zeroed under ZERO) before the copy reads it. The copy then reads zeros instead of the bytes the
     * buffer holds.
     */
    @Test
    void selfCopyThroughTheViewThatSpillsReadsTheBytesItCopies()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).initPolicy(InitPolicy.ZERO).build())
        {
            final Buffer a = arena.allocate();
            for (int i = 0; i < 16; i++)
            {
                a.putByte((byte)(0x11 + i));
            }
            final MutableDirectBuffer view = a.mutableBuffer();
            view.getBytes(0, view, 56, 16); // [56, 72) crosses the 64-byte slot: spills
            assertTrue(a.isSpilled());
            final Bytes bytes = a.freeze();
            for (int i = 0; i < 16; i++)
            {
                assertEquals((byte)(0x11 + i), bytes.getByte(56 + i), "byte " + (56 + i) + " of the copy");
            }
            bytes.release();
        }
    }

    /**
     * Same path, but a waiter is queued: the spill's release hands the slot to the waiter on this very thread,
     * whose callback writes its own bytes there; the self-copy then copies the waiter's bytes into the
     * spilled buffer (another allocation's bytes, no exception).
     */
    @Test
    void selfCopyThroughTheViewThatSpillsNeverSeesAnotherAllocationsBytes()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
        {
            final Buffer a = arena.allocate();
            for (int i = 0; i < 16; i++)
            {
                a.putByte((byte)0x11);
            }
            final CompletableFuture<Buffer> waiter = arena.allocateAsync();
            final CompletableFuture<Buffer> written = waiter.thenApply(b ->
            {
                for (int i = 0; i < 16; i++)
                {
                    b.putByte((byte)0x77);
                }
                return b;
            });
            final MutableDirectBuffer view = a.mutableBuffer();
            view.getBytes(0, view, 56, 16);
            assertTrue(a.isSpilled());
            assertTrue(written.isDone(), "the waiter got the slot during the spill");
            final Bytes bytes = a.freeze();
            for (int i = 0; i < 16; i++)
            {
                assertEquals((byte)0x11, bytes.getByte(56 + i),
                    "byte " + (56 + i) + " came from the waiter's allocation");
            }
            bytes.release();
            written.join().close();
        }
    }

    // ---- Finding 2: allocate(size, Duration) with a long timeout leaks the slot or strands a waiter ----

    /**
     * {@code ChronoUnit.FOREVER.getDuration()} (or any timeout above ~292 years) makes
     * {@code timeout.toNanos()} throw ArithmeticException after allocateAsync already claimed the slot: the
     * call fails and the slot stays claimed by nobody.
     */
    @Test
    void aWaitForeverTimeoutOnAFreeArenaDoesNotLoseTheSlot() throws InterruptedException
    {
        try (FixedArena arena = FixedArena.builder(1, 64).leakDetection(false).build())
        {
            Buffer b = null;
            try
            {
                b = arena.allocate(ChronoUnit.FOREVER.getDuration());
            }
            catch (final RuntimeException ex)
            {
                assertEquals(0, arena.liveSlots(), "the failed call (" + ex + ") left its slot claimed");
            }
            if (b != null)
            {
                b.close();
            }
            assertEquals(0, arena.liveSlots());
            final Buffer again = arena.tryAllocate();
            assertNotNull(again, "the slot is allocatable again");
            again.close(); // else the region waits for the GC, and a later test's native-memory baseline moves
        }
    }

    /**
     * On a full arena the same call threw at once instead of waiting, and left its request queued: the gate
     * stayed shut for every immediate allocation and the next freed slot went to a future nobody held. Now it
     * waits, and the freed slot reaches it.
     */
    @Test
    void aWaitForeverTimeoutOnAFullArenaWaitsForTheNextFreedSlot() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).leakDetection(false).build())
        {
            final Buffer held = arena.allocate();
            final CompletableFuture<Buffer> waiting = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    return arena.allocate(ChronoUnit.FOREVER.getDuration());
                }
                catch (final InterruptedException ex)
                {
                    throw new IllegalStateException(ex);
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> arena.waiters() == 1);
            held.close();
            final Buffer granted = waiting.get(10, TimeUnit.SECONDS);
            assertEquals(1, arena.liveSlots());
            assertEquals(0, arena.waiters());
            granted.close();
            assertEquals(0, arena.liveSlots(), "the freed slot went to the caller, nothing orphaned");
        }
    }

    /** Duration.ofSeconds(Long.MAX_VALUE) as "no timeout": the same failure. */
    @Test
    void aMaxDurationTimeoutIsAccepted() throws InterruptedException
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).leakDetection(false).build())
        {
            final Duration max = Duration.ofSeconds(Long.MAX_VALUE);
            try
            {
                arena.allocate(64, max).close();
            }
            catch (final ArithmeticException ex)
            {
                fail("allocate(64, " + max + ") threw " + ex + "; bytes live now: " + arena.metrics().bytesLive());
            }
            assertEquals(0, arena.metrics().bytesLive());
        }
    }

    // ---- Finding 3: a spill runs waiters' callbacks while the spilling buffer is half updated ----

    /**
     * A spill releases the slot from inside {@code Buffer.grow}, before the buffer's base and capacity are
     * switched to the heap array; the release serves a queued waiter on this thread, so its callback runs while
     * the buffer has {@code mem} = the new heap array but {@code base} = the old slot offset. A write to the
     * spilling buffer from that callback computes {@code base + position} into a heap array smaller than the
     * slot offset: with Agrona's bounds checks it is an Agrona error naming the heap array, with them off
     * ({@code -Dagrona.disable.bounds.checks=true}, which the suite must pass) it writes past the end of a
     * {@code byte[]} (heap corruption).
     */
    @Test
    void aWaiterCallbackRunDuringASpillSeesAConsistentBuffer()
    {
        try (FixedArena arena = FixedArena.builder(4, 64).autoSpill(true).build())
        {
            final Buffer other0 = arena.allocate();
            final Buffer other1 = arena.allocate();
            final Buffer other2 = arena.allocate();
            final Buffer a = arena.allocate(); // slot 3: base 192
            assertEquals(4, arena.liveSlots());
            for (int i = 0; i < 60; i++)
            {
                a.putByte((byte)1);
            }
            final int[] seen = new int[2];
            final Throwable[] failure = new Throwable[1];
            final CompletableFuture<Void> callback = arena.allocateAsync().thenAccept(b ->
            {
                b.close();
                seen[0] = a.capacity();
                seen[1] = a.remaining();
                try
                {
                    a.putByte((byte)0x55);
                }
                catch (final Throwable t)
                {
                    failure[0] = t;
                }
            });
            a.putLong(7L); // 68 > 64: spills; the release serves the waiter on this thread
            assertTrue(callback.isDone());
            assertTrue(a.isSpilled());
            assertNull(failure[0], "the callback's write into the spilling buffer failed with " + failure[0]);
            assertEquals(a.capacity(), seen[0], "the callback saw the slot's capacity on a buffer now on the heap");
            a.close();
            other0.close();
            other1.close();
            other2.close();
        }
    }

    // ---- Finding 4: BuddyArena.Builder.roundUp silently turns a huge minimum block into 8 bytes ----

    @Test
    void roundUpOfAMinimumBlockAbove2GiBNeverShrinksIt()
    {
        final int asked = (1 << 30) + 1;
        try (BuddyArena arena = BuddyArena.builder(1 << 20, asked).roundUp(true).build())
        {
            assertTrue(arena.minBlock() >= asked, "roundUp(true) turned a minimum block of " + asked +
                " bytes into " + arena.minBlock());
        }
        catch (final IllegalArgumentException expected)
        {
            // rejecting it is fine too
        }
    }

    // ---- Finding 5: a failed view write still counts (or spills) ----

    /**
     * {@code putNaturalPaddedIntAscii} that does not fit its field throws NumberFormatException (Agrona), but
     * the view already counted the bytes as written (length grows) and, near the end of the slot, spilled the
     * buffer: the slot went back and the buffer moved to the heap for a call that failed.
     */
    @Test
    void aFailedPaddedAsciiWriteLeavesTheBufferAsItWas()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
        {
            final Buffer a = arena.allocate();
            final MutableDirectBuffer view = a.mutableBuffer();
            assertThrows(NumberFormatException.class, () -> view.putNaturalPaddedIntAscii(60, 8, 123456789));
            assertEquals(0, a.length(), "a failed write counted as written");
            assertFalse(a.isSpilled(), "a failed write spilled the buffer and gave its slot back");
            assertEquals(1, arena.liveSlots());
            a.close();
        }
    }
    // ---- A CharSequence that grows while the codec view writes it ----

    /**
     * The codec view sized a CharSequence write from {@code length()} and then let Agrona write it, and Agrona reads
     * {@code length()} again: a sequence that grew in between (a StringBuilder another thread appends to, a lazy
     * sequence) was written past the buffer, into the neighbouring slot. Agrona's own bounds check cannot see it,
     * since the view writes into the arena's whole region. Each overload now reads the length once and writes
     * inside the range it checked.
     */
    @Test
    void aCharSequenceThatGrowsWhileWrittenStaysInsideItsBuffer()
    {
        for (int overload = 0; overload < 4; overload++)
        {
            try (FixedArena arena = FixedArena.builder(4, 64).build())
            {
                final Buffer[] all = {arena.allocate(), arena.allocate(), arena.allocate(), arena.allocate()};
                for (final Buffer b : all)
                {
                    b.mutableBuffer().setMemory(0, 64, (byte)0x5A);
                }
                final Buffer target = all[1];
                final CharSequence growing = new TestSequence(8, 'x')
                {
                    private int lengthReads;

                    @Override
                    public int length()
                    {
                        return lengthReads++ == 0 ? 8 : 200;
                    }
                };
                final MutableDirectBuffer view = target.mutableBuffer();
                final int written = switch (overload)
                {
                    case 0 -> view.putStringAscii(0, growing);
                    case 1 -> view.putStringAscii(0, growing, java.nio.ByteOrder.BIG_ENDIAN);
                    case 2 -> view.putStringWithoutLengthAscii(0, growing);
                    default -> view.putStringWithoutLengthAscii(0, growing, 0, 100);
                };
                final int expected = overload < 2 ? 4 + 8 : 8;
                assertEquals(expected, written, "overload " + overload + " wrote what it measured");
                final MutableDirectBuffer check = target.mutableBuffer();
                assertEquals((byte)0x5A, check.getByte(expected), "overload " + overload + ": a byte past the string");
                for (final Buffer b : all)
                {
                    if (b != target)
                    {
                        for (int i = 0; i < 64; i++)
                        {
                            assertEquals((byte)0x5A, b.mutableBuffer().getByte(i),
                                "overload " + overload + " wrote into another buffer's slot at byte " + i);
                        }
                    }
                }
                for (final Buffer b : all)
                {
                    b.close();
                }
            }
        }
    }

    /** The same writes of a steady sequence produce exactly Agrona's bytes (length prefix, '?' above 127). */
    @Test
    void charSequenceWritesMatchAgronasLayout()
    {
        final CharSequence text = new StringBuilder("price=12\u00e9.5");
        final org.agrona.concurrent.UnsafeBuffer reference = new org.agrona.concurrent.UnsafeBuffer(new byte[64]);
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            for (int overload = 0; overload < 4; overload++)
            {
                final Buffer b = arena.allocate();
                final MutableDirectBuffer view = b.mutableBuffer();
                view.setMemory(0, 64, (byte)0);
                reference.setMemory(0, 64, (byte)0);
                final int mine;
                final int theirs;
                switch (overload)
                {
                    case 0 -> { mine = view.putStringAscii(0, text); theirs = reference.putStringAscii(0, text); }
                    case 1 ->
                    {
                        mine = view.putStringAscii(0, text, java.nio.ByteOrder.BIG_ENDIAN);
                        theirs = reference.putStringAscii(0, text, java.nio.ByteOrder.BIG_ENDIAN);
                    }
                    case 2 ->
                    {
                        mine = view.putStringWithoutLengthAscii(0, text);
                        theirs = reference.putStringWithoutLengthAscii(0, text);
                    }
                    default ->
                    {
                        mine = view.putStringWithoutLengthAscii(0, text, 2, 5);
                        theirs = reference.putStringWithoutLengthAscii(0, text, 2, 5);
                    }
                }
                assertEquals(theirs, mine, "overload " + overload);
                for (int i = 0; i < 64; i++)
                {
                    assertEquals(reference.getByte(i), view.getByte(i), "overload " + overload + " byte " + i);
                }
                b.close();
            }
        }
    }
    /** A charAt that closes the buffer mid-write stops the write before the next byte: the slot is not its any more. */
    @Test
    void aCharAtThatClosesTheBufferStopsTheWrite()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer b = arena.allocate();
            final MutableDirectBuffer view = b.mutableBuffer();
            final CharSequence closing = new TestSequence(8, 'c')
            {
                @Override
                public char charAt(final int index)
                {
                    if (index == 3)
                    {
                        b.close();
                    }
                    return 'c';
                }
            };
            assertThrows(dev.lake.memory.StaleHandleException.class, () -> view.putStringAscii(0, closing));
            final Buffer next = arena.allocate(); // the same slot, someone else's now
            assertEquals(0, next.length());
            next.close();
        }
    }
    // ---- Waiting for capacity: a hand-over runs once, and a delivered request stops gating at once ----

    /**
     * A stock {@code ThreadPoolExecutor} with no live worker queues the task and then tries to start a worker; when
     * its thread factory fails, {@code execute} throws with the task still queued. The hand-over then completed the
     * future on the freeing thread, and the worker started later ran the queued task too: it found the future done,
     * took it for a caller who gave up, and closed the buffer the caller owned (its slot handed to a second owner).
     */
    @Test
    void anExecutorThatQueuedTheTaskBeforeFailingNeverClosesTheCallersBuffer()
    {
        final java.util.concurrent.atomic.AtomicBoolean failNextThread = new java.util.concurrent.atomic.AtomicBoolean();
        final java.util.concurrent.ThreadPoolExecutor executor = new java.util.concurrent.ThreadPoolExecutor(
            0, 1, 10, TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(), task ->
        {
            if (failNextThread.getAndSet(false))
            {
                throw new OutOfMemoryError("unable to create native thread: possibly out of memory");
            }
            return new Thread(task, "completer");
        });
        try (FixedArena arena = FixedArena.builder(1, 64).completionExecutor(executor).build())
        {
            final Buffer held = arena.allocate();
            final CompletableFuture<Buffer> waiting = arena.allocateAsync();
            failNextThread.set(true);
            held.close(); // the executor queues the hand-over, then fails to start a worker: completed here
            assertTrue(waiting.isDone(), "completed on the freeing thread after execute() failed");
            final Buffer mine = waiting.join();
            mine.putLong(1L);

            executor.execute(() -> { }); // the pool recovers: a worker starts and runs the queued hand-over too
            await().atMost(Duration.ofSeconds(20)).until(() -> executor.getCompletedTaskCount() == 2);

            final Buffer intruder = arena.tryAllocate(); // the caller's slot, if it was given back under it
            try
            {
                assertNull(intruder, "the caller's slot was handed to a second owner");
                assertDoesNotThrow(() -> mine.putLong(2L), "the caller's buffer was closed under it");
            }
            finally
            {
                if (intruder != null)
                {
                    intruder.close();
                }
                mine.close();
            }
            assertEquals(0, arena.metrics().liveSlots());
        }
        finally
        {
            executor.shutdownNow();
        }
    }

    /**
     * A request stopped counting as waiting only in a completion stage registered before the caller's, and
     * CompletableFuture runs dependents newest first: the caller's callback still saw its own, delivered request
     * waiting, and the gate refused free capacity ("got the header buffer, take one for the body" failed, and
     * counted a failed allocation).
     */
    @Test
    void aCallbackOfADeliveredRequestCanAllocateWhatIsFree()
    {
        try (BuddyArena arena = BuddyArena.builder(4096, 64).build())
        {
            final Buffer whole = arena.allocate(4096);
            final CompletableFuture<Buffer> header = arena.allocateAsync(64);
            final java.util.concurrent.atomic.AtomicReference<Buffer> body = new java.util.concurrent.atomic.AtomicReference<>();
            final java.util.concurrent.atomic.AtomicInteger waitersSeen = new java.util.concurrent.atomic.AtomicInteger(-1);
            header.thenAccept(h ->
            {
                waitersSeen.set(arena.waiters());
                body.set(arena.tryAllocate(64));
            });
            whole.close(); // serves the header request on this thread: the callback runs here
            final long failed = arena.metrics().failedAllocations();
            try
            {
                assertEquals(0, waitersSeen.get(), "the only request was already delivered");
                assertNotNull(body.get(), "4032 bytes free, nobody waiting, yet tryAllocate(64) refused");
                assertEquals(0, failed, "a refusal counted as a failed allocation");
                assertEquals(1, arena.metrics().waits().completed(), "the delivered request counts as completed");
            }
            finally
            {
                header.join().close();
                if (body.get() != null)
                {
                    body.get().close();
                }
            }
        }
    }
    // ---- A spill runs waiters' callbacks in the middle of a write ----

    /**
     * A spill gives the slot back and serves a waiting request on this thread; its callback froze the buffer being
     * written (getting Bytes over the heap copy), and the interrupted put then finished, writing into bytes that
     * were frozen and possibly shared already. The write now stops with StaleHandleException.
     */
    @Test
    void aWaiterCallbackThatFreezesTheSpillingBufferStopsTheWriteUnderWay()
    {
        for (final boolean throughView : new boolean[] {false, true})
        {
            try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
            {
                final Buffer a = arena.allocate();
                for (int i = 0; i < 32; i++)
                {
                    a.putByte((byte)0x11);
                }
                a.position(0);
                final Bytes[] frozen = new Bytes[1];
                arena.allocateAsync().thenAccept(b ->
                {
                    b.close();
                    frozen[0] = a.freeze();
                });
                final byte[] body = new byte[80];
                java.util.Arrays.fill(body, (byte)0x77);
                assertThrows(dev.lake.memory.StaleHandleException.class, () ->
                {
                    if (throughView)
                    {
                        a.mutableBuffer().putBytes(0, body); // crosses the slot: spills
                    }
                    else
                    {
                        a.putBytes(body);
                    }
                }, "the write under way when the callback froze the buffer");
                assertNotNull(frozen[0]);
                final byte[] seen = frozen[0].toByteArray();
                assertEquals(32, seen.length);
                for (int i = 0; i < seen.length; i++)
                {
                    assertEquals((byte)0x11, seen[i], "byte " + i + " of the frozen Bytes changed after the freeze");
                }
                frozen[0].release();
            }
        }
    }

    /** A callback that writes to the spilling buffer moves its cursor: the interrupted put lands after those bytes. */
    @Test
    void aWaiterCallbackThatWritesToTheSpillingBufferKeepsItsBytes()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
        {
            final Buffer a = arena.allocate();
            arena.allocateAsync().thenAccept(b ->
            {
                b.close();
                a.putLong(0x0102030405060708L); // at the cursor, 0
            });
            final byte[] body = new byte[80];
            java.util.Arrays.fill(body, (byte)0x77);
            a.putBytes(body);
            assertEquals(88, a.position());
            try (Bytes bytes = a.freeze())
            {
                assertEquals(0x0102030405060708L, bytes.getLong(0), "the callback's bytes were overwritten");
                assertEquals((byte)0x77, bytes.getByte(8));
                assertEquals((byte)0x77, bytes.getByte(87));
            }
        }
    }

    /**
     * A copy checked its source, then spilled (running a waiter's callback that closed the Lake or Region behind the
     * source), then copied: with Agrona's bounds checks off the copy read freed memory (a JVM crash). The source is
     * checked again after the spill. Run in a child JVM with Agrona's checks off, so that the bug shows as a crash
     * of that JVM rather than of the test run.
     */
    @Test
    void aSourceClosedByASpillsWaiterCallbackIsRefusedNotRead() throws Exception
    {
        for (final String source : new String[] {"direct", "nio", "view-direct", "view-nio"})
        {
            final String out = FreedMemoryProbe.run(source);
            assertTrue(out.contains(source + ": refused"), "child JVM output:\n" + out);
        }
    }

    /** The child JVM of {@link #aSourceClosedByASpillsWaiterCallbackIsRefusedNotRead()}. */
    public static final class FreedMemoryProbe
    {
        private FreedMemoryProbe()
        {
        }

        static String run(final String source) throws Exception
        {
            return dev.lake.testing.ChildJvm.run(FreedMemoryProbe.class, false, source);
        }

        public static void main(final String[] args)
        {
            final String name = args[0];
            if (name.equals("appendable"))
            {
                appendableThatFreesTheRegion();
                return;
            }
            final dev.lake.memory.Region region = dev.lake.memory.Region.builder(1 << 20).build();
            final dev.lake.linear.Lake lake = dev.lake.linear.Lake.builder(1 << 20).build();
            final int at = lake.allocate(4096);
            final java.nio.ByteBuffer nio = region.byteBuffer();
            nio.limit(4096);
            try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
            {
                final Buffer a = arena.allocate();
                arena.allocateAsync().thenAccept(b ->
                {
                    b.close();
                    lake.close(); // the source of the copy under way
                    region.close();
                });
                try
                {
                    switch (name)
                    {
                        case "direct" -> a.putBytes(lake.buffer(), at, 4096);
                        case "nio" -> a.putBytes(nio);
                        case "view-direct" -> a.mutableBuffer().putBytes(0, lake.buffer(), at, 4096);
                        default -> a.mutableBuffer().putBytes(0, nio, 0, 4096);
                    }
                    System.out.println(name + ": NOT refused: copied from freed memory");
                }
                catch (final RuntimeException ex)
                {
                    System.out.println(name + ": refused (" + ex + ")");
                }
                if (a.isWritable())
                {
                    a.close();
                }
            }
            System.out.flush();
        }

        /** A string read whose appendable closes the arena and releases the last Bytes: the region is freed mid-read. */
        private static void appendableThatFreesTheRegion()
        {
            final BuddyArena arena = BuddyArena.builder(64 << 20, 1 << 16).build();
            final Buffer b = arena.allocate(64 << 20);
            b.putInt(1 << 20);
            b.mutableBuffer().setMemory(4, 1 << 20, (byte)'a');
            final Bytes bytes = b.freeze();
            final int[] seen = new int[1];
            final Appendable hostile = new CharAppendable(c ->
            {
                if (seen[0]++ == 0)
                {
                    arena.close();   // live bytes keep the region...
                    bytes.release(); // ...until this last release frees it
                }
            });
            try
            {
                bytes.getStringAscii(0, hostile);
                System.out.println("appendable: NOT refused: read " + seen[0] + " chars from freed memory");
            }
            catch (final RuntimeException ex)
            {
                System.out.println("appendable: refused (" + ex + ")");
            }
            System.out.flush();
        }
    }

    // ---- An Appendable handed to a string read is user code between two bytes ----

    /** An Appendable that calls {@code onChar} for each char, then keeps it. */
    static final class CharAppendable implements Appendable
    {
        final StringBuilder out = new StringBuilder();
        private final java.util.function.IntConsumer onChar;

        CharAppendable(final java.util.function.IntConsumer onChar)
        {
            this.onChar = onChar;
        }

        @Override
        public Appendable append(final char c)
        {
            onChar.accept(c);
            out.append(c);
            return this;
        }

        @Override
        public Appendable append(final CharSequence csq)
        {
            throw new UnsupportedOperationException("Lake appends one char at a time");
        }

        @Override
        public Appendable append(final CharSequence csq, final int start, final int end)
        {
            throw new UnsupportedOperationException("Lake appends one char at a time");
        }
    }

    /**
     * Agrona's Appendable string reads take the address once and loop: read a byte, append it. An appendable that
     * released the last Bytes (or closed the buffer) received the next owner's bytes, and one that freed the region
     * crashed the JVM (child probe). Each byte is now checked before it is read.
     */
    @Test
    void anAppendableThatReleasesTheBytesNeverReceivesTheNextOwnersBytes() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer a = arena.allocate();
            a.putInt(8);
            for (int i = 0; i < 8; i++)
            {
                a.putByte((byte)'a');
            }
            final Bytes bytes = a.freeze();
            final Buffer[] next = new Buffer[1];
            final CharAppendable hostile = new CharAppendable(c ->
            {
                if (next[0] == null)
                {
                    bytes.release();            // the last reference: the slot goes back
                    next[0] = arena.allocate(); // the next owner
                    for (int i = 0; i < 64; i++)
                    {
                        next[0].putByte((byte)'S');
                    }
                }
            });
            assertThrows(dev.lake.memory.StaleHandleException.class, () -> bytes.getStringAscii(0, hostile));
            next[0].close();
            assertEquals("a", hostile.out.toString(), "only the byte read before the release");
        }
        try (BuddyArena arena = BuddyArena.builder(64, 64).build())
        {
            final Buffer b = arena.allocate(64);
            b.mutableBuffer().putStringAscii(0, "aaaaaaaa");
            final Buffer[] next = new Buffer[1];
            final CharAppendable hostile = new CharAppendable(c ->
            {
                if (next[0] == null)
                {
                    b.close();
                    next[0] = arena.allocate(64);
                    for (int i = 0; i < 64; i++)
                    {
                        next[0].putByte((byte)'S');
                    }
                }
            });
            assertThrows(dev.lake.memory.StaleHandleException.class,
                () -> b.mutableBuffer().getStringWithoutLengthAscii(4, 8, hostile));
            next[0].close();
            assertEquals("a", hostile.out.toString());
        }
        final String out = FreedMemoryProbe.run("appendable");
        assertTrue(out.contains("appendable: refused"), "child JVM output:\n" + out);
    }

    /** The Appendable reads give exactly Agrona's chars: the four overloads, a byte above 127 as '?'. */
    @Test
    void appendableReadsMatchAgrona()
    {
        final org.agrona.concurrent.UnsafeBuffer reference = new org.agrona.concurrent.UnsafeBuffer(new byte[64]);
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer b = arena.allocate();
            final byte[] text = {'p', 'x', (byte)0xE9, '=', '1', (byte)0x80};
            b.putInt(6);
            b.putBytes(text);
            b.putInt(6, java.nio.ByteOrder.BIG_ENDIAN);
            b.putBytes(text);
            reference.putBytes(0, b.mutableBuffer(), 0, 20);
            try (Bytes bytes = b.freeze())
            {
                for (int overload = 0; overload < 4; overload++)
                {
                    final StringBuilder mine = new StringBuilder();
                    final StringBuilder theirs = new StringBuilder();
                    final int m;
                    final int t;
                    switch (overload)
                    {
                        case 0 -> { m = bytes.getStringAscii(0, mine); t = reference.getStringAscii(0, theirs); }
                        case 1 ->
                        {
                            m = bytes.getStringAscii(10, mine, java.nio.ByteOrder.BIG_ENDIAN);
                            t = reference.getStringAscii(10, theirs, java.nio.ByteOrder.BIG_ENDIAN);
                        }
                        case 2 -> { m = bytes.getStringAscii(0, 4, mine); t = reference.getStringAscii(0, 4, theirs); }
                        default ->
                        {
                            m = bytes.getStringWithoutLengthAscii(5, 5, mine);
                            t = reference.getStringWithoutLengthAscii(5, 5, theirs);
                        }
                    }
                    assertEquals(t, m, "overload " + overload);
                    assertEquals(theirs.toString(), mine.toString(), "overload " + overload);
                }
            }
        }
    }
    /**
     * A copy out of Bytes into a foreign MutableDirectBuffer handed that buffer the arena's whole-region buffer as the
     * source: foreign code got unchecked reach into every other slot, and read the address before making room. It now
     * gets the checked view, sized to the bytes.
     */
    @Test
    void aForeignDestinationSeesTheCheckedViewNotTheArenasRegion()
    {
        final org.agrona.DirectBuffer[] seen = new org.agrona.DirectBuffer[1];
        final org.agrona.ExpandableArrayBuffer foreign = new org.agrona.ExpandableArrayBuffer(8)
        {
            @Override
            public void putBytes(final int index, final org.agrona.DirectBuffer src, final int srcIndex, final int length)
            {
                seen[0] = src;
                super.putBytes(index, src, srcIndex, length);
            }
        };
        try (FixedArena arena = FixedArena.builder(4, 64).build())
        {
            final Buffer b = arena.allocate();
            b.putLong(0x1122334455667788L);
            try (Bytes bytes = b.freeze())
            {
                bytes.getBytes(0, foreign, 0, 8);
                assertEquals(0x1122334455667788L, foreign.getLong(0));
                assertSame(bytes, seen[0], "the source handed to foreign code");
                assertEquals(8, seen[0].capacity(), "no reach past the frozen bytes");
            }
        }
    }
}
