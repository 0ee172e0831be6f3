package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The misuse list, one case at a time: each failed call throws a clear exception and leaves the
 * allocator exactly as it was (position, counters, marks, sandboxes, live droplets).
 */
class LakeMisuseTest
{
    private Lake lake;
    private Droplet live;

    @BeforeEach
    void setUp()
    {
        lake = Lake.of(1024);
        live = lake.droplet(16);
        live.putLong(0, 77L);
        lake.mark();
        lake.allocate(8);
    }

    @AfterEach
    void tearDown()
    {
        lake.close();
    }

    private <T extends Throwable> T assertUnchanged(final LakeAllocator on, final Class<T> type, final Executable call)
    {
        final LakeStats before = on.stats();
        final int position = on.position();
        final T thrown = assertThrows(type, call);
        assertNotNull(thrown.getMessage());
        assertEquals(before, on.stats(), "counters unchanged by: " + thrown.getMessage());
        assertEquals(position, on.position());
        assertTrue(live.isValid());
        assertEquals(77L, live.getLong(0));
        return thrown;
    }

    @Test
    void negativeSize()
    {
        final IllegalArgumentException ex = assertUnchanged(lake, IllegalArgumentException.class, () -> lake.allocate(-5));
        assertTrue(ex.getMessage().contains("-5"), ex.getMessage());
        assertUnchanged(lake, IllegalArgumentException.class, () -> lake.droplet(-1));
        assertUnchanged(lake, IllegalArgumentException.class, () -> lake.tryAllocate(-1));
        assertUnchanged(lake, IllegalArgumentException.class, () -> lake.split(-1));
        assertUnchanged(lake, IllegalArgumentException.class, () -> lake.allocateLongs(-1));
    }

    @Test
    void zeroSize()
    {
        final IllegalArgumentException ex = assertUnchanged(lake, IllegalArgumentException.class, () -> lake.allocate(0));
        assertTrue(ex.getMessage().contains(": 0"), ex.getMessage());
        assertUnchanged(lake, IllegalArgumentException.class, () -> lake.droplet(0, 8));
        assertUnchanged(lake, IllegalArgumentException.class, () -> lake.allocateInts(0));
        assertUnchanged(lake, IllegalArgumentException.class, () -> lake.place(new Object(), 0, 8, (f, b, o) -> {}));
    }

    @Test
    void sizeLargerThanRemaining()
    {
        final LakeOverflowException ex = assertUnchanged(lake, LakeOverflowException.class, () -> lake.allocate(1001));
        assertEquals(1001, ex.requested());
        assertEquals(1000, ex.remaining());
        assertTrue(ex.getMessage().contains("1001") && ex.getMessage().contains("1000"), ex.getMessage());
        assertUnchanged(lake, LakeOverflowException.class, () -> lake.droplet(1001));
        assertUnchanged(lake, LakeOverflowException.class, () -> lake.split(2000));
        assertUnchanged(lake, LakeOverflowException.class, () -> lake.allocate(1000, 64)); // fits only unaligned
        assertUnchanged(lake, LakeOverflowException.class, () -> lake.allocateLongs(Integer.MAX_VALUE));
        assertUnchanged(lake, LakeOverflowException.class, () -> lake.allocate(Integer.MAX_VALUE));
        final Sandbox sandbox = lake.sandbox();
        assertUnchanged(lake, LakeOverflowException.class, () -> sandbox.allocate(4096));
    }

    @Test
    void nonPowerOfTwoAlignment()
    {
        for (final int alignment : new int[]{0, -8, 3, 12, 1 << 20})
        {
            final IllegalArgumentException ex = assertUnchanged(lake, IllegalArgumentException.class,
                () -> lake.allocate(8, alignment));
            assertTrue(ex.getMessage().contains(String.valueOf(alignment)), ex.getMessage());
            assertUnchanged(lake, IllegalArgumentException.class, () -> lake.tryAllocate(8, alignment));
            assertUnchanged(lake, IllegalArgumentException.class, () -> lake.droplet(8, alignment));
            assertUnchanged(lake, IllegalArgumentException.class, () -> lake.split(8, alignment));
            assertUnchanged(lake, IllegalArgumentException.class, () -> lake.process(alignment, (b, o, c) -> 0));
        }
    }

