package dev.lake.memory;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The seventeenth review of the ground: the region view's string reads with a negative length. */
class SeventeenthReviewMemoryTest
{
    /**
     * {@code getStringAscii(index, length, appendable)} checked {@code [index, index + length + 4)} as one range, so a
     * length of -1 to -4 passed the check and came back as the string's length, where Agrona refuses it (the other
     * string reads of the region's view, and the pool's and the slices' views, refuse it too). Now the header and the
     * body are checked apart: a negative length is an {@link IndexOutOfBoundsException}, and nothing is appended.
     */
    @Test
    void aNegativeLengthOfAnAsciiStringReadIsRefused()
    {
        assumeTrue(UnsafeBuffer.SHOULD_BOUNDS_CHECK, "the region's view refuses through Agrona's bounds checks");
        try (Region region = Region.allocate(64))
        {
            final StringBuilder out = new StringBuilder();
            for (int length = -4; length < 0; length++)
            {
                final int bad = length;
                assertThrows(IndexOutOfBoundsException.class, () -> region.buffer().getStringAscii(0, bad, out),
                    "length " + bad);
            }
            assertThrows(IndexOutOfBoundsException.class, () -> region.buffer().getStringAscii(61, 0, out),
                "a header past the end");
            region.buffer().putStringAscii(0, "lake");
            assertEquals(4, region.buffer().getStringAscii(0, 4, out));
            assertEquals("lake", out.toString(), "nothing appended by the refused reads");
        }
    }
}
