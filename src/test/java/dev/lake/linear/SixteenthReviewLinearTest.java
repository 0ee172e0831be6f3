package dev.lake.linear;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sixteenth review of {@code dev.lake.linear}: {@code process} with an alignment whose start lies past the end.
 */
class SixteenthReviewLinearTest
{
    /**
     * The aligned start was clamped to the limit: the writer got an offset that was not aligned as requested, with
     * room 0, and keeping nothing moved the position to the limit, so the lake was full after a call that kept
     * nothing, where {@code tryAllocate(1, 64)} refused the same start and changed nothing. Now it is refused as
     * {@code allocate} refuses it, before the writer runs.
     */
    @Test
    void processWhoseAlignedStartLiesPastTheEndIsRefusedWithoutCallingTheWriter()
    {
        try (Lake lake = Lake.of(100))
        {
            lake.allocate(90, 1);
            assertEquals(LakeAllocator.NO_SPACE, lake.tryAllocate(1, 64), "a 64-aligned byte does not fit");
            final int before = lake.used();
            final long generation = lake.stats().generation();
            final boolean[] called = {false};
            final LakeOverflowException refused = assertThrows(LakeOverflowException.class,
                () -> lake.process(64, (buffer, at, capacity) ->
                {
                    called[0] = true;
                    return 0;
                }));
            assertTrue(refused.getMessage().contains("alignment 64"), refused.getMessage());
            assertFalse(called[0], "the writer ran");
            assertEquals(before, lake.used());
            assertEquals(generation, lake.stats().generation());
            assertEquals(before, lake.tryAllocate(1, 1), "the free tail is still there");
        }
    }

    /** At the end exactly, the aligned start is the limit: the writer gets room 0 at an aligned offset, as before. */
    @Test
    void processWhoseAlignedStartIsTheEndGivesTheWriterNoRoomAtAnAlignedOffset()
    {
        try (Lake lake = Lake.builder(128).alignment(64).build())
        {
            lake.allocate(100, 1);
            final int[] seen = {-1, -1};
            final Droplet kept = lake.process(64, (buffer, at, capacity) ->
            {
                seen[0] = at;
                seen[1] = capacity;
                return 0;
            });
            assertEquals(128, seen[0]);
            assertEquals(0, (lake.address() + seen[0]) & 63, "aligned as requested");
            assertEquals(0, seen[1]);
            assertEquals(0, kept.length());
        }
    }
}
