package dev.lake.linear;

import dev.lake.testing.StackLadder;
import dev.lake.testing.StackLadder.Scenario;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * Twentieth review round of the fixed-capacity lake ({@code dev.lake.linear}). The {@code StackOverflowError} cases run
 * in an interpreted child JVM through {@link StackLadder}, as {@code FourteenthReviewLinearTest} does.
 */
class TwentiethReviewLakeTest
{
    /**
     * Finding. Sandbox's class Javadoc gives the idiom {@code try (Sandbox s = lake.sandbox()) { ... }}: "close() without
     * commit rewinds to where the sandbox opened ... then it ends the sandbox". A body that overflows the stack (a
     * recursion) near the stack's edge has the try-with-resources' close() cut short in turn: close() (sandboxActive,
     * checkNoInnerSandbox, rollbackNow, rewindTo, endRolledBack; on a zeroing lake also the wipe through
     * UnsafeBuffer.setMemory) goes deeper than a body that allocates. The sandbox then stays open for good, held by no
     * one (the handle went out of scope with the try): openSandboxes() stays 1, the enclosing sandbox can neither commit
     * nor close ("1 sandbox(es) opened inside it are still open"), and on a zeroing lake the body's 64 bytes stay
     * allocated (position 128, not 64) and unwiped. The fourteenth round fixed the same state (a sandbox open that nobody
     * holds) for sandbox() and beginSandbox() cut short. JDK 17: 32 of 1,024 attempts (plain) and 80 (zeroing).
     */
    @Test
    void aSandboxClosedByTryWithResourcesAfterAStackOverflowIsEnded() throws Exception
    {
        StackLadder.assertClean(StackProbe.class, "twr-plain");
        StackLadder.assertClean(StackProbe.class, "twr-zeroing");
    }

    /**
     * Finding, as above, for the token idiom of beginSandbox()'s Javadoc:
     * {@code long s = lake.beginSandbox(); try { ... } finally { lake.endSandbox(s); }}: endSandbox cut short leaves the
     * sandbox open with its token gone (JDK 17: 48 of 1,024 attempts plain, 80 zeroing). ThreadLakes.with() has the same
     * window with a token it hides from its caller (TwentiethReviewThreadTest).
     */
    @Test
    void aTokenEndedInAFinallyAfterAStackOverflowIsEnded() throws Exception
    {
        StackLadder.assertClean(StackProbe.class, "token-plain");
        StackLadder.assertClean(StackProbe.class, "token-zeroing");
    }

    /**
     * Finding on a zeroing lake. place()'s Javadoc: "If the wrapper throws, the allocation is undone by a rewind to where
     * it began". A wrapper that overflows the stack near its edge has the undo (undoPlace, rewindTo, the wipe) cut short
     * in place()'s finally: place() throws StackOverflowError and the 64 placed bytes stay allocated (position 128, not
     * 64), registered, with nothing that names them (JDK 17: 96 of 1,024 attempts). The same ladder without zeroing is
     * clean (checked first: a pinned guard).
     */
    @Test
    void aPlacementWhoseWrapperOverflowsTheStackIsUndoneOnAPlainLake() throws Exception
    {
        StackLadder.assertClean(StackProbe.class, "place-plain");
    }

    /** The zeroing case of the placement above: a known limit (docs/reliability.md, twentieth round). */
    @Test
    @Disabled("known limit, docs/reliability.md (twentieth round): an undo cut short in its wipe keeps the bytes")
    void aPlacementWhoseWrapperOverflowsTheStackIsUndoneOnAZeroingLake() throws Exception
    {
        StackLadder.assertClean(StackProbe.class, "place-zeroing");
    }

    /**
     * Finding (minor, same root cause as the placement above), on a zeroing lake: the try-with-resources close of a
     * droplet or a view that is the lake's last allocation ("the position goes back to where it began", lake.md; a view's
     * close "gives its bytes back to the parent") is cut short in its wipe when the body overflows the stack near the
     * edge: the handle is gone with the try and its bytes stay allocated (position 128, not 64) until an enclosing
     * rewind (JDK 17: 64 of 1,024 attempts for a droplet, 48 for a view). Without zeroing both are clean (checked first:
     * pinned guards).
     */
    @Test
    void aDropletOrViewClosedByTryWithResourcesAfterAStackOverflowGivesItsBytesBackOnAPlainLake() throws Exception
    {
        StackLadder.assertClean(StackProbe.class, "droplet-plain");
        StackLadder.assertClean(StackProbe.class, "view-plain");
    }

