package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The primitive sandbox tier: the same sandboxes as {@link Sandbox}, named by {@code long} tokens. */
class SandboxTokenTest
{
    @Test
    void commitKeepsAndEndWithoutCommitRollsBack()
    {
        try (Lake lake = Lake.of(4096))
        {
            final long kept = lake.beginSandbox();
            lake.allocate(64);
            lake.commitSandbox(kept);
            lake.endSandbox(kept);
            assertEquals(64, lake.used());
            assertEquals(0, lake.openSandboxes());

            final long dropped = lake.beginSandbox();
            final Droplet droplet = lake.droplet(100);
            lake.endSandbox(dropped);
            assertEquals(64, lake.used());
            assertFalse(droplet.isValid(), "rolled-back allocations are no longer valid");
            lake.endSandbox(dropped);
            assertEquals(64, lake.used(), "ending twice does nothing");
        }
    }

    @Test
    void tokensNestAndMixWithSandboxObjectsOnLakesAndViews()
    {
        try (Lake lake = Lake.of(8192))
        {
            final LakeView view = lake.split(4096);
            final long outer = view.beginSandbox();
            view.allocate(16);
            try (Sandbox inner = view.sandbox())
            {
                view.allocate(32);
                inner.commit();
            }
            final long rolled = view.beginSandbox();
            view.allocate(512);
            view.endSandbox(rolled);
            assertEquals(48, view.used(), "inner rollback keeps the outer work");
            view.endSandbox(outer);
            assertEquals(0, view.used(), "outer rollback discards committed inner work");
        }
    }

    @Test
    void misuseIsAClearErrorAndChangesNothing()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(16);
            final long outer = lake.beginSandbox();
            final long inner = lake.beginSandbox();
            lake.allocate(8);
            assertThrows(IllegalStateException.class, () -> lake.commitSandbox(outer), "inner still open");
            assertThrows(IllegalStateException.class, () -> lake.endSandbox(outer), "inner still open");
            assertEquals(2, lake.openSandboxes());
            assertEquals(24, lake.used());

            lake.commitSandbox(inner);
            assertThrows(StaleHandleException.class, () -> lake.commitSandbox(inner), "committing twice");
            lake.reset();
            assertThrows(StaleHandleException.class, () -> lake.commitSandbox(outer), "after a rewind below it");
            lake.endSandbox(outer);
            assertEquals(0, lake.used());
            assertThrows(StaleHandleException.class, () -> lake.commitSandbox(99L << 16), "a made-up token");
        }
    }

    @Test
    void aClosedLakeRefusesNewTokensAndIgnoresEnds()
    {
        final Lake lake = Lake.of(1024);
        final long token = lake.beginSandbox();
        lake.close();
        lake.endSandbox(token);
        assertThrows(IllegalStateException.class, lake::beginSandbox);
        assertThrows(IllegalStateException.class, () -> lake.commitSandbox(token));
    }
}
