package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bugs a sixth review of the linear allocators found, each test failing on the code before its fix.
 */
class SixthReviewLinearTest
{
    /**
     * Lake.place(): a wrapper that rewound the allocator below the placement's end and then allocated past that end
     * again before returning got its flyweight back: the placement's bytes had been given back and handed out again
     * (to a droplet the wrapper made), so two owners aliased the same bytes, silently. place() compared only the
     * position after the wrapper. The placement is now registered like a droplet and checked exactly: refused
     * (IllegalStateException, undone by a rewind to where it began, the aliasing droplet with it).
     */
    @Test
    void aPlaceWrapperThatRewindsBelowAndAllocatesPastTheEndAgainIsRefused()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(16);
            final int before = lake.position();
            final LakeSnapshot older = lake.snapshot();
            final Droplet[] alias = new Droplet[1];
            final int[] placedAt = {-1};

            // a reset, then a droplet over the placed bytes
            final IllegalStateException reset = assertThrows(IllegalStateException.class, () ->
                lake.place(placedAt, 64, 8, (f, b, o) ->
                {
                    f[0] = o;
                    lake.reset();
                    alias[0] = lake.droplet(256);
                }));
            assertTrue(reset.getMessage().contains("while place()"), reset.getMessage());
            assertFalse(alias[0].isValid(), "the undo gives back what the wrapper allocated above the placement");
            assertTrue(lake.position() <= before);

            // a rewind to a snapshot from before the placement, then primitive allocations past its end
            lake.allocate(16);
            final LakeSnapshot snap = lake.snapshot();
            final int from = lake.position();
            assertThrows(IllegalStateException.class, () -> lake.place(placedAt, 64, 8, (f, b, o) ->
            {
                lake.rewind(snap);
                lake.allocate(32);
                lake.allocate(64);
            }));
            assertEquals(from, lake.position(), "undone to where the placement began");
            lake.rewind(snap); // still valid: the undo went exactly to it
            assertThrows(StaleHandleException.class, () -> lake.rewind(older));

