package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The rewind that only stores the offset ({@code rewindFloor}): each case first lowers the floor with a rewind that
 * caps the top epoch at 64, then makes one change that must raise it, then rewinds to 64 or above, where the short
 * rewind would skip the stacks. Each case fails when that change leaves the floor low.
 */
class RewindFloorTest
{
    /** A snapshot at 64 rewound to once: the floor is now exactly 64 and the offset back at 64. */
    private static LakeSnapshot floorAt64(final Lake lake)
    {
        lake.allocate(64);
        final LakeSnapshot at64 = lake.snapshot();
        lake.allocate(64);
        lake.rewind(at64);
        assertEquals(64, lake.position());
        return at64;
    }

    @Test
    void aMarkAboveTheFloorIsDroppedByARewindBelowIt()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot at64 = floorAt64(lake);
            lake.allocate(64);
            lake.mark();
            lake.allocate(64);
            lake.rewind(at64);
            assertEquals(0, lake.markDepth());
            assertThrows(IllegalStateException.class, lake::resetToMark);
        }
    }

    @Test
    void aMarkMovedAboveTheFloorIsDroppedByARewindBelowIt()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot at64 = floorAt64(lake);
            lake.mark();
            lake.allocate(64);
            lake.moveMark();
            lake.allocate(64);
            lake.rewind(at64);
            assertEquals(0, lake.markDepth(), "the mark moved to 128 is gone");
        }
    }

    @Test
    void aSandboxOpenedAboveTheFloorIsInvalidatedByARewindBelowIt()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot at64 = floorAt64(lake);
            lake.allocate(64);
            try (Sandbox sandbox = lake.sandbox())
            {
                lake.allocate(64);
                lake.rewind(at64);
                assertEquals(0, lake.openSandboxes());
                assertThrows(StaleHandleException.class, sandbox::commit);
            }
            lake.allocate(64);
            final long token = lake.beginSandbox();
            lake.rewind(at64);
            assertThrows(StaleHandleException.class, () -> lake.commitSandbox(token));
        }
    }

    @Test
    void handlesRegisteredAboveACappedEpochDieInARewindBelowThem()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot at64 = floorAt64(lake);
            lake.allocate(64);
            final LakeSnapshot at128 = lake.snapshot();
            final Droplet droplet = lake.droplet(64);
            lake.rewind(at64);
            assertFalse(droplet.isValid());
            assertThrows(StaleHandleException.class, () -> droplet.putLong(0, 1L));
            assertThrows(StaleHandleException.class, () -> lake.rewind(at128), "a rewind forward over freed memory");
            assertEquals(64, lake.position());
        }
    }

    @Test
    void anEpochRenewedByADropletCloseIsCappedByTheNextRewind()
    {
        try (Lake lake = Lake.of(4096))
        {
            floorAt64(lake);
            final Droplet first = lake.droplet(64); // [64, 128): a new epoch above the capped one
            final LakeSnapshot at128 = lake.snapshot();
            lake.allocate(64);
            lake.rewind(at128); // caps the new epoch at 128: the floor is 128
            first.close(); // the last allocation: its epoch is renewed, uncapped, and the position is 64
            assertEquals(64, lake.position());
            lake.allocate(64);
            lake.mark(); // at 128, the old floor
            final Droplet second = lake.droplet(64); // [128, 192): joins the renewed epoch
            lake.resetToMark(); // to 128: must cap the renewed epoch
            assertFalse(second.isValid());
            assertThrows(StaleHandleException.class, () -> second.getLong(0));
        }
    }

    @Test
    void zeroingSwitchedOnWipesWhatTheNextRewindGivesBack()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot at64 = floorAt64(lake);
            final int at = lake.allocate(64);
            lake.buffer().putLong(at, -1L);
            lake.setZeroing(true);
            lake.rewind(at64);
            assertEquals(0L, lake.buffer().getLong(at));
        }
    }

    @Test
    void aZeroingLakeWipesOnEveryRewind()
    {
        try (Lake lake = Lake.builder(4096).zeroing(true).build())
        {
            final LakeSnapshot at64 = floorAt64(lake);
            for (int i = 0; i < 3; i++)
            {
                final int at = lake.allocate(64);
                lake.buffer().putLong(at, -1L);
                lake.rewind(at64);
                assertEquals(0L, lake.buffer().getLong(at), "rewind " + i);
            }
        }
    }

    @Test
    void aZeroingLakeStillWipesOnRewindAfterClear()
    {
        try (Lake lake = Lake.builder(4096).zeroing(true).build())
        {
            lake.allocate(64);
            lake.clear();
            final int at = lake.allocate(64);
            lake.buffer().putLong(at, -1L);
            lake.reset();
            assertEquals(0L, lake.buffer().getLong(at));
        }
    }

    @Test
    void aScopeRepeatedAtOnePositionKeepsEveryRule()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot at64 = floorAt64(lake);
            for (int i = 0; i < 3; i++)
            {
                lake.mark();
                final Droplet inside = lake.droplet(64);
                lake.resetToMark();
                assertFalse(inside.isValid());
                lake.rewind(at64);
                assertEquals(64, lake.position());
            }
            assertEquals(0, lake.markDepth());
        }
    }
}
