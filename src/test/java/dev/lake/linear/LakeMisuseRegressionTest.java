package dev.lake.linear;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Misuse that a review found unguarded, each test failing on the code before its fix: confinement of close and
 * setZeroing, a failed placement whose wrapper used the lake, foreign sandbox tokens, and depth counters of
 * invalidated allocators.
 */
class LakeMisuseRegressionTest
{
    private static Throwable onOtherThread(final Runnable action) throws InterruptedException
    {
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread intruder = new Thread(() ->
        {
            try
            {
                action.run();
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        }, "intruder");
        intruder.start();
        intruder.join();
        return failure.get();
    }

    /**
     * Lake.confineTo: "every operation of the lake ... from any other thread throws IllegalStateException ...
     * and touches nothing". close() skips the guard: another thread frees the region under its owner (the
     * owner's primitive-tier offsets now point into freed native memory).
     */
    @Test
    void closeFromAnotherThreadIsRefusedWhileConfined() throws Exception
    {
        final long baseline = NativeMemory.reservedBytes();
        final Lake lake = Lake.of(4096);
        try
        {
            lake.confineTo(Thread.currentThread());
            final int at = lake.allocate(64);
            lake.buffer().putLong(at, 42L);

            final Throwable t = onOtherThread(lake::close);

            assertTrue(t instanceof IllegalStateException, "close() from a foreign thread was accepted: " + t);
            assertTrue(lake.isOpen(), "a foreign thread freed the owner's lake");
        }
        finally
        {
            lake.confineTo(null);
            lake.close();
        }
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    /**
     * Same guarantee, setZeroing: a foreign thread can switch the crypto wipe off under the owner (no guard,
     * no closed check either).
     */
    @Test
    void setZeroingFromAnotherThreadIsRefusedWhileConfined() throws Exception
    {
        try (Lake lake = Lake.builder(4096).zeroing(true).build())
        {
            lake.confineTo(Thread.currentThread());

            final Throwable t = onOtherThread(() -> lake.setZeroing(false));

            assertTrue(t instanceof IllegalStateException, "setZeroing from a foreign thread was accepted: " + t);
            assertTrue(lake.isZeroing(), "a foreign thread turned the owner's zeroing off");
        }
    }

    /**
     * place(): "If the wrapper throws, the allocation is undone." undo() drops the offset without discarding the
     * marks (or sandboxes) the wrapper pushed above it, breaking the invariant marks <= offset. A later
     * resetToMark() then moves the position FORWARD over bytes no handle owns (lost capacity, used() wrong,
     * "rewinding never moves forward" broken).
     */
    @Test
    void aFailedPlaceLeavesNoMarkAboveThePosition()
    {
        try (Lake lake = Lake.of(4096))
        {
            assertThrows(IllegalStateException.class, () -> lake.place(new Object(), 64, 8, (f, b, o) ->
            {
                lake.mark(); // e.g. a codec that scopes nested scratch space and then fails
                throw new IllegalStateException("codec failed");
            }));
            assertEquals(0, lake.used(), "the allocation was undone");
            assertEquals(0, lake.markDepth(), "the wrapper's mark above the position went with it");
            assertThrows(IllegalStateException.class, lake::resetToMark);
            assertEquals(0, lake.used(), "nothing moved the position forward");
        }
    }

    @Test
    void aFailedPlaceWhoseWrapperLeftTheLakeAloneIsRewoundExactly()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Droplet before = lake.droplet(32);
            final long rewinds = lake.generation();
            assertThrows(IllegalStateException.class, () -> lake.place(new Object(), 64, 8, (f, b, o) ->
            {
                throw new IllegalStateException("codec failed");
            }));
            assertEquals(32, lake.used());
            assertEquals(rewinds + 1, lake.generation(), "the undo is a rewind, and counted as one");
            assertTrue(before.isValid(), "a droplet below the placement survives its undo");
            before.putLong(0, 7L);
            assertEquals(7L, before.getLong(0));
        }
    }

    /**
     * place(): the undo used to take the bump back with a plain offset store when the wrapper left the offset, the
     * generation, the marks and the sandboxes as they were. A snapshot taken inside the wrapper, at the placement's
     * end, changes none of those, so it survived the position going below it: rewinding to it later moved the
     * position into the middle of a live allocation, and the next allocation overlapped it.
     */
    @Test
    void aSnapshotTakenByAFailedPlaceWrapperIsStale()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot[] held = new LakeSnapshot[1];
            assertThrows(IllegalStateException.class, () -> lake.place(new Object(), 64, 8, (f, b, o) ->
            {
                held[0] = lake.snapshot(); // at 64, the end of the placement
                throw new IllegalStateException("codec failed");
            }));
            assertEquals(0, lake.position(), "the placement was undone");