            // a droplet closed mid-wrapper: a give-back below the end, then the bytes handed out again
            final Droplet scratchBelow = lake.droplet(8);
            final int afterScratch = lake.position();
            assertThrows(IllegalStateException.class, () -> lake.place(placedAt, 64, 8, (f, b, o) ->
            {
                lake.mark();
                lake.resetToMark();
                scratchBelow.close(); // not the last allocation: does nothing
                lake.reset();
                lake.allocate(afterScratch + 128);
            }));
            assertFalse(scratchBelow.isValid());
        }
    }

    /** The same through a view, and through a view whose own reset comes from inside the wrapper. */
    @Test
    void aViewPlaceWrapperThatResetsTheViewAndAllocatesPastTheEndAgainIsRefused()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeView view = lake.split(1024);
            view.allocate(8);
            final Droplet[] alias = new Droplet[1];
            assertThrows(IllegalStateException.class, () -> view.place(new int[1], 64, 8, (f, b, o) ->
            {
                view.reset();
                alias[0] = view.droplet(512);
            }));
            assertFalse(alias[0].isValid());
            assertTrue(view.isValid());
            assertEquals(view.start() + 8, view.position(), "undone to where the placement began");
        }
    }

    /** Scratch work at or above the placement's end stays allowed, and the check keeps the epoch stack bounded. */
    @Test
    void scratchWorkAboveAPlacementIsKeptAndPlacementsDoNotGrowTheEpochStack()
    {
        try (Lake lake = Lake.of(1 << 16))
        {
            final int[] placedAt = {-1};
            // a snapshot at the end, a droplet, a rewind to exactly the end: kept
            assertSame(placedAt, lake.place(placedAt, 64, 8, (f, b, o) ->
            {
                f[0] = o;
                final LakeSnapshot atEnd = lake.snapshot();
                lake.droplet(100).putLong(0, 1L);
                lake.rewind(atEnd);
                lake.allocate(8);
            }));
            assertEquals(placedAt[0] + 64 + 8, lake.position());
            // a droplet made and closed inside the wrapper (its give-back is a rewind to the end): kept
            assertSame(placedAt, lake.place(placedAt, 32, 8, (f, b, o) ->
            {
                f[0] = o;
                lake.droplet(16).close();
            }));
            assertEquals(placedAt[0] + 32, lake.position());

            // steady state: placements in a reset loop and in a mark loop do not grow the epoch stack
            for (int i = 0; i < 1000; i++)
            {
                lake.place(placedAt, 64, 8, (f, b, o) -> f[0] = o);
                lake.droplet(8);
                lake.place(placedAt, 8, 8, (f, b, o) -> f[0] = o);
                lake.reset();
            }
            lake.allocate(16);
            lake.mark();
            for (int i = 0; i < 1000; i++)
            {
                lake.place(placedAt, 64, 8, (f, b, o) -> f[0] = o);
                lake.snapshot();
                lake.resetToMark();
                lake.mark();
            }
            assertTrue(lake.epochDepth() <= 3, "epoch depth " + lake.epochDepth());
            for (int i = 0; i < 1000; i++)
            {
                final LakeSnapshot snap = lake.snapshot();
                lake.place(placedAt, 64, 8, (f, b, o) -> f[0] = o);
                lake.droplet(8).close();
                lake.rewind(snap);
            }
            assertTrue(lake.epochDepth() <= 3, "epoch depth " + lake.epochDepth());
            final LakeView view = lake.split(4096);
            for (int i = 0; i < 1000; i++)
            {
                view.place(placedAt, 64, 8, (f, b, o) -> f[0] = o);
                view.place(placedAt, 64, 8, (f, b, o) -> f[0] = o);
                view.reset();
            }
            assertTrue(view.epochDepth() <= 2, "view epoch depth " + view.epochDepth());
        }
    }

    /**
     * ArenaVec.OfRecord.wrap: the sibling of Droplet.wrap's fourth-round fix was missed. The record was checked only
     * before the wrapper, so a wrapper that reset the arena (and allocated the bytes again) or closed it got its
     * flyweight back over memory another allocation owns or over a freed block (a crash on the first write with
     * Agrona's checks off); one that grew the vector out of its storage left the flyweight over the abandoned copy
     * (writes silently lost). Now checked again after the wrapper.
     */
    @Test
    void aRecordVectorWrapperThatGivesTheRecordAwayAndReturnsIsRefused()
    {
        try (Arena arena = Arena.builder().initialBlockSize(4096).build())
        {
            final int[] wrappedAt = {-1};
            final ArenaVec.OfRecord reset = ArenaVec.ofRecords(arena, 16);
            reset.pushZeroed();
            assertThrows(StaleHandleException.class, () -> reset.wrap(0, wrappedAt, (f, b, o) ->
            {
                f[0] = o;
                arena.reset();
                arena.allocate(64); // the record's bytes, now another allocation's
            }));

            final ArenaVec.OfRecord moved = ArenaVec.ofRecords(arena, 16, 1);
            moved.pushZeroed();
            arena.allocate(8); // the vector is no longer the last allocation: growth moves it
            final IllegalStateException grown = assertThrows(IllegalStateException.class, () ->
                moved.wrap(0, wrappedAt, (f, b, o) -> moved.pushZeroed()));
            assertTrue(grown.getMessage().contains("while wrap() ran"), grown.getMessage());
            assertEquals(2, moved.size());

            final ArenaVec.OfRecord popped = ArenaVec.ofRecords(arena, 16);
            popped.pushZeroed();
            assertThrows(IllegalStateException.class, () -> popped.wrap(0, wrappedAt, (f, b, o) -> popped.pop()));

            // scratch work is still served: in-place growth, a cleanup, a checkpoint rewound to above the vector
            final ArenaVec.OfRecord kept = ArenaVec.ofRecords(arena, 16);
            kept.pushZeroed();
            assertSame(wrappedAt, kept.wrap(0, wrappedAt, (f, b, o) ->
            {
                f[0] = o;
                kept.pushZeroed(); // the last allocation: grows in place
                arena.defer(() -> { });
            }));
            assertEquals(kept.offsetOf(0), wrappedAt[0]);
            final Checkpoint above = arena.checkpoint();
            assertSame(wrappedAt, kept.wrap(1, wrappedAt, (f, b, o) ->
            {
                arena.allocate(32);
                arena.rewind(above);
            }));

            assertThrows(StaleHandleException.class, () -> kept.wrap(0, wrappedAt, (f, b, o) -> kept.finish()));
            final ArenaVec.OfRecord closed = ArenaVec.ofRecords(arena, 16);
            closed.pushZeroed();
            assertThrows(StaleHandleException.class, () -> closed.wrap(0, wrappedAt, (f, b, o) -> arena.close()));
            assertTrue(arena.isClosed());
        }
    }

    /**
     * forEach reads the size at every step, like a work list (documented): elements the action pushes are visited,
     * elements it pops are not, and a push that moves the vector out of its storage is followed.
     */
    @Test
    void forEachVisitsWhatTheActionPushesAndSkipsWhatItPops()
    {
        try (Arena arena = Arena.builder().initialBlockSize(4096).build())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 2);
            vec.push(3);
            arena.allocate(8); // not the last allocation: the pushes below move the vector
            final java.util.List<Long> seen = new java.util.ArrayList<>();
            vec.forEach(v ->
            {
                seen.add(v);
                if (v > 0)
                {
                    vec.push(v - 1);
                }
            });
            assertEquals(java.util.List.of(3L, 2L, 1L, 0L), seen);

            final ArenaVec.OfLong popping = ArenaVec.ofLongs(arena);
            popping.push(1);
            popping.push(2);
            popping.push(3);
            seen.clear();
            popping.forEach(v ->
            {
                seen.add(v);
                popping.pop();
            });
            assertEquals(java.util.List.of(1L, 2L), seen);
        }
    }

    /**
     * place() registered its placement after the bump and outside the block that undoes a failed placement, so when
     * the registration's first growth of the handle stack was refused by a full heap, the {@code OutOfMemoryError}
     * left the placement's bytes allocated: a failed call that changed the lake. A child JVM with a nearly full heap
     * makes the first placement of many fresh lakes: each either succeeds or leaves its lake as it was.
     */
    @Test
    void aPlacementWhoseRegistrationRunsOutOfHeapIsUndone() throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.runOnSmallHeap(PlaceOnFullHeapProbe.class);
        assertTrue(out.contains("probe: changed by a refusal 0 "), out);
        assertFalse(out.contains(" after 0 refusals"), out); // the heap did refuse some
    }

    /** The child JVM of {@link #aPlacementWhoseRegistrationRunsOutOfHeapIsUndone()}. */
    public static final class PlaceOnFullHeapProbe
    {
        private PlaceOnFullHeapProbe()
        {
        }

        static void wrapAt(final int[] flyweight, final org.agrona.MutableDirectBuffer buffer, final int offset)
        {
            flyweight[0] = offset;
        }

        public static void main(final String[] args)
        {
            final int[] flyweight = new int[1];
            final FlyweightWrapper<int[]> wrapper = PlaceOnFullHeapProbe::wrapAt;
            try (Lake warm = Lake.of(4096))
            {
                warm.place(flyweight, 64, 8, wrapper); // links place and its registration before the heap is full
            }
            final Lake[] lakes = new Lake[400];
            for (int i = 0; i < lakes.length; i++)
            {
                lakes[i] = Lake.of(4096); // fresh: no handle stack yet, so the first placement must grow it
            }
            int refused = 0;
            int placed = 0;
            int changed = 0;
            final dev.lake.testing.HeapFiller fillers = dev.lake.testing.HeapFiller.fill(1 << 21);
            for (int i = 0; i < lakes.length; i++)
            {
                if (i % 2 == 1 && !fillers.freeOne())
                {
                    break;
                }
                try
                {
                    lakes[i].place(flyweight, 64, 8, wrapper);
                    placed++;
                }
                catch (final OutOfMemoryError ex)
                {
                    refused++;
                    if (lakes[i].used() != 0)
                    {
                        changed++;
                    }
                }
            }
            fillers.freeAll();
            for (final Lake lake : lakes)
            {
                lake.close();
            }
            System.out.println("probe: changed by a refusal " + changed + " after " + refused + " refusals, " + placed +
                " placed");
            System.out.flush();
        }
    }
}
