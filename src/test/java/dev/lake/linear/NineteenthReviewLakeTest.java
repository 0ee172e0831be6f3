package dev.lake.linear;

import dev.lake.thread.ThreadLakes;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The nineteenth review of the fixed-capacity lake ({@code dev.lake.linear}) and its thread lakes ({@code dev.lake.thread}).
 * Each test fails on the code as reviewed. The fix: with() runs its body inside a sandbox of its own (a token), so
 * the body cannot end a sandbox opened before the call (refused while one is open inside it) and with() ends what
 * lies at or above its depth afterwards; a body's attempt to end the caller's sandbox is now refused, nothing changes.
 */
class NineteenthReviewLakeTest
{
    /**
     * threads.md: "marks the body left pushed are discarded, and so are sandboxes it left open ... they are rolled back
     * and ended (Lake.endSandboxes)"; with()'s Javadoc: "sandboxes work leaves open are rolled back and ended". with()
     * records only how many sandboxes were open and ends those above that count. A body that ends the caller's sandbox
     * (commits it: its work is done) and then opens its own, which a throw leaves open, ends with the same count: the
     * body's sandbox is not ended. It was opened at with()'s mark, so the mark's reset keeps it too, and the thread's
     * lake comes back with a sandbox nobody holds (the caller's next sandbox nests inside it; at the lake's start it
     * would outlive every rewind and cost the lake its place in the pool).
     */
    @Test
    void withEndsTheSandboxItsBodyOpenedAlsoAfterTheBodyEndedTheCallersOwn()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(1).build())
        {
            final Lake lake = lakes.init();
            lake.allocate(64);
            final long request = lake.beginSandbox();
            lake.allocate(64);
            final IllegalStateException failed = assertThrows(IllegalStateException.class, () -> lakes.with(l ->
            {
                // with()'s own sandbox is open inside the request's: ending the request is refused, nothing changes
                assertThrows(IllegalStateException.class, () -> l.commitSandbox(request));
                l.beginSandbox();                   // the body's own scope, never ended: the body fails first
                l.allocate(32);
                throw new IllegalStateException("the decoder failed");
            }));
            assertEquals("the decoder failed", failed.getMessage());
            assertEquals(128, lake.position(), "with() restored the position");
            assertEquals(1, lake.openSandboxes(), "with() ended the sandbox its body left open, and only that");
            lake.commitSandbox(request);            // the caller ends its own
            assertEquals(0, lake.openSandboxes());
            lakes.release();
        }
    }

    /**
     * The same miss, seen at release: the caller's request sandbox and with()'s mark both lie at the lake's start. The
     * body commits the request (its work is done) and opens its own sandbox there, which a failure leaves open; with()
     * ends nothing (the count is as before) and its mark's reset keeps a sandbox at the mark. threads.md: "a lake given
     * back with a sandbox still open at its start (which no rewind ends) is" closed, not pooled: the thread's lake is
     * lost to the pool (and its native memory freed and built again on the next init()), because with() left open a
     * sandbox that it documents it ends.
     */
    @Test
    void withLeavesNoSandboxAtTheLakesStartSoTheLakeIsPooledOnRelease()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(1).build())
        {
            final Lake lake = lakes.init();
            final Sandbox request = lake.sandbox();  // at the lake's start
            final IllegalStateException failed = assertThrows(IllegalStateException.class, () -> lakes.with(l ->
            {
                assertThrows(IllegalStateException.class, request::commit); // with()'s sandbox is open inside it
                l.beginSandbox();                    // the body's own scope: the failure comes before its end
                l.allocate(32);
                throw new IllegalStateException("the decoder failed");
            }));
            assertEquals("the decoder failed", failed.getMessage());
            assertEquals(0, lake.position());
            assertEquals(1, lake.openSandboxes(), "only the caller's request is open");
            request.commit();
            lakes.release();
            assertEquals(1, lakes.stats().pooled(), "the lake went back to the pool: " + lakes.stats());
            assertEquals(0, lakes.stats().closed(), lakes.stats().toString());
        }
    }

    /**
     * with()'s Javadoc (since the fix): a sandbox of the lake opened before the call cannot be allocated through
     * inside it (a sandbox is open inside it); afterwards it can, and with() gave back only what the body did.
     */
    @Test
    void aCallersSandboxCannotBeAllocatedThroughInsideWithAndCanAfter()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(4096).build())
        {
            final Lake lake = lakes.init();
            final Sandbox request = lake.sandbox();
            request.allocate(16);
            final Integer inside = lakes.with(l ->
            {
                assertThrows(IllegalStateException.class, () -> request.allocate(8));
                assertThrows(IllegalStateException.class, () -> request.droplet(8));
                assertEquals(2, l.openSandboxes(), "the caller's and with()'s");
                return l.allocate(32);
            });
            assertEquals(16, inside.intValue());
            assertEquals(16, lake.position(), "with() gave back the body's 32 bytes");
            assertEquals(16, request.allocate(8));
            request.commit();
            assertEquals(24, lake.position());
            lakes.release();
        }
    }
}