    @Test
    void foreignSnapshot()
    {
        try (Lake other = Lake.of(1024))
        {
            final LakeSnapshot foreign = other.snapshot();
            final IllegalArgumentException ex = assertUnchanged(lake, IllegalArgumentException.class,
                () -> lake.rewind(foreign));
            assertTrue(ex.getMessage().contains("another") || ex.getMessage().contains("per allocator"),
                ex.getMessage());
            final LakeView view = lake.split(64);
            assertUnchanged(view, IllegalArgumentException.class, () -> view.rewind(lake.snapshot()));
        }
    }

    @Test
    void snapshotThatWouldMoveForwardOverMemoryHandedOutSince()
    {
        final LakeSnapshot ahead = lake.snapshot();
        lake.allocate(64);
        lake.resetToMark();         // position falls below the snapshot
        final Droplet newer = lake.droplet(200); // and moves past it again over reused bytes
        final StaleHandleException ex = assertUnchanged(lake, StaleHandleException.class, () -> lake.rewind(ahead));
        assertTrue(ex.getMessage().contains("stale"), ex.getMessage());
        assertTrue(newer.isValid());
    }

    @Test
    void forgedSnapshot()
    {
        final LakeSnapshot real = lake.snapshot();
        assertUnchanged(lake, IllegalArgumentException.class,
            () -> lake.rewind(new LakeSnapshot(lake, 5000, real.epochIndex(), real.epochId())));
        assertUnchanged(lake, IllegalArgumentException.class,
            () -> lake.rewind(new LakeSnapshot(lake, lake.position() + 8, real.epochIndex(), real.epochId())));
        assertUnchanged(lake, StaleHandleException.class,
            () -> lake.rewind(new LakeSnapshot(lake, 0, real.epochIndex(), real.epochId() + 1)));
        assertUnchanged(lake, NullPointerException.class, () -> lake.rewind(null));
    }

    @Test
    void resetToMarkOnAnEmptyStack()
    {
        lake.resetToMark(); // pops the one mark
        final IllegalStateException ex = assertUnchanged(lake, IllegalStateException.class, lake::resetToMark);
        assertTrue(ex.getMessage().contains("no mark"), ex.getMessage());
        assertUnchanged(lake, IllegalStateException.class, lake::moveMark);
    }

    @Test
    void dropletAfterItsMemoryIsGone()
    {
        final Droplet d = lake.droplet(16);
        lake.resetToMark();
        assertUnchanged(lake, StaleHandleException.class, () -> d.putLong(0, 1L));
        assertUnchanged(lake, StaleHandleException.class, () -> d.getLong(0));
        final Droplet rolledBack;
        try (Sandbox s = lake.sandbox())
        {
            rolledBack = lake.droplet(8);
        }
        assertUnchanged(lake, StaleHandleException.class, () -> rolledBack.putByte(0, (byte)1));
    }

    @Test
    void dropletOutOfBounds()
    {
        final Droplet d = lake.droplet(16);
        final IndexOutOfBoundsException ex = assertUnchanged(lake, IndexOutOfBoundsException.class,
            () -> d.putLong(12, 1L));
        assertTrue(ex.getMessage().contains("12"), ex.getMessage());
    }

    @Test
    void viewAfterItsMemoryIsGone()
    {
        final LakeView view = lake.split(128);
        final Droplet inView = view.droplet(8);
        lake.resetToMark();
        final StaleHandleException ex = assertUnchanged(lake, StaleHandleException.class, () -> view.allocate(8));
        assertTrue(ex.getMessage().contains("no longer valid"), ex.getMessage());
        assertUnchanged(lake, StaleHandleException.class, () -> inView.getLong(0));
        assertUnchanged(lake, StaleHandleException.class, view::sandbox);
    }

    @Test
    void sandboxAfterItEnded()
    {
        final Sandbox s = lake.sandbox();
        s.commit();
        assertUnchanged(lake, IllegalStateException.class, s::commit);
        assertUnchanged(lake, IllegalStateException.class, s::rollback);
        assertUnchanged(lake, IllegalStateException.class, () -> s.allocate(8));
    }