    /** The zeroing case of the droplet above: a known limit (docs/reliability.md, twentieth round). */
    @Test
    @Disabled("known limit, docs/reliability.md (twentieth round): a close cut short in its wipe keeps the bytes")
    void aDropletOrViewClosedByTryWithResourcesAfterAStackOverflowGivesItsBytesBackOnAZeroingLake() throws Exception
    {
        StackLadder.assertClean(StackProbe.class, "droplet-zeroing");
    }

    /** Runs one scenario's ladders and prints {@code probe NAME violations N cut C attempts A}. */
    static final class StackProbe
    {
        private static final int SLOTS = StackLadder.SLOTS;

        public static void main(final String[] args)
        {
            StackLadder.probe(args[0], Lakes::new, 16);
        }

        static int recurse(final int n)
        {
            return n == 1000 ? 0 : recurse(n + 1) + 1; // fits at a normal depth, overflows near the stack's edge
        }

        static final class Lakes implements Scenario
        {
            final String name;
            final boolean zeroing;
            final Lake[] lakes = new Lake[SLOTS];

            Lakes(final String name)
            {
                this.name = name;
                this.zeroing = name.endsWith("-zeroing");
            }

            @Override
            public void build(final int slot)
            {
                final Lake lake = Lake.of(4096);
                lakes[slot] = lake;
                if (zeroing)
                {
                    lake.setZeroing(true);
                    lake.clear(); // nothing dirty: allocations wipe nothing, rewinds wipe what they give back
                }
                lake.allocate(64);
                lake.snapshot(); // the handle stack exists: a registration does not grow it
                lake.endSandbox(lake.beginSandbox()); // the sandbox stack exists and a token block is taken
                lake.sandbox().close();
                lake.mark();
                lake.resetToMark();
            }

            @Override
            public void attempt(final int slot)
            {
                final Lake lake = lakes[slot];
                switch (name)
                {
                    case "place-zeroing", "place-plain" -> lake.place(new int[1], 64, 8, (f, b, o) -> f[0] = o + recurse(0));
                    case "twr-zeroing", "twr-plain" ->
                    {
                        try (Sandbox s = lake.sandbox())
                        {
                            lake.allocate(64);
                            recurse(0);
                        }
                    }
                    case "token-zeroing", "token-plain" ->
                    {
                        final long t = lake.beginSandbox();
                        try
                        {
                            lake.allocate(64);
                            recurse(0);
                        }
                        finally
                        {
                            lake.endSandbox(t);
                        }
                    }
                    case "view-zeroing", "view-plain" ->
                    {
                        try (LakeView v = lake.split(64))
                        {
                            v.allocate(8);
                            recurse(0);
                        }
                    }
                    case "droplet-zeroing", "droplet-plain" ->
                    {
                        try (Droplet d = lake.droplet(64))
                        {
                            d.putLong(0, 1L);
                            recurse(0);
                        }
                    }
                    default -> throw new IllegalArgumentException(name);
                }
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Lake lake = lakes[slot];
                final int expected = name.startsWith("place") && !wasCut ? 128 : 64;
                // a sandbox's end cut short in its rewind keeps the sandbox's bytes (ended first, rewound after: a
                // documented limit); it never leaves the sandbox open
                final boolean keptBytes = wasCut && name.matches("(twr|token)-.*") && lake.position() == 128;
                if (lake.openSandboxes() != 0 || lake.position() != expected && !keptBytes)
                {
                    return "left " + lake.openSandboxes() + " sandbox(es) open and position " + lake.position() +
                        " (expected " + expected + ")";
                }
                return null;
            }

            @Override
            public void closeAll()
            {
                for (final Lake lake : lakes)
                {
                    if (lake != null)
                    {
                        lake.close();
                    }
                }
            }
        }
    }
}
