package dev.lake.thread;

import dev.lake.linear.Droplet;
import dev.lake.linear.Lake;
import dev.lake.linear.Sandbox;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bugs a fourth review of the thread lakes found, each test failing on the code before its fix.
 */
class FourthReviewThreadTest
{
    /**
     * A pooled lake carried an open sandbox to its next owner. release() drains the marks and resets the lake, but a
     * sandbox opened at the lake's start (the first thing a fresh lake sees) survives every rewind, as nothing lies
     * below it: the next thread's init() got a lake reporting openSandboxes() == 1, and the former owner's handle
     * still rolled the new owner's work back (its droplets went stale). Such a lake was then closed, not pooled; since
     * the nineteenth review its sandboxes are ended at the give-back (the handle goes stale) and it is pooled.
     */
    @Test
    void aSandboxLeftOpenAtTheStartIsNotHandedToTheNextOwner()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(2).build())
        {
            final Lake first = lakes.init();
            final Sandbox leaked = first.sandbox(); // at position 0, never ended
            first.allocate(64);
            lakes.release();

            final Lake next = lakes.init();
            assertEquals(0, next.openSandboxes(), "the next owner inherits no open sandbox");
            assertEquals(0, next.markDepth());
            final Droplet mine = next.droplet(16);
            assertThrows(dev.lake.memory.StaleHandleException.class, leaked::commit, "ended at the give-back");
            leaked.close(); // the former owner's late close must not touch the next owner's work
            assertTrue(mine.isValid(), "the former owner's sandbox rolled the next owner's lake back");
            assertSame(first, next, "the lake with the sandbox ended is pooled and reused");
            assertEquals(0, lakes.stats().closed());
            lakes.release();

            assertEquals(1, lakes.stats().pooled());
            assertSame(next, lakes.init());
            lakes.release();
        }
    }

    /**
     * init() reset a pooled lake to undo a non-strict former owner's misuse after release(), but a reset keeps marks
     * and sandboxes at the start: a mark or sandbox the former owner pushed on the pooled lake after giving it back
     * reached the next owner.
     */
    @Test
    void initHandsOutNoMarkOrSandboxAFormerOwnerLeftAfterRelease()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(2).build())
        {
            final Lake first = lakes.init();
            lakes.release();
            first.mark();      // misuse after release (non-strict lets it through)
            first.sandbox();

            final Lake next = lakes.init();
            assertEquals(0, next.openSandboxes());
            assertEquals(0, next.markDepth());
            lakes.release();

            final Lake again = lakes.init();
            lakes.release();
            again.mark();
            final Lake third = lakes.init();
            assertSame(again, third, "a lake with only a mark left is cleaned and reused");
            assertEquals(0, third.markDepth());
            lakes.release();
        }
    }
}