    @Test
    void sandboxAfterItsMemoryIsGone()
    {
        final Sandbox s = lake.sandbox();
        lake.resetToMark();
        assertUnchanged(lake, StaleHandleException.class, s::commit);
        assertUnchanged(lake, StaleHandleException.class, () -> s.allocate(8));
    }

    @Test
    void closingAnOuterSandboxWhileAnInnerIsOpen()
    {
        final Sandbox outer = lake.sandbox();
        final Sandbox inner = lake.sandbox();
        lake.allocate(8);
        assertUnchanged(lake, IllegalStateException.class, outer::close);
        assertUnchanged(lake, IllegalStateException.class, outer::commit);
        inner.commit();
        outer.commit();
    }

    @Test
    void writerReportingMoreThanItHad()
    {
        final LakeOverflowException ex = assertUnchanged(lake, LakeOverflowException.class,
            () -> lake.process((buffer, offset, capacity) -> capacity + 1));
        assertTrue(ex.getMessage().contains("requested"), ex.getMessage());
        assertUnchanged(lake, IllegalArgumentException.class, () -> lake.process((buffer, offset, capacity) -> -1));
        assertUnchanged(lake, IllegalStateException.class, () -> lake.process((buffer, offset, capacity) ->
        {
            throw new IllegalStateException("encoder failed");
        }));
    }

    @Test
    void writerThatUsesTheLakeWhileItRuns()
    {
        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> lake.process((buffer, offset, capacity) ->
            {
                lake.allocate(8);
                return 8;
            }));
        assertTrue(ex.getMessage().contains("while process() ran"), ex.getMessage());
        assertTrue(live.isValid());
    }

    @Test
    void useAfterClose()
    {
        final LakeView view = lake.split(64);
        final Sandbox sandbox = lake.sandbox();
        lake.close();
        assertThrows(IllegalStateException.class, () -> lake.allocate(8));
        assertThrows(IllegalStateException.class, lake::mark);
        assertThrows(IllegalStateException.class, lake::snapshot);
        assertThrows(StaleHandleException.class, () -> live.getLong(0));
        assertThrows(StaleHandleException.class, () -> view.allocate(8));
        assertThrows(StaleHandleException.class, sandbox::commit);
        assertEquals(0, lake.used());
    }

    @Test
    void badLakeCapacityOrBaseAlignment()
    {
        final long before = dev.lake.memory.NativeMemory.reservedBytes();
        // Lake.MAX_CAPACITY + 1 up to Integer.MAX_VALUE: offsets there could carry an 8-byte alignment past
        // Integer.MAX_VALUE, which the int arithmetic of the allocation fast path relies on never happening
        for (final long capacity : new long[]{0, -1, Lake.MAX_CAPACITY + 1L, Integer.MAX_VALUE, Integer.MAX_VALUE + 1L})
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> Lake.of(capacity));
            assertTrue(ex.getMessage().contains(String.valueOf(capacity)), ex.getMessage());
            assertTrue(ex.getMessage().contains(String.valueOf(Lake.MAX_CAPACITY)), ex.getMessage());
        }
        assertEquals(Integer.MAX_VALUE - 7, Lake.MAX_CAPACITY);
        final IllegalArgumentException threadLakes = assertThrows(IllegalArgumentException.class,
            () -> dev.lake.thread.ThreadLakes.builder(Lake.MAX_CAPACITY + 1L));
        assertTrue(threadLakes.getMessage().contains(String.valueOf(Lake.MAX_CAPACITY)), threadLakes.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Lake.builder(64).alignment(3));
        assertThrows(IllegalArgumentException.class, () -> Lake.builder(64).alignment(1 << 20));
        assertTrue(dev.lake.memory.NativeMemory.reservedBytes() <= before, "nothing was allocated");
    }

    @Test
    void nullArguments()
    {
        assertUnchanged(lake, NullPointerException.class, () -> lake.process(null));
        assertUnchanged(lake, NullPointerException.class, () -> lake.place(null, 8, 8, (f, b, o) -> {}));
        assertUnchanged(lake, NullPointerException.class, () -> lake.place(new Object(), 8, 8, null));
    }
}
