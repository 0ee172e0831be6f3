package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class SandboxTest
{
    @Test
    void commitKeepsAllocations()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Droplet d;
            try (Sandbox s = lake.sandbox())
            {
                assertTrue(s.isOpen());
                assertSame(lake, s.allocator());
                d = s.droplet(64);
                s.allocate(32);
                assertEquals(96, s.used());
                s.commit();
                assertTrue(s.isCommitted());
                assertFalse(s.isOpen());
            }
            assertTrue(d.isValid());
            assertEquals(96, lake.used());
            assertEquals(0, lake.openSandboxes());
        }
    }

    @Test
    void closeWithoutCommitRollsBack()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(8);
            final Droplet d;
            final LakeView view;
            try (Sandbox s = lake.sandbox())
            {
                d = lake.droplet(64);
                view = lake.split(128);
                lake.mark();
                assertEquals(8, s.start());
            }
            assertFalse(d.isValid());
            assertFalse(view.isValid());
            assertEquals(0, lake.markDepth(), "marks pushed inside are discarded");
            assertEquals(8, lake.position());
            assertEquals(1, lake.generation());
        }
    }

    @Test
    void explicitRollback()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Sandbox s = lake.sandbox();
            lake.allocate(64);
            s.rollback();
            assertEquals(0, lake.used());
            assertFalse(s.isOpen());
            s.close();
            assertThrows(IllegalStateException.class, s::rollback);
        }
    }

    @Test
    void sandboxesNest()
    {
        try (Lake lake = Lake.of(4096))
        {
            try (Sandbox outer = lake.sandbox())
            {
                lake.allocate(16);
                try (Sandbox inner = lake.sandbox())
                {
                    lake.allocate(32);
                    inner.commit();
                }
                assertEquals(48, lake.used(), "inner commit keeps its bytes in the outer sandbox");
                try (Sandbox inner = lake.sandbox())
                {
                    lake.allocate(32);
                }
                assertEquals(48, lake.used(), "inner rollback only undoes the inner bytes");
                assertEquals(1, lake.openSandboxes());
            }
            assertEquals(0, lake.used(), "outer rollback undoes everything, committed inner work included");
        }
    }

    @Test
    void misuseThrowsClearExceptions()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Sandbox s = lake.sandbox();
            s.commit();
            final IllegalStateException twice = assertThrows(IllegalStateException.class, s::commit);
            assertTrue(twice.getMessage().contains("already ended"), twice.getMessage());
            assertThrows(IllegalStateException.class, () -> s.allocate(8), "use after end");
            assertThrows(IllegalStateException.class, () -> s.droplet(8));
            s.close(); // idempotent

            final Sandbox outer = lake.sandbox();
            final Sandbox inner = lake.sandbox();
            lake.allocate(8);
            final LakeStats before = lake.stats();
            final IllegalStateException closeOuter = assertThrows(IllegalStateException.class, outer::close);
            assertTrue(closeOuter.getMessage().contains("still open"), closeOuter.getMessage());
            assertThrows(IllegalStateException.class, outer::commit);
            assertThrows(IllegalStateException.class, outer::rollback);
            assertThrows(IllegalStateException.class, () -> outer.allocate(8), "allocating through an outer one");
            assertEquals(before, lake.stats(), "nothing changed");
            assertTrue(outer.isOpen());
            inner.close();
            outer.close();
            assertEquals(0, lake.used());
            assertEquals(0, lake.openSandboxes());
        }
    }

    @Test
    void aRewindBelowTheStartInvalidatesTheSandbox()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(16);
            final Sandbox s = lake.sandbox();
            lake.allocate(8);
            lake.reset();
            lake.allocate(64);
            assertFalse(s.isOpen());
            assertEquals(0, s.used());
            assertThrows(StaleHandleException.class, s::commit);
            assertThrows(StaleHandleException.class, s::rollback);
            assertThrows(StaleHandleException.class, () -> s.allocate(8));
            s.close(); // nothing to roll back: quietly ended
            assertEquals(64, lake.used());
            assertTrue(s.toString().contains("invalidated"), s.toString());
        }
    }

    @Test
    void aRewindExactlyToTheStartKeepsTheSandbox()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(16);
            final LakeSnapshot snapshot = lake.snapshot();
            try (Sandbox s = lake.sandbox())
            {
                lake.allocate(8);
                lake.rewind(snapshot);
                assertTrue(s.isOpen());
                lake.allocate(24);
                s.commit();
            }
            assertEquals(40, lake.used());
        }
    }

    @Test
    void sandboxOnAClosedLake()
    {
        final Lake lake = Lake.of(1024);
        final Sandbox s = lake.sandbox();
        lake.close();
        assertFalse(s.isOpen());
        assertThrows(StaleHandleException.class, s::commit);
        s.close();
    }

    @Test
    void sandboxStackIsReusedInSteadyState()
    {
        try (Lake lake = Lake.of(1 << 16))
        {
            for (int i = 0; i < 10_000; i++)
            {
                try (Sandbox s = lake.sandbox())
                {
                    lake.allocate(64);
                    if ((i & 1) == 0)
                    {
                        s.commit();
                    }
                }
                if (lake.remaining() < 1024)
                {
                    lake.reset();
                }
            }
            assertEquals(0, lake.openSandboxes());
        }
    }
}
