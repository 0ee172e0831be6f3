package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bugs a fourth review of the linear allocators found (siblings of the third round's fixes), each test failing on
 * the code before its fix.
 */
class FourthReviewLinearTest
{
    /**
     * Arena.place() (and tryPlace, Transaction.place) undid a placement whose wrapper threw, but a wrapper that
     * returned normally after resetting, rewinding or rolling back the arena below the placement, or closing it,
     * got its flyweight back as if placed: over memory the next allocation hands out again (two owners of the same
     * bytes, silently), or over a freed block. Lake.place() was fixed for this in the third round; the arena's was
     * not. Now refused with IllegalStateException.
     */
    @Test
    void anArenaPlaceWrapperThatGivesThePlacementBackAndReturnsIsRefused()
    {
        try (Arena arena = Arena.builder().initialBlockSize(1024).build())
        {
            arena.allocate(16);
            final int[] placedAt = {-1};
            final IllegalStateException reset = assertThrows(IllegalStateException.class, () ->
                arena.place(placedAt, 64, 8, (f, b, o) ->
                {
                    f[0] = o;
                    arena.reset();
                }));
            assertTrue(reset.getMessage().contains("while place() ran"), reset.getMessage());
            assertEquals(0, arena.bytesAllocated());

            // a reset and allocations past the placement again: the position is above it, the memory is another's
            assertThrows(IllegalStateException.class, () -> arena.tryPlace(placedAt, 64, 8, (f, b, o) ->
            {
                arena.reset();
                arena.allocate(256);
            }));
            assertEquals(256, arena.bytesAllocated());

            // a rewind to a checkpoint taken before the placement
            final Checkpoint cp = arena.checkpoint();
            assertThrows(IllegalStateException.class, () ->
                arena.place(placedAt, 64, 8, (f, b, o) -> arena.rewind(cp)));
            assertTrue(cp.isValid());
            assertEquals(256, arena.bytesAllocated());

            // a rollback of the transaction the placement belongs to
            try (Transaction tx = arena.transaction())
            {
                assertThrows(IllegalStateException.class, () ->
                    tx.place(placedAt, 64, 8, (f, b, o) -> tx.rollback()));
                assertFalse(tx.isOpen());
            }
            assertEquals(256, arena.bytesAllocated());

            // scratch work above the placement keeps it; so does a cleanup registered by the wrapper
            final int[] kept = {-1};
            assertSame(kept, arena.place(kept, 32, 8, (f, b, o) ->
            {
                f[0] = o;
                final Checkpoint scratch = arena.checkpoint();
                arena.allocate(100);
                arena.rewind(scratch);
                arena.defer(() -> { });
            }));
            final long afterKept = arena.copyOf(new byte[0]);
            assertEquals(kept[0] + 32, Arena.offset(afterKept));
            // a wrapper that leaves the arena alone
            assertSame(kept, arena.place(kept, 8, 8, (f, b, o) -> f[0] = o));

            final IllegalStateException closed = assertThrows(IllegalStateException.class, () ->
                arena.place(placedAt, 64, 8, (f, b, o) -> arena.close()));
            assertTrue(closed.getMessage().contains("while place() ran"), closed.getMessage());
            assertTrue(arena.isClosed());
        }
    }

    /**
     * Droplet.wrap() checked the droplet before calling the wrapper but not after: a wrapper that closed the lake
     * or rewound it below the droplet (a reset, a rewind to an older snapshot, then allocating the same bytes
     * again) and returned got the flyweight back over freed memory (a crash on the first write with Agrona's
     * checks off) or over bytes another allocation now owns. The same class as Lake.place's third-round fix. Now
     * refused with StaleHandleException.
     */
    @Test
    void aDropletWrapperThatInvalidatesTheDropletAndReturnsIsRefused()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot empty = lake.snapshot();
            final Droplet droplet = lake.droplet(64);
            final int[] wrappedAt = {-1};
            final StaleHandleException rewound = assertThrows(StaleHandleException.class, () ->
                droplet.wrap(wrappedAt, (f, b, o) ->
                {
                    f[0] = o;
                    lake.rewind(empty);
                    lake.allocate(64); // the same bytes, now another allocation's
                }));
            assertTrue(rewound.getMessage().contains("no longer valid"), rewound.getMessage());
            assertFalse(droplet.isValid());

            // a wrapper that leaves the droplet alone, or does scratch work above it, is still served
            final Droplet kept = lake.droplet(32);
            assertSame(wrappedAt, kept.wrap(wrappedAt, (f, b, o) ->
            {
                f[0] = o;
                lake.mark();
                lake.droplet(8).putLong(0, 1L);
                lake.resetToMark();
            }));
            assertEquals(kept.offset(), wrappedAt[0]);

            assertThrows(StaleHandleException.class, () -> kept.wrap(wrappedAt, (f, b, o) -> lake.close()));
            assertFalse(lake.isOpen());
        }
    }

    /**
     * Closing the last droplet gives its bytes back with a rewind, so a snapshot taken after it is stale (it would
     * move the position forward over given-back memory) and rewinding to it is refused; a mark taken after the
     * droplet instead blocks the give-back. Documented on Droplet.close(); found by the fourth review.
     */
    @Test
    void closingTheLastDropletMakesALaterSnapshotStaleButAMarkBlocksTheGiveBack()
    {
        try (Lake lake = Lake.builder(256).build())
        {
            final Droplet first = lake.droplet(8);
            final LakeSnapshot after = lake.snapshot();
            first.close();
            assertFalse(first.isValid());
            assertEquals(0, lake.used());
            assertThrows(StaleHandleException.class, () -> lake.rewind(after));
            assertEquals(0, lake.used(), "the refused rewind changed nothing");

            final Droplet second = lake.droplet(8);
            lake.mark();
            second.close();
            assertTrue(second.isValid(), "a mark above the droplet blocks its give-back");
            assertEquals(8, lake.used());
            lake.resetToMark();
            assertTrue(second.isValid());
        }
    }
}
