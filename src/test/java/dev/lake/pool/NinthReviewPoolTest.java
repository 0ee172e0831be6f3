package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.lang.reflect.RecordComponent;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The ninth hostile review of the pool: a contract audit of the arenas, {@link Buffer}, {@link Bytes}, the metrics
 * records and the JFR events. Each public promise without a test that would fail if it broke gets one here; tests
 * that pin a contract the code already kept say "Pin"; the others failed on the code before their fix. Run also
 * with {@code -Dagrona.disable.bounds.checks=true}: Lake's checked types must stay in bounds on their own.
 */
class NinthReviewPoolTest
{
    private static final AtomicInteger NAMES = new AtomicInteger();

    private static String uniqueName(final String kind)
    {
        return "ninth-" + kind + "-" + NAMES.incrementAndGet() + "-" + ProcessHandle.current().pid();
    }

    // ---------------------------------------------------------------------------------------------------------
    // JFR: the events carry exactly metrics(), only for arenas that opt in, and stop when the arena closes
    // ---------------------------------------------------------------------------------------------------------

    /** The events of {@code eventName} for {@code arena} in a dump of {@code recording}, oldest first. */
    private static List<RecordedEvent> events(final Recording recording, final Path dir, final String eventName,
        final String arena) throws Exception
    {
        final Path file = dir.resolve("dump-" + System.nanoTime() + ".jfr");
        recording.dump(file);
        final List<RecordedEvent> out = new ArrayList<>();
        for (final RecordedEvent e : RecordingFile.readAllEvents(file))
        {
            if (e.getEventType().getName().equals(eventName) && arena.equals(e.getString("arena")))
            {
                out.add(e);
            }
        }
        return out;
    }

    /**
     * Every figure of a metrics record, under the event's field names: "arena" for the name, the wait figures
     * flattened as the events name them, the buddy arena's per-order bytes as its "order:bytes" string.
     */
    private static Map<String, Object> figures(final Record metrics) throws Exception
    {
        final Map<String, Object> out = new LinkedHashMap<>();
        for (final RecordComponent c : metrics.getClass().getRecordComponents())
        {
            final Object value = c.getAccessor().invoke(metrics);
            switch (c.getName())
            {
                case "name":
                    out.put("arena", value);
                    break;
                case "waits":
                    final WaitMetrics w = (WaitMetrics)value;
                    out.put("waiters", w.waiters());
                    out.put("waitsCompleted", w.completed());
                    out.put("waitsTimedOut", w.timedOut());
                    out.put("waitsCancelled", w.cancelled());
                    out.put("waitsFailed", w.failed());
                    out.put("totalWaitNanos", w.totalWaitNanos());
                    break;
                case "freeBytesPerOrder":
                    final long[] perOrder = (long[])value;
                    final StringBuilder s = new StringBuilder();
                    for (int k = 0; k < perOrder.length; k++)
                    {
                        if (perOrder[k] != 0)
                        {
                            s.append(s.length() == 0 ? "" : ",").append(k).append(':').append(perOrder[k]);
                        }
                    }
                    out.put(c.getName(), s.toString());
                    break;
                default:
                    out.put(c.getName(), value);
            }
        }
        return out;
    }

    private static void assertEventEqualsMetrics(final RecordedEvent event, final Record metrics) throws Exception
    {
        final Map<String, Object> expected = figures(metrics);
        final List<String> eventFields = new ArrayList<>();
        event.getFields().forEach(f -> eventFields.add(f.getName()));
        eventFields.removeAll(List.of("startTime", "duration", "eventThread", "stackTrace"));
        assertEquals(new java.util.TreeSet<>(expected.keySet()), new java.util.TreeSet<>(eventFields),
            "the event carries every figure of the record, and nothing else");
        for (final Map.Entry<String, Object> e : expected.entrySet())
        {
            final Object actual = event.getValue(e.getKey());
            final Object want = e.getValue();
            if (want instanceof Number)
            {
                assertEquals(((Number)want).longValue(), ((Number)actual).longValue(), e.getKey());
            }
            else
            {
                assertEquals(want, actual, e.getKey());
            }
        }
    }

    /** Drives every counter of an arena away from zero: frees, frozen, spills, failures and each wait outcome. */
    private static void exercise(final SlotArena arena, final int size, final int capacity) throws Exception
    {
        arena.allocateAsync(size).join().close();                                     // a free, no freeze
        final Buffer spilling = arena.allocateAsync(size).join();
        spilling.position(capacity).putLong(1);                                        // a spill
        spilling.freeze().release();                                                   // frozen on the heap
        final List<Bytes> held = new ArrayList<>();
        Buffer next;
        while ((next = tryAllocate(arena, size)) != null)
        {
            held.add(next.putLong(7).freeze());                                        // frozen in the arena
        }
        assertNull(tryAllocate(arena, size));                                         // failed (the loop's end: another)
        final long handleLess = arena instanceof FixedArena ? ((FixedArena)arena).tryAllocateHandle() :
            ((BuddyArena)arena).tryAllocateHandle(size);
        assertEquals(FixedArena.NO_HANDLE, handleLess);                                // another one
        final CompletableFuture<Buffer> cancelled = arena.allocateAsync(size);
        assertTrue(cancelled.cancel(false));                                           // cancelled
        final CompletableFuture<Buffer> failed = arena.allocateAsync(size);
        assertTrue(failed.completeExceptionally(new IllegalStateException("given up"))); // failed
        assertThrows(AllocationTimeoutException.class, () -> arena.allocate(size, Duration.ofMillis(1))); // timed out
        final CompletableFuture<Buffer> completed = arena.allocateAsync(size);
        held.remove(0).release();
        final Buffer granted = completed.join();                                       // completed
        granted.close();
        held.remove(0).release();
        // one allocation stays live, on each tier's figures
        held.forEach(Bytes::release);
        held.clear();
    }

    private static Buffer tryAllocate(final SlotArena arena, final int size)
    {
        return arena instanceof FixedArena ? ((FixedArena)arena).tryAllocate() : ((BuddyArena)arena).tryAllocate(size);
    }