            final int live = lake.allocate(128); // [0, 128): allocated after the position went below the snapshot
            assertThrows(StaleHandleException.class, () -> lake.rewind(held[0]),
                "the position went below the snapshot since it was taken: rewinding to it must be refused");
            assertEquals(128, lake.position(), "the refused rewind changed nothing");
            assertTrue(lake.allocate(64) >= live + 128, "the next allocation does not overlap the live one");
        }
    }

    /**
     * Worst case of the same undo(): a wrapper that rewound and re-allocated so that the position happens to be
     * back at at + size. undo() moves the position below a droplet that is still valid (no epoch cap, no
     * generation bump), so the next allocation overlaps live memory: two valid droplets, one set of bytes.
     */
    @Test
    void aFailedPlaceNeverLeavesAValidDropletAboveThePosition()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Droplet[] held = new Droplet[1];
            assertThrows(IllegalStateException.class, () -> lake.place(new Object(), 64, 8, (f, b, o) ->
            {
                lake.reset();                 // the codec starts over ...
                held[0] = lake.droplet(64);   // ... keeps a checked handle ...
                throw new IllegalStateException("codec failed"); // ... and fails
            }));
            final Droplet other = lake.droplet(64);
            other.putLong(0, 1L);
            assertFalse(held[0].isValid(), "the wrapper's droplet went with the failed placement");
            assertThrows(StaleHandleException.class, () -> held[0].putLong(0, 2L));
            assertEquals(1L, other.getLong(0), "no second handle writes over the new droplet");
        }
    }

    /**
     * openSandboxes(): "sandboxes open on this allocator (not committed, rolled back or invalidated)". Closing
     * the lake (or the parent rewinding over a view) invalidates them, yet the counter and stats() keep
     * reporting them open while every Sandbox says isOpen() == false.
     */
    @Test
    void invalidatedSandboxesAreNotCountedAsOpen()
    {
        final Lake lake = Lake.of(4096);
        final LakeView view = lake.split(1024);
        final Sandbox onView = view.sandbox();
        lake.reset(); // rewinds over the view: the view and its sandbox are invalid
        assertFalse(onView.isOpen());
        assertEquals(0, view.openSandboxes(), "an invalidated view still counts its sandbox as open");

        final Sandbox onLake = lake.sandbox();
        lake.close();
        assertFalse(onLake.isOpen());
        assertEquals(0, lake.openSandboxes(), "a closed lake still counts its sandbox as open");
        assertEquals(0, lake.stats().sandboxes());
    }

    /** Same with a sandbox opened by the wrapper: its rollback moves the position forward. */
    @Test
    void aFailedPlaceLeavesNoSandboxAboveThePosition()
    {
        try (Lake lake = Lake.of(4096))
        {
            final long[] token = new long[1];
            assertThrows(IllegalStateException.class, () -> lake.place(new Object(), 64, 8, (f, b, o) ->
            {
                token[0] = lake.beginSandbox();
                throw new IllegalStateException("codec failed");
            }));
            final Droplet d = lake.droplet(16);

            lake.endSandbox(token[0]);

            assertTrue(lake.position() <= d.offset() + d.length(),
                "ending the sandbox moved the position forward to " + lake.position());
        }
    }

    /**
     * Sandbox tokens carry only (per-allocator sequence, depth): the first token of every lake and view is the
     * same long, so a token of lake A silently rolls back lake B's sandbox (and invalidates B's droplets), where
     * a foreign snapshot is rejected with IllegalArgumentException.
     */
    @Test
    void aSandboxTokenOfAnotherLakeIsRejected()
    {
        try (Lake a = Lake.of(4096); Lake b = Lake.of(4096))
        {
            final long tokenOfA = a.beginSandbox();
            a.allocate(64);
            b.beginSandbox();
            final Droplet kept = b.droplet(128);
            kept.putLong(0, 7L);

            assertThrows(StaleHandleException.class, () -> b.commitSandbox(tokenOfA));
            b.endSandbox(tokenOfA); // a token b never issued ends nothing, as an ended one does

            assertTrue(kept.isValid(), "b's droplet was rolled back by a's token");
            assertEquals(1, b.openSandboxes());
            assertEquals(7L, kept.getLong(0));
        }
    }
    /**
     * Droplet.putBytes(DirectBuffer) let Agrona copy: Agrona checks the lake's buffer, then calls the source's own
     * boundsCheck/byteArray/addressOffset, then reads the lake buffer's address. A source of a type Lake does not
     * know that closed the lake in one of those calls made the copy write at address 0 + offset: a JVM crash with
     * Agrona's checks on. The droplet is now checked again after the source's calls. Run in a child JVM, so the bug
     * shows as that JVM's crash rather than the test run's.
     */
    @Test
    void aCopySourceThatClosesTheLakeMidCopyIsRefusedNotACrash() throws Exception
    {
        final String out = runProbe(ClosingSourceProbe.class, "true");
        assertTrue(out.contains("probe: refused") && out.contains("StaleHandleException"), out);
    }

    /**
     * Droplet.getBytes(MutableDirectBuffer) checked the droplet, then asked the destination for its capacity: a
     * destination of a type Lake does not know that reset the lake there and allocated again had the copy read the
     * new allocation's bytes, silently. The destination is now asked first.
     */
    @Test
    void aGetBytesDestinationWhoseCapacityResetsTheLakeIsRefused()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Droplet d = lake.droplet(8);
            d.putLong(0, 1L);
            final org.agrona.concurrent.UnsafeBuffer dst = new org.agrona.concurrent.UnsafeBuffer(new byte[8])
            {
                private boolean ran;

                @Override
                public int capacity()
                {
                    if (!ran)
                    {
                        ran = true;
                        lake.reset();
                        lake.droplet(8).putLong(0, 99L); // the droplet's bytes are this one's now
                    }
                    return super.capacity();
                }
            };
            assertThrows(StaleHandleException.class, () -> d.getBytes(0, dst, 0, 8));
            assertEquals(0L, dst.getLong(0), "the copy read the allocation made after the reset");
        }
    }

    /**
     * Droplet.getBytes(MutableDirectBuffer) handed the destination's putBytes the lake's buffer: a destination of a
     * type Lake does not know that closed the lake there and then read it read freed memory, a JVM crash with
     * Agrona's checks off. Such a destination now gets a heap copy. In a child JVM, with the checks off and on.
     */
    @Test
    void aGetBytesDestinationThatClosesTheLakeIsNotACrash() throws Exception
    {
        for (final String checks : new String[] {"true", "false"})
        {
            final String out = runProbe(ClosingDestinationProbe.class, checks);
            assertTrue(out.contains("probe: copied its own bytes") || out.contains("probe: refused"), out);
        }
    }

    /** Runs {@code probe} in a child JVM (Agrona's bounds checks on if {@code boundsChecks}); its exit and output. */
    private static String runProbe(final Class<?> probe, final String boundsChecks) throws Exception
    {
        return dev.lake.testing.ChildJvm.run(probe, Boolean.parseBoolean(boundsChecks));
    }

    /** The child JVM of {@link #aGetBytesDestinationThatClosesTheLakeIsNotACrash()}. */
    public static final class ClosingDestinationProbe
    {
        private ClosingDestinationProbe()
        {
        }

        public static void main(final String[] args)
        {
            final Lake lake = Lake.of(1 << 20);
            final Droplet d = lake.droplet(1 << 16);
            final org.agrona.concurrent.UnsafeBuffer dst = new org.agrona.concurrent.UnsafeBuffer(new byte[1 << 16])
            {
                @Override
                public void putBytes(final int index, final org.agrona.DirectBuffer src, final int srcIndex,
                    final int length)
                {
                    lake.close();
                    super.putBytes(index, src, srcIndex, length);
                }

                @Override
                public void putBytes(final int index, final byte[] src, final int offset, final int length)
                {
                    lake.close();
                    super.putBytes(index, src, offset, length);
                }
            };
            try
            {
                d.getBytes(0, dst, 0, 1 << 16);
                System.out.println("probe: copied its own bytes");
            }
            catch (final RuntimeException ex)
            {
                System.out.println("probe: refused (" + ex + ")");
            }
            System.out.flush();
        }
    }

    /** The child JVM of {@link #aCopySourceThatClosesTheLakeMidCopyIsRefusedNotACrash()}. */
    public static final class ClosingSourceProbe
    {
        private ClosingSourceProbe()
        {
        }

        public static void main(final String[] args)
        {
            final Lake lake = Lake.of(1 << 20);
            final Droplet d = lake.droplet(4096);
            final org.agrona.DirectBuffer source = new org.agrona.concurrent.UnsafeBuffer(new byte[4096])
            {
                @Override
                public long addressOffset()
                {
                    lake.close();
                    return super.addressOffset();
                }
            };
            try
            {
                d.putBytes(0, source, 0, 4096);
                System.out.println("probe: NOT refused: copied into a closed lake");
            }
            catch (final RuntimeException ex)
            {
                System.out.println("probe: refused (" + ex + ")");
            }
            System.out.flush();
        }
    }
}
