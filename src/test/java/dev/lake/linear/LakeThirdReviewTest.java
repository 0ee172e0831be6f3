package dev.lake.linear;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bugs a third review of the lake found, each test failing on the code before its fix.
 */
class LakeThirdReviewTest
{
    /**
     * process(): "a writer that allocates from, rewinds or closes the same lake while it runs is detected
     * afterwards (IllegalStateException, nothing kept)". The check compared only the position, so a writer that
     * allocated and gave the allocation back (a scratch droplet it closed, a mark it reset to) was not detected.
     * While the writer runs the position has not moved, so that scratch memory is the writer's own output area:
     * under zeroing the give-back wiped the payload, without zeroing the scratch bytes replaced it, and process()
     * kept the corrupted bytes as a droplet without a word.
     */
    @Test
    void aWriterThatAllocatesAndGivesBackIsRefusedNotKeptCorrupted()
    {
        for (final boolean zeroing : new boolean[] {true, false})
        {
            try (Lake lake = Lake.builder(4096).zeroing(zeroing).build())
            {
                final Droplet below = lake.droplet(16);
                below.putLong(0, 7L);
                final int before = lake.position();
                final long generation = lake.generation();
                final IllegalStateException ex = assertThrows(IllegalStateException.class, () ->
                    lake.process((buffer, offset, capacity) ->
                    {
                        buffer.putLong(offset, 0x1122334455667788L); // the payload
                        try (Droplet scratch = lake.droplet(8))     // the same bytes: the position has not moved
                        {
                            scratch.putLong(0, 99L);
                        }
                        return 8;
                    }), "zeroing " + zeroing);
                assertTrue(ex.getMessage().contains("while process() ran"), ex.getMessage());
                assertEquals(before, lake.position(), "nothing kept");
                assertTrue(below.isValid());
                assertEquals(7L, below.getLong(0));

                // the same with a mark the writer resets to
                assertThrows(IllegalStateException.class, () -> lake.process((buffer, offset, capacity) ->
                {
                    lake.mark();
                    lake.allocate(8);
                    lake.resetToMark();
                    return 8;
                }), "zeroing " + zeroing);
                assertEquals(before, lake.position());
                assertTrue(lake.generation() > generation);

                // and a writer that leaves the lake alone is still kept
                final Droplet kept = lake.process((buffer, offset, capacity) ->
                {
                    buffer.putLong(offset, 5L);
                    return 8;
                });
                assertEquals(5L, kept.getLong(0));
            }
        }
    }

    /**
     * place(): a wrapper that returned normally after rewinding the allocator below the placement (a reset, a
     * rewind to an older snapshot) or closing the lake got its flyweight back as if placed: it pointed at memory
     * that the next allocation hands out again (two owners of the same bytes, silently) or that was freed with the
     * lake (a JVM crash on the first write with Agrona's checks off). place() now refuses it, with the placement
     * undone; scratch rewinds above the placement stay allowed.
     */
    @Test
    void aPlaceWrapperThatRewindsBelowOrClosesAndReturnsIsRefused()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(16);
            final int[] placedAt = {-1};
            final IllegalStateException rewound = assertThrows(IllegalStateException.class, () ->
                lake.place(placedAt, 64, 8, (f, b, o) ->
                {
                    f[0] = o;
                    lake.reset();
                }));
            assertTrue(rewound.getMessage().contains("while place()"), rewound.getMessage());
            assertEquals(0, lake.position());

            // through a view whose parent the wrapper rewinds over
            final LakeView view = lake.split(256);
            assertThrows(IllegalStateException.class, () -> view.place(placedAt, 64, 8, (f, b, o) -> lake.reset()));
            assertFalse(view.isValid());

            // scratch work above the placement keeps it
            final int[] kept = {-1};
            assertSame(kept, lake.place(kept, 32, 8, (f, b, o) ->
            {
                f[0] = o;
                lake.mark();
                lake.droplet(8).putLong(0, 1L);
                lake.resetToMark();
            }));
            assertEquals(kept[0] + 32, lake.position());