    /**
     * Pin: a recording of {@code dev.lake.pool.FixedArenaMetrics} and {@code BuddyArenaMetrics}, read back with
     * {@link RecordingFile}, carries every figure of {@code metrics()} of a quiet arena, field for field (wait
     * outcomes, spills, frozen, failures included), and nothing for an arena built without {@code jfrEvents(true)}.
     */
    @Test
    void jfrEventsCarryExactlyTheMetricsOfAQuietArenaAndOnlyForArenasThatOptIn(@TempDir final Path dir) throws Exception
    {
        final String fixedName = uniqueName("fixed-jfr");
        final String buddyName = uniqueName("buddy-jfr");
        final String fixedQuiet = uniqueName("fixed-quiet");
        final String buddyQuiet = uniqueName("buddy-quiet");
        try (FixedArena fixed = FixedArena.builder(4, 64).name(fixedName).autoSpill(true).jfrEvents(true).build();
            BuddyArena buddy = BuddyArena.builder(1024, 64).name(buddyName).autoSpill(true).jfrEvents(true).build();
            FixedArena fixedOff = FixedArena.builder(4, 64).name(fixedQuiet).build();
            BuddyArena buddyOff = BuddyArena.builder(1024, 64).name(buddyQuiet).build())
        {
            exercise(fixed, 64, 64);
            exercise(buddy, 100, 128);
            final Bytes keptFixed = fixed.allocate().putInt(3).freeze();
            final long keptHandle = buddy.allocateHandle(300);
            fixedOff.allocate().close();
            buddyOff.allocate(64).close();
            final FixedArenaMetrics fixedMetrics = fixed.metrics();
            final BuddyArenaMetrics buddyMetrics = buddy.metrics();
            assertTrue(fixedMetrics.spills() == 1 && fixedMetrics.failedAllocations() == 3 &&
                fixedMetrics.waits().completed() == 1 && fixedMetrics.waits().timedOut() == 1 &&
                fixedMetrics.waits().cancelled() == 1 && fixedMetrics.waits().failed() == 1, fixedMetrics::toString);
            assertTrue(buddyMetrics.spills() == 1 && buddyMetrics.splits() > 0 && buddyMetrics.liveBlocks() == 1,
                buddyMetrics::toString);
            try (Recording recording = new Recording())
            {
                recording.enable(FixedArenaMetricsEvent.NAME).withPeriod(Duration.ofMillis(20));
                recording.enable(BuddyArenaMetricsEvent.NAME).withPeriod(Duration.ofMillis(20));
                recording.start();
                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    !events(recording, dir, FixedArenaMetricsEvent.NAME, fixedName).isEmpty() &&
                        !events(recording, dir, BuddyArenaMetricsEvent.NAME, buddyName).isEmpty());
                recording.stop();
                final List<RecordedEvent> fixedEvents = events(recording, dir, FixedArenaMetricsEvent.NAME, fixedName);
                final List<RecordedEvent> buddyEvents = events(recording, dir, BuddyArenaMetricsEvent.NAME, buddyName);
                assertEventEqualsMetrics(fixedEvents.get(fixedEvents.size() - 1), fixedMetrics);
                assertEventEqualsMetrics(buddyEvents.get(buddyEvents.size() - 1), buddyMetrics);
                assertEquals(List.of(), events(recording, dir, FixedArenaMetricsEvent.NAME, fixedQuiet),
                    "an arena built without jfrEvents(true) publishes nothing");
                assertEquals(List.of(), events(recording, dir, BuddyArenaMetricsEvent.NAME, buddyQuiet),
                    "an arena built without jfrEvents(true) publishes nothing");
            }
            // quiet: the snapshots the hook took changed nothing
            assertEquals(fixedMetrics, fixed.metrics());
            assertEquals(buddyMetrics, buddy.metrics());
            keptFixed.release();
            buddy.release(keptHandle);
        }
    }

    /**
     * Pin: once {@code close()} returned, the arena's hook is gone: a recording started afterwards gets no event for
     * it, while an open arena's events keep coming (so periods did pass).
     */
    @Test
    void aClosedArenaPublishesNoMoreEvents(@TempDir final Path dir) throws Exception
    {
        final String closedFixed = uniqueName("fixed-closed");
        final String closedBuddy = uniqueName("buddy-closed");
        final String open = uniqueName("fixed-open");
        final Bytes outliving;
        try (FixedArena alive = FixedArena.builder(2, 64).name(open).jfrEvents(true).build())
        {
            final FixedArena fixed = FixedArena.builder(2, 64).name(closedFixed).jfrEvents(true).build();
            final BuddyArena buddy = BuddyArena.builder(1024, 64).name(closedBuddy).jfrEvents(true).build();
            outliving = fixed.allocate().putLong(5).freeze(); // the region stays: close() alone removes the hook
            fixed.close();
            buddy.close();
            try (Recording recording = new Recording())
            {
                recording.enable(FixedArenaMetricsEvent.NAME).withPeriod(Duration.ofMillis(10));
                recording.enable(BuddyArenaMetricsEvent.NAME).withPeriod(Duration.ofMillis(10));
                recording.start();
                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
                    .until(() -> events(recording, dir, FixedArenaMetricsEvent.NAME, open).size() >= 5);
                recording.stop();
                assertEquals(List.of(), events(recording, dir, FixedArenaMetricsEvent.NAME, closedFixed));
                assertEquals(List.of(), events(recording, dir, BuddyArenaMetricsEvent.NAME, closedBuddy));
            }
            assertFalse(fixed.isRegionFreed());
            outliving.release();
            assertTrue(fixed.isRegionFreed());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Every accessor at the edges: -1, limit - width + 1, limit, Integer.MAX_VALUE, Integer.MIN_VALUE
    // ---------------------------------------------------------------------------------------------------------

    /** One accessor of the read half of Agrona's buffer, and how many bytes it touches at its index. */
    private record Read(String name, int width, boolean fixedWidth, ReadCall call)
    {
    }

    @FunctionalInterface
    private interface ReadCall
    {
        Object read(DirectBuffer b, int index) throws Exception;
    }

    private static List<Read> reads()
    {
        final List<Read> r = new ArrayList<>();
        r.add(new Read("getLong", 8, true, DirectBuffer::getLong));
        r.add(new Read("getLong(order)", 8, true, (b, i) -> b.getLong(i, ByteOrder.BIG_ENDIAN)));
        r.add(new Read("getInt", 4, true, DirectBuffer::getInt));
        r.add(new Read("getInt(order)", 4, true, (b, i) -> b.getInt(i, ByteOrder.BIG_ENDIAN)));
        r.add(new Read("getDouble", 8, true, DirectBuffer::getDouble));
        r.add(new Read("getDouble(order)", 8, true, (b, i) -> b.getDouble(i, ByteOrder.BIG_ENDIAN)));
        r.add(new Read("getFloat", 4, true, DirectBuffer::getFloat));
        r.add(new Read("getFloat(order)", 4, true, (b, i) -> b.getFloat(i, ByteOrder.BIG_ENDIAN)));
        r.add(new Read("getShort", 2, true, DirectBuffer::getShort));
        r.add(new Read("getShort(order)", 2, true, (b, i) -> b.getShort(i, ByteOrder.BIG_ENDIAN)));
        r.add(new Read("getChar", 2, true, DirectBuffer::getChar));
        r.add(new Read("getChar(order)", 2, true, (b, i) -> b.getChar(i, ByteOrder.BIG_ENDIAN)));
        r.add(new Read("getByte", 1, true, DirectBuffer::getByte));
        r.add(new Read("getBytes(byte[])", 4, true, (b, i) ->
        {
            b.getBytes(i, new byte[4]);
            return 0;
        }));
        r.add(new Read("getBytes(byte[], off, len)", 4, true, (b, i) ->
        {
            b.getBytes(i, new byte[6], 2, 4);
            return 0;
        }));
        r.add(new Read("getBytes(MutableDirectBuffer)", 4, true, (b, i) ->
        {
            b.getBytes(i, new UnsafeBuffer(new byte[8]), 4, 4);
            return 0;
        }));
        r.add(new Read("getBytes(ByteBuffer, len)", 4, true, (b, i) ->
        {
            b.getBytes(i, ByteBuffer.allocateDirect(4), 4);
            return 0;
        }));
        r.add(new Read("getBytes(ByteBuffer, off, len)", 4, true, (b, i) ->
        {
            b.getBytes(i, ByteBuffer.allocate(8), 4, 4);
            return 0;
        }));
        r.add(new Read("boundsCheck", 4, true, (b, i) ->
        {
            b.boundsCheck(i, 4);
            return 0;
        }));
        r.add(new Read("getStringWithoutLengthAscii", 4, true, (b, i) -> b.getStringWithoutLengthAscii(i, 4)));
        r.add(new Read("getStringWithoutLengthAscii(appendable)", 4, true,
            (b, i) -> b.getStringWithoutLengthAscii(i, 4, new StringBuilder())));
        r.add(new Read("getStringWithoutLengthUtf8", 4, true, (b, i) -> b.getStringWithoutLengthUtf8(i, 4)));
        r.add(new Read("parseNaturalIntAscii", 1, false, (b, i) -> b.parseNaturalIntAscii(i, 1)));
        r.add(new Read("parseNaturalLongAscii", 1, false, (b, i) -> b.parseNaturalLongAscii(i, 1)));
        r.add(new Read("parseIntAscii", 1, false, (b, i) -> b.parseIntAscii(i, 1)));
        r.add(new Read("parseLongAscii", 1, false, (b, i) -> b.parseLongAscii(i, 1)));
        r.add(new Read("getStringAscii", 4, false, DirectBuffer::getStringAscii));
        r.add(new Read("getStringAscii(order)", 4, false, (b, i) -> b.getStringAscii(i, ByteOrder.BIG_ENDIAN)));
        r.add(new Read("getStringAscii(appendable)", 4, false, (b, i) -> b.getStringAscii(i, new StringBuilder())));
        r.add(new Read("getStringAscii(appendable, order)", 4, false,
            (b, i) -> b.getStringAscii(i, new StringBuilder(), ByteOrder.BIG_ENDIAN)));
        r.add(new Read("getStringAscii(len)", 6, false, (b, i) -> b.getStringAscii(i, 2)));
        r.add(new Read("getStringAscii(len, appendable)", 6, false, (b, i) -> b.getStringAscii(i, 2, new StringBuilder())));
        r.add(new Read("getStringUtf8", 4, false, DirectBuffer::getStringUtf8));
        r.add(new Read("getStringUtf8(order)", 4, false, (b, i) -> b.getStringUtf8(i, ByteOrder.BIG_ENDIAN)));
        r.add(new Read("getStringUtf8(len)", 6, false, (b, i) -> b.getStringUtf8(i, 2)));
        return r;
    }

    private static int[] edges(final int limit, final int width)
    {
        return new int[] {-1, limit - width + 1, limit, limit + 1, Integer.MAX_VALUE, Integer.MIN_VALUE,
            Integer.MAX_VALUE - width + 1};
    }

    private static void assertOutOfBounds(final String what, final Executable call)
    {
        final Throwable t = assertThrows(Throwable.class, call, what + ": must be refused");
        assertInstanceOf(IndexOutOfBoundsException.class, t, what + ": refused with " + t);
    }

    /** Checks every read of {@code b} at its edges: refused out of bounds, served at the last index in bounds. */
    private static void assertReadsBounded(final String view, final DirectBuffer b, final int limit)
    {
        for (final Read read : reads())
        {
            for (final int index : edges(limit, read.width()))
            {
                if (index >= 0 && index <= limit - read.width())
                {
                    continue; // inside (limit - width + 1 is outside only for widths above 0)
                }
                assertOutOfBounds(view + " " + read.name() + " at " + index + " of " + limit,
                    () -> read.call().read(b, index));
            }
            if (read.fixedWidth() && limit >= read.width())
            {
                final int last = limit - read.width();
                assertDoesNotThrow(() -> read.call().read(b, last), view + " " + read.name() + " at " + last);
            }
        }
    }

    /**
     * Three slots claimed in a row: the middle one under test, and its neighbours filled with a marker so that a write
     * past either edge of the middle shows up.
     */
    private record Neighbours(Buffer left, Buffer middle, Buffer right)
    {
        private static final byte MARKER = 0x33;

        static Neighbours claim(final FixedArena arena)
        {
            final Neighbours n = new Neighbours(arena.allocate(), arena.allocate(), arena.allocate());
            n.left.mutableBuffer().setMemory(0, n.left.capacity(), MARKER);
            n.right.mutableBuffer().setMemory(0, n.right.capacity(), MARKER);
            return n;
        }

        /** Asserts neither neighbour changed, then gives both back (the middle is the test's to close or freeze). */
        void assertUntouchedAndCloseThem()
        {
            for (final Buffer b : List.of(left, right))
            {
                for (int i = 0; i < b.capacity(); i++)
                {
                    assertEquals(MARKER, b.mutableBuffer().getByte(i), (b == left ? "left" : "right") + " byte " + i);
                }
                b.close();
            }
        }
    }

    /**
     * Pin: every read of a frozen {@code Bytes}, of its slices and of a slice of a slice, at -1, at the first index
     * past its end for the read's width, at its end, past it and at the int extremes, throws
     * {@link IndexOutOfBoundsException}, with or without Agrona's bounds checks; the last index in bounds reads.
     * Zero-length slices at either end read nothing and refuse every read.
     */
    @Test
    void everyReadOfBytesAndItsSlicesIsBoundedAtItsEdges()
    {
        try (FixedArena arena = FixedArena.builder(3, 64).build())
        {
            final Neighbours neighbours = Neighbours.claim(arena);
            final Buffer middle = neighbours.middle();
            for (int i = 0; i < 40; i++)
            {
                middle.putByte((byte)('0' + i % 10));
            }
            final Bytes bytes = middle.freeze();
            assertReadsBounded("bytes", bytes, 40);
            final Bytes slice = bytes.slice(8, 24);
            assertReadsBounded("slice", slice, 24);
            final Bytes sliceOfSlice = slice.slice(4, 16);
            assertReadsBounded("slice of a slice", sliceOfSlice, 16);
            assertEquals(bytes.getByte(12), sliceOfSlice.getByte(0));
            assertEquals(bytes.getByte(27), sliceOfSlice.getByte(15));
            final Bytes atStart = slice.slice(0, 0);
            final Bytes atEnd = slice.slice(24, 0);
            final Bytes wholeAgain = slice.slice(0, 24);
            assertReadsBounded("empty slice at the start", atStart, 0);
            assertReadsBounded("empty slice at the end", atEnd, 0);
            assertArrayEquals(new byte[0], atEnd.toByteArray());
            assertArrayEquals(slice.toByteArray(), wholeAgain.toByteArray());
            for (final int[] bad : new int[][] {{-1, 0}, {0, -1}, {25, 0}, {24, 1}, {1, 24}, {Integer.MAX_VALUE, 1},
                {1, Integer.MAX_VALUE}, {Integer.MIN_VALUE, 0}, {0, Integer.MIN_VALUE}})
            {
                assertOutOfBounds("slice(" + bad[0] + ", " + bad[1] + ") of 24", () -> slice.slice(bad[0], bad[1]));
            }
            assertOutOfBounds("slice(1, 0) of an empty slice", () -> atEnd.slice(1, 0));
            for (final Bytes b : List.of(atStart, atEnd, wholeAgain, sliceOfSlice, slice, bytes))
            {
                b.release();
            }
            neighbours.assertUntouchedAndCloseThem();
            assertEquals(0, arena.liveSlots());
        }
    }

    /** One write of Agrona's mutable buffer, and how many bytes it writes at its index. */
    private record Write(String name, int width, WriteCall call)
    {
    }

    @FunctionalInterface
    private interface WriteCall
    {
        void write(MutableDirectBuffer b, int index) throws Exception;
    }

    private static List<Write> writes()
    {
        final List<Write> w = new ArrayList<>();
        w.add(new Write("putLong", 8, (b, i) -> b.putLong(i, -1L)));
        w.add(new Write("putLong(order)", 8, (b, i) -> b.putLong(i, -1L, ByteOrder.BIG_ENDIAN)));
        w.add(new Write("putInt", 4, (b, i) -> b.putInt(i, -1)));
        w.add(new Write("putInt(order)", 4, (b, i) -> b.putInt(i, -1, ByteOrder.BIG_ENDIAN)));
        w.add(new Write("putDouble", 8, (b, i) -> b.putDouble(i, -1.5)));
        w.add(new Write("putDouble(order)", 8, (b, i) -> b.putDouble(i, -1.5, ByteOrder.BIG_ENDIAN)));
        w.add(new Write("putFloat", 4, (b, i) -> b.putFloat(i, -1.5f)));
        w.add(new Write("putFloat(order)", 4, (b, i) -> b.putFloat(i, -1.5f, ByteOrder.BIG_ENDIAN)));
        w.add(new Write("putShort", 2, (b, i) -> b.putShort(i, (short)-1)));
        w.add(new Write("putShort(order)", 2, (b, i) -> b.putShort(i, (short)-1, ByteOrder.BIG_ENDIAN)));
        w.add(new Write("putChar", 2, (b, i) -> b.putChar(i, '\uffff')));
        w.add(new Write("putChar(order)", 2, (b, i) -> b.putChar(i, '\uffff', ByteOrder.BIG_ENDIAN)));
        w.add(new Write("putByte", 1, (b, i) -> b.putByte(i, (byte)-1)));
        w.add(new Write("putBytes(byte[])", 4, (b, i) -> b.putBytes(i, new byte[] {-1, -1, -1, -1})));
        w.add(new Write("putBytes(byte[], off, len)", 4, (b, i) -> b.putBytes(i, new byte[6], 2, 4)));
        w.add(new Write("putBytes(ByteBuffer, len)", 4, (b, i) -> b.putBytes(i, ByteBuffer.allocateDirect(4), 4)));
        w.add(new Write("putBytes(ByteBuffer, off, len)", 4, (b, i) -> b.putBytes(i, ByteBuffer.allocate(8), 4, 4)));
        w.add(new Write("putBytes(DirectBuffer)", 4, (b, i) -> b.putBytes(i, new UnsafeBuffer(new byte[8]), 4, 4)));
        w.add(new Write("setMemory", 4, (b, i) -> b.setMemory(i, 4, (byte)-1)));
        w.add(new Write("putIntAscii", 4, (b, i) -> b.putIntAscii(i, 1234)));
        w.add(new Write("putNaturalIntAscii", 4, (b, i) -> b.putNaturalIntAscii(i, 1234)));
        w.add(new Write("putNaturalPaddedIntAscii", 4, (b, i) -> b.putNaturalPaddedIntAscii(i, 4, 12)));
        w.add(new Write("putNaturalLongAscii", 4, (b, i) -> b.putNaturalLongAscii(i, 1234L)));
        w.add(new Write("putLongAscii", 4, (b, i) -> b.putLongAscii(i, 1234L)));
        w.add(new Write("putStringAscii", 6, (b, i) -> b.putStringAscii(i, "ab")));
        w.add(new Write("putStringAscii(order)", 6, (b, i) -> b.putStringAscii(i, "ab", ByteOrder.BIG_ENDIAN)));
        w.add(new Write("putStringAscii(CharSequence)", 6, (b, i) -> b.putStringAscii(i, new StringBuilder("ab"))));
        w.add(new Write("putStringAscii(CharSequence, order)", 6,
            (b, i) -> b.putStringAscii(i, new StringBuilder("ab"), ByteOrder.BIG_ENDIAN)));
        w.add(new Write("putStringWithoutLengthAscii", 4, (b, i) -> b.putStringWithoutLengthAscii(i, "abcd")));
        w.add(new Write("putStringWithoutLengthAscii(CharSequence)", 4,
            (b, i) -> b.putStringWithoutLengthAscii(i, new StringBuilder("abcd"))));
        w.add(new Write("putStringWithoutLengthAscii(pos, len)", 4,
            (b, i) -> b.putStringWithoutLengthAscii(i, "xabcd", 1, 4)));
        w.add(new Write("putStringWithoutLengthAscii(CharSequence, pos, len)", 4,
            (b, i) -> b.putStringWithoutLengthAscii(i, new StringBuilder("xabcd"), 1, 4)));
        w.add(new Write("putStringUtf8", 6, (b, i) -> b.putStringUtf8(i, "ab")));
        w.add(new Write("putStringUtf8(order)", 6, (b, i) -> b.putStringUtf8(i, "ab", ByteOrder.BIG_ENDIAN)));
        w.add(new Write("putStringUtf8(max)", 6, (b, i) -> b.putStringUtf8(i, "ab", 10)));
        w.add(new Write("putStringUtf8(order, max)", 6, (b, i) -> b.putStringUtf8(i, "ab", ByteOrder.BIG_ENDIAN, 10)));
        w.add(new Write("putStringWithoutLengthUtf8", 4, (b, i) -> b.putStringWithoutLengthUtf8(i, "abcd")));
        // its index is the end of what it writes: the first byte is at index - 4
        w.add(new Write("putNaturalIntAsciiFromEnd", 4, (b, i) -> b.putNaturalIntAsciiFromEnd(1234, i + 4)));
        return w;
    }

    private static byte[] snapshot(final Buffer b)
    {
        final byte[] out = new byte[b.capacity()];
        b.mutableBuffer().getBytes(0, out);
        return out;
    }

    /**
     * Pin: every write of a buffer's codec view at -1, one past the last index its width allows, at the capacity,
     * past it and at the int extremes throws {@link IndexOutOfBoundsException} without auto-spill, writes no byte
     * (of the slot or its neighbours) and does not move {@code length()}; at the last index in bounds it writes.
     * The view's reads are bounded by the capacity the same way. With or without Agrona's bounds checks.
     */
    @Test
    void everyWriteAndReadOfTheCodecViewIsBoundedAtItsEdges()
    {
        try (FixedArena arena = FixedArena.builder(3, 64).build())
        {
            final Neighbours neighbours = Neighbours.claim(arena);
            final Buffer middle = neighbours.middle();
            final MutableDirectBuffer view = middle.mutableBuffer();
            view.setMemory(0, 64, (byte)'7');
            middle.position(10);
            assertReadsBounded("view", view, 64);
            for (final Write write : writes())
            {
                for (final int index : edges(64, write.width()))
                {
                    final int at = write.name().endsWith("FromEnd") && index > Integer.MAX_VALUE - 4 ? index - 4 : index;
                    if (at >= 0 && at <= 64 - write.width())
                    {
                        continue;
                    }
                    final byte[] before = snapshot(middle);
                    final String what = "view " + write.name() + " at " + at;
                    assertOutOfBounds(what, () -> write.call().write(view, at));
                    assertArrayEquals(before, snapshot(middle), what + ": wrote nothing");
                    assertEquals(64, middle.length(), what + ": length unchanged");
                    assertEquals(10, middle.position(), what + ": position unchanged");
                }
                final int last = 64 - write.width();
                assertDoesNotThrow(() -> write.call().write(view, last), "view " + write.name() + " at " + last);
            }
            middle.close();
            neighbours.assertUntouchedAndCloseThem();
        }
    }

    /**
     * Pin: the cursor writes of a buffer one byte short of room, and {@code position(int)} at -1, past the capacity
     * and at the int extremes, throw {@link IndexOutOfBoundsException} without auto-spill and change nothing: not
     * the cursor, not the length, not a byte. With or without Agrona's bounds checks.
     */
    @Test
    void cursorWritesAndPositionAreBoundedAtTheCapacity()
    {
        final List<Map.Entry<Integer, java.util.function.Consumer<Buffer>>> puts = List.of(
            Map.entry(8, b -> b.putLong(-1L)), Map.entry(8, b -> b.putLong(-1L, ByteOrder.BIG_ENDIAN)),
            Map.entry(4, b -> b.putInt(-1)), Map.entry(4, b -> b.putInt(-1, ByteOrder.BIG_ENDIAN)),
            Map.entry(8, b -> b.putDouble(-1.5)), Map.entry(4, b -> b.putFloat(-1.5f)),
            Map.entry(2, b -> b.putShort((short)-1)), Map.entry(2, b -> b.putShort((short)-1, ByteOrder.BIG_ENDIAN)),
            Map.entry(2, b -> b.putChar('\uffff')), Map.entry(1, b -> b.putByte((byte)-1)),
            Map.entry(4, b -> b.putBytes(new byte[] {-1, -1, -1, -1})),
            Map.entry(4, b -> b.putBytes(new byte[6], 2, 4)),
            Map.entry(4, b -> b.putBytes(new UnsafeBuffer(new byte[8]), 4, 4)),
            Map.entry(4, b -> b.putBytes(ByteBuffer.allocateDirect(4))));
        try (FixedArena arena = FixedArena.builder(3, 64).build())
        {
            final Neighbours neighbours = Neighbours.claim(arena);
            final Buffer middle = neighbours.middle();
            middle.mutableBuffer().setMemory(0, 40, (byte)'7');
            for (int p = 0; p < puts.size(); p++)
            {
                final int width = puts.get(p).getKey();
                final java.util.function.Consumer<Buffer> put = puts.get(p).getValue();
                middle.position(64 - width + 1);
                final byte[] before = snapshot(middle);
                final int length = middle.length();
                assertOutOfBounds("put " + p + " of " + width + " bytes at " + (64 - width + 1), () -> put.accept(middle));
                assertArrayEquals(before, snapshot(middle), "put " + p + ": wrote nothing");
                assertEquals(64 - width + 1, middle.position(), "put " + p + ": cursor unchanged");
                assertEquals(length, middle.length(), "put " + p + ": length unchanged");
                middle.position(64 - width);
                put.accept(middle);
                assertEquals(64, middle.position());
            }
            for (final int bad : new int[] {-1, 65, Integer.MAX_VALUE, Integer.MIN_VALUE})
            {
                assertOutOfBounds("position(" + bad + ")", () -> middle.position(bad));
                assertEquals(64, middle.position());
            }
            middle.close();
            neighbours.assertUntouchedAndCloseThem();
        }
    }

    /**
     * Pin: the handle tier's checked accessors, on a fixed and on a buddy arena, refuse an index of -1, one past
     * the last the width allows, the end, and the int extremes, with {@link IndexOutOfBoundsException}, while
     * writing (bounded by the capacity) and once frozen (reads bounded by the frozen length); neighbours untouched.
     */
    @Test
    void handleAccessorsAreBoundedAtTheirEdgesOnBothArenas()
    {
        try (FixedArena fixed = FixedArena.builder(3, 64).build();
            BuddyArena buddy = BuddyArena.builder(256, 64).freeBlockCache(false).build())
        {
            for (final SlotArena arena : List.<SlotArena>of(fixed, buddy))
            {
                final java.util.function.LongSupplier alloc = arena == fixed ? fixed::allocateHandle :
                    () -> buddy.allocateHandle(64);
                final long left = alloc.getAsLong();
                final long h = alloc.getAsLong();
                final long right = alloc.getAsLong();
                for (final long n : new long[] {left, right})
                {
                    for (int i = 0; i < 64; i += 8)
                    {
                        arena.putLong(n, i, 0x3333333333333333L);
                    }
                }
                final byte[] src = new byte[8];
                for (final int phase : new int[] {0, 1})
                {
                    final int limit = phase == 0 ? 64 : 40;
                    final List<Map.Entry<Integer, ReadCall>> reads = List.of(
                        Map.entry(8, (b, i) -> arena.getLong(h, i)), Map.entry(4, (b, i) -> arena.getInt(h, i)),
                        Map.entry(1, (b, i) -> arena.getByte(h, i)),
                        Map.entry(4, (b, i) ->
                        {
                            arena.getBytes(h, i, new byte[8], 4, 4);
                            return 0;
                        }),
                        Map.entry(4, (b, i) ->
                        {
                            arena.getBytes(h, i, new UnsafeBuffer(new byte[8]), 4, 4);
                            return 0;
                        }));
                    for (final Map.Entry<Integer, ReadCall> read : reads)
                    {
                        for (final int index : edges(limit, read.getKey()))
                        {
                            if (index >= 0 && index <= limit - read.getKey())
                            {
                                continue;
                            }
                            assertOutOfBounds(arena + " read of " + read.getKey() + " at " + index + " of " + limit,
                                () -> read.getValue().read(null, index));
                        }
                        assertDoesNotThrow(() -> read.getValue().read(null, limit - read.getKey()));
                    }
                    if (phase == 0)
                    {
                        final List<Map.Entry<Integer, WriteCall>> writes = List.of(
                            Map.entry(8, (b, i) -> arena.putLong(h, i, -1L)), Map.entry(4, (b, i) -> arena.putInt(h, i, -1)),
                            Map.entry(1, (b, i) -> arena.putByte(h, i, (byte)-1)),
                            Map.entry(4, (b, i) -> arena.putBytes(h, i, src, 4, 4)),
                            Map.entry(4, (b, i) -> arena.putBytes(h, i, new UnsafeBuffer(src), 4, 4)));
                        for (final Map.Entry<Integer, WriteCall> write : writes)
                        {
                            for (final int index : edges(64, write.getKey()))
                            {
                                if (index >= 0 && index <= 64 - write.getKey())
                                {
                                    continue;
                                }
                                assertOutOfBounds(arena + " write of " + write.getKey() + " at " + index,
                                    () -> write.getValue().write(null, index));
                            }
                            assertDoesNotThrow(() -> write.getValue().write(null, 64 - write.getKey()));
                        }
                        arena.freezeHandle(h, 40);
                    }
                }
                for (final long n : new long[] {left, right})
                {
                    for (int i = 0; i < 64; i += 8)
                    {
                        assertEquals(0x3333333333333333L, arena.getLong(n, i), arena + ": neighbour at " + i);
                    }
                    arena.release(n);
                }
                arena.release(h);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // toByteArray / heapCopy of a released or zero-length Bytes
    // ---------------------------------------------------------------------------------------------------------

    /**
     * Pin: {@code toByteArray()} and {@code heapCopy()} of a zero-length {@code Bytes} (a freeze of nothing, an empty
     * slice at the end of the last slot) give empty copies; of a released one, zero-length or not, they throw
     * {@link StaleHandleException}, also while other references keep the slot.
     */
    @Test
    void copiesOfZeroLengthAndReleasedBytes()
    {
        try (FixedArena arena = FixedArena.builder(2, 64).build())
        {
            final Bytes empty = arena.allocate().freeze();
            assertArrayEquals(new byte[0], empty.toByteArray());
            final Bytes emptyCopy = empty.heapCopy();
            assertTrue(emptyCopy.isHeap());
            assertEquals(0, emptyCopy.length());
            final Buffer last = arena.allocate();
            last.position(64);
            final Bytes full = last.freeze();
            final Bytes atRegionEnd = full.slice(64, 0);
            assertArrayEquals(new byte[0], atRegionEnd.toByteArray());
            final Bytes other = full.retain();
            full.release();
            atRegionEnd.release();
            empty.release();
            emptyCopy.release();
            for (final Bytes released : List.of(full, atRegionEnd, empty, emptyCopy))
            {
                assertThrows(StaleHandleException.class, released::toByteArray, released.toString());
                assertThrows(StaleHandleException.class, released::heapCopy, released.toString());
            }
            assertEquals(64, other.toByteArray().length);
            other.release();
            assertEquals(0, arena.liveSlots());
        }
    }

    /**
     * {@code toByteArray()} and {@code heapCopy()} promise {@link StaleHandleException} for a released reference, but
     * made the array first: a released reference to a large allocation threw {@link OutOfMemoryError} where the heap
     * cannot hold its length (and took that much heap where it could), instead of saying it was released. A child
     * JVM with a 64 MiB heap copies a released 128 MiB {@code Bytes}.
     */
    @Test
    void aReleasedLargeBytesSaysItWasReleasedInsteadOfFillingTheHeap() throws Exception
    {
        final String output = dev.lake.testing.ChildJvm.run(ReleasedCopyProbe.class, true);
        assertTrue(output.contains("toByteArray: dev.lake.memory.StaleHandleException") &&
            output.contains("heapCopy: dev.lake.memory.StaleHandleException"), output);
    }

    /** Releases a 128 MiB {@code Bytes}, then copies it out; prints what each copy threw. */
    static final class ReleasedCopyProbe
    {
        public static void main(final String[] args)
        {
            final int size = 128 << 20;
            try (FixedArena arena = FixedArena.builder(1, size).leakDetection(false).build())
            {
                final Buffer buffer = arena.allocate();
                buffer.position(size); // counted as written; nothing touched
                final Bytes bytes = buffer.freeze();
                bytes.release();
                for (final String which : new String[] {"toByteArray", "heapCopy"})
                {
                    try
                    {
                        final Object copy = which.equals("toByteArray") ? bytes.toByteArray() : bytes.heapCopy();
                        System.out.println(which + ": returned " + copy);
                    }
                    catch (final Throwable t)
                    {
                        System.out.println(which + ": " + t);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Javadoc promises no test held (the Javadoc of the first three was also made complete)
    // ---------------------------------------------------------------------------------------------------------

    /**
     * Pin: {@code FixedArenaMetrics.failedAllocations} counts immediate refusals while others wait (on both tiers),
     * not the waits; {@code allocate(null)} throws {@link NullPointerException} and queues nothing; an auto-spill
     * buffer refuses a cursor past the largest heap array without spilling or moving.
     */
    @Test
    void failuresWhileOthersWaitNullTimeoutsAndTheLargestSpillAreAsDocumented() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
        {
            final Buffer held = arena.allocate();
            final CompletableFuture<Buffer> waiting = arena.allocateAsync();
            assertEquals(1, arena.waiters());
            assertEquals(0, arena.metrics().failedAllocations(), "a wait is not a failure");
            assertNull(arena.tryAllocate());
            assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            assertThrows(ArenaFullException.class, arena::allocate);
            assertThrows(NullPointerException.class, () -> arena.allocate((Duration)null));
            assertThrows(NullPointerException.class, () -> arena.allocate(64, null));
            assertEquals(1, arena.waiters(), "a null timeout queues nothing");
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(3, m.failedAllocations(), m.toString());
            held.close();
            final Buffer granted = waiting.join();
            for (final int beyond : new int[] {Buffer.MAX_HEAP_CAPACITY + 1, Integer.MAX_VALUE})
            {
                assertOutOfBounds("position(" + beyond + ") with auto-spill", () -> granted.position(beyond));
                assertFalse(granted.isSpilled());
                assertEquals(0, granted.position());
                assertEquals(0, granted.length());
            }
            granted.close();
            assertEquals(0, arena.liveSlots());
            assertEquals(0, arena.metrics().spills());
        }
    }

    /**
     * Pin: {@code wrapAdjustment()} follows Agrona's contract for heap bytes (a spilled buffer's, a heap copy, their
     * slices): index {@code i} is {@code byteArray()[i + wrapAdjustment()]}; off-heap bytes have no array and 0.
     */
    @Test
    void wrapAdjustmentMapsIndexesIntoTheBackingArray()
    {
        try (FixedArena arena = FixedArena.builder(1, 16).autoSpill(true).build())
        {
            final Buffer buffer = arena.allocate();
            for (int i = 0; i < 40; i++)
            {
                buffer.putByte((byte)i);
            }
            assertTrue(buffer.isSpilled());
            final Bytes heap = buffer.freeze();
            final Bytes copy = heap.heapCopy();
            for (final Bytes b : List.of(heap, heap.slice(5, 20), heap.slice(5, 20).slice(3, 10), copy, copy.slice(7, 9)))
            {
                final byte[] array = b.byteArray();
                assertNotNull(array);
                for (int i = 0; i < b.capacity(); i++)
                {
                    assertEquals(b.getByte(i), array[i + b.wrapAdjustment()], b + " byte " + i);
                }
            }
            final Buffer direct = arena.allocate();
            direct.putLong(1);
            final Bytes offHeap = direct.freeze();
            assertNull(offHeap.byteArray());
            final Bytes offHeapSlice = offHeap.slice(4, 4);
            assertEquals(0, offHeapSlice.wrapAdjustment());
            offHeapSlice.release();
            offHeap.release();
            assertEquals(0, arena.liveSlots());
        }
    }

    private static String outcome(final ReadCall call, final DirectBuffer b, final int index)
    {
        try
        {
            final Object value = call.read(b, index);
            return value instanceof CharSequence || value instanceof Number || value instanceof Character ?
                String.valueOf(value) : "ok";
        }
        catch (final Throwable t)
        {
            return t instanceof IndexOutOfBoundsException ? "IndexOutOfBoundsException" : t.getClass().getName();
        }
    }

    /**
     * Pin: every read of frozen {@code Bytes}, of a slice and of a slice of a slice returns what Agrona's own buffer
     * over the same bytes returns, and fails where it fails, at random indexes over random contents (ASCII digits,
     * signs and length prefixes mixed in so that parses and strings take their real paths). Compared only with
     * Agrona's checks on (off, Agrona's buffer itself would read out of bounds).
     */
    @Test
    void everyReadMatchesAgronasOwnBufferOverTheSameBytes()
    {
        org.junit.jupiter.api.Assumptions.assumeTrue(UnsafeBuffer.SHOULD_BOUNDS_CHECK, "Agrona's checks are off");
        final java.util.Random random = new java.util.Random(9);
        final List<Read> reads = reads();
        try (FixedArena arena = FixedArena.builder(2, 64).build())
        {
            for (int round = 0; round < 3_000; round++)
            {
                final Buffer buffer = arena.allocate();
                final int length = random.nextInt(65);
                final byte[] content = new byte[length];
                for (int i = 0; i < length; i++)
                {
                    final int kind = random.nextInt(4);
                    content[i] = kind == 0 ? (byte)random.nextInt(256) : kind == 1 ? (byte)('0' + random.nextInt(10)) :
                        kind == 2 ? (byte)"-+ \u00e9".charAt(random.nextInt(4)) : (byte)random.nextInt(8);
                }
                buffer.putBytes(content);
                final Bytes bytes = buffer.freeze();
                final int from = random.nextInt(length + 1);
                final int to = from + random.nextInt(length - from + 1);
                final Bytes slice = bytes.slice(from, to - from);
                final int inner = random.nextInt(slice.length() + 1);
                final Bytes sliceOfSlice = slice.slice(inner, random.nextInt(slice.length() - inner + 1));
                final Object[][] views = {
                    {bytes, new UnsafeBuffer(content)},
                    {slice, new UnsafeBuffer(content, from, to - from)},
                    {sliceOfSlice, new UnsafeBuffer(content, from + inner, sliceOfSlice.length())}};
                for (final Object[] pair : views)
                {
                    final Bytes lake = (Bytes)pair[0];
                    final UnsafeBuffer agrona = (UnsafeBuffer)pair[1];
                    final Read read = reads.get(random.nextInt(reads.size()));
                    final int index = random.nextInt(lake.length() + 2) - 1;
                    final String expected = outcome(read.call(), agrona, index);
                    final String actual = outcome(read.call(), lake, index);
                    if (index < 0 && actual.equals("IndexOutOfBoundsException"))
                    {
                        continue; // Lake is stricter: Agrona's getStringAscii(index, length) skips a header at -1 unchecked
                    }
                    assertEquals(expected, actual, read.name() + " at " + index + " of " + lake.length() + " bytes");
                }
                sliceOfSlice.release();
                slice.release();
                bytes.release();
            }
            assertEquals(0, arena.liveSlots());
        }
    }

    /**
     * Pin: a buffer still writing when its arena closes keeps working; when it spills, its slot (or block) is the
     * last live one, so the spill frees the region, and the buffer carries on and freezes on the heap with every byte
     * it wrote; the closed arena's metrics count the spill, the free and the heap freeze, and report 0 reserved.
     */
    @Test
    void aBufferThatSpillsAfterCloseFreesTheRegionAndKeepsItsBytes()
    {
        final FixedArena fixed = FixedArena.builder(2, 16).autoSpill(true).build();
        final BuddyArena buddy = BuddyArena.builder(64, 16).autoSpill(true).build();
        for (final SlotArena arena : List.<SlotArena>of(fixed, buddy))
        {
            final Buffer buffer = arena == fixed ? fixed.allocate() : buddy.allocate(16);
            buffer.putLong(0x0102030405060708L);
            arena.close();
            assertFalse(arena.isRegionFreed());
            buffer.putLong(0x1112131415161718L).putLong(0x2122232425262728L);
            assertTrue(buffer.isSpilled());
            assertTrue(arena.isRegionFreed(), arena + ": the spill returned the last live slot");
            final Bytes bytes = buffer.freeze();
            assertTrue(bytes.isHeap());
            assertEquals(0x0102030405060708L, bytes.getLong(0));
            assertEquals(0x2122232425262728L, bytes.getLong(16));
            bytes.release();
            if (arena == fixed)
            {
                final FixedArenaMetrics m = fixed.metrics();
                assertTrue(m.allocations() == 1 && m.frees() == 1 && m.spills() == 1 && m.frozen() == 1 &&
                    m.liveSlots() == 0 && m.bytesReserved() == 0 && m.bytesLive() == 0, m.toString());
                assertEquals(0, fixed.uncheckedBuffer().capacity(), "capacity 0 once the region is freed");
            }
            else
            {
                final BuddyArenaMetrics m = buddy.metrics();
                assertTrue(m.allocations() == 1 && m.frees() == 1 && m.spills() == 1 && m.frozen() == 1 &&
                    m.liveBlocks() == 0 && m.bytesReserved() == 0 && m.bytesLive() == 0 && m.fullyCoalesced(),
                    m.toString());
                assertEquals(0, buddy.uncheckedBuffer().capacity(), "capacity 0 once the region is freed");
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // "no allocation" promises beyond the round trip ZeroGarbageTest measures
    // ---------------------------------------------------------------------------------------------------------

    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
    private static long sink;

    private static void assertNoGarbage(final String path, final Runnable op)
    {
        THREADS.setThreadAllocatedMemoryEnabled(true);
        for (int i = 0; i < 20_000; i++)
        {
            op.run();
        }
        final long id = Thread.currentThread().getId();
        final long before = THREADS.getThreadAllocatedBytes(id);
        for (int i = 0; i < 100_000; i++)
        {
            op.run();
        }
        final long bytes = THREADS.getThreadAllocatedBytes(id) - before;
        // one-off costs (a JIT recompilation, a lazily built table) fit; one object per call would be 1.6 MB or more
        assertTrue(bytes < 16_384, () -> path + " allocated " + bytes + " bytes over 100,000 calls: documented as " +
            "allocation-free");
    }

    /**
     * Pin: the whole handle tier allocates nothing in steady state: every checked accessor, the copies into
     * Agrona's and Lake's own buffers ({@code getBytes(handle, .., MutableDirectBuffer, ..)} is documented "no
     * allocation into Agrona's and Lake's own buffers"), sharing with {@code retain} (so the last release is not
     * the parking one), {@code length}, {@code isLive}, {@code offset}; and a full arena's {@code tryAllocate()} /
     * {@code tryAllocateHandle} return {@code null} / {@code NO_HANDLE} without an exception object (or any other).
     */
    @Test
    void theWholeHandleTierAndTheFullArenasTryPathsAllocateNothing()
    {
        try (FixedArena fixed = FixedArena.builder(4, 256).build();
            FixedArena zeroing = FixedArena.builder(4, 256).initPolicy(InitPolicy.ZERO).build();
            BuddyArena buddy = BuddyArena.builder(1024, 64).build();
            FixedArena full = FixedArena.builder(1, 64).build();
            BuddyArena fullBuddy = BuddyArena.builder(64, 64).build())
        {
            final byte[] array = new byte[64];
            final UnsafeBuffer agrona = new UnsafeBuffer(new byte[64]);
            final org.agrona.ExpandableArrayBuffer expandable = new org.agrona.ExpandableArrayBuffer(64);
            final Buffer lakeBuffer = fixed.allocate();
            final MutableDirectBuffer lakeView = lakeBuffer.mutableBuffer();
            for (final SlotArena arena : List.<SlotArena>of(fixed, zeroing, buddy))
            {
                final java.util.function.LongSupplier alloc = arena == buddy ? () -> buddy.allocateHandle(200) :
                    ((FixedArena)arena)::allocateHandle;
                assertNoGarbage(arena + " handle tier, every accessor", () ->
                {
                    final long h = alloc.getAsLong();
                    arena.putLong(h, 0, 42L);
                    arena.putInt(h, 8, 7);
                    arena.putByte(h, 12, (byte)1);
                    arena.putBytes(h, 16, array, 0, 32);
                    arena.putBytes(h, 48, agrona, 0, 32);
                    sink += arena.length(h) + arena.offset(h) + (arena.isLive(h) ? 1 : 0);
                    arena.freezeHandle(h, 80);
                    arena.retain(h);
                    sink += arena.getLong(h, 0) + arena.getInt(h, 8) + arena.getByte(h, 12);
                    arena.getBytes(h, 16, array, 0, 64);
                    arena.getBytes(h, 16, agrona, 0, 64);
                    arena.getBytes(h, 16, expandable, 0, 64);
                    arena.getBytes(h, 16, lakeView, 0, 64);
                    arena.release(h);
                    arena.release(h);
                });
            }
            lakeBuffer.close();
            final long heldFixed = full.allocateHandle();
            final long heldBuddy = fullBuddy.allocateHandle(64);
            assertNoGarbage("tryAllocate / tryAllocateHandle of full arenas", () ->
            {
                if (full.tryAllocate() != null || full.tryAllocateHandle() != FixedArena.NO_HANDLE ||
                    fullBuddy.tryAllocate(8) != null || fullBuddy.tryAllocateHandle(8) != BuddyArena.NO_HANDLE)
                {
                    throw new AssertionError("a full arena allocated");
                }
            });
            full.release(heldFixed);
            fullBuddy.release(heldBuddy);
            assertEquals(0, fixed.liveSlots());
            assertEquals(0, zeroing.liveSlots());
            assertEquals(0, buddy.metrics().liveBlocks());
        }
    }

    /**
     * {@code AllocationTimeoutException.timeout()} promises "how long the caller waited", but the field was
     * {@code transient} ({@link Duration} is serializable): an exception serialized (a remote call, a log shipper)
     * came back with {@code timeout()} null. The pool's other exceptions keep their figures across serialization.
     */
    @Test
    void thePoolsExceptionsKeepTheirFiguresAcrossSerialization() throws Exception
    {
        final AllocationTimeoutException timedOut = roundTrip(new AllocationTimeoutException("a", 64, Duration.ofMillis(5)));
        assertEquals(Duration.ofMillis(5), timedOut.timeout());
        assertEquals(64, timedOut.requested());
        final ArenaFullException full = roundTrip(new ArenaFullException("a", 8, 8, "slots"));
        assertEquals(8, full.capacity());
        assertEquals(8, full.live());
        final RequestTooLargeException tooLarge = roundTrip(new RequestTooLargeException("a", 100, 64));
        assertEquals(100, tooLarge.requested());
        assertEquals(64, tooLarge.maximum());
    }

    @SuppressWarnings("unchecked")
    private static <T extends java.io.Serializable> T roundTrip(final T value) throws Exception
    {
        final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes))
        {
            out.writeObject(value);
        }
        try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray())))
        {
            return (T)in.readObject();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // metrics() while the arena is hammered (what the JFR hook does every period)
    // ---------------------------------------------------------------------------------------------------------

    private static void checkSnapshot(final FixedArenaMetrics m)
    {
        assertTrue(m.liveSlots() >= 0 && m.liveSlots() <= m.slotCount(), m::toString);
        assertEquals((long)m.liveSlots() * m.slotCapacity(), m.bytesLive(), m::toString);
        assertTrue(m.allocations() >= m.frees() && m.frees() >= 0, m::toString);
        assertTrue(m.waits().waiters() >= 0, m::toString);
    }

    private static void checkSnapshot(final BuddyArenaMetrics m)
    {
        long perOrder = 0;
        for (final long b : m.freeBytesPerOrder())
        {
            perOrder += b;
        }
        assertEquals(perOrder, m.freeBytes(), m::toString);
        assertEquals(m.totalBytes(), m.freeBytes() + m.bytesLive(), m::toString);
        assertTrue(m.largestFreeBlock() <= m.freeBytes(), m::toString);
        assertTrue(m.liveBlocks() >= 0 && m.liveBlocks() <= m.totalBytes() / m.minBlock(), m::toString);
        assertTrue(m.waits().waiters() >= 0, m::toString);
    }

    /**
     * Pin: {@code metrics()} called over and over while 6 threads (more than the cores) allocate, write, freeze,
     * share, release and wait on both tiers of a fixed and a buddy arena (as the JFR hook does each period, also
     * with a recording running at 10 ms) returns snapshots that are never impossible (live within the arena, live
     * bytes = live slots x capacity, free + live bytes = total, per-order bytes summing to the free bytes), takes no
     * capacity, and once quiet the figures are exact: every allocation freed, the buddy arena one free block.
     */
    @Test
    void metricsTakenDuringAHammerAreNeverImpossibleAndExactOnceQuiet(@TempDir final Path dir) throws Exception
    {
        final String fixedName = uniqueName("fixed-hammer");
        final String buddyName = uniqueName("buddy-hammer");
        try (FixedArena fixed = FixedArena.builder(16, 128).name(fixedName).autoSpill(true).jfrEvents(true).build();
            BuddyArena buddy = BuddyArena.builder(4096, 32).name(buddyName).autoSpill(true).jfrEvents(true).build();
            Recording recording = new Recording())
        {
            recording.enable(FixedArenaMetricsEvent.NAME).withPeriod(Duration.ofMillis(10));
            recording.enable(BuddyArenaMetricsEvent.NAME).withPeriod(Duration.ofMillis(10));
            recording.start();
            final java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            final java.util.concurrent.atomic.AtomicLong fixedOps = new java.util.concurrent.atomic.AtomicLong();
            final java.util.concurrent.atomic.AtomicLong snapshots = new java.util.concurrent.atomic.AtomicLong();
            final long end = System.nanoTime() + 1_500_000_000L;
            Workers.run(7, id ->
            {
                final java.util.Random random = new java.util.Random(id);
                if (id == 6)
                {
                    while (!done.get())
                    {
                        checkSnapshot(fixed.metrics());
                        checkSnapshot(buddy.metrics());
                        snapshots.incrementAndGet();
                    }
                    return;
                }
                try
                {
                    while (System.nanoTime() < end)
                    {
                        final int size = 1 + random.nextInt(400);
                        switch (random.nextInt(6))
                        {
                            case 0:
                            {
                                final Buffer b = fixed.tryAllocate();
                                if (b != null)
                                {
                                    b.putInt(id).putBytes(new byte[random.nextInt(200)]); // may spill
                                    final Bytes bytes = b.freeze();
                                    final Bytes slice = bytes.slice(0, 4);
                                    assertEquals(id, slice.getInt(0));
                                    bytes.release();
                                    slice.release();
                                    fixedOps.incrementAndGet();
                                }
                                break;
                            }
                            case 1:
                            {
                                final long h = fixed.tryAllocateHandle();
                                if (h != FixedArena.NO_HANDLE)
                                {
                                    fixed.putInt(h, 0, id);
                                    fixed.freezeHandle(h, 4);
                                    fixed.retain(h);
                                    assertEquals(id, fixed.getInt(h, 0));
                                    fixed.release(h);
                                    fixed.release(h);
                                }
                                break;
                            }
                            case 2:
                            {
                                try
                                {
                                    fixed.allocate(Duration.ofMillis(1)).close();
                                }
                                catch (final AllocationTimeoutException timedOut)
                                {
                                    // counted as a timed-out wait
                                }
                                break;
                            }
                            case 3:
                            {
                                final Buffer b = buddy.tryAllocate(size);
                                if (b != null)
                                {
                                    b.putInt(id).position(Math.min(size + random.nextInt(64), 4096));
                                    final Bytes bytes = b.freeze();
                                    final Bytes shared = bytes.retain();
                                    bytes.release();
                                    assertEquals(id, shared.getInt(0));
                                    shared.release();
                                }
                                break;
                            }
                            case 4:
                            {
                                final long h = buddy.tryAllocateHandle(size);
                                if (h != BuddyArena.NO_HANDLE)
                                {
                                    buddy.putInt(h, 0, id);
                                    buddy.freezeHandle(h, 4);
                                    assertEquals(id, buddy.getInt(h, 0));
                                    buddy.release(h);
                                }
                                break;
                            }
                            default:
                            {
                                try
                                {
                                    buddy.allocate(size, Duration.ofMillis(1)).close();
                                }
                                catch (final AllocationTimeoutException timedOut)
                                {
                                    // counted as a timed-out wait
                                }
                            }
                        }
                    }
                }
                finally
                {
                    if (id == 0)
                    {
                        done.set(true);
                    }
                }
            });
            recording.stop();
            assertTrue(snapshots.get() > 0 && fixedOps.get() > 0);
            final FixedArenaMetrics f = fixed.metrics();
            assertTrue(f.liveSlots() == 0 && f.allocations() == f.frees() && f.waits().waiters() == 0, f::toString);
            final BuddyArenaMetrics b = buddy.metrics();
            assertTrue(b.fullyCoalesced() && b.allocations() == b.frees() && b.bytesLive() == 0 &&
                b.waits().waiters() == 0, b::toString);
            for (final RecordedEvent e : events(recording, dir, BuddyArenaMetricsEvent.NAME, buddyName))
            {
                assertEquals(e.getInt("totalBytes"), e.getLong("freeBytes") + e.getLong("bytesLive"), e.toString());
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // the handle tier's queries, polled by one thread while another releases or freezes
    // ---------------------------------------------------------------------------------------------------------

    /**
     * {@code isLive(handle)}, {@code length(handle)} and the buddy arena's {@code handleCapacity(handle)} are safe
     * from any thread, but read the slot's words with plain loads: a thread polling one of them in a loop (waiting
     * for a consumer's release, or for the producer's freeze) had the load hoisted out of the loop by the JIT and never
     * saw the change (the same class of bug as the stale writer fixed earlier, here a hang). A child JVM polls each
     * query on its own thread, bounded, while the main thread releases or freezes.
     */
    @Test
    void aThreadPollingAHandleQuerySeesAnotherThreadsReleaseOrFreeze() throws Exception
    {
        final String output = dev.lake.testing.ChildJvm.run(PollingProbe.class, true);
        for (final String query : PollingProbe.QUERIES)
        {
            assertTrue(output.contains(query + ": saw it"), query + " never saw the change:\n" + output);
        }
    }

    /** Polls each handle query on a thread of its own until it changes; prints which saw the change. */
    static final class PollingProbe
    {
        static final List<String> QUERIES =
            List.of("isLive until released", "length until released", "length until frozen", "handleCapacity until released");

        public static void main(final String[] args) throws Exception
        {
            final FixedArena fixed = FixedArena.builder(8, 64).build();
            final BuddyArena buddy = BuddyArena.builder(1024, 64).build();
            final long live = fixed.allocateHandle();
            fixed.freezeHandle(live, 8);
            final long frozenLength = fixed.allocateHandle();
            fixed.freezeHandle(frozenLength, 8);
            final long writing = fixed.allocateHandle();
            final long block = buddy.allocateHandle(64);
            // each poller loops on its query directly (no interface call per iteration), as a caller's loop would
            final long bound = 4_000_000_000L; // so that a poller that cannot see the change ends by itself
            final java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(QUERIES.size());
            final String[] outcome = new String[QUERIES.size()];
            final List<Runnable> loops = List.of(
                () ->
                {
                    long spins = 0;
                    while (fixed.isLive(live) && spins < bound)
                    {
                        spins++;
                    }
                    outcome[0] = spins < bound ? "saw it" : "never saw it";
                },
                () ->
                {
                    long spins = 0;
                    while (fixed.length(frozenLength) == 8 && spins < bound)
                    {
                        spins++;
                    }
                    outcome[1] = "never saw it"; // released: length() throws
                },
                () ->
                {
                    long spins = 0;
                    while (fixed.length(writing) == -1 && spins < bound)
                    {
                        spins++;
                    }
                    outcome[2] = spins < bound ? "saw it" : "never saw it";
                },
                () ->
                {
                    long spins = 0;
                    while (buddy.handleCapacity(block) == 64 && spins < bound)
                    {
                        spins++;
                    }
                    outcome[3] = "never saw it"; // released: handleCapacity() throws
                });
            final List<Thread> pollers = new ArrayList<>();
            for (int q = 0; q < QUERIES.size(); q++)
            {
                final int which = q;
                final Thread poller = new Thread(() ->
                {
                    started.countDown();
                    try
                    {
                        loops.get(which).run();
                    }
                    catch (final StaleHandleException released)
                    {
                        outcome[which] = "saw it";
                    }
                });
                poller.setDaemon(true);
                pollers.add(poller);
                poller.start();
            }
            started.await();
            final long warm = System.nanoTime() + 500_000_000L; // the pollers' loops get compiled meanwhile
            while (System.nanoTime() < warm)
            {
                Thread.onSpinWait();
            }
            fixed.release(live);
            fixed.release(frozenLength);
            fixed.freezeHandle(writing, 16);
            buddy.release(block);
            for (int q = 0; q < QUERIES.size(); q++)
            {
                pollers.get(q).join(10_000);
                System.out.println(QUERIES.get(q) + ": " + outcome[q]);
            }
        }
    }

    /**
     * Pin: {@code BuddyArenaMetrics.largestFreeBlock} is "the largest request that succeeds now": after each
     * snapshot of a randomly fragmented arena (cache on), a request of exactly that size succeeds and one of twice
     * that size fails; {@code fullyCoalesced()} holds exactly when nothing is live.
     */
    @Test
    void largestFreeBlockIsTheLargestRequestThatSucceedsNow()
    {
        final java.util.Random random = new java.util.Random(99);
        try (BuddyArena arena = BuddyArena.builder(4096, 16).build())
        {
            final List<Long> held = new ArrayList<>();
            for (int step = 0; step < 2_000; step++)
            {
                if (held.isEmpty() || random.nextInt(3) != 0)
                {
                    final long h = arena.tryAllocateHandle(1 + random.nextInt(600));
                    if (h != BuddyArena.NO_HANDLE)
                    {
                        held.add(h);
                    }
                }
                else
                {
                    arena.release(held.remove(random.nextInt(held.size())));
                }
                final BuddyArenaMetrics m = arena.metrics();
                assertEquals(held.isEmpty(), m.fullyCoalesced(), m.toString());
                final int largest = m.largestFreeBlock();
                if (largest > 0)
                {
                    final long h = arena.tryAllocateHandle(largest);
                    assertNotEquals(BuddyArena.NO_HANDLE, h, "a request of the largest free block fails: " + m);
                    arena.release(h);
                }
                if (largest < m.totalBytes())
                {
                    final long h = arena.tryAllocateHandle(Math.max(16, 2 * largest));
                    assertEquals(BuddyArena.NO_HANDLE, h, "a request above the largest free block succeeds: " + m);
                }
            }
            held.forEach(arena::release);
            assertTrue(arena.metrics().fullyCoalesced());
        }
    }
}
