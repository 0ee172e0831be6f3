package dev.lake.linear;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Review of the eighteenth round's lake fix (b3c2ea8): marks a rolled-back sandbox leaves behind. */
class EighteenthFixReviewTest
{
    /**
     * The review found that a body which pops the enclosing scope's mark (at the sandbox's start) and pushes its own
     * there keeps that mark through the rollback, while the first wording of the fix said every mark pushed inside is
     * discarded. Catching it would cost every resetToMark a look at the sandbox stack, for a misuse of the enclosing
     * scope's mark; the Javadoc and lake.md now say what the rollback does: it cuts the mark stack back to its depth at
     * the opening. This guards that wording: the replacing mark stays, and one pushed deeper goes.
     */
    @Test
    void theRollbackCutsTheMarkStackBackToItsDepthAtTheOpening()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(64);
            lake.mark();                            // the enclosing scope's mark, at 64
            try (Sandbox sandbox = lake.sandbox())  // opens at 64, with one mark on the stack
            {
                lake.resetToMark();                 // pops the enclosing mark (misuse of the enclosing scope's mark)
                lake.mark();                        // pushed in its place, at the sandbox's start
                sandbox.allocate(256);
                lake.mark();                        // pushed deeper: discarded by the rollback
                sandbox.allocate(32);
            }                                       // not committed: rolled back
            assertEquals(1, lake.markDepth(), "cut back to the depth at the opening");
            assertEquals(64, lake.position());
            lake.resetToMark();
            assertEquals(64, lake.position(), "the mark left in the enclosing one's place lies where it lay");
        }
    }
}