            final IllegalStateException closed = assertThrows(IllegalStateException.class, () ->
                lake.place(placedAt, 64, 8, (f, b, o) -> lake.close()));
            assertTrue(closed.getMessage().contains("while place()"), closed.getMessage());
            assertFalse(lake.isOpen());
        }
    }

    /**
     * Coverage of documented refusals no test exercised (no bug found): a process() writer that closes the lake, or
     * that rewinds the parent over the view it writes into, is refused with nothing kept and the region freed; a
     * Droplet.wrap wrapper that throws leaves the droplet as it was.
     */
    @Test
    void writersAndWrappersThatCloseOrThrowLeaveConsistentState()
    {
        final long baseline = dev.lake.memory.NativeMemory.reservedBytes();
        final Lake lake = Lake.of(4096);
        final LakeView view = lake.split(1024);
        final IllegalStateException overView = assertThrows(IllegalStateException.class, () ->
            view.process((b, o, c) ->
            {
                lake.reset();
                return 8;
            }));
        assertTrue(overView.getMessage().contains("while process() ran"), overView.getMessage());
        assertFalse(view.isValid());

        final Droplet d = lake.droplet(16);
        d.putLong(0, 42L);
        final RuntimeException boom = new RuntimeException("wrap failed");
        assertSame(boom, assertThrows(RuntimeException.class, () -> d.wrap(new Object(), (f, b, o) ->
        {
            throw boom;
        })));
        assertTrue(d.isValid());
        assertEquals(42L, d.getLong(0));

        assertThrows(IllegalStateException.class, () -> lake.process((b, o, c) ->
        {
            lake.close();
            return 8;
        }));
        assertFalse(lake.isOpen());
        assertFalse(d.isValid());
        assertEquals(baseline, dev.lake.memory.NativeMemory.reservedBytes());
    }

    /**
     * Sandbox tokens pack the sandbox's id above 16 depth bits, so an id must stay below 2^48; but the process-wide
     * id counter hands every lake, view and arena that opens a scope a block of 65,536 ids and never wrapped. After
     * 2^32 blocks (a view per message with one sandbox each: about 72 minutes at a million views a second) the
     * ids crossed 2^48, the token lost the id's top bits, and a valid sandbox's token no longer matched it:
     * commitSandbox threw StaleHandleException ("already ended") and endSandbox did nothing, so the rollback never
     * happened (Arena transaction tokens likewise). The counter now wraps below 2^48; since blocks grow with use
     * (16 ids first, up to 65,536), each size from its own region, every region wraps on its own. In a child JVM
     * whose counters are moved past many rounds of their regions, so that the test run's own tokens are not
     * disturbed; the probe also checks each region's wrap point and bounds.
     */
    @Test
    void sandboxTokensStillWorkAfterTwoToThe32IdBlocks() throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.run(ExhaustedTokenIdsProbe.class, true);
        assertTrue(out.contains("probe: tokens ok"), out);
    }

    /** The child JVM of {@link #sandboxTokensStillWorkAfterTwoToThe32IdBlocks()}. */
    public static final class ExhaustedTokenIdsProbe
    {
        private ExhaustedTokenIdsProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            // every level's counter past several rounds of its region's blocks, one block before a wrap
            for (int level = 0; level < TokenIds.LEVELS; level++)
            {
                TokenIds.setBlocksTaken(level, Long.MAX_VALUE / 2);
            }
            final String wraps = wrapsExactly();
            if (wraps != null)
            {
                System.out.println("probe: " + wraps);
                return;
            }
            try (Lake lake = Lake.of(4096); Arena arena = Arena.builder().initialBlockSize(1024).build())
            {
                final long kept = lake.beginSandbox();
                lake.allocate(64);
                lake.commitSandbox(kept);
                final long undone = lake.beginSandbox();
                lake.allocate(64);
                lake.endSandbox(undone);
                final long tx = arena.beginTransaction();
                arena.allocate(64);
                arena.commitTransaction(tx);
                System.out.println(lake.position() == 64 && lake.openSandboxes() == 0 && arena.position() >= 64 ?
                    "probe: tokens ok" : "probe: wrong state " + lake.position() + ", " + lake.openSandboxes());
            }
            catch (final RuntimeException ex)
            {
                System.out.println("probe: refused a valid token: " + ex);
            }
            System.out.flush();
        }

        /**
         * @return null if every level's blocks come round exactly after its region's usable blocks, first blocks
         * after 2^43 - 2, all ids below their region's end; else what went wrong. Leaves the counters as it found them.
         */
        private static String wrapsExactly()
        {
            for (int level = 0; level < TokenIds.LEVELS; level++)
            {
                final long size = TokenIds.FIRST_BLOCK << level;
                final long usable = level == 0 ? (1L << 43) - 2 : (1L << (39 - level)) - 1;
                final long saved = TokenIds.blocksTaken(level);
                TokenIds.setBlocksTaken(level, 0);
                final long first = TokenIds.firstOfBlock(level);
                TokenIds.setBlocksTaken(level, usable - 1);
                final long last = TokenIds.firstOfBlock(level);
                final long again = TokenIds.firstOfBlock(level);
                TokenIds.setBlocksTaken(level, saved);
                if (again != first || last == first || TokenIds.level(last) != level ||
                    TokenIds.level(last + size - 1) != level || TokenIds.level(first) != level || first < 2)
                {
                    return "level " + level + " wraps wrong: first " + first + ", last " + last + ", again " + again;
                }
            }
            return null;
        }
    }

    /**
     * toString() of a droplet or sandbox of a confined lake, called from another thread (a logger's, a debugger's),
     * threw the confinement's IllegalStateException: logging a handle must never fail. It now names the state it
     * can see without touching the lake.
     */
    @Test
    void toStringOfHandlesOfAConfinedLakeNeverThrowsOnAnotherThread() throws Exception
    {
        try (Lake lake = Lake.builder(1024).build())
        {
            lake.confineTo(Thread.currentThread());
            final Droplet droplet = lake.droplet(16);
            final Sandbox sandbox = lake.sandbox();
            final String[] seen = new String[2];
            final Throwable[] failure = new Throwable[1];
            final Thread logger = new Thread(() ->
            {
                try
                {
                    seen[0] = droplet.toString();
                    seen[1] = sandbox.toString();
                }
                catch (final Throwable t)
                {
                    failure[0] = t;
                }
            });
            logger.start();
            logger.join();
            assertNull(failure[0], () -> "toString threw " + failure[0]);
            assertEquals("Droplet[0, 16 B, confined to another thread]", seen[0]);
            assertTrue(seen[1].endsWith("confined to another thread]"), seen[1]);
            assertEquals("Droplet[0, 16 B]", droplet.toString());
            assertTrue(sandbox.toString().endsWith(", open]"), sandbox.toString());
            sandbox.close();
            assertTrue(sandbox.toString().endsWith(", rolled back]"), sandbox.toString());
            assertEquals("Droplet[0, 16 B]", droplet.toString()); // allocated before the sandbox: still its own
            lake.reset();
            assertEquals("Droplet[0, 16 B, invalid]", droplet.toString());
        }
    }
}
