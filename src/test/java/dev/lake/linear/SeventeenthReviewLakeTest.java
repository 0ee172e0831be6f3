package dev.lake.linear;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The seventeenth review of the fixed-capacity lake ({@code dev.lake.linear}: Lake, LakeView, Droplet, Sandbox).
 */
class SeventeenthReviewLakeTest
{
    /** Runs {@code body} on a fresh thread with {@code stackBytes} of stack (0: the platform default) and returns what it threw. */
    private static Throwable onThreadWithStack(final long stackBytes, final Runnable body) throws InterruptedException
    {
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread thread = new Thread(null, () ->
        {
            try
            {
                body.run();
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        }, "deep-views", stackBytes);
        thread.start();
        thread.join();
        return failure.get();
    }

    /**
     * "Recursive views for recursive-descent parsers": a chain of nested views is built in O(1) per level, and a view's
     * check is O(1) until something in the lake rewinds, then "O(depth)". But the O(depth) re-check is a recursion
     * (alive -> revalidate -> parent.alive -> parent.revalidate ...), one pair of frames per level: after any rewind
     * that bumps the lake's stamp (here: an unrelated scratch view closed at the root), every use of a deep view
     * throws StackOverflowError, for good (nothing is cached on the way down, so every retry recurses again).
     * An iterative parser with an explicit stack of views (the zero-copy decoder of a deeply nested message) meets it
     * with no recursion of its own. With the default 1 MiB thread stack it failed from about 8,000 levels (4,000 passed)
     * on JDK 17; 100,000 here, each level 8 bytes smaller than its parent, fails on JDK 17 and 25 alike. A place() on
     * such a view whose wrapper bumps the stamp even throws StackOverflowError after keeping the placement.
     */
    @Test
    void aDeepChainOfViewsStaysUsableAfterARewindElsewhereInTheLake() throws InterruptedException
    {
        final int depth = 100_000;
        final String[] phase = {"building the chain"};
        // the platform's default thread stack (stack size 0): no artificially small stack
        final Throwable failure = onThreadWithStack(0, () ->
        {
            try (Lake lake = Lake.of(1 << 21))
            {
                LakeView deepest = lake.split(1 << 20);
                for (int i = 0; i < depth; i++)
                {
                    deepest = deepest.split(deepest.capacity() - 8);
                }
                assertTrue(deepest.isValid(), "valid right after the chain was built (cached stamp)");
                final int at = deepest.allocate(8);
                lake.buffer().putLong(at, 42L);

                // an unrelated scratch view at the root, given back: a rewind that caps the root's epoch holding views
                final LakeView scratch = lake.split(64);
                scratch.close();
                phase[0] = "the first check after an unrelated rewind at the root";

                assertTrue(deepest.isValid(), "nothing rewound below the deep view");
                assertEquals(42L, lake.buffer().getLong(at));
            }
        });
        assertNull(failure, () -> "a view " + depth + " levels deep failed in " + phase[0] + ": " + failure);
    }

    /**
     * lake.md's misuse table: "anything after {@code close()}: {@link IllegalStateException} (lake)". Every mutator of a
     * closed lake throws it (allocate, mark, snapshot, rewind, reset, clear, sandbox, split, process, place), but
     * {@code setZeroing} only checks the confinement: on a closed lake it returns normally and changes the lake's
     * state ({@code isZeroing()} now reports a switch that no call will ever honour).
     */
    @Test
    void setZeroingOnAClosedLakeIsRefusedAndChangesNothing()
    {
        final Lake lake = Lake.of(64);
        lake.close();
        assertThrows(IllegalStateException.class, () -> lake.mark(), "the other mutators refuse a closed lake");
        assertThrows(IllegalStateException.class, () -> lake.setZeroing(true), "setZeroing after close()");
        assertFalse(lake.isZeroing(), "the failed call changed the closed lake's state");
    }

    /**
     * The same recursion breaks place()'s atomicity: a wrapper that bumps the lake's stamp (a scratch view at the root,
     * given back) makes place()'s check after the wrapper, and then its undo, recurse down the chain; place() throws
     * StackOverflowError with the placement kept (the deep view's position moved by 16 bytes nobody holds), where its
     * contract is the flyweight or an undone placement.
     */
    @Test
    void aPlaceOnADeepViewEitherReturnsOrLeavesThePositionWhereItWas() throws InterruptedException
    {
        final int[] positions = {-1, -1};
        final Throwable failure = onThreadWithStack(0, () ->
        {
            try (Lake lake = Lake.of(1 << 21))
            {
                LakeView deepest = lake.split(1 << 20);
                for (int i = 0; i < 100_000; i++)
                {
                    deepest = deepest.split(deepest.capacity() - 8);
                }
                final LakeView view = deepest;
                positions[0] = view.position();
                try
                {
                    view.place(new Object(), 16, 8, (flyweight, buffer, at) -> lake.split(64).close());
                }
                finally
                {
                    positions[1] = view.position();
                }
            }
        });
        assertTrue(failure == null || positions[0] == positions[1],
            () -> "place() threw " + failure + " and moved the position from " + positions[0] + " to " + positions[1]);
    }
}
